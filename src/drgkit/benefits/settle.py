"""Per-stay benefit settlement: what each stay's patient, pooled fund, critical-illness insurance and medical
assistance pay, in each person's discharge order within the calendar year (``docs/benefits.md``).

Columnar: the columns are read once through the field vocabulary (人员编号 / psn_no, 出院日期, 险种类型, 医院等级,
医疗费总额, 全自费金额, 先行自付金额 …), the stays are sorted once by person and discharge time (ties broken by the
stays' own contents, so the result never depends on input order), and one numba kernel walks each person's
run of the year carrying the annual accumulators.  Everything is computed in integer cents, so

    fund_payment + critical_illness_payment + assistance_payment + patient_payment = total_cost

holds to the cent on every settled row.  One output row per input row, in input order; a row that cannot
be settled (no cost, no person, no date, an insurance type or level the policy lacks) has null amounts and
says why in ``benefit_reason`` — and does not touch the person's accumulators.

Per stay (amounts in cents, ``r`` = round half up):

1. 全自费 F = the export's 全自费金额 + 超限价自费费用 (else its 个人自费, else ``cost_mix.full_self_pay_share`` ×
   total), capped to the total;
2. 乙类先行自付 B = the export's 先行自付金额 (else ``class_b_self_pay`` × its 乙类费用, else × ``class_b_share`` ×
   (total − F)), capped to what is left; in-policy cost I = total − F − B;
3. deductible d = min(I, r(deductible[level] × repeat_deductible[n-th admission of the year] × age factor));
4. fund = min(r((I − d) × fund share), ceiling − fund paid so far this year);
5. the patient's in-policy out-of-pocket P = I − fund is accumulated over the year (A); critical illness pays
   r(G(A after)) − r(G(A before)), G = the tiered shares of A above the threshold (capped by its own ceiling);
6. assistance pays r((P − critical illness) × the category's share) (capped by its ceiling);
7. patient_in_policy = P − critical illness − assistance; patient_payment = F + B + patient_in_policy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DrgkitError
from ..lang import say
from .policy import INSURANCE, BenefitPolicy, load_benefit_policy


class BenefitInputError(DrgkitError, ValueError):
    """Input that cannot be settled as a whole (a value of a column that means nothing to the policy)."""


#: the fields settlement reads (through the vocabulary), in the order they are looked for
NEEDED = (
    "patient_id",
    "discharge_date",
    "insurance_type",
    "hospital_level",
    "total_cost",
    "full_self_pay_amount",
    "over_limit_amount",
    "self_financed",
    "class_b_self_pay_amount",
    "class_b_amount",
    "age",
    "assistance_category",
    "admission_date",
    "case_id",
    "annual_income",
)

#: amounts (cents in the kernel) in the kernel's output matrix, in order
_AMOUNTS = (
    "full_self_pay",
    "class_b_self_pay",
    "in_policy_cost",
    "deductible",
    "fund_payment",
    "critical_illness_payment",
    "assistance_payment",
    "patient_in_policy",
    "patient_payment",
    "ytd_in_policy_cost",
    "ytd_fund_payment",
    "ytd_in_policy_oop",
    "ytd_critical_illness_payment",
    "ytd_assistance_payment",
    "ytd_patient_payment",
)
#: every column settlement adds, in output order
OUTPUT_COLUMNS = (
    "benefit_year",
    "benefit_insurance",
    "benefit_level",
    "admission_in_year",
    *_AMOUNTS[:4],
    "fund_share",
    *_AMOUNTS[4:5],
    "at_ceiling",
    *_AMOUNTS[5:],
    "benefit_policy",
    "benefit_reason",
)
#: the split that sums to total_cost
SPLIT = ("fund_payment", "critical_illness_payment", "assistance_payment", "patient_payment")

#: reason codes of the kernel (0 = settled); their words are ``benefits.reason.<code>`` of ui_words.csv, stored
#: in English (the canonical form) and shown in Chinese by :func:`reason_text`
_REASON_CODES = tuple(range(1, 11))
_SETTLED_NOTE = 9  # settled, with a note
#: Schema-metadata key of a settled Arrow table / Parquet file: JSON of the policy used.
METADATA_KEY = b"drgkit.benefits"
_BIG = 1 << 62  # "no ceiling", in cents


# ------------------------------------------------------------------------------------------------- kernel


@numba.njit(cache=True)
def _r(x):
    """Round half up to a whole cent (amounts are never negative here)."""
    return np.int64(np.floor(x + 0.5))


@numba.njit(cache=True)
def _tiered(a, threshold, starts, shares, n_tiers):
    """G(a): the tiered shares of an accumulated amount ``a`` above ``threshold`` (cents, float)."""
    above = a - threshold
    if above <= 0.0:
        return 0.0
    total = 0.0
    for t in range(n_tiers):
        lo = starts[t]
        if above <= lo:
            break
        hi = starts[t + 1] if t + 1 < n_tiers else above
        total += shares[t] * (min(above, hi) - lo)
    return total


# per-row inputs, packed row by row (one or two cache lines a row: the kernel visits rows in settlement order)
_PERSON, _YEAR, _INS, _LVL, _AGE, _TOTAL, _FULL, _CLSB, _CLSB_COST, _ASSIST = range(10)
# per-row outputs: the amounts (cents) of _AMOUNTS, then these
_SHARE, _ADM, _CAPPED, _REASON = range(len(_AMOUNTS), len(_AMOUNTS) + 4)


@numba.njit(cache=True)
def _pack(person, year, ins, lvl, age, total, full, clsb, clsb_cost, assist):
    n = person.shape[0]
    x = np.empty((n, 10), np.float64)
    for i in range(n):
        x[i, 0] = person[i]
        x[i, 1] = year[i]
        x[i, 2] = ins[i]
        x[i, 3] = lvl[i]
        x[i, 4] = age[i]
        x[i, 5] = total[i]
        x[i, 6] = full[i]
        x[i, 7] = clsb[i]
        x[i, 8] = clsb_cost[i]
        x[i, 9] = assist[i]
    return x


@numba.njit(cache=True)
def _unpack(out, n_amounts):
    """The kernel's rows as columns: amounts in yuan, then share, admission number, at-ceiling flag, reason."""
    n, m = out.shape
    cols = np.empty((m, n), np.float64)
    for i in range(n):
        for k in range(m):
            v = out[i, k]
            cols[k, i] = v / 100.0 if k < n_amounts else v
    return cols


@numba.njit(cache=True)
def _settle_kernel(
    order,
    x,
    ins_on,
    ded,
    share,
    ceiling,
    clsb_rate,
    rep,
    n_rep,
    age_min,
    age_factor,
    age_add,
    age_max,
    ci_on,
    ci_thr,
    ci_start,
    ci_share,
    ci_n,
    ci_ceiling,
    full_share,
    clsb_share,
    as_share,
    as_ceiling,
    out,
):
    n = order.shape[0]
    prev_person = -1.0
    prev_year = -1.0
    n_adm = 0
    y_inpol = np.int64(0)
    y_fund = np.int64(0)
    y_oop = np.int64(0)
    y_ci = np.int64(0)
    y_as = np.int64(0)
    y_pat = np.int64(0)
    for j in range(n):
        i = order[j]
        row = x[i]
        # --- validity (the row is left out of every accumulator when it cannot be settled)
        if row[0] < 0:
            out[i, 18] = 3
            continue
        if row[1] < 0:
            out[i, 18] = 4
            continue
        t_yuan = row[5]
        if np.isnan(t_yuan) or np.isinf(t_yuan):
            out[i, 18] = 1
            continue
        if t_yuan < 0:
            out[i, 18] = 2
            continue
        k = np.int64(row[2])
        if k < 0:
            out[i, 18] = 5
            continue
        if not ins_on[k]:
            out[i, 18] = 7
            continue
        lv = np.int64(row[3])
        if lv < 0:
            out[i, 18] = 6
            continue
        d_yuan = ded[k, lv]
        s = share[k, lv]
        if np.isnan(d_yuan) or np.isnan(s):
            out[i, 18] = 8
            continue
        full = row[6]
        clsb = row[7]
        clsb_cost = row[8]
        if full < -0.5 or clsb < -0.5 or clsb_cost < -0.5:  # -1: given but not a number
            out[i, 18] = 10
            continue
        # --- a new person or a new year: fresh accumulators
        if row[0] != prev_person or row[1] != prev_year:
            prev_person = row[0]
            prev_year = row[1]
            n_adm = 0
            y_inpol = 0
            y_fund = 0
            y_oop = 0
            y_ci = 0
            y_as = 0
            y_pat = 0
        note = 0
        capped = 0
        t = _r(t_yuan * 100.0)
        # 1. 全自费
        if full == full:
            f = _r(full * 100.0)
        else:
            f = _r(t * full_share)
        if f > t:
            f = t
            note = 9
        # 2. 乙类先行自付
        rest = t - f
        if clsb == clsb:
            b = _r(clsb * 100.0)
        elif clsb_cost == clsb_cost:
            b = _r(clsb_cost * 100.0 * clsb_rate[k])
        else:
            b = _r(rest * clsb_share * clsb_rate[k])
        if b > rest:
            b = rest
            note = 9
        inpol = rest - b
        # 3. deductible for the n-th admission of the year, lower for the elderly
        n_adm += 1
        factor = rep[k, min(n_adm, n_rep[k]) - 1]
        s_eff = s
        age = row[4]
        if age == age and age >= age_min[k]:
            factor *= age_factor[k]
            raised = min(s + age_add[k], age_max[k])
            if raised > s_eff:
                s_eff = raised
        dd = _r(d_yuan * 100.0 * factor)
        if dd > inpol:
            dd = inpol
        # 4. pooled fund, within the annual ceiling
        fund = _r((inpol - dd) * s_eff)
        room = ceiling[k] - y_fund
        if room < 0:
            room = 0
        if fund > room:
            fund = room
            capped = 1
        oop = inpol - fund
        # 5. critical illness on the year's accumulated in-policy out-of-pocket cost
        ci = np.int64(0)
        before = y_oop
        y_oop += oop
        if ci_on[k]:
            ci = _r(_tiered(float(y_oop), ci_thr[k], ci_start[k], ci_share[k], ci_n[k])) - _r(
                _tiered(float(before), ci_thr[k], ci_start[k], ci_share[k], ci_n[k])
            )
            cap = ci_ceiling[k] - y_ci
            if ci > cap:
                ci = cap
            if ci < 0:
                ci = 0
        # 6. medical assistance on what is still owed within the policy
        aid = np.int64(0)
        c = np.int64(row[9])
        if c >= 0:
            aid = _r((oop - ci) * as_share[c])
            cap = as_ceiling - y_as
            if aid > cap:
                aid = cap
            if aid < 0:
                aid = 0
        p_in = oop - ci - aid
        patient = f + b + p_in
        y_inpol += inpol
        y_fund += fund
        y_ci += ci
        y_as += aid
        y_pat += patient
        o = out[i]
        o[0] = f
        o[1] = b
        o[2] = inpol
        o[3] = dd
        o[4] = fund
        o[5] = ci
        o[6] = aid
        o[7] = p_in
        o[8] = patient
        o[9] = y_inpol
        o[10] = y_fund
        o[11] = y_oop
        o[12] = y_ci
        o[13] = y_as
        o[14] = y_pat
        o[15] = s_eff
        o[16] = n_adm
        o[17] = capped
        o[18] = note


# ----------------------------------------------------------------------------------------- policy arrays


def _cents(yuan: float) -> int:
    return _BIG if math.isinf(yuan) else math.floor(yuan * 100.0 + 0.5)


def policy_arrays(policy: BenefitPolicy, categories: list[str]) -> dict[str, np.ndarray]:
    """The policy as the kernel's arrays: rows = :data:`INSURANCE`, columns = every level id of
    ``payment.tables.LEVELS`` (a finer level takes its broader level's value when the policy lacks it)."""
    from ..payment.tables import LEVELS

    n_i, n_l = len(INSURANCE), len(LEVELS)
    n_rep = max([len(b.repeat_deductible) for b in policy.insurance.values()] + [1])
    n_tier = max([len(b.critical_illness.tiers) for b in policy.insurance.values() if b.critical_illness] + [1])
    a: dict[str, Any] = {
        "ins_on": np.array([name in policy.insurance for name in INSURANCE]),
        "ded": np.full((n_i, n_l), np.nan),
        "share": np.full((n_i, n_l), np.nan),
        "ceiling": np.zeros(n_i, np.int64),
        "clsb_rate": np.zeros(n_i),
        "rep": np.ones((n_i, n_rep)),
        "n_rep": np.ones(n_i, np.int64),
        "age_min": np.full(n_i, np.inf),
        "age_factor": np.ones(n_i),
        "age_add": np.zeros(n_i),
        "age_max": np.ones(n_i),
        "ci_on": np.zeros(n_i, np.bool_),
        "ci_thr": np.zeros(n_i),
        "ci_start": np.zeros((n_i, n_tier)),
        "ci_share": np.zeros((n_i, n_tier)),
        "ci_n": np.zeros(n_i, np.int64),
        "ci_ceiling": np.zeros(n_i, np.int64),
    }
    for k, name in enumerate(INSURANCE):
        b = policy.insurance.get(name)
        if b is None:
            continue
        for j, level in enumerate(LEVELS):
            d, s = b.level_value("deductible", level), b.level_value("fund_share", level)
            if d is not None and s is not None:
                a["ded"][k, j], a["share"][k, j] = d, s
        a["ceiling"][k] = _cents(b.annual_ceiling)
        a["clsb_rate"][k] = b.class_b_self_pay
        a["rep"][k, : len(b.repeat_deductible)] = b.repeat_deductible
        a["n_rep"][k] = len(b.repeat_deductible)
        if b.age_rule is not None:
            r = b.age_rule
            a["age_min"][k], a["age_factor"][k] = r.min_age, r.deductible_factor
            a["age_add"][k], a["age_max"][k] = r.fund_share_add, r.fund_share_max
        if b.critical_illness is not None:
            ci = b.critical_illness
            a["ci_on"][k] = True
            a["ci_thr"][k] = ci.threshold * 100.0
            a["ci_n"][k] = len(ci.tiers)
            for t, (start, share) in enumerate(ci.tiers):
                a["ci_start"][k, t], a["ci_share"][k, t] = start * 100.0, share
            a["ci_ceiling"][k] = _cents(ci.annual_ceiling)
    shares = policy.assistance.shares if policy.assistance else {}
    a["as_share"] = np.array([shares[c] for c in categories] + [0.0])
    a["as_ceiling"] = _cents(policy.assistance.annual_ceiling) if policy.assistance else 0
    a["full_share"], a["clsb_share"] = policy.full_self_pay_share, policy.class_b_share
    return a


# ------------------------------------------------------------------------------------------ reading columns


def _one(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def read_money(column: pa.ChunkedArray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """An amount column read as money: (yuan as float64, NaN where blank; the rows whose non-blank value is not an
    amount). Numbers are taken as they are, text is parsed as :func:`drgkit.io.output.parse_money` does; no column
    (``None``) is ``n`` blanks."""
    if column is None:
        return np.full(n, np.nan), np.zeros(0, np.int64)
    arr = _one(column)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        values = pc.fill_null(arr.cast(pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
        return np.array(values, np.float64), np.zeros(0, np.int64)  # a copy: rows that say "not a number" are marked
    from ..io.output import parse_money

    values, unread = parse_money(arr)
    return pc.fill_null(values, float("nan")).to_numpy(zero_copy_only=False).astype(np.float64), unread


def _seconds(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    """Seconds since 1970 as int64 (``_NO_DATE`` where missing or not a date)."""
    if column is None:
        return np.full(n, _NO_DATE, np.int64)
    arr = _one(column)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_integer(arr.type):
        from ..io.output import parse_dates

        arr, _ = parse_dates(arr.cast(pa.string()))
    elif pa.types.is_date(arr.type):
        arr = arr.cast(pa.date32()).cast(pa.timestamp("s"))
    elif pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:  # the wall time where the stay ended
            arr = pc.local_timestamp(arr)
        arr = arr.cast(pa.timestamp(arr.type.unit)).cast(pa.timestamp("s"), safe=False)
    else:
        return np.full(n, _NO_DATE, np.int64)
    return pc.fill_null(arr.cast(pa.int64()), _NO_DATE).to_numpy(zero_copy_only=False).astype(np.int64)


_NO_DATE = np.iinfo(np.int64).min


def _distinct(column: pa.ChunkedArray) -> tuple[list[str | None], np.ndarray]:
    """(distinct values as trimmed text, None for blank; each row's index into them)."""
    arr = _one(column)
    encoded = pc.dictionary_encode(arr)
    idx = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
    values = [None if v is None else (str(v).strip() or None) for v in encoded.dictionary.to_pylist()] + [None]
    return values, idx


def _category(
    column: pa.ChunkedArray | None,
    n: int,
    given: str | None,
    norm,
    allowed: tuple[str, ...],
    what: str,
    option: str,
    field: str,
) -> np.ndarray:
    """Per-row index into ``allowed`` (-1 = missing); a value that means none of them is an error naming it."""
    if given is not None:
        value = norm(given)
        if value not in allowed:
            raise BenefitInputError(f"{option} {given!r}: not a known {what} ({', '.join(allowed)})")
        return np.full(n, allowed.index(value), np.int8)
    if column is None:
        return np.full(n, -1, np.int8)
    values, idx = _distinct(column)
    codes = []
    for pos, value in enumerate(values):
        if value is None:
            codes.append(-1)
            continue
        found = norm(value)
        if found not in allowed:
            first = int(np.argmax(idx == pos))
            raise BenefitInputError(
                f"row {first + 1}: {field} {value!r} is not a known {what} "
                f"({', '.join(allowed)}); give {option} to set it for every row"
            )
        codes.append(allowed.index(found))
    return np.array(codes, np.int8)[idx]


def _ages(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    if column is None:
        return np.full(n, np.nan)
    arr = _one(column)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return pc.fill_null(arr.cast(pa.float64()), float("nan")).to_numpy(zero_copy_only=False)
    from ..io.values import ages

    values, idx = _distinct(arr.cast(pa.string()))
    years = []
    for text, days in ages(values):
        try:
            years.append(float(text) if days is None else days / 365.25)  # type: ignore[arg-type]  # None: caught below
        except (TypeError, ValueError):
            years.append(math.nan)
    return np.array(years, np.float64)[idx]


def person_codes(column: pa.ChunkedArray | None, n: int) -> np.ndarray:
    """A code per person (-1 = missing or blank): equal ids (after trimming spaces), equal codes; the codes'
    order means nothing.  The text work is done on the distinct ids, not on every row."""
    if column is None:
        return np.full(n, -1, np.int64)
    encoded = pc.dictionary_encode(_one(column))
    codes = pc.fill_null(encoded.indices.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    ids = encoded.dictionary
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        return codes
    trimmed = pc.utf8_trim_whitespace(ids)
    again = pc.dictionary_encode(trimmed)  # " P1" and "P1" are one person
    merged = again.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    blank = pc.equal(again.dictionary, "").to_numpy(zero_copy_only=False)
    merged = np.where(blank[merged], -1, merged)
    lookup = np.append(merged, -1)  # the last entry: a null id
    return lookup[codes]


def _assistance(column: pa.ChunkedArray | None, n: int, policy: BenefitPolicy) -> tuple[np.ndarray, list[str]]:
    """Per-row index into the policy's assistance categories (-1 = not eligible), and the categories."""
    if policy.assistance is None or column is None:
        return np.full(n, -1, np.int16), []
    from ..io.values import clean

    categories = list(policy.assistance.shares)
    by_key = {clean(c): i for i, c in enumerate(categories)}
    values, idx = _distinct(_one(column).cast(pa.string()))
    codes = np.array([by_key.get(clean(v), -1) if v is not None else -1 for v in values], np.int16)
    return codes[idx], categories


# ------------------------------------------------------------------------------------------------- settle


def as_table(data: Any) -> tuple[pa.Table, str]:
    """``data`` as an Arrow table, and the kind it came as (``"arrow"``, ``"polars"``, ``"pandas"``) so results
    can be given back in that kind: a file path is read by :func:`drgkit.io.results.as_arrow`, a table or frame by
    :func:`drgkit.io.frames.to_arrow`."""
    if isinstance(data, (str, Path)):
        from ..io.results import as_arrow

        return as_arrow(data), "arrow"
    from ..io.frames import to_arrow

    return to_arrow(data)


def find_sources(table: pa.Table, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """{field: header} of the fields of :data:`NEEDED` the table has: ``mapping`` ({header: field}) first, then the
    vocabulary; a mapping naming no column or no field settlement reads raises :class:`BenefitInputError`."""
    from ..io.columns import field_sources

    found: dict[str, str] = {}
    for header, field in (mapping or {}).items():
        if header not in table.column_names:
            raise BenefitInputError(f"--map {header}={field}: no column {header!r} in the input")
        if field not in NEEDED:
            raise BenefitInputError(
                f"--map {header}={field}: {field!r} is not a field settlement reads ({', '.join(NEEDED)})"
            )
        found[field] = header
    taken = set(found.values())
    rest = [c for c in table.column_names if c not in taken]
    for field, header in field_sources(rest, [f for f in NEEDED if f not in found]).items():
        found[field] = header
    return found


def settle(
    data: Any,
    policy: BenefitPolicy | dict | str | Path,
    *,
    level: str | None = None,
    insurance: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> Any:
    """Settle every stay under a benefit policy; returns the same type with :data:`OUTPUT_COLUMNS` added.

    ``data``: a pyarrow Table, a polars or pandas DataFrame, or a file path (Parquet / CSV / Excel). Columns
    are found through the field vocabulary (人员编号 / psn_no, 出院日期, 险种类型, 医院等级, 医疗费总额, 年龄,
    全自费金额, 超限价自费费用, 个人自费, 先行自付金额, 乙类费用, 医疗救助对象类别); ``mapping`` ({header: field})
    names the rest. ``level`` / ``insurance`` set the hospital level / insurance type of every row.
    ``policy``: a :class:`BenefitPolicy`, a TOML path, a shipped policy's name (``example-national``) or a dict.
    """
    from ..io.values import lookup
    from ..payment.tables import LEVELS

    policy = load_benefit_policy(policy)
    table, kind = as_table(data)
    previous = _previous_results(table)
    if previous:  # settled before (this output fed in again): recomputed, never read as input
        table = table.drop_columns(previous)
        if kind == "polars":
            data = data.drop(previous)
        elif kind == "pandas":
            data = data.drop(columns=previous)
    n = table.num_rows
    found = find_sources(table, mapping)
    if "total_cost" not in found:
        raise BenefitInputError(say("benefits.missing.total_cost", "en"))
    if "patient_id" not in found:
        raise BenefitInputError(say("benefits.missing.patient_id", "en"))
    if "discharge_date" not in found:
        raise BenefitInputError(say("benefits.missing.discharge_date", "en"))

    if "insurance_type" not in found and insurance is None:
        raise BenefitInputError(say("benefits.missing.insurance_type", "en"))
    if "hospital_level" not in found and level is None:
        raise BenefitInputError(say("benefits.missing.hospital_level", "en"))

    def col(name: str) -> pa.ChunkedArray | None:
        return table.column(found[name]) if name in found else None

    person = person_codes(col("patient_id"), n)
    seconds = _seconds(col("discharge_date"), n)
    dated = seconds != _NO_DATE
    year = np.full(n, -1, np.int32)
    year[dated] = seconds[dated].astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    ins = _category(
        col("insurance_type"),
        n,
        insurance,
        lambda v: lookup("insurance", v) or v,
        INSURANCE,
        "insurance type",
        "--insurance",
        found.get("insurance_type", "insurance_type"),
    )
    lvl = _category(
        col("hospital_level"),
        n,
        level,
        lambda v: lookup("hospital_level", v) or v,
        LEVELS,
        "hospital level",
        "--level",
        found.get("hospital_level", "hospital_level"),
    )
    total, _ = read_money(col("total_cost"), n)  # a cost that is not an amount is NaN: the row says so
    # 全自费: 全自费金额 + 超限价自费费用 where the export has either, else 个人自费, else the policy's share
    full, full_bad = read_money(col("full_self_pay_amount"), n)
    over, over_bad = read_money(col("over_limit_amount"), n)
    if "full_self_pay_amount" in found or "over_limit_amount" in found:
        both = np.isnan(full) & np.isnan(over)
        full = np.where(both, np.nan, np.nan_to_num(full) + np.nan_to_num(over))
        bad = np.concatenate([full_bad, over_bad])
    else:
        full, bad = read_money(col("self_financed"), n)
    clsb, clsb_bad = read_money(col("class_b_self_pay_amount"), n)
    clsb_cost, cost_bad = read_money(col("class_b_amount"), n)
    for values, rows in ((full, bad), (clsb, clsb_bad), (clsb_cost, cost_bad)):
        values[rows] = -1.0  # given but not a number: the row says so
    age = _ages(col("age"), n)
    assist, categories = _assistance(col("assistance_category"), n, policy)

    order = _order(table, found, person, seconds, total, full, clsb, clsb_cost, ins, lvl, age, assist)
    arrays = policy_arrays(policy, categories)
    x = _pack(person, year, ins, lvl, age, total, full, clsb, clsb_cost, assist)
    del full, clsb, clsb_cost, age, assist, total, seconds
    out = np.zeros((n, _REASON + 1), np.float64)
    _settle_kernel(
        order,
        x,
        arrays["ins_on"],
        arrays["ded"],
        arrays["share"],
        arrays["ceiling"],
        arrays["clsb_rate"],
        arrays["rep"],
        arrays["n_rep"],
        arrays["age_min"],
        arrays["age_factor"],
        arrays["age_add"],
        arrays["age_max"],
        arrays["ci_on"],
        arrays["ci_thr"],
        arrays["ci_start"],
        arrays["ci_share"],
        arrays["ci_n"],
        arrays["ci_ceiling"],
        arrays["full_share"],
        arrays["clsb_share"],
        arrays["as_share"],
        arrays["as_ceiling"],
        out,
    )
    del x, order
    columns = _columns(policy, _unpack(out, len(_AMOUNTS)), year, ins, lvl)
    result = _attach(data if kind != "arrow" else table, kind, columns)
    if kind == "arrow":
        meta = {"name": policy.name, "source": policy.source, "example": policy.example, "policy": policy.as_dict()}
        result = result.replace_schema_metadata(
            {
                **(result.schema.metadata or {}),
                METADATA_KEY: json.dumps(meta, ensure_ascii=False, default=str).encode("utf-8"),
            }
        )
    return result


def patient_payments(
    data: Any,
    policy: BenefitPolicy | dict | str | Path,
    *,
    level: str | None = None,
    insurance: str | None = None,
    mapping: Mapping[str, str] | None = None,
    levels: pa.Array | None = None,
    insurances: pa.Array | None = None,
) -> tuple[np.ndarray, str | None]:
    """What each stay leaves the patient to pay under ``policy`` (yuan, NaN where a stay cannot be settled) — the
    patient side of a DRG / DIP payment (fund = payment − patient) — and why some or all stays were not settled
    (``None`` when every stay was): a column settlement needs that the data lacks (then every value is NaN), or
    the commonest ``benefit_reason`` of the stays left unsettled, with their counts.

    Only the fields settlement reads are taken from ``data`` (no copy of the rest). ``levels`` / ``insurances``
    (one value a row, e.g. the level and insurance type a case was priced at) stand in where ``data`` has no
    hospital level / insurance type column, so pricing and settlement read one level per case; ``level`` /
    ``insurance`` set every row, as for :func:`settle`."""
    policy = load_benefit_policy(policy)
    table, _ = as_table(data)
    found = find_sources(table, mapping)
    columns = {field: table.column(src) for field, src in found.items()}  # canonical names: one source each
    for field, given in (("hospital_level", levels), ("insurance_type", insurances)):
        if field not in columns and given is not None:
            columns[field] = given
    try:
        settled = settle(pa.table(columns), policy, level=level, insurance=insurance)
    except BenefitInputError as exc:
        return np.full(table.num_rows, np.nan), str(exc)
    patient = pc.fill_null(settled.column("patient_payment"), float("nan")).to_numpy(zero_copy_only=False)
    patient = patient.astype(np.float64)
    missing = np.isnan(patient)
    if not missing.any():
        return patient, None
    reasons = pc.value_counts(pc.filter(settled.column("benefit_reason"), pa.array(missing)))
    top = sorted(reasons.to_pylist(), key=lambda r: -r["counts"])
    return patient, "; ".join(f"{r['values'] or 'not settled'}: {r['counts']:,}" for r in top[:3])


def _previous_results(table: pa.Table) -> list[str]:
    """The columns of an earlier settlement in ``table`` (canonical names, or the workbook's Chinese headers)."""
    from ..lang import say

    zh = {say(f"benefits.header.{name}", "zh"): name for name in OUTPUT_COLUMNS}
    names = table.column_names
    if "benefit_policy" not in names and say("benefits.header.benefit_policy", "zh") not in names:
        return []
    return [c for c in names if c in OUTPUT_COLUMNS or c in zh]


def _order(
    table: pa.Table, found: dict[str, str], person, seconds, total, full, clsb, clsb_cost, ins, lvl, age, assist
) -> np.ndarray:
    """Row positions in settlement order: person, discharge time, then the stay's own contents (admission
    time, amounts, insurance, level, age, assistance category, a hash of the stay id) — never input order."""
    import polars as pl

    keys = {"person": person, "at": seconds}
    if "admission_date" in found:
        keys["admitted"] = _seconds(table.column(found["admission_date"]), table.num_rows)
    keys.update(total=total, full=full, clsb=clsb, clsb_cost=clsb_cost, ins=ins, lvl=lvl, age=age, assist=assist)
    if "case_id" in found:
        keys["stay"] = pl.Series(_one(table.column(found["case_id"]))).hash(seed=0).to_numpy()
    frame = pl.DataFrame(keys)
    return frame.select(pl.arg_sort_by(list(keys))).to_series().to_numpy().astype(np.int64)


def _columns(policy: BenefitPolicy, cols: np.ndarray, year, ins, lvl) -> dict[str, pa.Array]:
    """The output columns from the kernel's (unpacked) results; unsettled rows null."""
    from ..lang import say
    from ..payment.tables import LEVELS

    reason = cols[_REASON].astype(np.int64)
    missing = (reason != 0) & (reason != _SETTLED_NOTE)
    mask = missing if missing.any() else None
    columns: dict[str, pa.Array] = {
        "benefit_year": pa.array(year.astype(np.int16), pa.int16(), mask=mask),
        "benefit_insurance": pa.array(INSURANCE, pa.string()).take(
            pa.array(np.maximum(ins, 0).astype(np.int64), mask=mask)
        ),
        "benefit_level": pa.array(LEVELS, pa.string()).take(pa.array(np.maximum(lvl, 0).astype(np.int64), mask=mask)),
        "admission_in_year": pa.array(cols[_ADM].astype(np.int32), pa.int32(), mask=mask),
        "fund_share": pa.array(cols[_SHARE], pa.float64(), mask=mask),
        "at_ceiling": pa.array(cols[_CAPPED] > 0, pa.bool_(), mask=mask),
    }
    for k, name in enumerate(_AMOUNTS):
        columns[name] = pa.array(cols[k], pa.float64(), mask=mask)
    columns = {name: columns[name] for name in OUTPUT_COLUMNS if name in columns}
    columns["benefit_policy"] = pa.repeat(pa.scalar(policy.name, pa.string()), len(reason))
    # reasons: one text per code; codes 7 and 8 name the insurance type (and level), one text per combination
    n_levels = len(LEVELS)
    texts: list[str | None] = [None] + [
        say(f"benefits.reason.{code}", "en", ins="", level="") for code in _REASON_CODES
    ]
    base7 = len(texts)
    texts += [say("benefits.reason.7", "en", ins=name) for name in INSURANCE]
    base8 = len(texts)
    texts += [say("benefits.reason.8", "en", ins=name, level=level) for name in INSURANCE for level in LEVELS]
    rid = reason.copy()
    k = np.maximum(ins, 0).astype(np.int64)
    rid = np.where(reason == 7, base7 + k, rid)
    rid = np.where(reason == 8, base8 + k * n_levels + np.maximum(lvl, 0).astype(np.int64), rid)
    columns["benefit_reason"] = pa.array(texts, pa.string()).take(pa.array(rid, mask=reason == 0))
    return columns


def why_text(text: str | None, lang: str) -> str | None:
    """Why stays were not settled, as ``patient_payments`` says it (English, stored in metadata), in ``lang``: a
    missing column's message, or ``reason: count`` parts joined by ``; `` (the reasons of ``benefit_reason``)."""
    if text is None or lang == "en":
        return text
    from ..lang import say, words

    for field, english in words("benefits.missing", "en").items():
        if text == english:
            return say(f"benefits.missing.{field}", lang)
    parts = []
    for part in text.split("; "):
        head, sep, count = part.rpartition(": ")
        if sep and count.replace(",", "").isdigit():
            parts.append(f"{reason_text(head, lang) or head}{say('punct.colon', lang)}{count}")
        else:
            parts.append(reason_text(part, lang) or part)
    return "；".join(parts)


def reason_text(text: str | None, lang: str) -> str | None:
    """A ``benefit_reason`` as stored (English) in ``lang``."""
    import re

    from ..lang import say

    if text is None or lang == "en":
        return text
    for code in _REASON_CODES:
        parts = re.split(r"\{(\w+)\}", say(f"benefits.reason.{code}", "en"))
        pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        match = re.fullmatch(pattern, text)
        if match:
            return say(f"benefits.reason.{code}", lang, **match.groupdict())
    return text


def _attach(data: Any, kind: str, columns: dict[str, pa.Array]) -> Any:
    """``data`` with ``columns``: a column it already has under the same name is replaced where it stands."""
    if kind == "arrow":
        table = data
        for name, array in columns.items():
            if name in table.column_names:
                table = table.set_column(table.column_names.index(name), name, array)
            else:
                table = table.append_column(name, array)
        return table
    if kind == "polars":
        import polars as pl

        return data.with_columns([pl.Series(name, array) for name, array in columns.items()])
    out = data.copy()
    for name, array in columns.items():  # positional: the caller's index stays as it was
        out[name] = array.to_pandas().to_numpy()
    return out


__all__ = [
    "METADATA_KEY",
    "NEEDED",
    "OUTPUT_COLUMNS",
    "SPLIT",
    "BenefitInputError",
    "as_table",
    "find_sources",
    "patient_payments",
    "person_codes",
    "policy_arrays",
    "read_money",
    "reason_text",
    "settle",
]
