"""Names of DIP groups (病种名称), in the words of the ICD dictionaries drgkit ships.

A DIP group is a diagnosis and the procedures done for it, so its name is built from theirs:

* a core group ``I50.1:37.6101`` → ``左心衰竭：心脏起搏器置入术``: the diagnosis subcategory (dx4) named by
  its ``.x00`` code of the ICD-10 医保版 dictionary, then each procedure's name, ``+``-joined;
  a core group without a procedure → ``…：保守治疗`` (conservative treatment);
* a comprehensive group ``A00:surgery`` → ``霍乱：相关手术``: the category named by its unspecified
  subcategory (``A00.9`` → ``A00.900``; else its first ``.x00`` code), then the treatment tier.

A catalogue may carry its own ``name`` column in ``groups.csv`` (the names a bureau publishes); a non-empty
name there wins.  Codes the dictionary does not have are shown as themselves.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from ..paths import icd_dir

#: a core group with no procedure is treated conservatively
CONSERVATIVE_ZH = "保守治疗"


@lru_cache(maxsize=1)
def _dx_names() -> dict[str, str]:
    df = pl.read_csv(icd_dir() / "icd10_chs_v2.csv", infer_schema_length=0)
    return dict(zip(df["code"].to_list(), df["name"].to_list()))


@lru_cache(maxsize=1)
def _px_names() -> dict[str, str]:
    df = pl.read_csv(icd_dir() / "icd9cm3_chs_v2.csv", infer_schema_length=0)
    return dict(zip(df["code"].to_list(), df["name"].to_list()))


@lru_cache(maxsize=1)
def _category_names() -> dict[str, str]:
    """Three-character category → the name of its unspecified subcategory (.9x00), else its first .x00 code."""
    out: dict[str, str] = {}
    for code, name in sorted(_dx_names().items()):
        if len(code) == 7 and code.endswith("00"):
            cat = code[:3]
            if code[4] == "9" or cat not in out:
                out[cat] = name
    return out


def _dx4_name(dx4: str) -> str:
    return _dx_names().get(f"{dx4}00") or _dx_names().get(dx4) or dx4


def _px_name(code: str) -> str:
    return _px_names().get(code) or code


def group_name(kind: str, dx4: str, main_px: str, related_px: str, category: str, tier_zh: str) -> str:
    """The name of one group (see the module docstring)."""
    if kind == "comprehensive":
        head = _category_names().get(category) or category
        return f"{head}：{tier_zh}" if tier_zh else head
    procedures = [p for p in [main_px, *related_px.split("+")] if p]
    tail = "+".join(_px_name(p) for p in procedures) if procedures else CONSERVATIVE_ZH
    return f"{_dx4_name(dx4)}：{tail}"


def group_names(groups: pl.DataFrame) -> pl.Series:
    """``name`` for every row of a catalogue's ``groups`` table: its own name where it has one."""
    rows = groups.select(
        [pl.col(c).fill_null("") for c in ("kind", "dx4", "main_px", "related_px", "category", "tier_zh")]
    ).iter_rows()
    derived = pl.Series("name", [group_name(*row) for row in rows], dtype=pl.Utf8)
    if "name" in groups.columns:
        own = groups["name"].cast(pl.Utf8)
        return pl.select(pl.when(own.str.strip_chars().fill_null("") != "").then(own).otherwise(derived).alias("name"))[
            "name"
        ]
    return derived
