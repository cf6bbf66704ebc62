"""Code lists: one list<string> per row (principal diagnosis / main procedure first) from a delimited text
column, a list column, or several code columns concatenated row by row.  Vectorized: one split, then numpy
on the offsets; no per-row string work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from drgkit.arrowutil import drop_empty_strings, null_or_empty, string_bytes
from drgkit.io.errors import InputError

_STRING_LIST = pa.list_(pa.string())


def plain_strings(arr: pa.Array) -> pa.Array:
    """Cast any scalar column to pa.string() (numbers become their text)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    return arr


# code separators besides '|' (full-width forms typed with a Chinese input method included)
_OTHER_SEPARATORS = (",", ";", "，", "；", "｜", "、")
_OTHER_SEPARATORS_RE = "[" + "".join(_OTHER_SEPARATORS) + "]"


def _unify_separators(text: pa.Array) -> pa.Array:
    """Every code separator becomes ``|`` (literal replacements, only for separators present)."""
    if not pc.any(pc.match_substring_regex(text, _OTHER_SEPARATORS_RE)).as_py():  # one pass for the usual case
        return text
    for sep in _OTHER_SEPARATORS:
        if pc.any(pc.match_substring(text, sep)).as_py():
            text = pc.replace_substring(text, sep, "|")
    return text


#: Whitespace followed by the start of a code (J18.900 E11.900, 36.0601 88.7201) separates two codes; other
#: whitespace inside a cell (36.06 00, I21.000 x005) is a typing slip inside one code, which normalization
#: removes.
SPACE_BEFORE_CODE = r"([^ \t\n\v\f\r])[ \t\n\v\f\r]+([A-Za-z][0-9]{2}\.|[0-9]{2}\.[0-9])"


def split_at_spaces(text: pa.Array) -> pa.Array:
    """Whitespace between two codes becomes ``|`` (see :data:`SPACE_BEFORE_CODE`)."""
    return pc.replace_substring_regex(text, SPACE_BEFORE_CODE, "\\1|\\2")


@dataclass(frozen=True)
class _Scan:
    """What one cheap byte scan of a text column could not rule out; ``_Scan()`` means "assume anything".

    The steps these flags skip are no-ops on text without such bytes, so skipping them changes nothing.
    """

    other_separators: bool = True  # ',' ';' or any non-ASCII byte (the full-width separators are)
    pipe: bool = True
    whitespace: bool = True  # a byte <= 32: ASCII whitespace that trimming would remove (and controls)


def _scan(text: pa.Array) -> _Scan:
    """A few numpy passes over the column's bytes (far cheaper than a regex or a trim over every row)."""
    data = string_bytes(text)
    if data.size == 0:
        return _Scan(False, False, False)
    return _Scan(
        other_separators=bool(data.max() >= 0x80 or (data == ord(",")).any() or (data == ord(";")).any()),
        pipe=bool((data == ord("|")).any()),
        whitespace=bool((data <= 32).any()),
    )


def _split_text(text: pa.Array, scan: _Scan | None = None) -> tuple[np.ndarray, pa.Array]:
    """Split a string column on every code separator and trim the pieces.

    Returns ``(offsets, pieces)``: row ``r``'s pieces are ``pieces[offsets[r]:offsets[r + 1]]``, in order,
    each trimmed of ASCII whitespace, empty ones and nulls included.  A null row has no piece or a
    single null one; any other row has at least one.
    """
    scan = _scan(text) if scan is None else scan
    if scan.other_separators:
        text = _unify_separators(text)
    if scan.whitespace:
        text = split_at_spaces(text)
    if scan.pipe or scan.other_separators or scan.whitespace:
        lists = pc.split_pattern(text, "|")  # literal split: far faster than a regex
        offsets = lists.offsets.to_numpy().astype(np.int64)
        pieces = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
        offsets -= offsets[0]
    else:  # one code per cell (numbered columns, single codes): no split needed
        offsets, pieces = np.arange(len(text) + 1, dtype=np.int64), text
    if scan.whitespace:
        pieces = pc.ascii_trim_whitespace(pieces)
    return offsets, pieces


def _head_blank(offsets: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Rows whose first piece is blank, or that have no piece at all."""
    has = np.diff(offsets) > 0
    head = np.ones(len(offsets) - 1, dtype=bool)
    head[has] = blank[offsets[:-1][has]]
    return head


def _keep_pieces(
    offsets: np.ndarray, pieces: pa.Array, keep: np.ndarray, kept: np.ndarray | None = None
) -> tuple[np.ndarray, pa.Array]:
    """The kept pieces and the row offsets into them (``kept``: the running count of ``keep``, if known)."""
    if keep.all():
        return offsets, pieces
    if kept is None:
        kept = _running_count(keep)
    return kept[offsets], drop_empty_strings(pieces, keep)


def _running_count(mask: np.ndarray) -> np.ndarray:
    """``out[i]`` = how many of ``mask[:i]`` hold (length ``len(mask) + 1``; int32 like list offsets)."""
    out = np.zeros(len(mask) + 1, dtype=np.int32)
    np.cumsum(mask, out=out[1:])
    return out


def _text_lists(text: pa.Array, keep_principal_slot: bool, scan: _Scan | None = None) -> pa.ListArray:
    """:func:`code_lists` of a string column: one split, then numpy on offsets (no per-row string kernels)."""
    offsets, pieces = _split_text(text, scan)
    blank = null_or_empty(pieces)
    if not blank.any():
        return _list_array(offsets, pieces)
    keep = ~blank
    running = _running_count(keep)
    kept: np.ndarray | None = running
    if keep_principal_slot:
        # a blank first piece stays (it is "" after trimming) when the row has other codes
        slot = _head_blank(offsets, blank) & (running[offsets[1:]] > running[offsets[:-1]])
        if slot.any():
            keep[offsets[:-1][slot]] = True
            kept = None
    offsets, pieces = _keep_pieces(offsets, pieces, keep, kept)
    return _list_array(offsets, pieces)


def _list_array(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError("too many codes for one list column (over 2^31)")
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _no_null_lists(lists: pa.Array) -> pa.Array:
    """Null rows as empty lists.  A null row may still span values (polars' left joins make such rows);
    ``list_flatten`` skips them but ``list_parent_indices`` does not, so they must go first."""
    return pc.fill_null(lists, pa.scalar([], lists.type)) if lists.null_count else lists


def _list_pieces(lists: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """As :func:`_split_text` for a list column (null rows and null elements have no code)."""
    lists = _no_null_lists(lists.cast(_STRING_LIST))
    values, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(
        np.bincount(parents.to_numpy(zero_copy_only=False).astype(np.int64), minlength=len(lists)), out=offsets[1:]
    )
    return offsets, pc.ascii_trim_whitespace(plain_strings(values))


def _check_code_type(column: pa.Array) -> None:
    """Codes are text (or numbers, or lists of either); a struct or bytes column is refused, not cast."""
    value_type = column.type.value_type if _is_list(column.type) else column.type
    if pa.types.is_nested(value_type) or pa.types.is_binary(value_type) or pa.types.is_large_binary(value_type):
        raise InputError(f"a code column holds {column.type} values; codes must be text, or lists of text")


def _column_pieces(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array] | None:
    """(offsets, trimmed pieces) of any code column; ``None`` for an all-null column."""
    column = _one_chunk(column)
    if pa.types.is_null(column.type):
        return None
    _check_code_type(column)
    if _is_list(column.type):
        return _list_pieces(column)
    return _split_text(plain_strings(column))


def _pieces(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Trimmed, non-empty codes of a column, flattened, with the row each one belongs to."""
    split = _column_pieces(column)
    if split is None:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    offsets, pieces = split
    keep = ~null_or_empty(pieces)
    offsets, pieces = _keep_pieces(offsets, pieces, keep)
    parents = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    return parents, pieces


def _one_chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _first_slot_blank(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows whose first code slot is blank: a null or blank cell, a leading separator (``'|I10.x00'``),
    or a list whose first element is null or blank (an empty list counts as blank)."""
    column = _one_chunk(column)
    n = len(column)
    blank = np.ones(n, dtype=bool)
    if pa.types.is_null(column.type) or n == 0:
        return blank
    if _is_list(column.type):
        lists = _no_null_lists(column.cast(_STRING_LIST))
        values, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
        if len(values) == 0:
            return blank
        rows = parents.to_numpy(zero_copy_only=False).astype(np.int64)
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # each row's first element
        head = pc.utf8_trim_whitespace(plain_strings(values).take(pa.array(first)))
        blank[rows[first]] = pc.fill_null(pc.equal(head, ""), True).to_numpy(zero_copy_only=False)
        return blank
    return _text_first_blank(plain_strings(column))


def _text_first_blank(text: pa.Array, scan: _Scan | None = None) -> np.ndarray:
    """:func:`_first_slot_blank` of a string column: a blank cell, or a separator before any code
    (``'|I10.x00'``, ``' |I10.x00'``); no split, no hashing needed."""
    scan = _scan(text) if scan is None else scan
    if scan.other_separators or scan.whitespace:  # else nothing to unify or trim (pure ASCII, no spaces)
        text = pc.utf8_trim_whitespace(_unify_separators(text) if scan.other_separators else text)
    blank_cell = null_or_empty(text)
    if scan.pipe or scan.other_separators:
        blank_cell |= pc.fill_null(pc.starts_with(text, "|"), False).to_numpy(zero_copy_only=False)
    return blank_cell


def _lists_from_pieces(
    n: int, pieces: list[tuple[np.ndarray, pa.Array]], blank_first: np.ndarray | None = None
) -> pa.ListArray:
    """Row-wise concatenation of several columns' codes, in column order (vectorized scatter).

    ``blank_first``: rows whose principal slot (first code of the first column) is blank; where such
    a row still has other codes, its list starts with an empty string ``""`` so that the next code is
    not silently promoted to principal diagnosis / main procedure.
    """
    if blank_first is not None:
        codes = np.zeros(n, dtype=np.int64)
        for parents, _ in pieces:
            codes += np.bincount(parents, minlength=n)
        rows = np.flatnonzero(blank_first & (codes > 0))
        if rows.size:
            pieces = [(rows.astype(np.int64), pa.repeat(pa.scalar("", pa.string()), rows.size)), *pieces]
    counts = [np.bincount(parents, minlength=n) for parents, _ in pieces]
    total = np.sum(counts, axis=0) if counts else np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError("too many codes for one list column (over 2^31)")
    if len(pieces) == 1:
        values = pieces[0][1]
    else:
        # Destination of each piece = start of its row + codes of earlier columns in that row
        # + its rank among this column's codes of that row.
        base = offsets[:-1].copy()
        destinations = []
        for (parents, _), count in zip(pieces, counts):
            first = np.zeros(n, dtype=np.int64)
            np.cumsum(count[:-1], out=first[1:])
            destinations.append(base[parents] + np.arange(len(parents)) - first[parents])
            base += count
        order = np.empty(int(offsets[-1]), dtype=np.int64)
        order[np.concatenate(destinations)] = np.arange(int(offsets[-1]))
        values = pa.concat_arrays([v for _, v in pieces]).take(pa.array(order))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _is_list(type_: pa.DataType) -> bool:
    return (
        pa.types.is_list(type_)
        or pa.types.is_large_list(type_)
        or pa.types.is_fixed_size_list(type_)
        or pa.types.is_list_view(type_)
        or pa.types.is_large_list_view(type_)
    )


def code_lists(column: pa.Array | pa.ChunkedArray, *, keep_principal_slot: bool = False) -> pa.ListArray:
    """One list<string> per row from a list column or a delimited text column.

    Text is split on ``|``, ``,`` or ``;`` (and their full-width forms); pieces are trimmed and empty
    pieces dropped.  Null rows give empty lists.

    ``keep_principal_slot``: the first code of a row is its principal diagnosis / main procedure.  When
    that slot is blank (``'|I10.x00'``, ``['', 'I10.x00']``) but the row has other codes, the list keeps
    an empty string first (``['', 'I10.x00']``) instead of promoting the next code; the grouper then
    reports the missing principal code.  Other empty pieces are still dropped.
    """
    column = _one_chunk(column)
    if pa.types.is_null(column.type):
        return empty_lists(len(column))
    _check_code_type(column)
    if not _is_list(column.type):
        return _text_lists(plain_strings(column), keep_principal_slot)
    parents, values = _pieces(column)
    blank = _first_slot_blank(column) if keep_principal_slot else None
    return _lists_from_pieces(len(column), [(parents, values)], blank)


def concat_code_columns(table: pa.Table, headers: list[str], principal_first: bool) -> pa.ListArray:
    """Concatenate the codes of several columns row by row, in column order.

    When the first column is a principal column (主要诊断编码, 诊断编码1, ...) and it is blank in a row
    that has other codes, the row's list starts with ``""`` (see :func:`code_lists`).
    """
    blank = _first_slot_blank(table.column(headers[0])) if headers and principal_first else None
    return _lists_from_pieces(table.num_rows, [_pieces(table.column(h)) for h in headers], blank)


def empty_lists(n: int) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))
