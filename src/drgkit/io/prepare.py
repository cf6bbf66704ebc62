"""Turn a canonical table into the typed arrays the grouping kernel consumes.

Everything here is vectorized with ``pyarrow.compute`` and numpy, and no Python code runs per row.
Text columns repeat a few values, so each distinct value is parsed once and the result spread over the
rows with numpy; problem messages are built for the rows that have one only ``(rows, texts)``.
Missing values use sentinels the kernel can test cheaply: ``-1`` for the integer fields, ``NaN`` for
the cost, ``0`` for gender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drgkit.arrowutil import drop_empty_strings, empty_rows, notes_per_row, null_or_empty
from drgkit.codes.normalize import normalize_codes, normalize_distinct
from drgkit.io import values
from drgkit.io.errors import InputError
from drgkit.io.read import CANONICAL_KEY, code_lists, encoded_column
from drgkit.lang import say

#: Integer fields parsed by :func:`prepare`; ``-1`` marks a missing or invalid value.
INT_FIELDS: tuple[str, ...] = ("age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours")

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT32_MAX = 2**31 - 1
_MONEY = values.MONEY_NAMED

#: Problems of one field, sparse: the rows that have one and their message ('; '-joined if several).
Problems = tuple[np.ndarray, pa.Array]


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


def _problem(key: str) -> str:
    """The suffix of a value problem (`` is not a number``), in its canonical English wording."""
    return " " + say(f"value.{key}", "en")


def _message(condition: pa.Array, field: str, shown: pa.Array | Callable[[], pa.Array], suffix: str) -> pa.Array | None:
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


def _parse_number(
    array: pa.Array | None, n: int, field: str, thousands: bool = False, written: pa.Array | None = None
) -> tuple[pa.Array, list[pa.Array | None], pa.Array | Callable[[], pa.Array]]:
    """(float64 values with null for missing/unparsable, problem arrays, how each value is shown — lazily).

    ``written``: the values as the input wrote them, when ``array`` holds a reading of them (``82.5`` of
    ``82.5岁``): messages quote what the user can find in their file.
    """
    if array is None or pa.types.is_null(array.type):
        return pa.nulls(n, pa.float64()), [], pa.nulls(n, pa.string())
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
        # unsafe: an int64 beyond 2^53 becomes the nearest float (then reported too large), not an error
        values = pc.cast(array, pa.float64(), safe=False)
        if pa.types.is_floating(array.type):
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        return values, [], _lazy(lambda: pc.cast(array, pa.string()))
    if pa.types.is_nested(array.type) or pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        raise InputError(f"column {field}: holds {array.type} values, not numbers or text")
    raw = array.cast(pa.string()) if not pa.types.is_boolean(array.type) else pc.cast(array, pa.string())
    shown = _lazy(lambda: _quoted(raw if written is None else written))
    fast = _plain_numbers(raw)
    if fast is not None:
        return fast, [], shown
    text = _text(raw)
    numeric = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
    read = pc.if_else(numeric, text, pa.scalar(None, pa.string()))
    other = pc.and_(pc.is_valid(text), pc.invert(numeric))
    if thousands and pc.any(other).as_py():  # "12,345.60", "12345.60元", "¥ 12345.6": see values.MONEY
        money = pc.struct_field(pc.extract_regex(text.filter(other), _MONEY), "n")  # null: not an amount
        read = pc.replace_with_mask(read, other, pc.replace_substring(money, ",", ""))
    values = pc.cast(read, pa.float64())
    not_number = pc.and_(pc.is_valid(text), pc.is_null(read))
    return values, [_message(not_number, field, shown, _problem("not_number"))], shown


def _joined(messages: list[pa.Array | None]) -> pa.Array | None:
    """'; '-join the non-null messages of each element; null where none; ``None`` when no element has one.

    Folded pairwise rather than with ``null_handling="skip"``, which returns a short array when an
    input is entirely null (pyarrow 26).
    """
    present = [m for m in messages if m is not None]
    if not present:
        return None
    joined = present[0]
    for message in present[1:]:
        both = pc.binary_join_element_wise(joined, message, "; ")
        joined = pc.if_else(pc.is_null(joined), message, pc.if_else(pc.is_null(message), joined, both))
    return joined


def _sparse(messages: pa.Array | None) -> Problems | None:
    """The rows of a per-row message array that hold a message, with those messages."""
    if messages is None or messages.null_count == len(messages):
        return None
    has = messages.is_valid()
    return np.flatnonzero(has.to_numpy(zero_copy_only=False)), messages.filter(has)


def _spread(messages: pa.Array | None, idx: np.ndarray) -> Problems | None:
    """Per-distinct-value messages → the rows whose value has one (``idx``: each row's distinct value,
    ``len(messages)`` for a null row)."""
    if messages is None or messages.null_count == len(messages):
        return None
    has = np.append(messages.is_valid().to_numpy(zero_copy_only=False), False)
    rows = np.flatnonzero(has[idx])
    return rows, messages.take(pa.array(idx[rows]))


def _distinct(array: pa.Array, encoded: pa.DictionaryArray | None = None) -> tuple[pa.Array, np.ndarray]:
    """(distinct values, index of each row's value; a null row gets ``len(distinct)``).

    ``encoded``: the same column already dictionary-encoded by the reader (its dictionary may repeat a
    value or hold values no row has: each entry is still handled on its own), which saves hashing it.
    """
    if encoded is None or len(encoded) != len(array):
        encoded = pc.dictionary_encode(array)
    indices = encoded.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(encoded.dictionary))
    return encoded.dictionary, indices.to_numpy(zero_copy_only=False)


def _int_field(
    table: pa.Table, field: str, n: int, derived_days: list[np.ndarray] | None = None
) -> tuple[np.ndarray, Problems | None]:
    array = _column(table, field)
    if array is None or pa.types.is_null(array.type):
        return np.full(n, -1, np.int32), None
    if field == "leaving_type":
        return _leaving_type(array, encoded_column(table, field))
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _int_text(array, field, encoded_column(table, field), derived_days)
    ints, messages = _int_values(array, n, field)
    return ints, _sparse(messages)


def _int_text(
    text: pa.Array, field: str, encoded: pa.DictionaryArray | None = None, derived_days: list[np.ndarray] | None = None
) -> tuple[np.ndarray, Problems | None]:
    """A text column holds few distinct values (ages, days, types): parse each once, spread with numpy.

    Values as exports write them (``82岁``, ``3月``, ``医嘱离院``, ``12天``) are read first (see
    :mod:`drgkit.io.values`), only when some distinct value is not a plain number.  ``derived_days``
    (age only) receives the age in days each row's age implies (``3月`` → 90), -1 where none.
    """
    distinct, idx = _distinct(text, encoded)
    if len(distinct) and not pc.all(pc.fill_null(pc.match_substring_regex(distinct, r"^\d+$"), True)).as_py():
        raw = distinct.to_pylist()
        if field == "age":
            read = values.ages(raw)
            distinct = pa.array([years for years, _ in read], pa.string())
            if derived_days is not None:
                days = np.array([-1 if d is None else d for _, d in read] + [-1], np.int32)
                derived_days.append(days[idx])
        else:
            distinct = pa.array(values.strip_unit(field, raw), pa.string())
        written = pa.array(raw, pa.string())
    else:
        written = None
    ints, messages = _int_values(distinct, len(distinct), field, written)
    return np.append(ints, np.int32(-1))[idx], _spread(messages, idx)


def _leaving_type(array: pa.Array, encoded: pa.DictionaryArray | None) -> tuple[np.ndarray, Problems | None]:
    """离院方式 as its code (1–5, 9: ``io/vocab/leaving_type.csv``), whether written as the code (``1``,
    ``5.0``), the words (``医嘱离院``) or both (``1.医嘱离院``); any other value, a number outside the code set
    (``6``, ``-1``) included, is reported (it would be read as a disposition no rule knows)."""
    if pa.types.is_nested(array.type) or pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        raise InputError(f"column leaving_type: holds {array.type} values, not numbers or text")
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array, encoded = pc.cast(array, pa.string()), None
    distinct, idx = _distinct(array, encoded)
    raw = distinct.to_pylist()
    read = [values.lookup("leaving_type", v) for v in raw]
    codes = np.array([-1 if r is None else int(r) for r in read] + [-1], np.int32)
    blank = [v is None or not v.strip() for v in raw]
    bad = pa.array([r is None and not b for r, b in zip(read, blank)], pa.bool_())
    messages = _message(bad, "leaving_type", lambda: _quoted(distinct), _problem("not_leaving_type"))
    return codes[idx], _spread(messages, idx)


def _totals_row(table: pa.Table, field: str) -> Problems | None:
    """The rows whose ``field`` labels a totals row (合计, 总计 …): they are reported, not grouped as a stay —
    their 总费用 is the sum of the others', and summed again by every report."""
    array = _column(table, field)
    labels = values.total_labels(array) if array is not None else None
    if labels is None:
        return None
    return _sparse(_message(pa.array(labels), field, lambda: _quoted(array), _problem("total_row")))


def _empty_row(table: pa.Table) -> Problems | None:
    """The rows with nothing in any column — an export's empty line, kept in its place (rows in = rows out):
    reported as no abstract, rather than as the first check it fails (a missing sex)."""
    empty = empty_rows(table, table.column_names)
    if not empty.any():
        return None
    rows = np.flatnonzero(empty)
    return rows, pa.repeat(pa.scalar(_problem("empty_row").strip(), pa.string()), len(rows))


def _int_values(
    array: pa.Array | None, n: int, field: str, written: pa.Array | None = None
) -> tuple[np.ndarray, pa.Array | None]:
    """int32 values (-1 missing or invalid) and per-value messages (``None`` when there are none);
    ``written``: see :func:`_parse_number`."""
    values, problems, shown = _parse_number(array, n, field, written=written)
    finite = pc.fill_null(pc.is_finite(values), False)
    negative = pc.and_(finite, pc.less(values, 0))
    fractional = pc.and_(pc.and_(finite, pc.invert(negative)), pc.not_equal(pc.floor(values), values))
    too_large = pc.or_(pc.and_(pc.is_valid(values), pc.invert(finite)), pc.and_(finite, pc.greater(values, _INT32_MAX)))
    problems += [
        _message(negative, field, shown, _problem("negative")),
        _message(fractional, field, shown, _problem("not_whole")),
        _message(too_large, field, shown, _problem("too_large")),
    ]
    bad = pc.or_(pc.or_(negative, fractional), too_large)
    good = pc.and_(pc.fill_null(pc.invert(bad), False), pc.is_valid(values))
    ints = pc.if_else(good, values, -1.0).to_numpy(zero_copy_only=False)
    return ints.astype(np.int32), _joined(problems)


def _gender(table: pa.Table, n: int, strict: bool) -> tuple[np.ndarray, Problems | None]:
    array = _column(table, "gender")
    if array is None or pa.types.is_null(array.type):
        return np.zeros(n, dtype=np.int8), None
    raw = (
        array.cast(pa.string())
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        else pc.cast(array, pa.string())
    )
    # A handful of distinct values: classify each once, then spread the result with numpy.
    distinct, idx = _distinct(raw, encoded_column(table, "gender"))
    text = pc.utf8_lower(_text(distinct))
    if strict:  # the reference groupers accept exactly the codes 1 and 2
        male, female = pc.equal(text, "1"), pc.equal(text, "2")
        unknown = pc.match_substring_regex(text, r"^[09]$")
    else:  # the words of io/vocab/gender.csv, once per distinct value
        read = pa.array(values.codes("gender", text.to_pylist()), pa.string())
        male, female, unknown = pc.equal(read, "1"), pc.equal(read, "2"), pc.equal(read, "0")
    male, female = pc.fill_null(male, False), pc.fill_null(female, False)
    distinct_codes = pc.if_else(male, 1, pc.if_else(female, 2, 0)).to_numpy(zero_copy_only=False)
    codes = np.append(distinct_codes, 0).astype(np.int8)[idx]
    distinct_bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(pc.or_(male, female), pc.fill_null(unknown, False))))
    messages = _message(distinct_bad, "gender", lambda: _quoted(distinct), _problem("not_sex"))
    return codes, _spread(messages, idx)


def _code_lists(table: pa.Table, name: str, n: int) -> pa.ListArray:
    """The column's code lists: as they are in a canonical table, else split by :func:`code_lists`."""
    array = _column(table, name)
    canonical = (table.schema.metadata or {}).get(CANONICAL_KEY) == b"1"
    if canonical and array is not None and array.type == pa.list_(pa.string()):
        return pc.fill_null(array, pa.scalar([], array.type)) if array.null_count else array
    return code_lists(array if array is not None else pa.nulls(n, pa.string()), keep_principal_slot=True)


def _codes(
    table: pa.Table, name: str, n: int
) -> tuple[pa.ListArray, Problems | None, tuple[np.ndarray, pa.Array] | None]:
    """(normalized code lists without emptied codes, code notes, distinct codes for the grouper).

    Normalization runs once per distinct code (codes repeat heavily), and only on codes it could
    change; the rest is numpy on the code indices.  An empty first slot (blank principal diagnosis /
    main procedure) is kept as ``""`` so the grouper reports it instead of promoting the next code.
    """
    lists = _code_lists(table, name, n)
    offsets = lists.offsets.to_numpy().astype(np.int64)
    old = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
    offsets -= offsets[0]
    if old.null_count:  # null codes: only from hand-made list columns
        return _codes_general(lists, n)
    distinct_old, idx = _distinct(old)
    distinct_new, distinct_changed = normalize_distinct(distinct_old)
    keep = _kept_codes(offsets, idx, null_or_empty(distinct_new))
    if keep is None and not distinct_changed.any():  # the usual case: the lists stay as they are
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), old), None, (idx, distinct_new)
    if keep is None:
        keep = np.ones(len(idx), dtype=bool)
    counts = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=counts[1:])
    kept_idx = idx[keep]
    if distinct_changed.any():
        values = distinct_new.take(pa.array(kept_idx))
    else:  # only empty codes to drop: keep the string bytes as they are
        values = drop_empty_strings(old, keep)
    cleaned = pa.ListArray.from_arrays(pa.array(counts[offsets].astype(np.int32)), values)
    return cleaned, _code_notes(offsets, idx, distinct_old, distinct_new, distinct_changed), (kept_idx, distinct_new)


def _kept_codes(offsets: np.ndarray, idx: np.ndarray, distinct_empty: np.ndarray) -> np.ndarray | None:
    """Which codes stay: the non-empty ones and each row's first slot; ``None`` when all of them do."""
    if not distinct_empty.any():
        return None
    keep = ~distinct_empty[idx]
    nonempty_rows = offsets[1:] > offsets[:-1]
    keep[offsets[:-1][nonempty_rows]] = True  # a blank principal slot stays, as ""
    return None if keep.all() else keep


def _code_notes(
    offsets: np.ndarray, idx: np.ndarray, distinct_old: pa.Array, distinct_new: pa.Array, distinct_changed: np.ndarray
) -> Problems | None:
    """ "new ← 'old'" for every code that normalization changed, with its row."""
    if not distinct_changed.any():
        return None
    changed = np.flatnonzero(distinct_changed[idx])
    rows = np.searchsorted(offsets, changed, side="right") - 1
    shown = pc.if_else(pc.equal(distinct_new, ""), "(removed)", distinct_new)
    notes = pc.binary_join_element_wise(shown, " ← '", distinct_old, "'", "")
    return rows, notes.take(pa.array(idx[changed]))


def _codes_general(
    lists: pa.ListArray, n: int
) -> tuple[pa.ListArray, Problems | None, tuple[np.ndarray, pa.Array] | None]:
    """:func:`_codes` for lists holding null codes: element by element with Arrow kernels."""
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
    note_rows = parents.filter(changed).to_numpy(zero_copy_only=False).astype(np.int64)
    return cleaned, ((note_rows, note) if len(note) else None), None


def _notes(n: int, notes: list[Problems | None]) -> pa.Array:
    """Group (row, text) pairs into one list per row, in the given order; null where none."""
    present = [p for p in notes if p is not None]
    row = np.concatenate([r for r, _ in present]).astype(np.int64) if present else np.zeros(0, np.int64)
    text = pa.concat_arrays([t.cast(pa.string()) for _, t in present]) if present else pa.array([], pa.string())
    order = np.argsort(row, kind="stable")
    counts = np.bincount(row, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), text.take(pa.array(order)), mask=pa.array(counts == 0))


def _join_problems(n: int, problems: list[Problems | None]) -> pa.Array:
    """'; '-join each row's messages in the given order; null when a row has none."""
    present = [p for p in problems if p is not None]
    if not present:
        return pa.nulls(n, pa.string())
    return notes_per_row(
        n, np.concatenate([r for r, _ in present]).astype(np.int64), pa.concat_arrays([t for _, t in present])
    )


def prepare(table: pa.Table, *, strict_gender: bool = False) -> PreparedCases:
    """Typed arrays for grouping from a canonical table (see :class:`PreparedCases`).

    Missing canonical columns count as missing values.  ``strict_gender`` accepts only the codes
    1/2 (as the reference groupers do, e.g. for golden tests); by default 男/女, M/F and male/female
    are accepted as well.
    """
    n = table.num_rows
    problems: list[Problems | None] = []
    gender, gender_problems = _gender(table, n, strict_gender)
    problems.append(gender_problems)
    ints: dict[str, np.ndarray] = {}
    derived_days: list[np.ndarray] = []
    for field in INT_FIELDS:
        ints[field], field_problems = _int_field(table, field, n, derived_days if field == "age" else None)
        problems.append(field_problems)
    if derived_days:  # an age written in months or days (3月, 15天) gives the age in days the row lacks
        fill = (ints["age_days"] < 0) & (derived_days[0] >= 0)
        ints["age_days"] = np.where(fill, derived_days[0], ints["age_days"]).astype(np.int32)
    cost, cost_problems, _ = _parse_number(_column(table, "total_cost"), n, "total_cost", thousands=True)
    problems.append(_sparse(_joined(cost_problems)))
    dept = _column(table, "dept")
    if dept is not None and not pa.types.is_null(dept.type):
        distinct, idx = _distinct(dept, encoded_column(table, "dept"))  # few departments: clean each once
        cleaned = _text(distinct)
        if not (dept.type == pa.string() and cleaned.equals(distinct)):  # else all clean already
            dept = pa.concat_arrays([cleaned, pa.nulls(1, cleaned.type)]).take(pa.array(idx))
    else:
        dept = pa.nulls(n, pa.string())
    for field in values.TOTAL_LABEL_FIELDS:
        problems.append(_totals_row(table, field))
    problems.append(_empty_row(table))
    case_id = _column(table, "case_id")
    dx, dx_notes, dx_distinct = _codes(table, "dx", n)
    px, px_notes, px_distinct = _codes(table, "px", n)
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
        code_notes=_notes(n, [dx_notes, px_notes]),
        **ints,
    )
