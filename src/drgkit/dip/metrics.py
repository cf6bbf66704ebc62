"""DIP indicators per hospital (or department): 核心病种入组率 (share of cases in core groups), CMI
(mean case score ÷ 1000, the DIP case-mix index), time and cost consumption indices (时间/费用消耗指数: a
unit's LOS and cost relative to each group's mean, averaged over its cases). The DRG indicators of
:func:`drgkit.payment.report.indicators` are reused, with the DIP group as the group and score ÷ scale as the
weight, so DRG and DIP reports are computed one way.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from ..arrowutil import as_polars
from ..payment.report import indicators
from .catalogue import DipError

CORE_KINDS = ("core", "primary_care")


def metrics(grouped: Any, by: str = "hospital", scale: float = 1000.0) -> pl.DataFrame:
    """One row per ``by`` unit: cases, grouped, grouping_rate, core_rate, cmi, time_index, cost_index, costs."""
    df = as_polars(grouped)
    for c in ("status", "dip_group", "dip_kind", "score"):
        if c not in df.columns:
            raise DipError(f"data has no '{c}' column: run `drgkit dip group` first")
    work = df.with_columns(
        pl.col("dip_group").alias("drg"), (pl.col("score").cast(pl.Float64, strict=False) / scale).alias("_weight")
    )
    per, _ = indicators(work, by=by, rw_column="_weight")
    core = work.group_by(pl.col(by).cast(pl.Utf8).fill_null("").alias(by)).agg(
        (pl.col("status").eq("ok") & pl.col("dip_kind").is_in(CORE_KINDS)).sum().alias("_core"), pl.len().alias("_n")
    )
    if "payment" not in df.columns:  # no settlement yet: a payment of 0 and a margin of 0 would be made up
        per = per.drop([c for c in ("payment", "margin") if c in per.columns])
    cols = per.columns
    per = per.join(core, on=by, how="left").with_columns((pl.col("_core") / pl.col("_n")).alias("core_rate"))
    # core_rate next to the grouping rate
    return per.select(cols[:4] + ["core_rate"] + cols[4:])
