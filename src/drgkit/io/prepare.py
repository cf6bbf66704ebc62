"""Turn a canonical table into the typed arrays the grouping kernel consumes.

Everything here is vectorized with ``pyarrow.compute``: a column is parsed once, problems are built
as string arrays with ``if_else`` / ``binary_join_element_wise``, and no Python code runs per row.
Missing values use sentinels the kernel can test cheaply: ``-1`` for the integer fields, ``NaN`` for
the cost, ``0`` for gender.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drgkit.codes.normalize import normalize_codes
from drgkit.io.read import CANONICAL_KEY, code_lists

#: Integer fields parsed by :func:`prepare`; ``-1`` marks a missing or invalid value.
INT_FIELDS: tuple[str, ...] = ("age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours")

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT32_MAX = 2**31 - 1
# GB/T 2261.1 sex codes: 1 male, 2 female (0 unknown, 9 unspecified); plus the usual words and letters.
_MALE = r"^(1(\.0*)?|男|男性|m|male)$"
_FEMALE = r"^(2(\.0*)?|女|女性|f|female)$"
_UNKNOWN_SEX = r"^(0(\.0*)?|9(\.0*)?|未知|未说明)$"


@dataclass
class PreparedCases:
    """Typed, equal-length arrays for ``n`` cases.

    gender: int8, 1 male, 2 female, 0 missing/invalid.  age, age_days, birth_weight, los,
    leaving_type, icu_hours: int32, -1 missing/invalid.  total_cost: float64, NaN missing.
    dept: string (null allowed).  dx / px: list<string> of normalized codes, principal/main first.
    problems: string per row ('; '-joined messages) or null.  code_notes: list<string> per row of
    code normalizations ("I21.000 ← 'i21.000 '"), or null.
    """

    n: int
    case_id: pa.Array
    gender: np.ndarray
    age: np.ndarray
    age_days: np.ndarray
    birth_weight: np.ndarray
    los: np.ndarray
    leaving_type: np.ndarray
    icu_hours: np.ndarray
    total_cost: np.ndarray
    dept: pa.Array
    dx: pa.ListArray
    px: pa.ListArray
    problems: pa.Array
    code_notes: pa.Array
    # the distinct codes behind dx / px values: (index per list value, distinct normalized codes); lets the
    # grouper look each distinct code up once without hashing the column again. None when not available.
    dx_distinct: tuple[np.ndarray, pa.Array] | None = None
    px_distinct: tuple[np.ndarray, pa.Array] | None = None

    def __len__(self) -> int:
        return self.n


def _column(table: pa.Table, name: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    column = table.column(name)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _text(array: pa.Array) -> pa.Array:
    """NFKC-normalized, trimmed text of any scalar column; blank → null."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(array.cast(pa.string()), form="NFKC"))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _message(condition: pa.Array, field: str, shown: pa.Array | Callable[[], pa.Array], suffix: str
             ) -> pa.Array | None:
    """``"<field>: <shown><suffix>"`` where ``condition`` holds, else null; ``None`` if it never holds."""
    condition = pc.fill_null(condition, False)
    if not pc.any(condition).as_py():
        return None  # the common case: skip building n strings nobody will read
    if callable(shown):  # built only now that some row needs it
        shown = shown()
    text = pc.binary_join_element_wise(f"{field}: ", shown, suffix, "")
    return pc.if_else(condition, text, pa.scalar(None, pa.string()))


def _lazy(build: Callable[[], pa.Array]) -> Callable[[], pa.Array]:
    """A memoized builder: the value is made on first call only (most columns never need it)."""
    cache: list[pa.Array] = []

    def get() -> pa.Array:
        if not cache:
            cache.append(build())
        return cache[0]

    return get


def _quoted(array: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("'", array.cast(pa.string()), "'", "")


def _plain_numbers(raw: pa.Array) -> pa.Array | None:
    """Fast path: the whole column casts cleanly to finite numbers (the usual case), else ``None``."""
    try:
        values = pc.cast(raw, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # Arrow also accepts 'nan' / 'inf', which the careful path reports as not a number.
    if pc.any(pc.invert(pc.is_finite(values))).as_py():
        return None
    return values


def _parse_number(array: pa.Array | None, n: int, field: str,
                  thousands: bool = False
                  ) -> tuple[pa.Array, list[pa.Array | None], pa.Array | Callable[[], pa.Array]]:
    """(float64 values with null for missing/unparsable, problem arrays, how each value is shown — lazily)."""
    if array is None or pa.types.is_null(array.type):
        return pa.nulls(n, pa.float64()), [], pa.nulls(n, pa.string())
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
        values = pc.cast(array, pa.float64())
        if pa.types.is_floating(array.type):
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        return values, [], _lazy(lambda: pc.cast(array, pa.string()))
    raw = array.cast(pa.string()) if not pa.types.is_boolean(array.type) else pc.cast(array, pa.string())
    shown = _lazy(lambda: _quoted(raw))
    fast = _plain_numbers(raw)
    if fast is not None:
        return fast, [], shown
    text = _text(raw)
    if thousands:  # "1,234.50" as exported by spreadsheets
        text = pc.replace_substring(text, ",", "")
    numeric = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    values = pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.float64())
    not_number = pc.and_(pc.is_valid(text), pc.invert(numeric))
    return values, [_message(not_number, field, shown, " is not a number")], shown


def _int_field(table: pa.Table, field: str, n: int) -> tuple[np.ndarray, list[pa.Array | None]]:
    array = _column(table, field)
    if array is not None and (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        # text columns hold few distinct values (ages, days, types): parse each once, spread with take()
        encoded = pc.dictionary_encode(array)
        ints, problems = _int_values(encoded.dictionary, len(encoded.dictionary), field)
        idx = encoded.indices.to_numpy(zero_copy_only=False) if not encoded.indices.null_count else None
        if idx is None:
            valid = pc.is_valid(encoded.indices).to_numpy(zero_copy_only=False)
            idx = np.where(valid, pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False), 0)
            out = np.where(valid, ints[idx] if len(ints) else -1, -1).astype(np.int32)
        else:
            out = ints[idx] if len(ints) else np.full(n, -1, np.int32)
        spread = [None if p is None else pc.take(p, encoded.indices) for p in problems]
        return out.astype(np.int32), spread
    return _int_values(array, n, field)


def _int_values(array: pa.Array | None, n: int, field: str) -> tuple[np.ndarray, list[pa.Array | None]]:
    values, problems, shown = _parse_number(array, n, field)
    finite = pc.fill_null(pc.is_finite(values), False)
    negative = pc.and_(finite, pc.less(values, 0))
    fractional = pc.and_(pc.and_(finite, pc.invert(negative)), pc.not_equal(pc.floor(values), values))
    too_large = pc.or_(pc.and_(pc.is_valid(values), pc.invert(finite)),
                       pc.and_(finite, pc.greater(values, _INT32_MAX)))
    problems += [
        _message(negative, field, shown, " is negative"),
        _message(fractional, field, shown, " is not a whole number"),
        _message(too_large, field, shown, " is too large"),
    ]
    bad = pc.or_(pc.or_(negative, fractional), too_large)
    good = pc.and_(pc.fill_null(pc.invert(bad), False), pc.is_valid(values))
    ints = pc.if_else(good, values, -1.0).to_numpy(zero_copy_only=False)
    return ints.astype(np.int32), problems


def _gender(table: pa.Table, n: int, strict: bool) -> tuple[np.ndarray, list[pa.Array | None]]:
    array = _column(table, "gender")
    if array is None or pa.types.is_null(array.type):
        return np.zeros(n, dtype=np.int8), []
    raw = array.cast(pa.string()) if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) \
        else pc.cast(array, pa.string())
    # A handful of distinct values: classify each once, then spread the result with take().
    encoded = pc.dictionary_encode(raw)
    text = pc.utf8_lower(_text(encoded.dictionary))
    if strict:  # the reference groupers accept exactly the codes 1 and 2
        male, female = pc.equal(text, "1"), pc.equal(text, "2")
        unknown = pc.match_substring_regex(text, r"^[09]$")
    else:
        male = pc.match_substring_regex(text, _MALE)
        female = pc.match_substring_regex(text, _FEMALE)
        unknown = pc.match_substring_regex(text, _UNKNOWN_SEX)
    male, female = pc.fill_null(male, False), pc.fill_null(female, False)
    distinct_codes = pc.if_else(male, 1, pc.if_else(female, 2, 0)).cast(pa.int8())
    codes = pc.fill_null(distinct_codes.take(encoded.indices), 0).to_numpy(zero_copy_only=False)
    distinct_bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(pc.or_(male, female), pc.fill_null(unknown, False))))
    unrecognised = pc.fill_null(distinct_bad.take(encoded.indices), False)
    return codes.astype(np.int8), [_message(unrecognised, "gender", lambda: _quoted(raw), " is not a recognised sex")]


def _codes(table: pa.Table, name: str, n: int
           ) -> tuple[pa.ListArray, pa.Array, pa.Array, tuple[np.ndarray, pa.Array] | None]:
    """(normalized code lists without emptied codes, note row index, note text).

    Normalization runs once per distinct code (codes repeat heavily), then spreads with ``take``.
    An empty first slot (blank principal diagnosis / main procedure) is kept as ``""`` so the grouper
    reports it instead of promoting the next code.
    """
    array = _column(table, name)
    canonical = (table.schema.metadata or {}).get(CANONICAL_KEY) == b"1"
    if canonical and array is not None and array.type == pa.list_(pa.string()):
        lists = pc.fill_null(array, pa.scalar([], array.type)) if array.null_count else array
    else:
        lists = code_lists(array if array is not None else pa.nulls(n, pa.string()), keep_principal_slot=True)
    old = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    encoded = pc.dictionary_encode(old)
    distinct_new, distinct_changed = normalize_codes(encoded.dictionary)
    new = distinct_new.take(encoded.indices)
    changed = distinct_changed.take(encoded.indices)
    changed_new, changed_old = new.filter(changed), old.filter(changed)
    shown = pc.if_else(pc.equal(changed_new, ""), "(removed)", changed_new)
    note = pc.binary_join_element_wise(shown, " ← '", changed_old, "'", "")
    parent_np = parents.to_numpy(zero_copy_only=False)
    list_offsets = lists.offsets.to_numpy()
    first_slot = np.arange(len(old)) + list_offsets[0] == list_offsets[parent_np] if len(old) else np.zeros(0, bool)
    keep = pc.or_kleene(pc.fill_null(pc.not_equal(new, ""), False), pa.array(first_slot))
    kept_parents = parents.filter(keep).to_numpy(zero_copy_only=False)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(kept_parents, minlength=n), out=offsets[1:])
    cleaned = pa.ListArray.from_arrays(pa.array(offsets), new.filter(keep))
    idx = pc.fill_null(encoded.indices, -1).filter(keep).to_numpy(zero_copy_only=False)
    distinct = (idx.astype(np.int64), distinct_new) if not encoded.indices.null_count else None
    return cleaned, parents.filter(changed), note, distinct


def _notes(n: int, rows: list[pa.Array], texts: list[pa.Array]) -> pa.Array:
    """Group (row, text) pairs into one list per row, in the given order; null where none."""
    row = np.concatenate([r.to_numpy(zero_copy_only=False) for r in rows]).astype(np.int64)
    text = pa.concat_arrays([t.cast(pa.string()) for t in texts])
    order = np.argsort(row, kind="stable")
    counts = np.bincount(row, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), text.take(pa.array(order)),
                                    mask=pa.array(counts == 0))


def _join_problems(n: int, problems: list[pa.Array | None]) -> pa.Array:
    """'; '-join the non-null messages of each row; null when a row has none.

    Folded pairwise rather than with ``null_handling="skip"``, which returns a short array when an
    input is entirely null (pyarrow 26).
    """
    joined = pa.nulls(n, pa.string())
    for message in (m for m in problems if m is not None):
        both = pc.binary_join_element_wise(joined, message, "; ")
        joined = pc.if_else(pc.is_null(joined), message, pc.if_else(pc.is_null(message), joined, both))
    return joined


def prepare(table: pa.Table, *, strict_gender: bool = False) -> PreparedCases:
    """Typed arrays for grouping from a canonical table (see :class:`PreparedCases`).

    Missing canonical columns count as missing values.  ``strict_gender`` accepts only the codes
    1/2 (as the reference groupers do, e.g. for golden tests); by default 男/女, M/F and male/female
    are accepted as well.
    """
    n = table.num_rows
    problems: list[pa.Array | None] = []
    gender, gender_problems = _gender(table, n, strict_gender)
    problems += gender_problems
    ints: dict[str, np.ndarray] = {}
    for field in INT_FIELDS:
        ints[field], field_problems = _int_field(table, field, n)
        problems += field_problems
    cost, cost_problems, _ = _parse_number(_column(table, "total_cost"), n, "total_cost", thousands=True)
    problems += cost_problems
    dept = _column(table, "dept")
    if dept is not None and not pa.types.is_null(dept.type):
        encoded = pc.dictionary_encode(dept)  # few departments: clean each once
        dept = _text(encoded.dictionary).take(encoded.indices)
    else:
        dept = pa.nulls(n, pa.string())
    case_id = _column(table, "case_id")
    dx, dx_rows, dx_notes, dx_distinct = _codes(table, "dx", n)
    px, px_rows, px_notes, px_distinct = _codes(table, "px", n)
    return PreparedCases(
        n=n,
        case_id=case_id if case_id is not None else pa.nulls(n, pa.string()),
        gender=gender,
        total_cost=pc.fill_null(cost, float("nan")).to_numpy(zero_copy_only=False).astype(np.float64),
        dept=dept,
        dx=dx,
        px=px,
        dx_distinct=dx_distinct,
        px_distinct=px_distinct,
        problems=_join_problems(n, problems),
        code_notes=_notes(n, [dx_rows, px_rows], [dx_notes, px_notes]),
        **ints,
    )
