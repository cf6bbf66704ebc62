"""Vectorized pricing of grouped cases against a payment table and a policy.

``standard_payment`` = RW × base rate × level coefficient (points × point value × coefficient for point
tables, the same arithmetic DIP uses); basic groups (基础病组) without the level coefficient (or with the one
coefficient the table prints for every level). ``case_type`` is normal / high_ratio / low_ratio / special /
unpriced, ``payment`` follows the policy, ``patient_payment`` = patient share × total cost (paid by item),
``fund_payment`` = payment − patient_payment, ``margin`` = payment − total_cost. Rows that cannot be priced
are ``unpriced`` with ``price_reason``. No per-row Python: one join and numpy arithmetic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..lang import say
from ..outputs import PRICE_COLUMNS
from .policy import Policy, load_policy
from .tables import LEVEL_BROADER, LEVELS, PaymentTable, TableError, load_table, normalize_insurance, normalize_level

CASE_TYPES = ("normal", "high_ratio", "low_ratio", "special", "unpriced")
OUTPUT_COLUMNS = PRICE_COLUMNS


def _policy_rate(policy: Policy, level: str, ins: str) -> float | None:
    for key in (f"{level}/{ins}", level, ins, ""):
        if key in policy.base_rates:
            return float(policy.base_rates[key])
    return None


def standards(
    table: str | PaymentTable,
    policy: Policy | dict | str | Path | None = None,
    combos: list[tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """One row per DRG × (level, insurance) of the table: rw, rate, coefficient, standard and flags.

    ``combos`` restricts the (level key, insurance key) pairs; keys are '' where the table does not
    distinguish levels / insurance types.
    """
    t = load_table(table)
    policy = load_policy(policy)
    df = t.df
    levels = list(t.info.levels) or [""]
    insurances = list(t.info.insurance_types) or [""]
    if combos is None:
        combos = [(lv, ins) for lv in levels for ins in insurances]
    points = t.info.basis == "points"
    # rate per (level, insurance) pair, from the policy override, the table rows, the manifest or the policy
    rate_rows = []
    for lv, ins in set(combos) | (
        {(t.info.basic_group_rate_level, i) for _, i in combos} if t.info.basic_group_rate_level else set()
    ):
        over = _policy_rate(policy, lv, ins)
        derived = None if points else t.derived_rate(lv, ins)
        fallback = policy.point_value if points else policy.base_rate
        rate_rows.append(
            {
                "hospital_level": lv,
                "insurance_type": ins,
                "_over": over,
                "_derived": derived[0] if derived else None,
                "_fallback": None if math.isnan(fallback) else fallback,
                "_rate_note": "policy" if over is not None else ("derived" if derived else ""),
            }
        )
    rates = pl.DataFrame(
        rate_rows,
        schema={
            "hospital_level": pl.Utf8,
            "insurance_type": pl.Utf8,
            "_over": pl.Float64,
            "_derived": pl.Float64,
            "_fallback": pl.Float64,
            "_rate_note": pl.Utf8,
        },
    )
    sel = pl.DataFrame(
        {"hospital_level": [c[0] for c in combos], "insurance_type": [c[1] for c in combos]},
        schema={"hospital_level": pl.Utf8, "insurance_type": pl.Utf8},
    )
    s = df.join(sel, on=["hospital_level", "insurance_type"], how="inner")
    s = s.join(rates, on=["hospital_level", "insurance_type"], how="left")
    flags = pl.col("flags")
    s = s.with_columns(
        _basic=flags.str.contains("basic_group"),
        rate=pl.coalesce(pl.col("_over"), pl.col("base_rate"), pl.col("_derived"), pl.col("_fallback")),
    )
    if t.info.basic_group_rate_level:
        ref = rates.filter(pl.col("hospital_level") == t.info.basic_group_rate_level).select(
            "insurance_type", pl.coalesce("_over", "_derived", "_fallback").alias("_basic_rate")
        )
        s = s.join(ref, on="insurance_type", how="left").with_columns(
            rate=pl.when(pl.col("_basic")).then(pl.col("_basic_rate")).otherwise(pl.col("rate"))
        )
    coef = pl.col("level_coefficient").fill_null(1.0)
    b = policy.basic_group_coefficient
    if b == "table":
        basic_coef = coef
    elif b == "auto":
        # the table's coefficient when it prints one value for every level (Suzhou 1.02), else none (1.0)
        same = (
            df.filter(pl.col("flags").str.contains("basic_group"))
            .group_by("drg")
            .agg((pl.col("level_coefficient").n_unique() == 1).alias("_same"))
        )
        s = s.join(same, on="drg", how="left")
        basic_coef = pl.when(pl.col("_same").fill_null(False)).then(coef).otherwise(1.0)
    else:
        basic_coef = pl.lit(float(b))
    s = s.with_columns(coef=pl.when(pl.col("_basic")).then(basic_coef).otherwise(coef))
    s = s.with_columns(standard_computed=pl.col("rw") * pl.col("rate") * pl.col("coef"))
    if policy.standard_source == "published":
        std = pl.coalesce(pl.col("payment_standard"), pl.col("standard_computed"))
    else:
        std = pl.col("standard_computed")
    s = s.with_columns(standard=std)
    return s.select(
        "drg",
        "drg_name",
        "hospital_level",
        "insurance_type",
        "rw",
        "rate",
        "_rate_note",
        "coef",
        "standard_computed",
        "payment_standard",
        "standard",
        "low_outlier_threshold",
        "high_outlier_threshold",
        "flags",
        "_basic",
    )


NEEDED = ("drg", "status", "total_cost", "hospital_level", "insurance_type", "los", "special_review", "scheme")


def _needed_columns(data: Any) -> tuple[pa.Table, str]:
    """The columns pricing reads, as a small Arrow table under canonical names (no copy of the rest of the
    data); a result that kept the user's own headers (总费用, 实际住院天数 …) or is the Chinese workbook
    (入组, 未入组 …) is read through the vocabulary (:mod:`drgkit.io.results`); the headers are resolved once."""
    from ..io.results import canonical_results, renamed_results, result_sources

    if isinstance(data, pl.DataFrame):
        found = result_sources(data.columns, NEEDED)
        return renamed_results(data.select(list(found.values())).to_arrow(), found), "polars"
    if isinstance(data, pa.Table):
        return canonical_results(data, NEEDED).combine_chunks(), "arrow"
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            found = result_sources([str(c) for c in data.columns], NEEDED)
            frame = data[list(found.values())]
            return renamed_results(pa.Table.from_pandas(frame, preserve_index=False), found), "pandas"
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"price() takes a pyarrow Table, polars or pandas DataFrame, got {type(data).__name__}")


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64, NaN where missing or unreadable; text is read as the grouper reads amounts
    (``1,234.50``, ``1234.50元``)."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        return pc.fill_null(column.cast(pa.float64()), float("nan")).to_numpy()
    from ..io.output import parse_money

    values, _ = parse_money(column)
    return pc.fill_null(values, float("nan")).to_numpy(zero_copy_only=False).astype(np.float64)


def _text(column: pa.ChunkedArray) -> pa.Array:
    """A column as plain strings, '' for null."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return pc.fill_null(column.cast(pa.string()), "").combine_chunks()


def _attach(data: Any, kind: str, columns: dict[str, pa.Array]) -> Any:
    if kind == "arrow":
        table = data.drop_columns([c for c in columns if c in data.column_names])
        for name, array in columns.items():
            table = table.append_column(name, array)
        return table
    if kind == "polars":
        return data.drop([c for c in columns if c in data.columns]).with_columns(
            [pl.Series(n, a) for n, a in columns.items()]
        )
    out = data.drop(columns=[c for c in columns if c in data.columns])
    return out.assign(**{n: a.to_pandas() for n, a in columns.items()})


def _key_index(
    df: pa.Table,
    given: str | None,
    column: str,
    allowed: tuple[str, ...],
    default: str | None,
    what: str,
    table_id: str,
    norm,
    needed: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """Per-case index into ``choices`` (the table's levels / insurance types, [''] if it has none). ``needed``:
    the rows priced by the table (grouped): a value the table lacks is an error there, and -1 (no level) on a
    row it never prices — an invalid abstract, an export's blank or totals row."""
    n = df.num_rows
    option = "--" + what.split()[-1]
    if not allowed:
        return [""], np.zeros(n, dtype=np.int64)
    choices = list(allowed)

    def fit(value):  # the table's own level when it lacks the finer one written (三级甲等 → level3)
        found = norm(value)
        while found not in allowed and found in LEVEL_BROADER:
            found = LEVEL_BROADER[found]
        return found

    if given is not None:
        value = fit(given)
        if value not in allowed:
            raise TableError(f"table {table_id}: unknown {what} '{given}' (this table has: {', '.join(allowed)})")
        return choices, np.full(n, choices.index(value), dtype=np.int64)
    if column in df.column_names:
        # one hash pass over the column as it is (integer levels need no text): distinct values + codes
        encoded = pc.dictionary_encode(df.column(column).combine_chunks())
        indices = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        uniq = ["" if u is None else str(u) for u in encoded.dictionary.to_pylist()] + [""]  # last: null
        mapping = {u: fit(u) for u in uniq}
        looked = indices if needed is None else indices[needed]
        bad = [i for i, u in enumerate(uniq) if mapping[u] not in allowed and (looked == i).any()]
        if bad:
            first = int(np.argmax((indices == bad[0]) & (True if needed is None else needed)))
            raise TableError(
                f"row {first + 1}: unknown {what} '{uniq[bad[0]]}' in column {column} for table "
                f"{table_id} (this table has: {', '.join(allowed)}; give {option} to override)"
            )
        lookup = np.array([choices.index(mapping[u]) if mapping[u] in allowed else -1 for u in uniq], dtype=np.int64)
        return choices, lookup[indices.astype(np.int64)]
    if default is not None and default in allowed:
        return choices, np.full(n, choices.index(default), dtype=np.int64)
    if len(allowed) == 1:
        return choices, np.zeros(n, dtype=np.int64)
    raise TableError(
        f"table {table_id} distinguishes {what}s ({', '.join(allowed)}): choose one "
        f"({option}) or give a '{column}' column"
    )


def price(
    grouped: Any,
    table: str | PaymentTable,
    *,
    level: str | None = None,
    insurance: str | None = None,
    policy: Policy | dict | str | Path | None = None,
    allow_scheme_mismatch: bool = False,
    base_rate: float | None = None,
    benefits: Any = None,
    benefit_patient: tuple[np.ndarray, str | None] | None = None,
) -> Any:
    """Price grouped cases (output of :func:`drgkit.group`); returns the same type with pricing columns added.

    ``level`` / ``insurance`` apply to every case; without them a ``hospital_level`` / ``insurance_type`` column
    is used (1/2/3, 一级/二级/三级, level3 …; 职工/居民, employee/resident), then the table's only level / the
    policy's default insurance type. Columns read: drg, status, total_cost (and los, special_review, scheme if
    present).  Groups of another scheme than the table's are refused (the same DRG code can mean another group,
    and codes the table lacks would go unpriced) unless ``allow_scheme_mismatch``.  ``table`` may also be a scheme
    that ships reference weights (``chs-drg-2.0``), priced with ``base_rate`` (yuan per RW; for a point table the
    point value), which overrides every rate of the table and the policy.

    The patient's payment is the policy's flat ``patient_share`` of cost unless a benefit policy is given
    (``benefits``: a :class:`drgkit.benefits.BenefitPolicy`, a TOML path or a shipped name such as
    ``example-national``; else the policy's ``benefits`` key): then it is what that policy leaves the patient to
    pay for the stay, by item and in the person's discharge order within the year (:func:`drgkit.benefits`),
    and ``fund_payment`` = ``payment`` − ``patient_payment``. Stays it cannot settle keep the flat share; the
    ``patient_basis`` column says which (``benefits`` / ``flat_share``), and an Arrow result's
    ``drgkit.pricing`` metadata how many and why. ``benefit_patient`` (the output of
    :func:`drgkit.benefits.settle.patient_payments`) passes payments settled over more stays than are priced
    here (a file priced batch by batch, a simulation's copies of history stays).
    """
    t = load_table(table)
    policy = load_policy(policy).with_base_rate(base_rate)
    df, kind = _needed_columns(grouped)
    for c in ("drg", "status"):
        if c not in df.column_names:
            raise TableError(f"grouped data has no '{c}' column: run `drgkit group` first")
    if "scheme" in df.column_names and t.info.scheme and not allow_scheme_mismatch:
        schemes = [s for s in pc.unique(df.column("scheme")).to_pylist() if s]
        other = [s for s in schemes if s != t.info.scheme]
        if other:
            raise TableError(
                f"table {t.id} prices the groups of {t.info.scheme}, but these cases were grouped with "
                f"{other[0]}: group them with --scheme {t.info.scheme}, or give "
                f"--allow-scheme-mismatch to price them anyway"
            )
    n = df.num_rows
    # the rows the table prices: a level or insurance type it lacks is an error there, and nothing elsewhere
    payable = np.asarray(pc.is_in(_text(df.column("status")), pa.array(PAYABLE_STATUSES)), dtype=bool)
    lv_choices, lv_idx = _key_index(
        df, level, "hospital_level", t.info.levels, None, "hospital level", t.id, normalize_level, payable
    )
    ins_choices, ins_idx = _key_index(
        df,
        insurance,
        "insurance_type",
        t.info.insurance_types,
        policy.default_insurance,
        "insurance type",
        t.id,
        normalize_insurance,
        payable,
    )
    keyed = (lv_idx >= 0) & (ins_idx >= 0)  # rows never priced may have no level / insurance type (-1)
    lv_idx, ins_idx, lv_missing, ins_missing = np.maximum(lv_idx, 0), np.maximum(ins_idx, 0), lv_idx < 0, ins_idx < 0
    std = standards(t, policy)
    # dense lookup: (drg, level, insurance) -> row of std; cases gather from it (no join, no per-row Python)
    drg_codes = std["drg"].unique(maintain_order=True)
    drg_set = drg_codes.to_arrow().cast(pa.string())
    n_l, n_i = len(lv_choices), len(ins_choices)
    std_pos = (
        np.asarray(
            pc.index_in(std["drg"].to_arrow().cast(pa.string()), value_set=drg_set).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        * n_l
        * n_i
        + std["hospital_level"]
        .replace_strict({c: i for i, c in enumerate(lv_choices)}, return_dtype=pl.Int64)
        .to_numpy()
        * n_i
        + std["insurance_type"]
        .replace_strict({c: i for i, c in enumerate(ins_choices)}, return_dtype=pl.Int64)
        .to_numpy()
    )
    drg_arrow = _text(df.column("drg"))
    case_drg = pc.index_in(drg_arrow, value_set=drg_set)
    in_table = np.asarray(case_drg.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    case_pos = (
        np.asarray(case_drg.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64) * n_l * n_i
        + lv_idx * n_i
        + ins_idx
    )
    size = max(len(drg_codes), 1) * n_l * n_i
    present = np.zeros(size, dtype=bool)
    present[std_pos] = True
    in_table &= present[case_pos] & keyed

    def arr(name: str) -> np.ndarray:
        dense = np.full(size, np.nan)
        dense[std_pos] = std[name].cast(pl.Float64).to_numpy()
        return np.where(in_table, dense[case_pos], np.nan)

    def flag(name: str) -> np.ndarray:
        dense = np.zeros(size, dtype=bool)
        dense[std_pos] = std["flags"].str.contains(name).fill_null(False).to_numpy()
        return dense[case_pos] & in_table

    # status: a few distinct values (canonical: _needed_columns read the workbook's Chinese back), compared as
    # integer codes
    status = pc.dictionary_encode(_text(df.column("status")))
    status_codes = status.indices.to_numpy(zero_copy_only=False)
    status_values = status.dictionary.to_pylist()

    def has_status(value: str) -> np.ndarray:
        return status_codes == status_values.index(value) if value in status_values else np.zeros(n, bool)

    cost = _floats(df.column("total_cost")) if "total_cost" in df.column_names else np.full(n, np.nan)
    rw, rate, coef, standard = arr("rw"), arr("rate"), arr("coef"), arr("standard")
    published = arr("payment_standard")
    low_thr, high_thr = arr("low_outlier_threshold"), arr("high_outlier_threshold")

    ctype = np.full(n, -1, dtype=np.int8)
    rcode = np.full(n, -1, dtype=np.int32)
    reasons: list[str] = []
    payment = np.full(n, np.nan)

    def why(key: str, **values: str) -> str:
        """A reason in its canonical (English) wording; lang.price_reason_text gives it in Chinese."""
        return say(f"price.{key}", "en", **values)

    def assign(mask: np.ndarray, kind_: str, why: str, pay=None) -> None:
        m = mask & (ctype < 0)
        if not m.any():
            return
        # copyto with where= writes in place; boolean indexing would gather and scatter through copies
        np.copyto(ctype, CASE_TYPES.index(kind_), where=m)
        reasons.append(why)
        np.copyto(rcode, len(reasons) - 1, where=m)
        if pay is not None:
            np.copyto(payment, pay, where=m)

    special_pay = policy.special_cost_share * cost
    # 0. a case that would be paid needs a usable cost: its case type (and by-item payment) depends on it
    if "total_cost" not in df.column_names:
        assign(payable, "unpriced", why("no_cost_column"))
    else:
        assign(payable & np.isnan(cost), "unpriced", why("cost_missing"))
        assign(payable & np.isinf(cost), "unpriced", why("cost_infinite"))
        assign(payable & (cost < 0), "unpriced", why("cost_negative"))
    # 1. not grouped
    for st, share in (("ungroupable", policy.ungrouped_cost_share), ("ambiguous", policy.ambiguous_cost_share)):
        if not math.isnan(share):
            assign(has_status(st), "special", why(f"{st}_share", share=f"{share:g}"), share * cost)
    for st in status_values:
        if st != "ok":
            assign(has_status(st), "unpriced", why("status", status=st or "missing"))
    # 2. DRG missing from the table ({drg} is filled in below)
    assign(~in_table, "unpriced", why("not_in_table", drg="{drg}", table=t.id))
    # 3. special cases, paid by item
    if "special_review" in df.column_names:
        sr = pl.Series("special_review", df.column("special_review"))
        if sr.dtype in (pl.Utf8, pl.String):
            sr = sr.str.strip_chars().str.to_lowercase().is_in(["true", "1", "yes", "y", "是", "t"])
        assign(
            sr.cast(pl.Boolean, strict=False).fill_null(False).to_numpy().astype(bool, copy=False),
            "special",
            why("special_review"),
            special_pay,
        )
    for flag_ in policy.by_item_flags:
        assign(flag(flag_), "special", why("flagged", flag=flag_), special_pay)
    assign(published == 0, "special", why("zero_standard"), special_pay)
    if "los" in df.column_names and not (math.isnan(policy.los_min_days) and math.isnan(policy.los_max_days)):
        los = _floats(df.column("los"))
        if not math.isnan(policy.los_min_days):
            assign(
                los <= policy.los_min_days, "special", why("los_short", days=f"{policy.los_min_days:g}"), special_pay
            )
        if not math.isnan(policy.los_max_days):
            assign(los >= policy.los_max_days, "special", why("los_long", days=f"{policy.los_max_days:g}"), special_pay)
    # 4. no standard (no weight, or weights only and no rate)
    assign(np.isnan(rw) & np.isnan(published), "unpriced", why("no_weight", drg="{drg}", table=t.id))
    assign(
        np.isnan(standard),
        "unpriced",
        why("no_point_value" if t.info.basis == "points" else "no_base_rate", table=t.id),
    )
    # 5. ratio classification
    comparator = standard if policy.comparator == "standard" else standard / np.where(coef > 0, coef, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = cost / comparator
        k = policy.high_k(np.where(np.isnan(rw), 0.0, rw))
        high = ratio > k
        low = ratio < policy.low_ratio
        if policy.use_table_thresholds:
            has_h, has_l = ~np.isnan(high_thr), ~np.isnan(low_thr)
            high = np.where(has_h, cost > high_thr, high)
            low = np.where(has_l, cost < low_thr, low)
            k = np.where(has_h, high_thr / comparator, k)
    if policy.high_payment == "excess":
        high_pay = policy.high_a * standard + policy.high_beta * (cost - k * standard)
    elif policy.high_payment == "by_item":
        high_pay = cost
    else:
        high_pay = standard
    low_pay = {"by_item": cost, "standard": standard, "cost_share": policy.low_cost_share * cost}[policy.low_payment]
    assign(high, "high_ratio", why("high_ratio", how=policy.high_payment), high_pay)
    assign(low, "low_ratio", why("low_ratio", how=policy.low_payment), low_pay)
    assign(np.ones(n, dtype=bool), "normal", "", standard)

    shares = np.full(n, policy.patient_share)
    if policy.patient_shares:
        for name, value in policy.patient_shares.items():
            if name in ins_choices:
                shares[ins_idx == ins_choices.index(name)] = value
    priced = ctype != CASE_TYPES.index("unpriced")
    patient = np.where(priced, shares * cost, np.nan)
    chosen = benefits if benefits is not None else (policy.benefits or None)
    by_person, unsettled_why, benefit_name, assumed_insurance = None, None, "", None
    if chosen is not None:  # the patient pays by item under the benefit policy; the flat share where it cannot
        from ..benefits.policy import load_benefit_policy
        from ..benefits.settle import patient_payments

        chosen = load_benefit_policy(chosen)
        benefit_name = chosen.name
        # the level and insurance type each case is priced at stand in where the data has no such column
        lv_named = lv_choices if all(lv_choices) else None
        ins_named = ins_choices if all(ins_choices) else None
        if insurance is None and ins_named is None and "insurance_type" not in df.column_names:
            assumed_insurance = policy.default_insurance  # as pricing itself does; said in the summary
        if benefit_patient is None:
            benefit_patient = patient_payments(
                grouped,
                chosen,
                level=level,
                insurance=insurance or assumed_insurance,
                levels=pa.array(lv_named, pa.string()).take(pa.array(lv_idx, mask=lv_missing)) if lv_named else None,
                insurances=(
                    pa.array(ins_named, pa.string()).take(pa.array(ins_idx, mask=ins_missing)) if ins_named else None
                ),
            )
        by_person, unsettled_why = benefit_patient
    patient, basis_codes = split_patient(priced, patient, by_person)
    basis = patient_basis_summary(policy, benefit_name, unsettled_why, assumed_insurance)
    # reasons: one string per reason code, DRG-specific ones formatted for their rows only
    # no reason (normal cases, most rows) is null: a masked take copies only the rows that have one
    quiet = np.array([not text for text in reasons] + [True], dtype=bool)  # [-1] → the last entry: no reason
    silent = quiet[rcode]
    index = np.where(silent, 0, rcode).astype(np.int64)
    values = [pa.array(reasons or [""], type=pa.string())]
    for i, text in enumerate(reasons):
        if "{drg}" in text:  # formatted for its rows only, appended to the labels
            rows = np.flatnonzero(rcode == i)
            before, after = text.split("{drg}")
            index[rows] = sum(len(v) for v in values) + np.arange(len(rows))
            values.append(pc.binary_join_element_wise(before, drg_arrow.take(pa.array(rows)), after, ""))
    reason_arr = pa.concat_arrays(values).take(pa.array(index, mask=silent))

    def money(x: np.ndarray, digits: int | None = 2) -> pa.Array:
        x = np.round(x, digits) if digits is not None else x
        return pa.array(x, type=pa.float64(), mask=np.isnan(x))  # NaN -> null

    columns = {
        "pay_table": pa.repeat(pa.scalar(t.id, pa.string()), n),
        "pay_level": pc.take(pa.array(lv_choices, type=pa.string()), pa.array(lv_idx, mask=lv_missing)),
        "pay_insurance": pc.take(pa.array(ins_choices, type=pa.string()), pa.array(ins_idx, mask=ins_missing)),
        "rw": money(rw, None),
        "base_rate": money(rate, None),
        "level_coefficient": money(coef, None),
        "standard_payment": money(standard, None),
        "cost_ratio": money(ratio, 4),
        "case_type": pc.take(pa.array(CASE_TYPES, type=pa.string()), pa.array(ctype)),
        "payment": money(payment),
        "patient_payment": money(patient),
        # from the rounded amounts, so fund + patient = payment to the cent on every row
        "fund_payment": money(np.round(payment, 2) - np.round(patient, 2)),
        "patient_basis": pa.array(PATIENT_BASES, pa.string()).take(pa.array(basis_codes, mask=basis_codes < 0)),
        "margin": money(payment - cost),
        "price_reason": reason_arr,
    }
    columns = {k: (v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v) for k, v in columns.items()}
    out = _attach(grouped, kind, columns)
    if kind == "arrow":  # a Parquet output keeps what it was priced with (pq.read_schema(path).metadata)
        out = out.replace_schema_metadata(
            {**(out.schema.metadata or {}), PRICING_METADATA_KEY: pricing_metadata(t, policy, basis)}
        )
    return out


#: the statuses whose cases the table pays (a grouped case by its DRG; an ungroupable or ambiguous one at its
#: policy's cost share): their hospital level and insurance type must be known to the table
PAYABLE_STATUSES = ("ok", "ungroupable", "ambiguous")

#: how a case's patient payment was found (the ``patient_basis`` column; null: the case is not priced)
PATIENT_BASES = ("benefits", "flat_share")


def split_patient(priced: np.ndarray, flat: np.ndarray, by_person: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The patient's payment of every case — the benefit policy's (``by_person``, NaN where it could not settle
    the stay) where there is one, else the flat share's (``flat``) — and the index into :data:`PATIENT_BASES`
    saying which (-1 for a case that is not priced: it has no payment to split)."""
    use = priced & ~np.isnan(by_person) if by_person is not None else np.zeros(len(priced), bool)
    codes = np.where(priced, np.where(use, 0, 1), -1).astype(np.int8)
    return (np.where(use, by_person, flat) if by_person is not None else flat), codes


def patient_basis_summary(
    policy: Policy, benefit_name: str, why: str | None = None, assumed_insurance: str | None = None
) -> dict:
    """How the patients' payments were found, for the ``drgkit.pricing`` metadata: under which benefit policy
    (or the flat share, with its value), why stays were left at the flat share, and the insurance type assumed
    when the data had none. The counts are not here but in the ``patient_basis`` column (a file priced batch
    by batch carries the first batch's metadata): :func:`patient_basis_counts` adds them."""
    out: dict[str, Any] = {
        "patient_basis": "benefits" if benefit_name else "flat_share",
        "patient_share": policy.patient_share,
        **({"patient_shares": dict(policy.patient_shares)} if policy.patient_shares else {}),
    }
    if benefit_name:
        out["benefits"] = benefit_name
        if why:
            out["flat_share_why"] = why
        if assumed_insurance:  # no insurance type in the data: every stay settled as one type
            out["benefit_insurance_assumed"] = assumed_insurance
    return out


def patient_basis_counts(codes: Any) -> dict[str, int]:
    """``benefit_rows`` / ``flat_share_rows``: the cases whose patients pay under the benefit policy / at the
    flat share, from the ``patient_basis`` column (strings) or :func:`split_patient`'s indices."""
    if isinstance(codes, (pa.Array, pa.ChunkedArray)):
        codes = codes.to_numpy(zero_copy_only=False)
    elif isinstance(codes, pl.Series):
        codes = codes.to_numpy()
    values = np.asarray(codes)
    if values.dtype.kind in "OUS":
        values = np.where(values == PATIENT_BASES[0], 0, np.where(values == PATIENT_BASES[1], 1, -1))
    return {"benefit_rows": int((values == 0).sum()), "flat_share_rows": int((values == 1).sum())}


def patient_basis_line(basis: dict, lang: str) -> str:
    """One line: the patients' payments by person and year under a benefit policy, or the flat share — said
    whenever the flat share is used (no benefit policy, or cases the benefit policy could not settle).
    ``basis``: :func:`patient_basis_summary` with :func:`patient_basis_counts`."""
    from ..lang import say, words

    share = f"{100 * basis['patient_share']:g}%"
    if basis.get("patient_shares"):
        kinds = words("benefits.ins", lang)
        shares = say("punct.list", lang).join(
            f"{kinds.get(k, k)} {100 * v:g}%" for k, v in basis["patient_shares"].items()
        )
        share += f"（{shares}）" if lang == "zh" else f" ({shares})"
    if basis.get("patient_basis") != "benefits":
        return say("pay.flat_share", lang, share=share)
    text = say("pay.by_benefits", lang, policy=basis["benefits"], rows=f"{basis['benefit_rows']:,}")
    if basis.get("benefit_insurance_assumed"):
        assumed = basis["benefit_insurance_assumed"]
        named = words("benefits.ins", lang).get(assumed, assumed)  # 职工 / 居民 in a Chinese line
        text += say("pay.benefits_insurance", lang, ins=named)
    if basis.get("flat_share_rows"):
        from ..benefits.settle import why_text

        why = why_text(basis.get("flat_share_why"), lang) or say("pay.benefits_unsettled", lang)
        text += say("pay.benefits_fallback", lang, rows=f"{basis['flat_share_rows']:,}", share=share, why=why)
    return text


#: Schema-metadata key of a priced Arrow table / Parquet file: JSON of the table and every policy value used.
PRICING_METADATA_KEY = b"drgkit.pricing"


def pricing_metadata(t: PaymentTable, policy: Policy, basis: dict | None = None) -> bytes:
    """The table and every policy value a priced result leaned on, with the names no policy set (defaults), and
    how the patient's payment was found (``basis``: a benefit policy by person and year, or the flat share, with
    the number of rows each)."""
    import json

    return json.dumps(
        {
            "table": t.id,
            "table_source": t.info.source or t.id,
            "scheme": t.info.scheme,
            "policy": policy.as_dict(),
            "defaults": policy.defaults(),
            **(basis or {}),
        },
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")


__all__ = [
    "CASE_TYPES",
    "LEVELS",
    "OUTPUT_COLUMNS",
    "PATIENT_BASES",
    "patient_basis_counts",
    "patient_basis_line",
    "patient_basis_summary",
    "price",
    "split_patient",
    "standards",
]
