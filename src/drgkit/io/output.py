"""The result as the user gave the input: typed fields, their own column names and order, results appended.

Grouping works on canonical columns; a coder who sent 病案号, 年龄, 主要诊断编码, 其他诊断编码1…8 wants those
columns back as she sent them (numbers as numbers, so a spreadsheet can sum them), with the result columns
after them.  ``--canonical`` (``canonical=True``) writes the canonical names instead.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drgkit.arrowutil import notes_per_row
from drgkit.io.columns import CANONICAL_COLUMNS, HeaderPlan, fields
from drgkit.io.prepare import INT_FIELDS, PreparedCases
from drgkit.io.values import MONEY_NAMED, PLAIN_NUMBER, PLAUSIBLE

#: Date forms seen in exports, tried in order (a value takes the first that reads it).
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
)
# Rewritten before the formats are tried: ISO 8601's T (2024-03-05T08:30:00), fractional seconds (SQL Server's
# 2024-03-05 08:30:00.000), a UTC offset or Z after the time (dropped: the local clock time is kept), and the
# Chinese clock 8时30分(15秒) as 8:30(:15).
_DATE_REWRITES = (
    (r"^(\d{4}-\d{1,2}-\d{1,2})T(\d)", r"\1 \2"),
    (r"(\d:\d{2}:\d{2})\.\d+", r"\1"),
    (r"(\d:\d{2}(?::\d{2})?)(?:Z|[+-]\d{2}:?\d{2})$", r"\1"),
    (r"日\s*(\d{1,2})[时点](\d{1,2})分(\d{1,2})秒$", r"日 \1:\2:\3"),
    (r"日\s*(\d{1,2})[时点](\d{1,2})分$", r"日 \1:\2"),
)
# Excel stores a date as days since 1899-12-30 (its serial number); 20000–80000 covers 1954–2119.
_EXCEL_EPOCH = np.datetime64("1899-12-30", "s")


def _is_text(column: pa.ChunkedArray | pa.Array) -> bool:
    t = column.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _masked(values: np.ndarray, missing: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type_, mask=missing)


def typed_fields(table: pa.Table, prep: PreparedCases) -> tuple[pa.Table, pa.Array | None]:
    """``table`` with its text-typed canonical fields replaced by the values the grouper read
    (``82岁`` → 82, ``医嘱离院`` → 1, ``12,345.60元`` → 12345.6; null where missing or unreadable — the
    row's ``reason`` then names the value), and known date / money pass-through fields typed (a value
    that does not read is written null and named in the returned per-row notes, for ``warnings``).
    The types depend on the fields only, never on the values, so every batch of a stream has one schema."""
    replace: dict[str, pa.Array] = {}
    note_rows: list[np.ndarray] = []
    note_texts: list[pa.Array] = []
    names = set(table.column_names)
    if "gender" in names and _is_text(table.column("gender")):
        replace["gender"] = _masked(prep.gender, prep.gender == 0, pa.int8())
    for name in INT_FIELDS:
        if name in names and _is_text(table.column(name)):
            values = getattr(prep, name)
            replace[name] = _masked(values, values < 0, pa.int32())
    if "total_cost" in names and _is_text(table.column("total_cost")):
        replace["total_cost"] = _masked(prep.total_cost, np.isnan(prep.total_cost), pa.float64())
    vocabulary = fields()
    for name in table.column_names:
        info = vocabulary.get(name)
        if info is None or name in replace or not _is_text(table.column(name)):
            continue
        if info.type == "date":
            typed, unread = parse_dates(table.column(name))
        elif info.type == "money" and name not in CANONICAL_COLUMNS:
            typed, unread = parse_money(table.column(name))
        else:
            continue
        replace[name] = typed
        if unread.size:
            shown = _text_of(table.column(name)).take(pa.array(unread))
            note_rows.append(unread)
            note_texts.append(
                pc.binary_join_element_wise(
                    f"{name}: '",
                    shown,
                    f"' is not {'a date' if info.type == 'date' else 'an amount'}; written empty",
                    "",
                )
            )
    for name, (low, high, unit) in PLAUSIBLE.items():
        if name not in names:
            continue
        read = getattr(prep, name)
        present = ~np.isnan(read) if read.dtype.kind == "f" else read >= 0
        odd = np.flatnonzero(present & ((read < low) | (read > high)))
        if odd.size:
            note_rows.append(odd)
            note_texts.append(
                pc.binary_join_element_wise(
                    f"{name}: ",
                    pa.array(read[odd]).cast(pa.string()),
                    f" {unit} is outside the plausible {low:,}–{high:,}; check the record",
                    "",
                )
            )
    for name, array in replace.items():
        table = table.set_column(table.column_names.index(name), name, array)
    notes = (
        notes_per_row(table.num_rows, np.concatenate(note_rows), pa.concat_arrays(note_texts)) if note_rows else None
    )
    return table, notes


def _text_of(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column.cast(pa.string())


def _distinct_text(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(distinct values NFKC-normalized and trimmed, index of each row's value; ``len(distinct)`` for a null
    row). The values are made distinct before they are normalized, so NFKC runs once per distinct value (two
    spellings that normalize alike stay two entries, read alike)."""
    encoded = pc.dictionary_encode(_text_of(column))
    distinct = pc.utf8_trim_whitespace(pc.utf8_normalize(encoded.dictionary, "NFKC"))
    indices = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return distinct, indices


def parse_dates(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A text column of dates as ``timestamp[s]`` and the rows whose non-blank value is not a date (null)."""
    distinct, idx = _distinct_text(column)
    blank = pc.fill_null(pc.equal(distinct, ""), True)
    for pattern, rewrite in _DATE_REWRITES:
        distinct = pc.replace_substring_regex(distinct, pattern, rewrite)
    parsed = pa.nulls(len(distinct), pa.timestamp("s"))
    for fmt in DATE_FORMATS:
        attempt = pc.strptime(distinct, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
    serial = pc.cast(pc.if_else(pc.match_substring_regex(distinct, r"^\d{5}(\.\d+)?$"), distinct, None), pa.float64())
    serial_np = serial.to_numpy(zero_copy_only=False)
    ok_serial = ~np.isnan(serial_np) & (serial_np >= 20000) & (serial_np <= 80000)
    if ok_serial.any():
        seconds = np.where(ok_serial, np.round(np.nan_to_num(serial_np) * 86400), 0).astype("int64")
        from_serial = pa.array(_EXCEL_EPOCH + seconds.astype("timedelta64[s]"), pa.timestamp("s"), mask=~ok_serial)
        parsed = pc.coalesce(parsed, from_serial)
    unread = pc.and_(pc.invert(blank), pc.is_null(parsed)).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(np.append(unread, False)[idx])
    return pa.concat_arrays([parsed, pa.nulls(1, pa.timestamp("s"))]).take(pa.array(idx)), rows


def parse_money(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A text column of amounts (``12,345.60``, ``12345.60元``, ``¥12345.6``) as float64 and the rows whose
    non-blank value is not an amount (null).

    Amounts rarely repeat, so there is no distinct-value shortcut: plain numbers are cast directly, and only
    the other cells go through normalization and the amount pattern."""
    text = _text_of(column)
    plain = pc.fill_null(pc.match_substring_regex(text, PLAIN_NUMBER), False)
    other = pc.and_(pc.is_valid(text), pc.invert(plain))
    values = pc.cast(pc.if_else(plain, text, None), pa.float64())
    if not pc.any(other).as_py():
        return values, np.zeros(0, np.int64)
    at = np.flatnonzero(other.to_numpy(zero_copy_only=False))
    parsed, unread = _parse_money_text(text.take(pa.array(at)))
    values = pc.replace_with_mask(values, other, parsed)
    return values, at[unread]


def _parse_money_text(column: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`parse_money` for cells that are not plain numbers: normalized once per distinct value."""
    distinct, idx = _distinct_text(column)  # NFKC: ￥ is ¥, full-width digits are ASCII
    plain = pc.match_substring_regex(distinct, PLAIN_NUMBER)
    # as the grouper reads a cost (io/values.MONEY): 12,345.60, 12345.60元, ¥ 12345.6; 1,23 is not an amount
    amount = pc.struct_field(pc.extract_regex(distinct, MONEY_NAMED), "n")
    cleaned = pc.if_else(pc.fill_null(plain, False), distinct, pc.replace_substring(amount, ",", ""))
    number = pc.is_valid(cleaned)
    blank = pc.fill_null(pc.equal(distinct, ""), True)
    unread = pc.and_(pc.invert(blank), pc.invert(pc.fill_null(number, False))).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(np.append(unread, False)[idx])
    values = pc.cast(pc.if_else(number, cleaned, None), pa.float64())
    return pa.concat_arrays([values, pa.nulls(1, pa.float64())]).take(pa.array(idx)), rows


def input_shaped(result: pa.Table, plan: HeaderPlan) -> pa.Table:
    """``result`` (canonical names, result columns appended) with the input's own column names and order,
    then the columns grouping added.  Code columns the user gave separately stay separate; the assembled
    ``dx`` / ``px`` lists, which the input did not have, are left out."""
    columns: dict[str, pa.ChunkedArray] = {}
    used: set[str] = set()
    for header in plan.headers:
        if header in plan.parts or plan.rename.get(header) == header:
            name = header
        else:
            name = plan.rename.get(header, header)
            if name in ("dx", "px") and header in result.column_names:
                name = header  # a single code column kept as the user wrote it
        if name in result.column_names and name not in used:
            columns[header] = result.column(name)
            used.add(name)
            used.add(header)
    for kind in plan.long_tables:  # codes from separate tables: shown, since the input row had none
        if kind in result.column_names and kind not in columns:
            columns[kind] = result.column(kind)
            used.add(kind)
    canonical_or_source = set(CANONICAL_COLUMNS) | set(plan.rename.values()) | set(plan.headers)
    for name in result.column_names:
        if name not in used and name not in canonical_or_source:
            columns[name] = result.column(name)
    # the schema metadata (what a priced result was priced with) travels with the columns
    return pa.table(columns).replace_schema_metadata(result.schema.metadata)
