"""Policy what-if: the same stays settled under two benefit policies — the change in what the funds pay and in
what patients pay, per insurance type and hospital level (``docs/benefits.md``).

Per group (insurance type × hospital level, each insurance type, and all stays): stays; person-years with a
stay in the group; the pooled fund's, critical-illness insurance's and medical assistance's payments under
each policy and the change; patients' payments per stay; the distribution of a person's out-of-pocket
payments over the year (all their stays, mean and percentiles) and, where the stays carry the person's annual
income (年收入 / ``annual_income``), the share of person-years whose out-of-pocket payments exceed
``catastrophic`` × income (catastrophic spending; the 40 % of the issue's example is the default, a parameter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from .policy import BenefitPolicy, load_benefit_policy
from .settle import BenefitInputError, _as_table, _money, _person, _sources, settle

PERCENTILES = (50, 90, 99)


def compare(
    data: Any,
    policy: BenefitPolicy | dict | str | Path,
    against: BenefitPolicy | dict | str | Path,
    *,
    catastrophic: float = 0.4,
    level: str | None = None,
    insurance: str | None = None,
    mapping: dict[str, str] | None = None,
) -> pl.DataFrame:
    """One row per group: the stays settled under ``policy`` (A) and ``against`` (B), B − A."""
    if not catastrophic > 0:
        raise BenefitInputError(f"catastrophic must be a share of income > 0 (0.4 = 40 %), got {catastrophic}")
    a_policy, b_policy = load_benefit_policy(policy), load_benefit_policy(against)
    table, _ = _as_table(data)
    found = _sources(table, mapping)
    keep = list(dict.fromkeys(found.values()))
    source = table.select(keep)
    a = settle(source, a_policy, level=level, insurance=insurance, mapping=mapping)
    b = settle(source, b_policy, level=level, insurance=insurance, mapping=mapping)
    n = table.num_rows
    income = _money(table.column(found["annual_income"]), n)[0] if "annual_income" in found else np.full(n, np.nan)
    person = _person(table.column(found["patient_id"]), n)

    def part(result: pa.Table, tag: str) -> pl.DataFrame:
        return pl.from_arrow(
            result.select(["fund_payment", "critical_illness_payment", "assistance_payment", "patient_payment"])
        ).rename(lambda c: f"{c}_{tag}")

    stays = pl.concat(
        [pl.from_arrow(a.select(["benefit_insurance", "benefit_level", "benefit_year"])), part(a, "a"), part(b, "b")],
        how="horizontal",
    ).with_columns(_person=pl.Series(person), _income=pl.Series(income).fill_nan(None))
    stays = stays.filter(pl.col("fund_payment_a").is_not_null() & pl.col("fund_payment_b").is_not_null())
    # a person's year: all their stays' out-of-pocket payments, and their income
    years = stays.group_by("_person", "benefit_year").agg(
        pl.col("patient_payment_a").sum().alias("_oop_a"),
        pl.col("patient_payment_b").sum().alias("_oop_b"),
        pl.col("_income").max().alias("_income"),
    )
    stays = stays.join(years, on=["_person", "benefit_year"], how="left")
    rows = []
    for ins, lvl in (
        [
            (i, lv)
            for i, lv in stays.select("benefit_insurance", "benefit_level")
            .unique()
            .sort("benefit_insurance", "benefit_level")
            .iter_rows()
        ]
        + [(i, None) for i in sorted(stays["benefit_insurance"].unique().to_list())]
        + [(None, None)]
    ):
        group = stays
        if ins is not None:
            group = group.filter(pl.col("benefit_insurance") == ins)
        if lvl is not None:
            group = group.filter(pl.col("benefit_level") == lvl)
        rows.append(_row(group, ins or "all", lvl or "all", catastrophic))
    return pl.DataFrame(rows).with_columns(
        pl.lit(a_policy.name).alias("policy"), pl.lit(b_policy.name).alias("against")
    )


def _row(group: pl.DataFrame, ins: str, lvl: str, catastrophic: float) -> dict:
    people = group.unique(["_person", "benefit_year"])
    row: dict[str, Any] = {"insurance": ins, "level": lvl, "stays": group.height, "person_years": people.height}
    for name in ("fund_payment", "critical_illness_payment", "assistance_payment", "patient_payment"):
        a, b = float(group[f"{name}_a"].sum()), float(group[f"{name}_b"].sum())
        row[f"{name}_a"], row[f"{name}_b"], row[f"{name}_change"] = round(a, 2), round(b, 2), round(b - a, 2)
    row["fund_change_share"] = (row["fund_payment_change"] / row["fund_payment_a"]) if row["fund_payment_a"] else None
    for tag in ("a", "b"):
        row[f"patient_mean_{tag}"] = float(group[f"patient_payment_{tag}"].mean()) if group.height else None
        oop = people[f"_oop_{tag}"].to_numpy()
        row[f"oop_year_mean_{tag}"] = float(oop.mean()) if oop.size else None
        for q in PERCENTILES:
            row[f"oop_year_p{q}_{tag}"] = float(np.percentile(oop, q)) if oop.size else None
    known = people.filter(pl.col("_income").is_not_null() & (pl.col("_income") > 0))
    row["person_years_with_income"] = known.height
    for tag in ("a", "b"):
        row[f"catastrophic_share_{tag}"] = (
            float((known[f"_oop_{tag}"] > catastrophic * known["_income"]).mean()) if known.height else None
        )
    return row


__all__ = ["PERCENTILES", "compare"]
