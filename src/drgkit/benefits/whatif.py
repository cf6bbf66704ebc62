"""Policy what-if: the same stays settled under two benefit policies — the change in what the funds pay and in
what patients pay, per insurance type and hospital level (``docs/benefits.md``).

One row per group — each insurance type × hospital level, each insurance type (level ``all``) and all stays
(``all`` / ``all``) — with, under policy A (``_a``), policy B (``_b``) and B − A (``_change``):

* ``stays`` compared (settled under both policies) and ``person_years`` with a stay in the group;
* the pooled fund's, critical-illness insurance's, medical assistance's and all funds' payments
  (``fund_payment``, ``critical_illness_payment``, ``assistance_payment``, ``funds_payment``), and
  ``fund_change_share`` (pooled fund B / A − 1);
* patients' payments: the total, the mean per stay, and the distribution of a person's out-of-pocket payments
  over the year (all their stays of that year, also those in other groups: what the person bears), mean and
  percentiles :data:`PERCENTILES`;
* where the stays carry the person's annual income (年收入 / ``annual_income``), the share of person-years
  whose out-of-pocket payments exceed ``catastrophic`` × income (catastrophic health spending; 0.4 is the
  issue's example and the default), over ``person_years_with_income``.

Stays one of the policies cannot settle are not compared; ``stays_not_compared`` and ``not_compared_why`` (on
the ``all`` row) say how many and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .policy import BenefitPolicy, load_benefit_policy
from .settle import BenefitInputError, as_table, find_sources, person_codes, read_money, settle

#: percentiles of a person-year's out-of-pocket payments
PERCENTILES = (50, 90, 99)
#: the payments compared, as settlement names them; ``funds_payment`` is the three funds together
PAYMENTS = ("fund_payment", "critical_illness_payment", "assistance_payment", "funds_payment", "patient_payment")


def compare(
    data: Any,
    policy: BenefitPolicy | dict | str | Path,
    against: BenefitPolicy | dict | str | Path,
    *,
    catastrophic: float = 0.4,
    level: str | None = None,
    insurance: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """The stays of ``data`` settled under ``policy`` (A) and ``against`` (B): one row per group, A, B and
    B − A (see the module's description). ``data``, ``level``, ``insurance`` and ``mapping`` are read as by
    :func:`drgkit.benefits.settle`; ``annual_income`` is read through the same vocabulary (年收入)."""
    if not catastrophic > 0:
        raise BenefitInputError(f"catastrophic must be a share of income > 0 (0.4 = 40 %), got {catastrophic}")
    a_policy, b_policy = load_benefit_policy(policy), load_benefit_policy(against)
    table, _ = as_table(data)
    found = find_sources(table, mapping)
    source = table.select(list(dict.fromkeys(found.values())))  # only the fields settlement reads
    n = table.num_rows
    settled = [settle(source, p, level=level, insurance=insurance, mapping=mapping) for p in (a_policy, b_policy)]
    income = read_money(table.column(found["annual_income"]), n)[0] if "annual_income" in found else np.full(n, np.nan)

    def part(result: Any, tag: str) -> pl.DataFrame:
        frame = pl.DataFrame(result.select(list(PAYMENTS[:3]) + ["patient_payment"]))
        frame = frame.with_columns(funds_payment=pl.sum_horizontal(PAYMENTS[:3]))
        return frame.select([pl.col(c).alias(f"{c}_{tag}") for c in PAYMENTS])

    keys = pl.DataFrame(settled[0].select(["benefit_insurance", "benefit_level", "benefit_year"]))
    stays = pl.concat([keys, part(settled[0], "a"), part(settled[1], "b")], how="horizontal").with_columns(
        _person=pl.Series(person_codes(table.column(found["patient_id"]), n)),
        _income=pl.Series(income).fill_nan(None),
    )
    both = pl.col("patient_payment_a").is_not_null() & pl.col("patient_payment_b").is_not_null()
    dropped = stays.filter(~both).height
    stays = stays.filter(both)
    # a person's year: the out-of-pocket payments of all their stays, and their income
    years = stays.group_by("_person", "benefit_year").agg(
        pl.col("patient_payment_a").sum().alias("_oop_a"),
        pl.col("patient_payment_b").sum().alias("_oop_b"),
        pl.col("_income").max().alias("_income"),
    )
    stays = stays.join(years, on=["_person", "benefit_year"], how="left")
    all_ = pl.lit("all")
    views = [
        stays,  # insurance × level
        stays.with_columns(benefit_level=all_),  # insurance
        stays.with_columns(benefit_insurance=all_, benefit_level=all_),  # all stays
    ]
    out = pl.concat([_groups(v, catastrophic) for v in views], how="vertical_relaxed")
    # each insurance type's levels, then its subtotal; the total last
    out = out.sort(pl.col("insurance") == "all", "insurance", pl.col("level") == "all", "level")
    why = None
    if dropped:  # the reasons settlement gave, each once (a few distinct texts)
        texts = [r.column("benefit_reason").filter(r.column("patient_payment").is_null()).unique() for r in settled]
        why = "; ".join(sorted({w for t in texts for w in t.to_pylist() if w}))
    overall = pl.col("insurance") == "all"
    return out.with_columns(
        stays_not_compared=pl.when(overall).then(pl.lit(dropped)).otherwise(None),
        not_compared_why=pl.when(overall).then(pl.lit(why, pl.Utf8)).otherwise(None),
        policy=pl.lit(a_policy.name),
        against=pl.lit(b_policy.name),
        catastrophic=pl.lit(catastrophic),
    )


def _groups(stays: pl.DataFrame, catastrophic: float) -> pl.DataFrame:
    """One row per (benefit_insurance, benefit_level) of ``stays``: columnar aggregates (no loop over stays)."""
    by = ["benefit_insurance", "benefit_level"]
    sums = [pl.col(f"{c}_{t}").sum().round(2).alias(f"{c}_{t}") for c in PAYMENTS for t in ("a", "b")]
    per_stay = stays.group_by(by).agg(
        pl.len().alias("stays"),
        *sums,
        *[pl.col(f"patient_payment_{t}").mean().alias(f"patient_mean_{t}") for t in ("a", "b")],
    )
    # person-years with a stay in the group, each counted once with the whole year's out-of-pocket payments
    people = stays.unique([*by, "_person", "benefit_year"])
    has_income = pl.col("_income").is_not_null() & (pl.col("_income") > 0)
    per_year = people.group_by(by).agg(
        pl.len().alias("person_years"),
        *[pl.col(f"_oop_{t}").mean().alias(f"oop_year_mean_{t}") for t in ("a", "b")],
        *[
            pl.col(f"_oop_{t}").quantile(q / 100, interpolation="linear").alias(f"oop_year_p{q}_{t}")
            for q in PERCENTILES
            for t in ("a", "b")
        ],
        has_income.sum().alias("person_years_with_income"),
        *[
            ((pl.col(f"_oop_{t}") > catastrophic * pl.col("_income")) & has_income).sum().alias(f"_cat_{t}")
            for t in ("a", "b")
        ],
    )
    out = per_stay.join(per_year, on=by, how="left").rename(
        {"benefit_insurance": "insurance", "benefit_level": "level"}
    )
    known = pl.col("person_years_with_income")
    out = out.with_columns(
        *[(pl.col(f"{c}_b") - pl.col(f"{c}_a")).round(2).alias(f"{c}_change") for c in PAYMENTS],
        fund_change_share=pl.when(pl.col("fund_payment_a") != 0)
        .then(pl.col("fund_payment_b") / pl.col("fund_payment_a") - 1)
        .otherwise(None),
        **{
            f"catastrophic_share_{t}": pl.when(known > 0).then(pl.col(f"_cat_{t}") / known).otherwise(None)
            for t in ("a", "b")
        },
    ).drop("_cat_a", "_cat_b")
    order = ["insurance", "level", "stays", "person_years"]
    order += [f"{c}_{t}" for c in PAYMENTS for t in ("a", "b", "change")]
    order += ["fund_change_share", "patient_mean_a", "patient_mean_b", "oop_year_mean_a", "oop_year_mean_b"]
    order += [f"oop_year_p{q}_{t}" for q in PERCENTILES for t in ("a", "b")]
    order += ["person_years_with_income", "catastrophic_share_a", "catastrophic_share_b"]
    return out.select(order)


__all__ = ["PAYMENTS", "PERCENTILES", "compare"]
