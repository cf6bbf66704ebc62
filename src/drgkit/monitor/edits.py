"""Edits (coding-quality checks) on every abstract, driven by the edit table ``edits/edits.csv``.

``validate(cases)`` returns one row per input row: ``case_id``, ``edits`` (list of edit ids that fired, in
table order), ``n_errors`` (edits of severity *error*), ``messages_zh`` / ``messages_en`` (one message per
fired edit, with the offending code or value). Edits read the same normalized codes the grouper sees but never
change a grouping result: they are a separate pass.

Everything is columnar: code-level edits explode the diagnosis / procedure lists once, join a small per-code
property table (known / 国临版 suggestion / grey / sex set) and aggregate the hits back per row with polars;
no Python runs per row.

Sex-specific code sets (edits S01-S04) are derived per scheme (see :func:`sex_codes` and ``docs/monitor.md``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowutil import polars_frame
from ..paths import edits_dir
from ..schemes import DEFAULT_SCHEME

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Edit:
    id: str
    severity: str
    enabled: bool
    zh: str
    en: str


def load_edits(
    path: str | Path | None = None, *, disable: Iterable[str] = (), enable: Iterable[str] = ()
) -> list[Edit]:
    """The edit list (``edits/edits.csv`` unless ``path``), with ``disable`` / ``enable`` overrides by id."""
    path = Path(path) if path else edits_dir() / "edits.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"id", "severity", "enabled", "zh", "en"}
    if rows and not need <= set(rows[0]):
        raise ValueError(f"{path}: edit table needs columns {sorted(need)}")
    off, on = set(disable), set(enable)
    out = []
    for r in rows:
        sev = r["severity"].strip().lower()
        if sev not in SEVERITIES:
            raise ValueError(f"{path}: edit {r['id']}: severity must be error or warning, not {sev!r}")
        enabled = r["enabled"].strip().lower() in ("1", "true", "yes", "y", "on")
        eid = r["id"].strip()
        enabled = (enabled or eid in on) and eid not in off
        out.append(Edit(eid, sev, enabled, r["zh"].strip(), r["en"].strip()))
    unknown = (off | on) - {e.id for e in out}
    if unknown:
        raise ValueError(f"unknown edit id(s): {', '.join(sorted(unknown))}")
    if path != edits_dir() / "edits.csv":
        # an own table may re-word, re-grade or switch off drgkit's edits, not invent ids: an unknown id
        # would silently check nothing
        builtin = {e.id for e in load_edits()}
        foreign = [e.id for e in out if e.id not in builtin]
        if foreign:
            raise ValueError(
                f"{path}: edit id {foreign[0]!r} is not one drgkit implements (known: {', '.join(sorted(builtin))})"
            )
    return out


# --- per-code properties -----------------------------------------------------------------------------------


def _read_codes(path: Path, column: str = "code") -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [r[column] for r in csv.DictReader(fh)]


@lru_cache(maxsize=4)
def _sex_categories() -> tuple[tuple[str, str, str], ...]:
    with open(edits_dir() / "sex_categories.csv", encoding="utf-8", newline="") as fh:
        return tuple((r["domain"], r["prefix"], r["sex"]) for r in csv.DictReader(fh))


def _matches(codes: list[str], prefixes: list[str], domain: str) -> set[str]:
    # px prefixes name a 2-digit chapter ("60") or a 3-digit category ("64.0"): compare on the dotted form
    pre = tuple(prefixes)
    return {c for c in codes if c.startswith(pre)}


@lru_cache(maxsize=32)
def sex_codes(scheme: str = DEFAULT_SCHEME) -> dict[str, frozenset[str]]:
    """Sex-specific code sets of a scheme: keys ``dx_F``, ``dx_M``, ``px_F``, ``px_M``.

    A code is *female-only* when its ICD category is on the female list of ``edits/sex_categories.csv``
    (ICD-10 / ICD-9-CM-3 sex-specific categories: N70-N98, O, C51-C58, ... ; procedure chapters 65-75) **and**
    the scheme does not accept it for the other sex: it is not on the MDCM (male reproductive) principal-diagnosis
    list, nor on an MDCM ADRG procedure list. Symmetrically for male-only (MDCN / MDCO lists removed). The
    candidates are the codes of the scheme's dictionary plus the codes on the MDCM / MDCN / MDCO lists.
    """
    from ..schemes.compile import load_compiled
    from ..schemes.tables import load_dicts

    s = load_compiled(scheme)
    mdc_dx: dict[str, set[str]] = {}
    for r in load_dicts(scheme, "mdc_dx"):
        mdc_dx.setdefault(r["mdc"], set()).add(r["dx"])
    mdc_of = {r["rule_id"]: r["mdc"] for r in load_dicts(scheme, "adrg")}
    mdc_px: dict[str, set[str]] = {}
    for r in load_dicts(scheme, "adrg_codes"):
        if r["list"].startswith("px"):
            mdc_px.setdefault(mdc_of.get(r["rule_id"], ""), set()).add(r["code"])
    lists = {
        ("dx", "M"): mdc_dx.get("MDCM", set()),
        ("dx", "F"): mdc_dx.get("MDCN", set()) | mdc_dx.get("MDCO", set()),
        ("px", "M"): mdc_px.get("MDCM", set()),
        ("px", "F"): mdc_px.get("MDCN", set()) | mdc_px.get("MDCO", set()),
    }
    universe = {
        "dx": [c for c, k in zip(s.dx_codes, s.dx_known) if k] + sorted(lists[("dx", "M")] | lists[("dx", "F")]),
        "px": [c for c, k in zip(s.px_codes, s.px_known) if k] + sorted(lists[("px", "M")] | lists[("px", "F")]),
    }
    cats = _sex_categories()
    out = {}
    for domain in ("dx", "px"):
        for sex, other in (("F", "M"), ("M", "F")):
            prefixes = [p for d, p, x in cats if d == domain and x == sex]
            out[f"{domain}_{sex}"] = frozenset(_matches(universe[domain], prefixes, domain) - lists[(domain, other)])
    return out


@lru_cache(maxsize=32)
def code_properties(scheme: str = DEFAULT_SCHEME) -> dict[str, pl.DataFrame]:
    """Per-code property tables for ``dx`` and ``px``: code, known, suggestion, grey, sex ('F'/'M'/null)."""
    from ..codes.grey import edition, grey_codes
    from ..schemes.compile import load_compiled
    from ..schemes.tables import icd_table

    s = load_compiled(scheme)
    sexes = sex_codes(scheme)
    out = {}
    for domain, codes, known in (("dx", s.dx_codes, s.dx_known), ("px", s.px_codes, s.px_known)):
        known_codes = {c for c, k in zip(codes, known) if k}
        header, rows = icd_table(scheme, f"map_{domain}")
        fi, ti = header.index("from"), header.index("to")
        suggest = {r[fi]: r[ti] for r in rows if r[fi] != r[ti] and r[fi] not in known_codes and r[ti] in known_codes}
        grey = grey_codes(edition(s), domain) & known_codes  # the scheme's ICD edition's grey list
        female, male = sexes[f"{domain}_F"], sexes[f"{domain}_M"]
        allc = sorted(known_codes | set(suggest) | female | male)
        out[domain] = pl.DataFrame(
            {
                "code": allc,
                "known": [c in known_codes for c in allc],
                "suggestion": [suggest.get(c) for c in allc],
                "grey": [c in grey for c in allc],
                "sex": [("F" if c in female else "M" if c in male else None) for c in allc],
            },
            schema={"code": pl.Utf8, "known": pl.Boolean, "suggestion": pl.Utf8, "grey": pl.Boolean, "sex": pl.Utf8},
        )
    return out


# --- field parsing -------------------------------------------------------------------------------------------


def _num(df: pl.DataFrame, name: str) -> pl.Expr:
    if name not in df.columns:
        return pl.lit(None, pl.Float64).alias(name)
    dtype = df.schema[name]
    if dtype.is_numeric():
        return pl.col(name).cast(pl.Float64).alias(name)
    # as the grouper reads them: full-width digits, units and 元 (82岁, １２天, 1,234元)
    text = (
        pl.col(name)
        .cast(pl.Utf8)
        .str.normalize("NFKC")
        .str.strip_chars()
        .str.replace_all(",", "")
        .str.replace(r"(岁|周岁|天|日|克|g|小时|元)$", "")
    )
    return text.cast(pl.Float64, strict=False).alias(name)


_NUMBERS = ("age", "age_days", "birth_weight", "los", "leaving_type", "total_cost")


def _as_read(df: pl.DataFrame, name: str, read: np.ndarray) -> pl.Expr:
    """A numeric field as the grouper read it (``3月`` → age 0, ``医嘱离院`` → 1: :func:`drgkit.io.prepare`), and
    where the grouper could not read it, the number as written — so a negative LOS or age is still named by
    its own edit (V01, V04 …) rather than only as unreadable (V08)."""
    usable = ~np.isnan(read) if read.dtype.kind == "f" else read >= 0
    grouper = pl.Series(f"_{name}", np.where(usable, read, 0).astype(np.float64))
    return pl.when(pl.lit(pl.Series(usable))).then(pl.lit(grouper)).otherwise(_num(df, name)).alias(name)


def _date(df: pl.DataFrame, name: str) -> pl.Expr:
    if name not in df.columns:
        return pl.lit(None, pl.Date).alias(name)
    dtype = df.schema[name]
    if dtype == pl.Date:
        return pl.col(name)
    if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
        return pl.col(name).dt.date().alias(name)
    text = pl.col(name).cast(pl.Utf8).str.strip_chars().str.replace_all("/", "-").str.replace_all(r"\.", "-")
    iso = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    compact = text.str.slice(0, 8).str.to_date("%Y%m%d", strict=False)
    return pl.coalesce(iso, compact).alias(name)


def _explode(lists: pa.ListArray, domain: str) -> pl.DataFrame:
    """(row, pos, code) for every code of every list."""
    flat = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    pos = np.arange(len(flat), dtype=np.int64) + offsets[0] - offsets[parent] if len(flat) else np.zeros(0, np.int64)
    return pl.DataFrame({"row": parent, "pos": pos.astype(np.int32), "code": pl.from_arrow(flat.cast(pa.string()))})


# --- the pass --------------------------------------------------------------------------------------------------


def validate_canonical(canon: pa.Table, scheme: str = DEFAULT_SCHEME, edits: list[Edit] | None = None) -> pa.Table:
    """Edits of a canonical table (see :func:`drgkit.io.canonicalize`); one output row per input row."""
    from ..io.prepare import prepare

    edits = load_edits() if edits is None else edits
    enabled = [e for e in edits if e.enabled]
    order = {e.id: i for i, e in enumerate(enabled)}
    prep = prepare(canon)
    n = prep.n
    if n == 0:  # literal columns would broadcast to one row
        case_id = pl.Series("case_id", [], pl.Utf8)
        return _assemble(0, case_id, [], enabled, order)
    rest = canon.drop_columns([c for c in ("dx", "px") if c in canon.column_names])
    raw = polars_frame(rest) if rest.num_columns else pl.DataFrame({"_row": np.arange(n)})
    case_id = raw["case_id"].cast(pl.Utf8) if "case_id" in raw.columns else pl.Series("case_id", [None] * n, pl.Utf8)
    f = raw.select(
        pl.int_range(pl.len()).alias("_n"),  # a column of the frame's length: literals alone would give one row
        *(_as_read(raw, name, getattr(prep, name)) for name in _NUMBERS),
        _date(raw, "admission_date"),
        _date(raw, "discharge_date"),
    ).drop("_n")
    f = f.with_columns(
        pl.Series("case_id", case_id).str.strip_chars().alias("case_id"),
        pl.Series("gender", prep.gender),
        # what the grouper could not read (negative ICU hours, 1e309, '12.5' days …): the same judgement, so
        # validate and group never disagree on whether a record is usable
        pl.Series("unreadable", prep.problems, pl.Utf8),
        pl.Series("row", np.arange(n, dtype=np.int64)),
    )
    dx = _explode(prep.dx, "dx")
    px = _explode(prep.px, "px")
    pdx = dx.filter(pl.col("pos") == 0).select("row", pl.col("code").alias("pdx"))
    f = f.join(pdx, on="row", how="left")
    has_dates = "admission_date" in canon.column_names or "discharge_date" in canon.column_names
    has_cost = "total_cost" in canon.column_names
    has_leaving = "leaving_type" in canon.column_names
    days = (pl.col("discharge_date") - pl.col("admission_date")).dt.total_days()
    adult = pl.col("age") >= 1

    # the value shown with an edit: whole numbers without ".0"; inf / nan as they are (an int cast would fail)
    def s(e: pl.Expr) -> pl.Expr:
        return pl.when(e.is_finite()).then(e.cast(pl.Int64, strict=False).cast(pl.Utf8)).otherwise(e.cast(pl.Utf8))

    row_rules: dict[str, tuple[pl.Expr, pl.Expr | None]] = {
        "M01": (pl.col("case_id").is_null() | (pl.col("case_id") == ""), None),
        "M02": (pl.col("gender") == 0, None),
        "M03": (pl.col("age").is_null(), None),
        "M04": (pl.col("pdx").is_null() | (pl.col("pdx") == ""), None),
        "M05": ((pl.col("age") == 0) & pl.col("age_days").is_null(), None),
        "M06": (
            (pl.col("age_days") <= 28)
            & (pl.col("age").fill_null(0) == 0)
            & (pl.col("birth_weight").is_null() | (pl.col("birth_weight") == 0)),
            s(pl.col("age_days")),
        ),
        "M07": (pl.col("los").is_null(), None),
        "V01": (pl.col("los") < 0, s(pl.col("los"))),
        "V04": ((pl.col("age") < 0) | (pl.col("age") > 120), s(pl.col("age"))),
        # age_days is the total age in days in the groupers' record (an infant's 天龄 is the same number), so
        # a value is only wrong when it is negative, over a year at age 0, or disagrees with the age in years
        "V05": ((pl.col("age_days") < 0) | ((pl.col("age") == 0) & (pl.col("age_days") > 365)), s(pl.col("age_days"))),
        # 0 is how many exports write "not filled"; a negative weight is outside the range too
        "V06": (
            (pl.col("birth_weight") != 0) & ((pl.col("birth_weight") < 100) | (pl.col("birth_weight") > 10000)),
            s(pl.col("birth_weight")),
        ),
        "V08": (pl.col("unreadable").is_not_null(), pl.col("unreadable")),
        "A02": (
            adult & ((pl.col("age_days") < pl.col("age") * 365) | (pl.col("age_days") > (pl.col("age") + 1) * 366)),
            s(pl.col("age_days")),
        ),
        "A03": (
            adult & (pl.col("birth_weight") > 0) & ~pl.col("pdx").fill_null("").str.starts_with("O"),
            s(pl.col("birth_weight")),
        ),
    }
    if has_leaving:
        row_rules["M08"] = (pl.col("leaving_type").is_null(), None)
    if has_cost:
        row_rules["M10"] = (pl.col("total_cost").is_null(), None)
        row_rules["V07"] = (
            pl.col("total_cost") < 0,
            pl.col("total_cost").round(2).cast(pl.Utf8).str.replace(r"\.0$", ""),
        )
    if has_dates:
        both = pl.col("admission_date").is_not_null() & pl.col("discharge_date").is_not_null()
        span = pl.concat_str(
            pl.col("admission_date").cast(pl.Utf8), pl.lit(" → "), pl.col("discharge_date").cast(pl.Utf8)
        )
        row_rules["M09"] = (~both, None)
        row_rules["V02"] = (both & (days < 0), span)
        # 住院天数 = discharge − admission, a same-day stay counts as 1 day; both conventions accepted
        row_rules["V03"] = (
            both
            & (days >= 0)
            & (pl.col("los") >= 0)
            & (pl.col("los") != days)
            & (pl.col("los") != pl.max_horizontal(days, pl.lit(1))),
            pl.concat_str(s(pl.col("los")), pl.lit(" ≠ "), s(days)),
        )
    parts = []
    active = [k for k in row_rules if k in order]
    if active:

        def detail(k: str) -> pl.Expr:
            text = row_rules[k][1]
            return (pl.lit(None, pl.Utf8) if text is None else text).alias("detail")

        wide = f.select(
            "row", *[pl.struct(row_rules[k][0].fill_null(False).alias("hit"), detail(k)).alias(k) for k in active]
        )
        for k in active:
            parts.append(
                wide.select("row", pl.col(k).struct.field("hit"), pl.col(k).struct.field("detail"))
                .filter(pl.col("hit"))
                .select("row", pl.lit(k).alias("edit"), pl.lit(0, pl.Int32).alias("pos"), "detail")
            )

    props = code_properties(scheme)
    info = f.select("row", "gender", "age")
    for domain, codes in (("dx", dx), ("px", px)):
        c = (
            codes.filter(pl.col("code") != "")
            .join(props[domain], on="code", how="left")
            .join(info, on="row", how="left")
        )
        unknown, mapped = ("C01", "C02") if domain == "dx" else ("C03", "C04")
        sug = pl.concat_str(pl.col("code"), pl.lit(" → "), pl.col("suggestion"))
        rules = {
            unknown: (pl.col("known").is_null() | (~pl.col("known") & pl.col("suggestion").is_null()), pl.col("code")),
            mapped: (pl.col("suggestion").is_not_null(), sug),
        }
        dup = codes.filter(pl.col("code") != "").group_by("row", "code").agg(pl.len().alias("k"), pl.col("pos").min())
        dup_id = "D01" if domain == "dx" else "D02"
        if dup_id in order:
            parts.append(
                dup.filter(pl.col("k") > 1).select(
                    "row", pl.lit(dup_id).alias("edit"), "pos", pl.col("code").alias("detail")
                )
            )
        if domain == "dx":
            first = pl.col("pos") == 0
            rules["P01"] = (first & pl.col("grey").fill_null(False), pl.col("code"))
            rules["P02"] = (first & pl.col("code").str.contains(r"^[^+]*\*"), pl.col("code"))
            rules["P03"] = (first & pl.col("code").str.contains(r"^[VWXY]\d"), pl.col("code"))
            rules["S01"] = ((pl.col("sex") == "F") & (pl.col("gender") == 1), pl.col("code"))
            rules["S02"] = ((pl.col("sex") == "M") & (pl.col("gender") == 2), pl.col("code"))
            rules["A01"] = ((pl.col("age") >= 1) & pl.col("code").str.contains(r"^P([0-8]\d|9[0-6])"), pl.col("code"))
        else:
            rules["P04"] = ((pl.col("pos") == 0) & pl.col("grey").fill_null(False), pl.col("code"))
            rules["S03"] = ((pl.col("sex") == "F") & (pl.col("gender") == 1), pl.col("code"))
            rules["S04"] = ((pl.col("sex") == "M") & (pl.col("gender") == 2), pl.col("code"))
        for k, (mask, shown) in rules.items():
            if k in order:
                parts.append(
                    c.filter(mask.fill_null(False)).select(
                        "row", pl.lit(k).alias("edit"), "pos", shown.cast(pl.Utf8).alias("detail")
                    )
                )
    return _assemble(n, f["case_id"], parts, enabled, order)


def _assemble(
    n: int, case_id: pl.Series, parts: list[pl.DataFrame], enabled: list[Edit], order: dict[str, int]
) -> pa.Table:
    table = pl.DataFrame(
        {
            "edit": [e.id for e in enabled],
            "rank": list(range(len(enabled))),
            "is_error": [e.severity == "error" for e in enabled],
            "zh": [e.zh for e in enabled],
            "en": [e.en for e in enabled],
        },
        schema={"edit": pl.Utf8, "rank": pl.Int32, "is_error": pl.Boolean, "zh": pl.Utf8, "en": pl.Utf8},
    )
    schema = pl.Schema({"row": pl.Int64, "edit": pl.Utf8, "pos": pl.Int32, "detail": pl.Utf8})
    hits = pl.concat([p.cast(schema) for p in parts]) if parts else pl.DataFrame(schema=schema)
    hits = hits.join(table, on="edit", how="inner").sort("row", "rank", "pos")
    tail = pl.when(pl.col("detail").is_not_null())
    hits = hits.with_columns(
        pl.concat_str(
            pl.col("edit"),
            pl.lit(" "),
            pl.col("zh"),
            tail.then(pl.concat_str(pl.lit("："), pl.col("detail"))).otherwise(pl.lit("")),
        ).alias("messages_zh"),
        pl.concat_str(
            pl.col("edit"),
            pl.lit(" "),
            pl.col("en"),
            tail.then(pl.concat_str(pl.lit(": "), pl.col("detail"))).otherwise(pl.lit("")),
        ).alias("messages_en"),
    )
    per_row = hits.group_by("row").agg(
        pl.col("edit").alias("edits"), pl.col("is_error").sum().alias("n_errors"), "messages_zh", "messages_en"
    )
    out = pl.DataFrame({"row": np.arange(n, dtype=np.int64), "case_id": case_id}).join(per_row, on="row", how="left")
    empty = pl.lit([], pl.List(pl.Utf8))
    out = out.sort("row").select(
        "case_id",
        pl.col("edits").fill_null(empty),
        pl.col("n_errors").fill_null(0).cast(pl.Int32),
        pl.col("messages_zh").fill_null(empty),
        pl.col("messages_en").fill_null(empty),
    )
    return out.to_arrow()


def validate(
    data: Any,
    scheme: str = DEFAULT_SCHEME,
    *,
    mapping: Mapping[str, str] | None = None,
    edits: list[Edit] | str | Path | None = None,
    disable: Iterable[str] = (),
) -> Any:
    """Run the edits on every abstract (pyarrow / polars / pandas in, same type out, or a file path).

    Output columns: ``case_id``, ``edits`` (list of ids), ``n_errors``, ``messages_zh``, ``messages_en``.
    ``edits`` is an edit list or the path of an edit table; ``disable`` switches edits off by id.
    """
    from ..io import canonicalize
    from ..io.frames import from_arrow, to_arrow

    table, kind = to_arrow(data)
    if edits is None or isinstance(edits, (str, Path)):
        edits = load_edits(edits, disable=disable)
    elif disable:
        off = set(disable)
        edits = [Edit(e.id, e.severity, e.enabled and e.id not in off, e.zh, e.en) for e in edits]
    return from_arrow(validate_canonical(canonicalize(table, mapping=mapping), scheme, edits), kind, data)
