"""Small vectorized Arrow helpers shared by the pipeline stages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import polars as pl


def notes_per_row(n: int, row: np.ndarray, texts: pa.Array, sep: str = "; ") -> pa.Array:
    """Join ``texts[k]`` into row ``row[k]`` (rows ascending or not); null for rows without text.

    Only the rows that have texts are joined (usually few), then spread over all rows with one take.
    """
    if len(texts) == 0:
        return pa.nulls(n, pa.string())
    order = np.argsort(row, kind="stable")
    row = np.asarray(row)[order]
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])  # first text of each row that has some
    offsets = np.append(starts, len(row)).astype(np.int32)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), pc.take(texts, pa.array(order))), sep)
    return spread(joined, row[starts], n)


def spread(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """An ``n``-long array holding ``values[k]`` at ``rows[k]`` (distinct rows) and null elsewhere."""
    index = np.zeros(n, np.int32)
    index[rows] = np.arange(len(rows), dtype=np.int32)
    missing = np.ones(n, bool)
    missing[rows] = False
    return values.take(pa.array(index, mask=missing))


def take_with(labels: pa.Array, index: np.ndarray, rows: np.ndarray, texts: pa.Array) -> pa.Array:
    """``labels.take(index)``, except that row ``rows[k]`` holds ``texts[k]``: still a single take."""
    if len(rows) == 0:
        return labels.take(pa.array(index))
    index = index.astype(np.int64, copy=True)
    index[rows] = len(labels) + np.arange(len(rows))
    return pa.concat_arrays([labels, texts.cast(labels.type)]).take(pa.array(index))


def empty_rows(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """Per row: whether every one of ``columns`` is empty there — null, blank text, or an empty list (an
    export's empty line, which a reader keeps in its place). All False when ``columns`` is empty."""
    mask = np.full(table.num_rows, bool(columns))
    for name in columns:
        column = table.column(name)
        type_ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        empty = pc.is_null(column)
        if pa.types.is_string(type_) or pa.types.is_large_string(type_):
            empty = pc.or_kleene(empty, pc.equal(pc.utf8_trim_whitespace(column.cast(pa.string())), ""))
        elif pa.types.is_list(type_) or pa.types.is_large_list(type_):  # dx / px: no code that is not blank
            lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            values = pc.list_flatten(lists)
            written = pc.fill_null(pc.invert(pc.equal(pc.utf8_trim_whitespace(values.cast(pa.string())), "")), False)
            rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
            has = np.zeros(len(lists), dtype=bool)
            has[rows[written.to_numpy(zero_copy_only=False)]] = True
            empty = pa.array(~has)
        mask &= pc.fill_null(empty, True).to_numpy(zero_copy_only=False)
        if not mask.any():
            break
    return mask


def join_notes(a: pa.Array, b: pa.Array | None, sep: str = "; ") -> pa.Array:
    """Element-wise ``a; b`` where both exist, else whichever exists (null when neither)."""
    if b is None:
        return a
    return pc.coalesce(pc.binary_join_element_wise(a, b, sep), a, b)


def as_polars(data: object) -> pl.DataFrame:
    """A polars DataFrame from polars, pyarrow or pandas input (no copy where the formats allow)."""
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pa.Table):
        return polars_frame(data)
    return pl.from_pandas(data)


def string_offsets(arr: pa.Array) -> np.ndarray:
    """The int32 offsets (``len(arr) + 1``) of a ``pa.string()`` array into its data buffer, as a zero-copy
    read-only view (honours slicing); widen before doing arithmetic that could overflow."""
    if len(arr) == 0:
        return np.zeros(1, np.int32)
    return np.frombuffer(arr.buffers()[1], np.int32, count=len(arr) + 1, offset=arr.offset * 4)


def string_bytes(arr: pa.Array) -> np.ndarray:
    """The UTF-8 bytes a ``pa.string()`` array spans, as a zero-copy uint8 view.

    Null slots may span bytes too, so a scan of these bytes can only tell what is *absent*.
    """
    offsets = string_offsets(arr)
    data = arr.buffers()[2] if len(arr) else None
    if data is None or offsets[-1] == offsets[0]:
        return np.zeros(0, np.uint8)
    return np.frombuffer(data, np.uint8, count=int(offsets[-1]) - int(offsets[0]), offset=int(offsets[0]))


def null_or_empty(arr: pa.Array) -> np.ndarray:
    """Boolean numpy mask of a ``pa.string()`` array: the value is null or ``""`` (no string kernel)."""
    offsets = string_offsets(arr)
    empty = offsets[1:] == offsets[:-1]
    if arr.null_count:
        empty |= ~arr.is_valid().to_numpy(zero_copy_only=False)
    return empty


def drop_empty_strings(arr: pa.Array, keep: np.ndarray) -> pa.Array:
    """``arr.filter(keep)`` where every dropped value is null or ``""``.

    Dropping zero-length values only removes offsets, so when ``arr`` has no nulls the result reuses
    its data buffer: no string bytes are copied.
    """
    if arr.null_count or len(arr) == 0:
        return arr.filter(pa.array(keep))
    offsets = string_offsets(arr)
    starts = offsets[:-1][keep]
    new = np.empty(len(starts) + 1, np.int32)
    new[:-1] = starts
    new[-1] = offsets[-1]
    return pa.StringArray.from_buffers(len(starts), pa.py_buffer(new), arr.buffers()[2])


def polars_frame(table: pa.Table) -> pl.DataFrame:
    """``pl.from_arrow`` of a Table, typed as the DataFrame it is (polars types its result as frame-or-series)."""
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame
