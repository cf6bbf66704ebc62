"""City DRG payment tables: list the shipped ones, load one (shipped id or a CSV path) with validation.

A table is a long CSV (one row per DRG × hospital level × insurance type it distinguishes); see
``tables/README.md``. Loading checks every row and raises :class:`TableError` naming the first bad row.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DrgkitError
from ..paths import tables_dir

NUMERIC = (
    "rw",
    "base_rate",
    "level_coefficient",
    "payment_standard",
    "low_outlier_threshold",
    "high_outlier_threshold",
    "mean_cost",
    "case_volume_cap",
)
TEXT = ("drg", "drg_name", "basis", "hospital_level", "insurance_type", "group_type_zh", "flags", "remark_zh")
COLUMNS = (
    "drg",
    "drg_name",
    "basis",
    "rw",
    "hospital_level",
    "insurance_type",
    "base_rate",
    "level_coefficient",
    "payment_standard",
    "low_outlier_threshold",
    "high_outlier_threshold",
    "mean_cost",
    "case_volume_cap",
    "group_type_zh",
    "flags",
    "remark_zh",
)
LEVELS = (
    "level1",
    "level2",
    "level3",
    "level3a",
    "level3b",
    "provincial_level3a",
    "level1_and_primary",
    "named_top_hospitals",
    "rate_tier_1",
)
INSURANCE = ("employee", "resident")
#: A finer level → the level it belongs to, for tables that do not distinguish the finer one (a 三级甲等
#: hospital is priced at the 三级 rate where the table has only 三级).
LEVEL_BROADER = {
    "level3a": "level3",
    "level3b": "level3",
    "provincial_level3a": "level3a",
    "level1_and_primary": "level1",
}


class TableError(DrgkitError, ValueError):
    """A payment table that cannot be used; the message names the table and row."""


@dataclass(frozen=True)
class TableInfo:
    id: str
    city: str = ""
    city_zh: str = ""
    year: int | None = None
    scheme: str = ""
    scheme_code_match: str = ""
    scheme_note: str = ""
    basis: str = "rw"
    levels: tuple[str, ...] = ()
    levels_zh: tuple[str, ...] = ()
    insurance_types: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    drgs: int = 0
    rows: int = 0
    source: str = ""
    licence: str = ""
    licence_file: str = ""
    basic_group_rate_level: str = ""
    rates: tuple[dict, ...] = ()
    path: Path | None = None


@dataclass(frozen=True)
class PaymentTable:
    info: TableInfo
    df: pl.DataFrame  # typed: numeric columns Float64, text columns Utf8 ('' for empty)
    notes: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return self.info.id

    def derived_rate(self, level: str, insurance: str) -> tuple[float, str] | None:
        """A rate from the manifest (derived from published standards), or None."""
        for r in self.info.rates:
            if r.get("level", "") == level and r.get("insurance", "") == insurance:
                return float(r["base_rate"]), r.get("source", "derived")
        return None


@lru_cache(maxsize=1)
def _manifest() -> dict[str, TableInfo]:
    path = tables_dir() / "manifest.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = {}
    for t in data.get("table", []):
        kw: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in t.items() if k != "rate"}
        kw["rates"] = tuple(t.get("rate", []))
        kw["path"] = tables_dir() / f"{t['id']}.csv"
        out[t["id"]] = TableInfo(**kw)
    return out


def list_tables() -> list[TableInfo]:
    """The payment tables shipped with drgkit, by id."""
    return [info for _, info in sorted(_manifest().items())]


def table_info(table_id: str) -> TableInfo:
    m = _manifest()
    tid = table_id.replace("_", "-")
    if tid not in m:
        raise TableError(
            f"unknown payment table '{table_id}' (see `drgkit tables list`; known: {', '.join(sorted(m))})"
        )
    return m[tid]


def _read_csv(path: Path) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, infer_schema_length=0, encoding="utf8")
    except Exception as exc:  # polars raises several types for malformed files
        raise TableError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    return df


def _parse(df: pl.DataFrame, name: str, *, strict: bool) -> tuple[pl.DataFrame, list[str]]:
    missing = [c for c in ("drg",) if c not in df.columns]
    if missing or not ({"rw", "payment_standard"} & set(df.columns)):
        raise TableError(
            f"{name}: a payment table needs the columns drg and rw (or payment_standard); has {', '.join(df.columns)}"
        )
    for c in COLUMNS:
        if c not in df.columns:
            df = df.with_columns(pl.lit("").alias(c))
    df = df.select(COLUMNS).with_columns([pl.col(c).cast(pl.Utf8).fill_null("").str.strip_chars() for c in COLUMNS])
    line = pl.int_range(2, df.height + 2).alias("_line")
    df = df.with_columns(line)

    # row checks: each gives the first offending row
    def bad(mask: pl.Expr, what: str) -> None:
        hit = df.filter(mask)
        if hit.height:
            r = hit.row(0, named=True)
            raise TableError(
                f"{name}: row {r['_line']} (DRG '{r['drg']}'): {what.format(**r)}"
                + (f" ({hit.height} rows)" if hit.height > 1 else "")
            )

    bad(pl.col("drg") == "", "missing DRG code")
    basis_ok = pl.col("basis").is_in(["", "rw", "points", "cost"])
    bad(~basis_ok, "unknown basis '{basis}' (rw, points, cost)")
    bad(
        (pl.col("hospital_level") != "") & ~pl.col("hospital_level").is_in(list(LEVELS)),
        "unknown hospital level '{hospital_level}' (" + ", ".join(LEVELS) + ")",
    )
    bad(
        (pl.col("insurance_type") != "") & ~pl.col("insurance_type").is_in(list(INSURANCE)),
        "unknown insurance type '{insurance_type}' (employee, resident)",
    )
    typed = []
    for c in NUMERIC:
        val = pl.col(c).cast(pl.Float64, strict=False)
        bad((pl.col(c) != "") & val.is_null(), f"{c} is not a number: '{{{c}}}'")
        bad(val < 0, f"negative {c}: {{{c}}}")
        bad(val.is_infinite() | val.is_nan(), f"{c} is not finite: '{{{c}}}'")
        typed.append(val.alias(c))
    for c in ("base_rate", "level_coefficient"):
        bad(pl.col(c).cast(pl.Float64, strict=False) == 0, f"{c} is zero")
    df = df.with_columns(typed)
    notes = []
    dup = df.filter(~pl.struct("drg", "hospital_level", "insurance_type").is_first_distinct())
    if dup.height:
        r = dup.row(0, named=True)
        first = df.filter(
            (pl.col("drg") == r["drg"])
            & (pl.col("hospital_level") == r["hospital_level"])
            & (pl.col("insurance_type") == r["insurance_type"])
        )["_line"][0]
        msg = (
            f"{name}: row {r['_line']} (DRG '{r['drg']}'): DRG listed more than once for level "
            f"'{r['hospital_level']}' / insurance '{r['insurance_type']}' (first at row {first})"
        )
        if strict:
            raise TableError(msg)
        notes.append(msg + "; the first row is used")
        df = df.unique(subset=["drg", "hospital_level", "insurance_type"], keep="first", maintain_order=True)
    return df, notes


def load_table(table: str | Path | PaymentTable, *, strict: bool | None = None) -> PaymentTable:
    """Load a shipped table by id (``suzhou-2023`` or ``suzhou_2023``) or a table CSV by path.

    Shipped tables keep published duplicates (Urumqi's DR13: the first row is used, noted in ``notes``);
    a user table with a duplicate DRG/level/insurance row is refused (``strict``).
    """
    if isinstance(table, PaymentTable):
        return table
    path = Path(table)
    if path.suffix.lower() == ".csv" or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such payment table")
        df, notes = _parse(_read_csv(path), str(path), strict=True if strict is None else strict)
        info = _info_from(df, path.stem, path)
        return PaymentTable(info, df, tuple(notes))
    if table_id_known(str(table)):
        return _shipped_table(str(table), False if strict is None else strict)
    weights = _scheme_weights_table(str(table))
    if weights is not None:
        return weights
    table_info(str(table))  # raises: unknown id, naming the known ones
    raise AssertionError("unreachable")


def table_id_known(table_id: str) -> bool:
    return table_id.replace("_", "-") in _manifest()


@lru_cache(maxsize=4)
def _scheme_weights_table(scheme_id: str) -> PaymentTable | None:
    """A scheme that ships reference weights (CHS-DRG 2.0) as a payment table: its groups with their RW and
    nothing else, so pricing needs a base rate (``--base-rate`` or a policy's ``base_rate``); ``None`` when
    ``scheme_id`` is no scheme or has no weights."""
    import math

    from ..schemes.tables import list_schemes

    if scheme_id not in {s.id for s in list_schemes()}:
        return None
    from ..schemes.compile import load_compiled

    scheme = load_compiled(scheme_id)
    rows = [
        (code, name, float(w))
        for code, name, w in zip(scheme.drg_codes, scheme.drg_names, scheme.drg_weights)
        if not math.isnan(w)
    ]
    if not rows:
        return None
    df = pl.DataFrame(
        {"drg": [r[0] for r in rows], "drg_name": [r[1] for r in rows], "basis": "rw", "rw": [r[2] for r in rows]}
    )
    df = df.with_columns(
        [pl.lit(None, pl.Float64).alias(c) for c in NUMERIC if c != "rw"]
        + [pl.lit("", pl.Utf8).alias(c) for c in TEXT if c not in df.columns]
    ).select(COLUMNS)
    info = TableInfo(
        id=scheme_id,
        scheme=scheme_id,
        basis="rw",
        published=("rw",),
        drgs=df.height,
        rows=df.height,
        source=f"reference weights (RW) of the scheme {scheme_id}; no base rate: give one",
    )
    return PaymentTable(
        info,
        df,
        (
            f"{df.height:,} of {len(scheme.drg_codes):,} groups of {scheme_id} have a "
            "reference weight; the others go unpriced",
        ),
    )


@lru_cache(maxsize=8)
def _shipped_table(table: str, strict: bool) -> PaymentTable:
    """A shipped table, parsed once per process (package data does not change while it runs)."""
    info = table_info(table)
    assert info.path is not None  # every shipped table has its file
    df, notes = _parse(_read_csv(info.path), info.id, strict=strict)
    return PaymentTable(info, df, tuple(notes))


def _info_from(df: pl.DataFrame, tid: str, path: Path) -> TableInfo:
    levels = tuple(sorted(set(df["hospital_level"].to_list()) - {""}))
    ins = tuple(sorted(set(df["insurance_type"].to_list()) - {""}))
    basis = next((b for b in df["basis"].to_list() if b), "rw")
    published = tuple(c for c in NUMERIC if df[c].is_not_null().any())
    return TableInfo(
        id=tid,
        basis=basis,
        levels=levels,
        insurance_types=ins,
        published=published,
        drgs=df["drg"].n_unique(),
        rows=df.height,
        source=str(path),
        path=path,
    )


def normalize_level(value) -> str:
    """A hospital level as written (3, 三级, 三级甲等, 三甲, Ⅲ级 …) as a table level id
    (``io/vocab/hospital_level.csv``); an id or unknown text comes back as it was (the caller reports it)."""
    from ..io.values import lookup

    s = str(value).strip()
    return lookup("hospital_level", s) or s


def normalize_insurance(value) -> str:
    """An insurance type as written (310, 职工基本医疗保险, 城乡居民 …) as ``employee`` / ``resident``
    (``io/vocab/insurance.csv``); unknown text comes back as it was."""
    from ..io.values import lookup

    s = str(value).strip()
    return lookup("insurance", s) or s
