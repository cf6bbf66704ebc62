"""Fund-supervision signals over a year of grouped (and ideally priced) cases.

``audit(grouped)`` returns an :class:`Audit` with

* ``cases`` — one row per input row: ``case_id``, ``flags`` (list of strings), ``linked_case_id``:

  - ``split_admission`` (分解住院): the same patient readmitted to the same hospital within ``readmit_days`` days
    of a discharge, both stays in the same ADRG or the same MDC; both stays are flagged, each linked to the other
    (a stay in a chain links to the earlier one);
  - ``short_readmission``: readmitted (any hospital, any group) within ``readmit_days`` days, flagged on the
    later stay, when not already a split admission;
  - ``low_ratio`` / ``high_ratio``: the payment case type (needs priced input);
  - ``cc_only_from_unusual_code``: the case reaches its CC/MCC level only through a code the hospital uses as its
    CC/MCC code at least 5 times as often as the other hospitals do (and at least 10 times);
  - ``death`` / ``transfer``: 离院方式 5 / 2-3 (context for the hospital signals).

* ``hospitals`` (and ``depts``, ``doctors`` when those columns exist) — one row per unit with the signals
  ``cc_share``, ``mcc_share``, ``cmi``, ``cmi_change`` (last minus first quarter), ``low_ratio_share``,
  ``high_ratio_share``, ``alos``, ``death_share``, ``transfer_share``, ``high_rw_share``, ``split_share``,
  ``readmit_share``, each with its z-score ``z_<signal>`` against the peers (hospitals of the same level; the
  same department name in hospitals of the same level; doctors of the same department), and ``risk_score`` =
  the sum over signals of how far the z-score goes beyond 1 in its risky direction (``max(sign·z − 1, 0)``),
  with ``risk_signals`` naming the signals with a risky z ≥ 2. Units with fewer than 30 cases get no z-scores.
* ``quarters`` — CMI and CC/MCC share per hospital and quarter (for trend plots).

Weights: the ``rw`` column of priced input; else the scheme's reference weights; else a cost-based weight
(mean total cost of the DRG / mean cost of all grouped cases). Everything is polars: no Python per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..arrowutil import polars_frame
from ..errors import DrgkitError
from ..io.results import LeftOut

#: signal → risky direction (+1: high is risky, -1: low is risky)
SIGNALS: dict[str, int] = {
    "cc_share": 1,
    "mcc_share": 1,
    "cmi": 1,
    "cmi_change": 1,
    "low_ratio_share": 1,
    "high_ratio_share": 1,
    "alos": -1,
    "death_share": -1,
    "transfer_share": 1,
    "high_rw_share": -1,
    "split_share": 1,
    "readmit_share": 1,
}
GROUPED = ("ok", "ambiguous")


class AuditError(DrgkitError, ValueError):
    """Audit settings or data that cannot be used; one line."""


MIN_CASES = 30


class Note(str):
    """A note of the audit: its English text (what ``Audit.notes`` holds and the files say), and the ui_words
    ``key`` and ``values`` that say it in another language (:func:`drgkit.lang.say`)."""

    key: str
    values: dict

    def __new__(cls, key: str, **values: object) -> Note:
        from ..lang import say

        note = super().__new__(cls, say(key, "en", **values))
        note.key, note.values = key, values
        return note

    def text(self, lang: str) -> str:
        from ..lang import say

        return say(self.key, lang, **self.values)


@dataclass
class Audit:
    cases: pl.DataFrame
    hospitals: pl.DataFrame
    quarters: pl.DataFrame
    depts: pl.DataFrame | None = None
    doctors: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: totals rows (合计 … as stay id, hospital or department) and blank rows left out: no stays
    left_out: LeftOut = field(default_factory=LeftOut)

    def write(self, folder: str | Path, figures: bool = True) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("cases", "hospitals", "quarters", "depts", "doctors"):
            df = getattr(self, name)
            if df is not None:
                path = folder / f"{name}.parquet"
                tmp = path.with_suffix(".parquet.tmp")
                df.write_parquet(tmp)
                tmp.replace(path)
                written.append(path)
        if figures:
            from .report import write_report

            written += write_report(self, folder)
        return written


#: the result and input fields the audit reads, found under any header of the field vocabulary
FIELDS = (
    "case_id",
    "patient_id",
    "hospital",
    "dept",
    "doctor",
    "mdc",
    "adrg",
    "drg",
    "cc_level",
    "cc_code",
    "case_type",
    "status",
    "hospital_level",
    "admission_date",
    "discharge_date",
    "los",
    "leaving_type",
    "total_cost",
    "rw",
    "scheme",
)


def _frame(data: Any) -> tuple[pl.DataFrame, LeftOut]:
    """Any grouped result (a file in any format the reader takes, the Chinese workbook, a frame) under
    canonical names and values, without its totals and blank rows (no stays: :func:`drgkit.io.results.stay_rows`),
    and how many those were."""
    from ..io.results import as_arrow, canonical_results, stays

    table, left_out = stays(as_arrow(data))
    return polars_frame(canonical_results(table, FIELDS)), left_out


def _leaving_type(df: pl.DataFrame) -> pl.Expr:
    """离院方式 as its code 1-9 whether written 5, 5.0 or 死亡 (the grouper's vocabulary)."""
    if "leaving_type" not in df.columns:
        return pl.lit(None, pl.Float64).alias("leaving_type")
    if df.schema["leaving_type"] != pl.Utf8:
        return pl.col("leaving_type").cast(pl.Float64, strict=False)
    from ..io.values import lookup

    distinct = df["leaving_type"].unique().drop_nulls().to_list()
    codes = {v: lookup("leaving_type", v) for v in distinct}
    return (
        pl.col("leaving_type")
        .replace_strict(codes, default=None, return_dtype=pl.Utf8)
        .cast(pl.Float64, strict=False)
        .alias("leaving_type")
    )


def _as_date(df: pl.DataFrame, name: str, notes: list[str] | None = None) -> pl.Expr:
    """A date column read as the grouper reads dates (2024-05-10, 2024/5/10, 20240510, Excel serials …).
    Values that are not dates are counted in ``notes``; a column none of whose values is a date is an error —
    it would switch the readmission and split-admission checks off without a word."""
    if name not in df.columns:
        return pl.lit(None, pl.Date).alias(name)
    dt = df.schema[name]
    if dt == pl.Date:
        return pl.col(name)
    if isinstance(dt, pl.Datetime):
        return pl.col(name).dt.date()
    from ..io.output import parse_dates

    typed, unread = parse_dates(df[name].cast(pl.Utf8).to_arrow())
    if unread.size:
        present = int(df[name].cast(pl.Utf8).str.strip_chars().replace("", None).is_not_null().sum())
        example = df[name][int(unread[0])]
        if unread.size == present:
            raise AuditError(
                f"column {name}: no value is a date (e.g. {example!r} in row {int(unread[0]) + 1}); "
                f"the readmission checks need dates such as 2024-05-10"
            )
        if notes is not None:
            from ..io.columns import fields

            label = fields()[name].zh if name in fields() else name
            at = {"n": f"{unread.size:,}", "example": repr(example), "row": int(unread[0]) + 1}
            notes.append(Note("audit.not_dates", field=name, label=label, **at))
    return pl.lit(pl.Series(name, typed).cast(pl.Date)).alias(name)


def _num(df: pl.DataFrame, name: str) -> pl.Expr:
    if name not in df.columns:
        return pl.lit(None, pl.Float64).alias(name)
    return (
        pl.col(name).cast(pl.Utf8).str.strip_chars().cast(pl.Float64, strict=False).alias(name)
        if df.schema[name] == pl.Utf8
        else pl.col(name).cast(pl.Float64).alias(name)
    )


def _weights(df: pl.DataFrame, scheme: str | None) -> pl.Expr:
    grouped = pl.col("status").is_in(GROUPED)
    if "rw" in df.columns and df["rw"].cast(pl.Float64, strict=False).is_not_null().any():
        return pl.col("rw").cast(pl.Float64, strict=False)
    if scheme:
        from ..schemes.compile import load_compiled

        s = load_compiled(scheme)
        table = pl.DataFrame({"drg": s.drg_codes, "w": s.drg_weights}).filter(pl.col("w").is_not_nan())
        if table.height:
            mapping = dict(zip(table["drg"], table["w"]))
            return pl.col("drg").replace_strict(mapping, default=None, return_dtype=pl.Float64)
    cost = pl.col("total_cost")
    return pl.when(grouped).then(cost.mean().over("drg") / cost.filter(grouped).mean())


def _case_frame(data: Any, scheme: str | None, notes: list[str] | None = None) -> tuple[pl.DataFrame, LeftOut]:
    df, left_out = _frame(data)
    for need in ("case_id", "status", "drg"):
        if need not in df.columns:
            raise AuditError(f"grouped data has no '{need}' column: run `drgkit group` (and `drgkit pay`) first")
    if df.height == 0:
        raise AuditError("grouped data has no rows: nothing to audit")
    if "hospital" not in df.columns and notes is not None:
        notes.append(Note("audit.no_hospital"))
    if "scheme" in df.columns and scheme is None and df.height:
        first = df["scheme"].drop_nulls().first()
        scheme = None if first is None else str(first)
    str_or_null = lambda c: (pl.col(c).cast(pl.Utf8) if c in df.columns else pl.lit(None, pl.Utf8)).alias(c)  # noqa
    f = df.select(
        pl.col("case_id").cast(pl.Utf8),
        *[
            str_or_null(c)
            for c in (
                "patient_id",
                "dept",
                "doctor",
                "mdc",
                "adrg",
                "drg",
                "cc_level",
                "cc_code",
                "case_type",
                "status",
            )
        ],
        (pl.col("hospital").cast(pl.Utf8) if "hospital" in df.columns else pl.lit("all")).alias("hospital"),
        (pl.col("hospital_level").cast(pl.Utf8) if "hospital_level" in df.columns else pl.lit("all")).alias("level"),
        _as_date(df, "admission_date", notes),
        _as_date(df, "discharge_date", notes),
        _num(df, "los"),
        _leaving_type(df),
        _num(df, "total_cost"),
        *([_num(df, "rw")] if "rw" in df.columns else []),
    ).with_row_index("row")
    f = f.with_columns(_weights(f, scheme).alias("weight"))
    return f.with_columns(
        pl.col("status").is_in(GROUPED).alias("grouped"),
        pl.coalesce(pl.col("discharge_date"), pl.col("admission_date")).dt.quarter().alias("quarter"),
    ), left_out


def _flags(f: pl.DataFrame, readmit_days: int) -> pl.DataFrame:
    n = readmit_days
    stays = f.filter(pl.col("patient_id").is_not_null() & pl.col("admission_date").is_not_null())
    # same hospital, consecutive stays of a patient
    h = stays.select(
        "row", "case_id", "patient_id", "hospital", "admission_date", "discharge_date", "adrg", "mdc", "grouped"
    ).sort("patient_id", "hospital", "admission_date", "discharge_date")
    same = (pl.col("patient_id") == pl.col("patient_id").shift(1)) & (pl.col("hospital") == pl.col("hospital").shift(1))
    gap = (pl.col("admission_date") - pl.col("discharge_date").shift(1)).dt.total_days()
    related = (
        pl.col("grouped")
        & pl.col("grouped").shift(1)
        & ((pl.col("adrg") == pl.col("adrg").shift(1)) | (pl.col("mdc") == pl.col("mdc").shift(1)))
    )
    h = h.with_columns(
        (same & (gap <= n) & related).fill_null(False).alias("split_prev"),
        pl.col("case_id").shift(1).alias("prev_id"),
        pl.col("case_id").shift(-1).alias("next_id"),
    )
    h = h.with_columns(pl.col("split_prev").shift(-1, fill_value=False).alias("split_next"))
    h = h.select(
        "row",
        (pl.col("split_prev") | pl.col("split_next")).alias("split"),
        pl.when(pl.col("split_prev"))
        .then(pl.col("prev_id"))
        .when(pl.col("split_next"))
        .then(pl.col("next_id"))
        .alias("linked_case_id"),
    )
    # any hospital
    a = stays.select("row", "patient_id", "admission_date", "discharge_date").sort(
        "patient_id", "admission_date", "discharge_date"
    )
    gap_any = (pl.col("admission_date") - pl.col("discharge_date").shift(1)).dt.total_days()
    a = a.select(
        "row",
        ((pl.col("patient_id") == pl.col("patient_id").shift(1)) & (gap_any <= n)).fill_null(False).alias("readmit"),
    )
    return (
        f.join(h, on="row", how="left")
        .join(a, on="row", how="left")
        .sort("row")
        .with_columns(pl.col("split").fill_null(False), pl.col("readmit").fill_null(False))
    )


def _unusual_cc(f: pl.DataFrame) -> pl.Expr:
    """CC/MCC set by a code the hospital uses ≥ 5× as often (share of its CC cases) as all other hospitals."""
    cc = f.filter(pl.col("grouped") & pl.col("cc_level").is_in(["cc", "mcc"]) & pl.col("cc_code").is_not_null())
    if not cc.height:
        return pl.lit(False)
    per = cc.group_by("hospital", "cc_code").agg(pl.len().alias("k"))
    tot_h = cc.group_by("hospital").agg(pl.len().alias("n_h"))
    tot_c = cc.group_by("cc_code").agg(pl.len().alias("k_all"))
    per = (
        per.join(tot_h, on="hospital")
        .join(tot_c, on="cc_code")
        .with_columns(
            (pl.col("k") / pl.col("n_h")).alias("share"),
            ((pl.col("k_all") - pl.col("k")) / (cc.height - pl.col("n_h")).cast(pl.Float64)).alias("other"),
        )
    )
    bad = per.filter((pl.col("k") >= 10) & (pl.col("share") >= 5 * pl.col("other"))).select("hospital", "cc_code")
    return pl.struct("hospital", "cc_code").is_in(bad.to_struct().implode()) if bad.height else pl.lit(False)


def _signals(f: pl.DataFrame, keys: list[str], peers: list[str], high_rw: float) -> pl.DataFrame:
    g = f.filter(pl.col("grouped"))
    leaving = pl.col("leaving_type")
    per = f.group_by(keys).agg(
        pl.len().alias("cases"),
        pl.col("level").first(),
        pl.col("grouped").mean().alias("grouped_share"),
        (leaving == 5).mean().alias("death_share"),
        leaving.is_in([2.0, 3.0]).mean().alias("transfer_share"),
        pl.col("los").mean().alias("alos"),
        pl.col("split").mean().alias("split_share"),
        pl.col("readmit").mean().alias("readmit_share"),
        (pl.col("case_type") == "low_ratio").mean().alias("low_ratio_share"),
        (pl.col("case_type") == "high_ratio").mean().alias("high_ratio_share"),
    )
    grp = g.group_by(keys).agg(
        pl.col("cc_level").is_in(["cc", "mcc"]).mean().alias("cc_share"),
        (pl.col("cc_level") == "mcc").mean().alias("mcc_share"),
        pl.col("weight").mean().alias("cmi"),
        (pl.col("weight") >= high_rw).mean().alias("high_rw_share"),
    )
    q = g.group_by(keys + ["quarter"]).agg(pl.col("weight").mean().alias("q_cmi")).drop_nulls("quarter")
    change = q.group_by(keys).agg(
        (pl.col("q_cmi").sort_by("quarter").last() - pl.col("q_cmi").sort_by("quarter").first()).alias("cmi_change")
    )
    out = per.join(grp, on=keys, how="left").join(change, on=keys, how="left")
    if "case_type" not in f.columns or f["case_type"].is_null().all():
        out = out.with_columns(
            pl.lit(None, pl.Float64).alias("low_ratio_share"), pl.lit(None, pl.Float64).alias("high_ratio_share")
        )
    zs, risks = [], []
    enough = pl.col("cases") >= MIN_CASES
    for name in SIGNALS:
        x = pl.when(enough).then(pl.col(name))
        mean, std = x.mean().over(peers), x.std().over(peers)
        z = pl.when(std > 0).then((pl.col(name) - mean) / std).when(enough & pl.col(name).is_not_null()).then(0.0)
        zs.append(pl.when(enough).then(z).alias(f"z_{name}"))
    out = out.with_columns(zs)
    for name, sign in SIGNALS.items():
        risks.append(pl.max_horizontal(pl.col(f"z_{name}") * sign - 1.0, pl.lit(0.0)).fill_null(0.0))
    named = [pl.when(pl.col(f"z_{name}") * sign >= 2).then(pl.lit(name)) for name, sign in SIGNALS.items()]
    out = out.with_columns(
        pl.sum_horizontal(risks).alias("risk_score"), pl.concat_list(named).list.drop_nulls().alias("risk_signals")
    )
    out = out.with_columns(pl.when(enough).then(pl.col("risk_score")).alias("risk_score"))
    return out.sort("risk_score", descending=True, nulls_last=True)


def audit(grouped: Any, *, readmit_days: int = 15, scheme: str | None = None, high_rw: float = 2.0) -> Audit:
    """Audit a year of grouped (ideally priced) cases; see the module docstring.  ``Audit.notes`` says what
    the audit could not use (dates that are not dates)."""
    if isinstance(readmit_days, bool) or not isinstance(readmit_days, int) or readmit_days < 1:
        raise AuditError(f"readmit_days must be a whole number of days ≥ 1, got {readmit_days!r}")
    notes: list[str] = []
    f, left_out = _case_frame(grouped, scheme, notes)
    f = _flags(f, readmit_days)
    f = f.with_columns(_unusual_cc(f).fill_null(False).alias("unusual_cc"))
    # a bit per flag, then one small lookup (distinct bit patterns → list) instead of building lists per row
    conds = {
        "split_admission": pl.col("split"),
        "short_readmission": pl.col("readmit") & ~pl.col("split"),
        "low_ratio": pl.col("case_type") == "low_ratio",
        "high_ratio": pl.col("case_type") == "high_ratio",
        "cc_only_from_unusual_code": pl.col("unusual_cc"),
        "death": pl.col("leaving_type") == 5,
        "transfer": pl.col("leaving_type").is_in([2.0, 3.0]),
    }
    names = list(conds)
    bits = pl.sum_horizontal([c.fill_null(False).cast(pl.Int32) * (1 << i) for i, c in enumerate(conds.values())])
    f = f.with_columns(bits.alias("flag_bits"))
    distinct = f["flag_bits"].unique().to_list()
    lookup = pl.DataFrame(
        {"flag_bits": distinct, "flags": [[nm for i, nm in enumerate(names) if b >> i & 1] for b in distinct]},
        schema={"flag_bits": f.schema["flag_bits"], "flags": pl.List(pl.Utf8)},
    )
    f = f.join(lookup, on="flag_bits", how="left", maintain_order="left")
    cases = f.select("case_id", "flags", "linked_case_id", "hospital", "weight")
    hospitals = _signals(f, ["hospital"], ["level"], high_rw)
    g = f.filter(pl.col("grouped") & pl.col("quarter").is_not_null())
    quarters = (
        g.group_by("hospital", "quarter")
        .agg(
            pl.len().alias("cases"),
            pl.col("level").first(),
            pl.col("weight").mean().alias("cmi"),
            pl.col("cc_level").is_in(["cc", "mcc"]).mean().alias("cc_share"),
        )
        .sort("hospital", "quarter")
    )
    depts = doctors = None
    if f["dept"].is_not_null().any():
        depts = _signals(f, ["hospital", "dept"], ["level", "dept"], high_rw)
    if f["doctor"].is_not_null().any():
        doctors = _signals(f, ["hospital", "dept", "doctor"], ["dept"], high_rw)
    return Audit(
        cases=cases,
        hospitals=hospitals,
        quarters=quarters,
        depts=depts,
        doctors=doctors,
        notes=notes,
        left_out=left_out,
    )
