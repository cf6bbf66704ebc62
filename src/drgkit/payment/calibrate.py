"""Calibrate DRG weights (and a base rate) from grouped history; output a payment table ``price`` reads.

* Trimming per DRG (spec digest §2.1): ``iqr`` keeps Q1 − 0.5·IQR ≤ cost ≤ Q3 + 1.5·IQR (the bounds quoted
  from the fx361 study), ``sd3`` keeps mean ± 3 SD, ``pct5_95`` keeps the 5th–95th percentiles, ``pct2_5_97_5``
  the 2.5th–97.5th (DIP 3.0), ``none`` keeps everything.
* Year weights (e.g. 1:2:7, spec §2.1): group and overall means are weighted means of the *yearly* means
  (the spec leaves the pooling open; this is the implementation choice it names first).
* RW_g = m_g / M, M = the (weighted) mean cost of all trimmed cases.
* CV per group (SD / mean of trimmed costs), ``cv_over_1`` flagged; groups with fewer than ``min_cases``
  cases flagged ``low_volume``; RIV = 1 − Σ_g Σ_c (y − ȳ_g)² / Σ_c (y − ȳ)² on the trimmed costs (spec §5).
* Base rate = (budget / fund_ratio) / Σ_g n_g · RW_g when a budget is given (spec §4.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..arrowutil import polars_frame
from ..errors import DrgkitError

TRIMS = ("iqr", "sd3", "pct5_95", "pct2_5_97_5", "none")


class CalibrationError(DrgkitError, ValueError):
    pass


@dataclass
class Calibration:
    """Weights calibrated from history.

    ``table`` is a payment table (the columns ``pay`` reads) plus, per group: ``n_cases`` (usable cases: grouped,
    with a positive cost, in the years asked), ``n_kept`` (after trimming) and ``n_trimmed``; ``mean_cost`` (kept
    cases; year-weighted) and ``mean_cost_all``; ``cv`` (kept cases) and ``cv_all`` (before trimming); the length
    of stay ``los_mean`` / ``los_median`` / ``los_cv`` (kept cases) when the history has ``los``; the scheme's
    ``reference_rw`` and ``rw_vs_reference`` when a reference scheme was given.  ``excluded`` counts the rows
    left out before trimming, by reason — none is dropped without being counted."""

    table: pl.DataFrame
    riv: float  #: reduction in variance of the kept costs
    riv_all: float  #: the same before trimming
    overall_mean: float
    base_rate: float | None
    cases: int  #: rows read
    cases_used: int  #: usable rows (cases − Σ excluded)
    cases_kept: int  #: rows left after trimming
    excluded: dict[str, int]
    trim: str = "iqr"
    years: dict[int, float] | None = None
    reference: str | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the table, as plain values (written beside the table by :meth:`write`)."""
        return {
            "cases": self.cases,
            "cases_used": self.cases_used,
            "cases_kept": self.cases_kept,
            "excluded": self.excluded,
            "trim": self.trim,
            "years": {str(k): v for k, v in (self.years or {}).items()} or None,
            "riv": self.riv,
            "riv_all": self.riv_all,
            "overall_mean": self.overall_mean,
            "base_rate": self.base_rate,
            "groups": self.table.height,
            "reference": self.reference,
        }

    def write(self, path: str | Path) -> list[Path]:
        """The table as CSV at ``path`` and the summary (RIV, counts, exclusions) as ``<stem>.summary.json``."""
        import json

        path = Path(path)
        self.table.write_csv(path)
        side = path.with_name(path.stem + ".summary.json")
        side.write_text(json.dumps(self.summary(), ensure_ascii=False, indent=2), encoding="utf-8")
        return [path, side]


def parse_years(text: str | None, error: type[Exception] = CalibrationError) -> dict[int, float] | None:
    """``"2022:1,2023:2,2024:7"`` -> {2022: 1.0, 2023: 2.0, 2024: 7.0}; ``error`` is the exception to raise."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        try:
            y, w = part.split(":")
            out[int(y)] = float(w)
        except ValueError:
            raise error(f"--years takes YEAR:WEIGHT,… (e.g. 2022:1,2023:2,2024:7), got '{part}'") from None
        if out[int(y)] < 0:
            raise error(f"--years: negative weight for {y}")
    return out


#: the result fields calibration reads
FIELDS = ("drg", "drg_name", "status", "total_cost", "los", "discharge_date")


def _frame(history: Any) -> pl.DataFrame:
    """The history's fields under canonical names, whatever shape it was saved in (the coder's workbook too);
    a ``year`` column outside the field vocabulary is kept as it is."""
    from ..io.results import as_arrow, canonical_results

    table = as_arrow(history)
    return polars_frame(canonical_results(table, FIELDS, keep=("year",)))


def _riv(n: float, total: float, squares: float, within: float) -> float:
    """Reduction in variance, 1 − SSW / SST, from sums: SST = Σy² − (Σy)²/N; ``within`` = SSW."""
    sst = squares - total * total / n if n else 0.0
    return 1.0 - within / sst if sst > 0 else float("nan")


def _trim_bounds(trim: str) -> list[pl.Expr]:
    c = pl.col("total_cost")
    if trim == "iqr":
        q1, q3 = c.quantile(0.25).over("drg"), c.quantile(0.75).over("drg")
        return [q1 - 0.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)]
    if trim == "sd3":
        m, s = c.mean().over("drg"), c.std().over("drg").fill_null(0.0)
        return [m - 3 * s, m + 3 * s]
    if trim == "pct5_95":
        return [c.quantile(0.05, "linear").over("drg"), c.quantile(0.95, "linear").over("drg")]
    if trim == "pct2_5_97_5":
        return [c.quantile(0.025, "linear").over("drg"), c.quantile(0.975, "linear").over("drg")]
    return [pl.lit(-np.inf), pl.lit(np.inf)]


def check_options(trim: str, budget: float | None, fund_ratio: float) -> None:
    """Raise :class:`CalibrationError` naming the first option out of range (``trim``, ``budget``, ``fund_ratio``)."""
    if trim not in TRIMS:
        raise CalibrationError(f"unknown trim '{trim}' (one of {', '.join(TRIMS)})")
    if budget is not None and budget <= 0:
        raise CalibrationError(f"budget must be positive, got {budget}")
    if not 0 < fund_ratio <= 1:
        raise CalibrationError(f"fund ratio must be in (0, 1], got {fund_ratio}")


def exclusion_reasons(years: dict[int, float] | None) -> list[tuple[str, pl.Expr]]:
    """Why a row is left out, in order (a row is counted under the first that applies)."""
    out = [
        ("not_grouped", pl.col("status") != "ok"),
        ("no_drg", pl.col("drg").is_null()),
        ("no_positive_cost", ~(pl.col("total_cost").is_finite() & (pl.col("total_cost") > 0)).fill_null(True)),
    ]
    if years:
        out += [("no_year", pl.col("year").is_null()), ("outside_years", ~pl.col("year").is_in(list(years)))]
    return out


def usable(df: pl.DataFrame, years: dict[int, float] | None = None) -> pl.DataFrame:
    """The fields calibration reads, typed, with ``_why``: the reason a row is left out (null: usable).
    Row by row, so a cluster runs it on each batch."""
    for c in ("drg", "total_cost"):
        if c not in df.columns:
            raise CalibrationError(f"history has no '{c}' column (group it first: drgkit group)")
    cols = [
        pl.col("drg").cast(pl.Utf8),
        pl.col("total_cost").cast(pl.Float64, strict=False),
        (pl.col("status").cast(pl.Utf8) if "status" in df.columns else pl.lit("ok")).alias("status"),
        (pl.col("drg_name").cast(pl.Utf8) if "drg_name" in df.columns else pl.lit(None, pl.Utf8)).alias("drg_name"),
        (pl.col("los").cast(pl.Float64, strict=False) if "los" in df.columns else pl.lit(None, pl.Float64)).alias(
            "los"
        ),
    ]
    if years:
        if "year" in df.columns:
            cols.append(pl.col("year").cast(pl.Int32, strict=False).alias("year"))
        elif "discharge_date" in df.columns:
            date = pl.col("discharge_date")
            if df.schema["discharge_date"] in (pl.Utf8, pl.String):
                date = date.str.to_date(strict=False)
            cols.append(date.cast(pl.Date, strict=False).dt.year().cast(pl.Int32).alias("year"))
        else:
            raise CalibrationError("--years needs a 'year' or 'discharge_date' column")
    reasons = exclusion_reasons(years)
    why: Any = pl.when(reasons[0][1]).then(pl.lit(reasons[0][0]))
    for name, cond in reasons[1:]:
        why = why.when(cond).then(pl.lit(name))
    return df.select(cols).with_columns(why.otherwise(pl.lit(None, pl.Utf8)).alias("_why"))


def group_stats(d: pl.DataFrame, trim: str, years: dict[int, float] | None = None) -> pl.DataFrame:
    """One row per group of the usable rows ``d``: counts, sums and spreads before and after trimming, LOS
    statistics and (with ``years``) the kept cases' count and sum per year. Everything a group needs is in
    its own rows, so a cluster computes it group by group; :func:`finish` combines the groups."""
    lo, hi = _trim_bounds(trim)
    cost, los = pl.col("total_cost"), pl.col("los")
    d = d.with_columns(lo.alias("_lo"), hi.alias("_hi"))
    keep = (cost >= pl.col("_lo")) & (cost <= pl.col("_hi"))
    kept_cost = cost.filter(keep)
    aggs = [
        pl.len().alias("n_cases"),
        cost.sum().alias("sum_all"),
        (cost * cost).sum().alias("sumsq_all"),
        cost.mean().alias("mean_cost_all"),
        (cost.std(ddof=0) / cost.mean()).alias("cv_all"),
        pl.col("drg_name").drop_nulls().first(),
        keep.sum().cast(pl.Int64).alias("n_kept"),
        kept_cost.sum().alias("sum_kept"),
        (kept_cost * kept_cost).sum().alias("sumsq_kept"),
        kept_cost.mean().alias("mean_kept"),
        (kept_cost.std(ddof=0) / kept_cost.mean()).alias("cv"),
        los.filter(keep).mean().alias("los_mean"),
        los.filter(keep).median().alias("los_median"),
        (los.filter(keep).std(ddof=0) / los.filter(keep).mean()).alias("los_cv"),
        los.is_not_null().sum().cast(pl.Int64).alias("n_los"),
    ]
    stats = d.group_by("drg").agg(aggs)
    if years:
        yearly = (
            d.filter(keep)
            .group_by("drg", "year")
            .agg(pl.len().alias("n"), cost.sum().alias("s"))
            .sort("drg", "year")
            .group_by("drg", maintain_order=True)
            .agg(pl.col("year").alias("_years"), pl.col("n").alias("_n_y"), pl.col("s").alias("_sum_y"))
        )
        stats = stats.join(yearly, on="drg", how="left")
    return stats


def finish(
    stats: pl.DataFrame,
    *,
    excluded: dict[str, int],
    cases: int,
    trim: str = "iqr",
    years: dict[int, float] | None = None,
    budget: float | None = None,
    fund_ratio: float = 1.0,
    min_cases: int = 100,
    reference: str | None = None,
) -> Calibration:
    """The calibration from the per-group rows of :func:`group_stats` (of one machine or many)."""
    if stats.is_empty() or int(stats["n_cases"].sum()) == 0:
        raise CalibrationError(
            "no grouped cases with a positive total_cost to calibrate on"
            + (
                f" (left out: {', '.join(f'{k} {v:,}' for k, v in excluded.items() if v)})"
                if any(excluded.values())
                else ""
            )
        )
    n_kept = float(stats["n_kept"].sum())
    if years:
        per_year = (
            stats.select("drg", "_years", "_n_y", "_sum_y")
            .explode("_years", "_n_y", "_sum_y")
            .drop_nulls("_years")
            .with_columns(pl.col("_years").replace_strict(years, return_dtype=pl.Float64).alias("_w"))
        )
        gmean = (
            per_year.with_columns((pl.col("_sum_y") / pl.col("_n_y")).alias("m"))
            .group_by("drg")
            .agg(((pl.col("m") * pl.col("_w")).sum() / pl.col("_w").sum()).alias("mean"))
        )
        overall = per_year.group_by("_years", "_w").agg((pl.col("_sum_y").sum() / pl.col("_n_y").sum()).alias("m"))
        big_m = float((overall["m"] * overall["_w"]).sum()) / float(overall["_w"].sum())
        stats = stats.join(gmean, on="drg", how="left")
    else:
        stats = stats.with_columns(pl.col("mean_kept").alias("mean"))
        big_m = float(stats["sum_kept"].sum()) / n_kept
    t = stats.with_columns(
        (pl.col("mean") / big_m).alias("rw"),
        (pl.col("n_cases") - pl.col("n_kept")).alias("n_trimmed"),
        (pl.col("n_cases") < min_cases).alias("low_volume"),
        (pl.col("cv") > 1).alias("cv_over_1"),
    ).sort("drg")

    def within(n: str, total: str, squares: str) -> float:  # Σ_g (Σy² − (Σy)²/n_g)
        return float(t.select((pl.col(squares) - pl.col(total) ** 2 / pl.col(n)).fill_nan(0.0).sum()).item())

    riv = _riv(
        n_kept, float(t["sum_kept"].sum()), float(t["sumsq_kept"].sum()), within("n_kept", "sum_kept", "sumsq_kept")
    )
    riv_all = _riv(
        float(t["n_cases"].sum()),
        float(t["sum_all"].sum()),
        float(t["sumsq_all"].sum()),
        within("n_cases", "sum_all", "sumsq_all"),
    )
    rate = None
    if budget is not None:
        rate = (budget / fund_ratio) / float((t["n_cases"] * t["rw"].fill_null(0)).sum())
    flags = pl.when(pl.col("cv_over_1")).then(pl.lit("unstable_group")).otherwise(pl.lit(""))
    extra: list[Any] = [
        "n_cases",
        "n_kept",
        "n_trimmed",
        pl.col("mean_cost_all").round(2),
        pl.col("cv").round(4),
        pl.col("cv_all").round(4),
        "low_volume",
        "cv_over_1",
    ]
    if int(t["n_los"].sum()):
        extra += [pl.col("los_mean").round(2), "los_median", pl.col("los_cv").round(4)]
    table = t.select(
        "drg",
        pl.col("drg_name").fill_null(""),
        pl.lit("rw").alias("basis"),
        pl.col("rw").round(6),
        pl.lit("").alias("hospital_level"),
        pl.lit("").alias("insurance_type"),
        pl.lit(None if rate is None else round(rate, 2), dtype=pl.Float64).alias("base_rate"),
        pl.lit(None, dtype=pl.Float64).alias("level_coefficient"),
        pl.lit(None, dtype=pl.Float64).alias("payment_standard"),
        pl.lit(None, dtype=pl.Float64).alias("low_outlier_threshold"),
        pl.lit(None, dtype=pl.Float64).alias("high_outlier_threshold"),
        pl.col("mean").round(2).alias("mean_cost"),
        pl.lit(None, dtype=pl.Float64).alias("case_volume_cap"),
        pl.lit("").alias("group_type_zh"),
        flags.alias("flags"),
        pl.lit("calibrated by drgkit").alias("remark_zh"),
        *extra,
    )
    if reference:
        table = _compare(table, reference)
    return Calibration(
        table, riv, riv_all, big_m, rate, cases, int(t["n_cases"].sum()), int(n_kept), excluded, trim, years, reference
    )


def excluded_counts(d: pl.DataFrame, years: dict[int, float] | None = None) -> dict[str, int]:
    """Rows left out, by reason (every reason listed, zero or not)."""
    counted = d["_why"].drop_nulls().value_counts()
    out = {name: 0 for name, _ in exclusion_reasons(years)}
    out.update(dict(zip(counted["_why"].to_list(), counted["count"].to_list())))
    return out


def calibrate(
    history: Any,
    *,
    trim: str = "iqr",
    years: dict[int, float] | None = None,
    budget: float | None = None,
    fund_ratio: float = 1.0,
    min_cases: int = 100,
    reference: str | None = None,
) -> Calibration:
    """Weights from grouped history (a path, a pyarrow Table, a polars or pandas DataFrame with ``drg``,
    ``status``, ``total_cost``; ``year`` or ``discharge_date`` for ``years``; ``los`` for the LOS statistics).

    ``reference`` names a scheme that ships reference weights (``chs-drg-2.0``) or a payment table to compare
    the calibrated RW with (``reference_rw``, ``rw_vs_reference``).  The base rate (with ``budget``) divides
    the budget over every usable case, trimmed ones included: they are paid too.  On a cluster:
    :func:`drgkit.spark.calibrate` (the same three steps: :func:`usable`, :func:`group_stats`, :func:`finish`)."""
    check_options(trim, budget, fund_ratio)
    df = _frame(history)
    d = usable(df, years)
    excluded = excluded_counts(d, years)
    stats = group_stats(d.filter(pl.col("_why").is_null()).drop("_why"), trim, years)
    return finish(
        stats,
        excluded=excluded,
        cases=df.height,
        trim=trim,
        years=years,
        budget=budget,
        fund_ratio=fund_ratio,
        min_cases=min_cases,
        reference=reference,
    )


def _compare(table: pl.DataFrame, reference: str) -> pl.DataFrame:
    """``reference_rw`` (the scheme's or table's weight of each group) and ``rw_vs_reference`` (calibrated ÷
    reference) beside the calibrated RW."""
    from .tables import TableError, load_table

    try:
        ref = load_table(reference).df
    except TableError as exc:
        raise CalibrationError(f"--reference: {exc}") from None
    ref = (
        ref.filter(pl.col("rw").is_not_null())
        .group_by("drg", maintain_order=True)
        .agg(pl.col("rw").first().alias("reference_rw"))
    )
    return table.join(ref, on="drg", how="left", maintain_order="left").with_columns(
        (pl.col("rw") / pl.col("reference_rw")).round(4).alias("rw_vs_reference")
    )
