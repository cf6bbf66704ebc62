"""Audit a payment table: derive the base rate its published standards imply and list rows that do not follow it.

For each (hospital level, insurance type) with RW and published standards > 0, the implied rate of a row is
standard ÷ (RW × coefficient). The rate is the commonest implied value (clustered to 0.1 yuan, then the
shortest decimal that reproduces the most rows to 0.01 yuan). Rows it does not reproduce are listed with their
own implied rate and flags (e.g. Wuxi's basic groups priced at the level-1 rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .tables import PaymentTable, load_table

TOLERANCE = 0.01  # yuan


@dataclass
class RateCheck:
    level: str
    insurance: str
    formula: str
    rate: float | None
    published_rate: float | None
    manifest_rate: float | None
    rows_checked: int
    rows_reproduced: int
    outliers: pl.DataFrame = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.rows_checked > 0 and self.rows_reproduced == self.rows_checked


def _best_rate(rw: np.ndarray, coef: np.ndarray, std: np.ndarray) -> tuple[float | None, int]:
    implied = std / (rw * coef)
    if implied.size == 0:
        return None, 0
    bins, counts = np.unique(np.round(implied, 1), return_counts=True)
    centre = bins[np.argmax(counts)]
    cluster = implied[np.abs(np.round(implied, 1) - centre) < 0.25]
    best, best_hits = None, -1
    for digits in range(0, 7):
        cand = round(float(np.median(cluster)), digits)
        hits = int((np.abs(rw * cand * coef - std) <= TOLERANCE).sum())
        if hits > best_hits:
            best, best_hits = cand, hits
    return best, best_hits


def check_table(table: str | PaymentTable) -> list[RateCheck]:
    """One :class:`RateCheck` per (level, insurance) that publishes standards (and RW)."""
    t = load_table(table)
    df = t.df.filter(
        pl.col("payment_standard").is_not_null()
        & (pl.col("payment_standard") > 0)
        & pl.col("rw").is_not_null()
        & (pl.col("rw") > 0)
    )
    out = []
    for (lv, ins), part in sorted(df.group_by(["hospital_level", "insurance_type"]), key=lambda x: x[0]):
        has_coef = part["level_coefficient"].is_not_null().any()
        coef = part["level_coefficient"].fill_null(1.0).to_numpy()
        rw = part["rw"].to_numpy()
        std = part["payment_standard"].to_numpy()
        published = part["base_rate"].drop_nulls()
        published_rate = float(published[0]) if published.len() else None
        rate, hits = _best_rate(rw, coef, std)
        if published_rate is not None:
            hits_pub = int((np.abs(rw * published_rate * coef - std) <= TOLERANCE).sum())
            if hits_pub >= hits:
                rate, hits = published_rate, hits_pub
        derived = t.derived_rate(lv, ins)
        bad = np.abs(rw * (rate or 0) * coef - std) > TOLERANCE
        outliers = part.filter(pl.Series(bad)).select(
            pl.col("_line").alias("row"),
            "drg",
            "drg_name",
            "rw",
            "level_coefficient",
            "payment_standard",
            (pl.col("payment_standard") / (pl.col("rw") * pl.col("level_coefficient").fill_null(1.0)))
            .round(4)
            .alias("implied_rate"),
            "flags",
        )
        out.append(
            RateCheck(
                lv,
                ins,
                "RW × base_rate × coef" if has_coef else "RW × base_rate",
                rate,
                published_rate,
                derived[0] if derived else None,
                len(part),
                hits,
                outliers,
            )
        )
    return out
