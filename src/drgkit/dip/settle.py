"""DIP settlement on the shared payment model: case scores, point value, per-hospital payable, pre-payment.

Case scores go through :func:`drgkit.payment.price` — the same points × point value × coefficient model as
DRG point tables, not a second copy: every (group, auxiliary coefficient, hospital coefficient) becomes a row of
an in-memory points table (``rw`` = group score × aux coefficient, ``level_coefficient`` = hospital coefficient),
priced at the initial point value PV_initial (the outlier comparator of spec §2.4). With the DIP policy defaults

* low-cost case r = cost / standard < 0.5: paid by item, i.e. case score = cost / PV [NAT-DIP3, NAT-DIP1];
* high-cost case r > 2: a·S + β·(cost − k·S) with k = 2, a = β = 1, i.e. score × (r − 1) [NAT-DIP1 via summary];

and ``case_score = payment / PV_initial``. Then (spec §3.2–3.3)::

    PV_settle   = budget / fund_ratio / Σ case_score
    payable_h   = Σ_h case_score × PV_settle × fund_ratio × evaluation_h − deduction_h
    prepay_h,m  = (Σ_h,m case_score × PV_initial − patient payments_h,m) × prepay_ratio − deduction_h,m
    clearance_h = payable_h − Σ_m prepay_h,m

Hospital coefficient: the ``coefficient`` of the hospitals table when given, else the catalogue's level
coefficient for the case's ``hospital_level``, else 1; primary-care groups get ``primary_care_coefficient`` (1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..arrowutil import as_polars
from ..io.results import LeftOut
from ..payment import load_policy, price
from ..payment.price import patient_basis_counts, patient_basis_summary
from ..payment.tables import COLUMNS, NUMERIC, PaymentTable, TableInfo, normalize_level
from ..tomlutil import read_toml
from .catalogue import Catalogue, DipError, load_catalogue

#: Policy defaults for DIP (overridable by a policy TOML / dict): spec §6.1 and §2.4 [NAT-DIP1 / NAT-DIP3].
DIP_POLICY = {
    "low_ratio": 0.5,
    "high_bands": [[math.inf, 2.0]],
    "high_payment": "excess",
    "high_a": 1.0,
    "high_beta": 1.0,
    "low_payment": "by_item",
}


@dataclass
class Settlement:
    cases: pl.DataFrame  # the grouped cases + hospital_coefficient, case_type, case_score, standard_payment …
    hospitals: pl.DataFrame  # per hospital: cases, total_cost, total_score, payable, evaluation, deduction …
    monthly: pl.DataFrame | None
    pv_initial: float
    pv_settle: float
    total_score: float
    #: how patients' payments were found (a benefit policy by person and year, or the flat share), with the
    #: number of cases each and why: drgkit.payment.price.patient_basis_summary / patient_basis_counts
    patient_basis: dict = field(default_factory=dict)
    #: totals rows (合计 … as stay id, hospital or department) and blank rows left out: no stays
    left_out: LeftOut = field(default_factory=LeftOut)


def _policy(policy: Any, pv_initial: float):
    data = dict(DIP_POLICY)
    if isinstance(policy, (str, Path)):
        path = Path(policy)
        if not path.exists():
            raise DipError(f"{path}: no such policy file")
        data.update(read_toml(path, DipError))
    elif isinstance(policy, dict):
        data.update(policy)
    elif policy is not None:
        raise DipError("policy must be a TOML path or a dict")
    data.setdefault("point_value", pv_initial)
    value = data.get("point_value")
    if isinstance(value, float) and math.isnan(value):
        data["point_value"] = pv_initial
    return load_policy(data)


def _hospital_frame(hospitals: Any) -> pl.DataFrame | None:
    if hospitals is None:
        return None
    if isinstance(hospitals, (str, Path)):
        h = pl.read_csv(hospitals, infer_schema_length=0)
    else:
        h = as_polars(hospitals)
    if "hospital" not in h.columns:
        raise DipError("hospitals table needs a 'hospital' column (and coefficient / evaluation / deduction)")
    cols = [pl.col("hospital").cast(pl.Utf8)]
    for c in ("coefficient", "evaluation", "deduction"):
        if c in h.columns:
            cols.append(pl.col(c).cast(pl.Float64, strict=False).alias("_h_" + c))
    return h.select(cols)


#: the fields settlement reads from a grouped result (found under any header of the field vocabulary)
GROUPED_FIELDS = (
    "status",
    "dip_group",
    "dip_kind",
    "score",
    "aux_coefficient",
    "total_cost",
    "hospital",
    "hospital_level",
    "discharge_date",
    "month",
)


def _grouped_frame(grouped: Any) -> tuple[pl.DataFrame, LeftOut]:
    """``dip group``'s result as it was saved — a path (.xlsx, .csv, .parquet) or a frame, under canonical names
    or the input's own headers (医疗机构名称, 总费用 …) — with every column kept in its place and the fields
    settlement reads under their canonical names (:func:`drgkit.io.results.canonical_results`' reading);
    without its totals and blank rows (no stays: :func:`drgkit.io.results.stay_rows`), and how many those were."""
    from ..io.results import as_arrow, results_in_place, stay_rows, stays

    if isinstance(grouped, pl.DataFrame) and {"status", "dip_group", "total_cost"} <= set(grouped.columns):
        keep, left_out = stay_rows(grouped.to_arrow())
        return (grouped.filter(pl.Series(keep)) if left_out else grouped), left_out
    table, left_out = stays(grouped.to_arrow() if isinstance(grouped, pl.DataFrame) else as_arrow(grouped))
    return as_polars(results_in_place(table, GROUPED_FIELDS)), left_out


def settle(
    grouped: Any,
    catalogue: str | Path | Catalogue,
    *,
    budget: float,
    fund_ratio: float,
    pv_initial: float | None = None,
    hospitals: Any = None,
    policy: Any = None,
    prepay_ratio: float = 0.9,
    monthly_deductions: Any = None,
    benefits: Any = None,
) -> Settlement:
    """Settle DIP-grouped cases (output of :func:`drgkit.dip.group`, with ``hospital`` and ``total_cost``).

    Every case's ``payment`` (score × PV_settle) is split into ``patient_payment`` and ``fund_payment`` =
    payment − patient. The patient pays the policy's flat share of cost, or with a benefit policy (``benefits``:
    a :class:`drgkit.benefits.BenefitPolicy`, TOML path or shipped name; else the policy's ``benefits`` key)
    what that policy leaves the person to pay, in their discharge order within the year; then a hospital's
    payable is the sum of its cases' fund payments rather than ``fund_ratio`` × its payments, and monthly
    pre-payments deduct those patient payments. ``patient_basis`` says which, per case and in total."""
    cat = load_catalogue(catalogue)
    if not budget or budget <= 0:
        raise DipError(f"budget must be positive, got {budget}")
    if not 0 < fund_ratio <= 1:
        raise DipError(f"fund ratio must be in (0, 1], got {fund_ratio}")
    pv0 = float(pv_initial if pv_initial is not None else cat.pv_initial)
    if not pv0 > 0:
        raise DipError("no initial point value: give pv_initial (the catalogue has none)")
    pol = _policy(policy, pv0)
    df, left_out = _grouped_frame(grouped)
    for c in ("status", "dip_group", "dip_kind", "score", "total_cost"):
        if c not in df.columns:
            raise DipError(f"grouped data has no '{c}' column: run `drgkit dip group` first")
    n = df.height
    hosp = df["hospital"].cast(pl.Utf8) if "hospital" in df.columns else pl.Series("hospital", [""] * n)
    d = pl.DataFrame(
        {
            "_i": np.arange(n),
            "hospital": hosp.fill_null(""),
            "dip_group": df["dip_group"],
            "dip_kind": df["dip_kind"],
            "score": df["score"].cast(pl.Float64),
            "aux": (df["aux_coefficient"].cast(pl.Float64) if "aux_coefficient" in df.columns else pl.Series([1.0] * n))
            .fill_null(1.0)
            .fill_nan(1.0),
            "status": df["status"],
            "total_cost": df["total_cost"].cast(pl.Float64, strict=False),
        }
    )
    if "hospital_level" in df.columns:
        lv = df["hospital_level"].cast(pl.Utf8)
        d = d.with_columns(
            lv.replace_strict(
                {u: normalize_level(u) for u in lv.unique().drop_nulls().to_list()}, default=None, return_dtype=pl.Utf8
            ).alias("level")
        )
        d = d.join(
            cat.levels.select(pl.col("hospital_level").alias("level"), pl.col("coefficient").alias("_lc")),
            on="level",
            how="left",
        )
    else:
        d = d.with_columns(pl.lit(None, pl.Float64).alias("_lc"))
    h = _hospital_frame(hospitals)
    if h is not None:
        d = d.join(h, on="hospital", how="left")
    for c in ("_h_coefficient", "_h_evaluation", "_h_deduction"):
        if c not in d.columns:
            d = d.with_columns(pl.lit(None, pl.Float64).alias(c))
    coef = pl.coalesce("_h_coefficient", "_lc", pl.lit(1.0))
    coef = (
        pl.when(pl.col("dip_kind") == "primary_care")
        .then(pl.lit(float(cat.param("primary_care_coefficient"))))
        .otherwise(coef)
    )
    d = d.sort("_i").with_columns(coef.alias("hospital_coefficient"))
    # one points-table row per (group, aux, coefficient): price() does the rest
    key = pl.concat_str(
        [
            pl.col("dip_group"),
            pl.col("aux").round(6).cast(pl.Utf8),
            pl.col("hospital_coefficient").round(6).cast(pl.Utf8),
        ],
        separator="|",
    )
    d = d.with_columns(pl.when(pl.col("status") == "ok").then(key).otherwise(None).alias("_key"))
    rows = (
        d.filter(pl.col("_key").is_not_null())
        .group_by("_key")
        .agg(pl.col("score").first(), pl.col("aux").first(), pl.col("hospital_coefficient").first())
    )
    table = pl.DataFrame({c: pl.Series(c, [""] * rows.height, pl.Utf8) for c in COLUMNS}).with_columns(
        rows["_key"].alias("drg"),
        pl.lit("points").alias("basis"),
        (rows["score"] * rows["aux"]).alias("rw"),
        rows["hospital_coefficient"].alias("level_coefficient"),
    )
    table = table.with_columns([pl.col(c).cast(pl.Float64, strict=False) for c in NUMERIC])
    pt = PaymentTable(TableInfo(id=f"dip:{cat.id}", basis="points", drgs=rows.height, rows=rows.height), table)
    cases_in = d.select(pl.col("_key").fill_null("").alias("drg"), "status", "total_cost")
    chosen = benefits if benefits is not None else (pol.benefits or None)
    split, why, assumed, benefit_name = None, None, None, ""
    if chosen is not None:  # patients pay by item under the benefit policy, settled on the stays as given
        from ..benefits.policy import load_benefit_policy
        from ..benefits.settle import patient_payments

        chosen = load_benefit_policy(chosen)
        benefit_name = chosen.name
        assumed = None if "insurance_type" in df.columns else pol.default_insurance  # as pricing assumes
        split = patient_payments(df, chosen, insurance=assumed)  # d is in df's order (sorted by _i above)
        why = split[1]
    priced = price(cases_in, pt, policy=pol.replace(benefits=""), benefits=chosen, benefit_patient=split)
    pay = priced["payment"].fill_null(0.0)
    basis = {
        **patient_basis_summary(pol, benefit_name, why, assumed),
        **patient_basis_counts(priced["patient_basis"]),
        "fund_ratio": fund_ratio,
    }
    d = d.with_columns(
        priced["case_type"],
        priced["standard_payment"],
        priced["cost_ratio"],
        priced["price_reason"],
        priced["patient_basis"],
        (pay / pv0).alias("case_score"),
        priced["patient_payment"].fill_null(0.0).alias("_pp"),
    )
    total = float(d["case_score"].sum())
    if total <= 0:
        raise DipError("total score is 0: no priced case to settle")
    pv = budget / fund_ratio / total
    per = d.group_by("hospital").agg(
        pl.len().alias("cases"),
        pl.col("total_cost").sum(),
        pl.col("case_score").sum().alias("total_score"),
        pl.col("_h_evaluation").first().fill_null(1.0).alias("evaluation"),
        pl.col("_h_deduction").first().fill_null(0.0).alias("deduction"),
    )
    # each case's payment at the settled point value, split into what the patient paid and what the funds owe
    d = d.with_columns(
        (pl.col("case_score") * pv).round(2).alias("payment"),
        pl.when(pl.col("patient_basis").is_not_null()).then(pl.col("_pp")).otherwise(None).alias("patient_payment"),
    ).with_columns((pl.col("payment") - pl.col("patient_payment")).round(2).alias("fund_payment"))
    if benefit_name:  # the funds pay each case's payment less what its patient paid (fund = payment − patient)
        funds = d.group_by("hospital").agg(pl.col("fund_payment").sum().alias("payable_before_evaluation"))
        per = per.join(funds, on="hospital", how="left")
    else:  # no benefit policy: the fund pays the flat fund ratio of the hospital's payments (spec §3.2)
        per = per.with_columns((pl.col("total_score") * pv * fund_ratio).alias("payable_before_evaluation"))
    per = per.with_columns(
        (pl.col("payable_before_evaluation") * pl.col("evaluation") - pl.col("deduction")).alias("payable")
    ).sort("hospital")
    monthly = None
    month = None
    if "month" in df.columns:
        month = df["month"].cast(pl.Utf8)
    elif "discharge_date" in df.columns:
        s = df["discharge_date"]
        s = s.str.to_date(strict=False) if s.dtype == pl.Utf8 else s.cast(pl.Date, strict=False)
        month = s.dt.strftime("%Y-%m")
    if month is not None:
        dm = d.with_columns(month.alias("month"))
        monthly = dm.group_by("hospital", "month").agg(
            pl.col("case_score").sum().alias("score"), pl.col("_pp").sum().alias("patient_payments")
        )
        if monthly_deductions is not None:
            md = as_polars(monthly_deductions).select(
                pl.col("hospital").cast(pl.Utf8), pl.col("month").cast(pl.Utf8), pl.col("deduction").cast(pl.Float64)
            )
            monthly = monthly.join(md, on=["hospital", "month"], how="left")
        else:
            monthly = monthly.with_columns(pl.lit(0.0).alias("deduction"))
        monthly = monthly.with_columns(
            (
                (pl.col("score") * pv0 - pl.col("patient_payments")) * prepay_ratio - pl.col("deduction").fill_null(0.0)
            ).alias("prepay")
        ).sort("hospital", "month")
        per = per.join(
            monthly.group_by("hospital").agg(pl.col("prepay").sum().alias("prepaid")), on="hospital", how="left"
        ).with_columns((pl.col("payable") - pl.col("prepaid")).alias("clearance"))
    out_cases = df.with_columns(
        d.select(
            "hospital_coefficient",
            "case_type",
            "standard_payment",
            "cost_ratio",
            pl.col("case_score").round(4),
            "payment",
            "patient_payment",
            "fund_payment",
            "patient_basis",
            "price_reason",
        )
    )
    return Settlement(out_cases, per, monthly, pv0, pv, total, basis, left_out)
