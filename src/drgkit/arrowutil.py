"""Small vectorized Arrow helpers shared by the pipeline stages."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def notes_per_row(n: int, row: np.ndarray, texts: pa.Array, sep: str = "; ") -> pa.Array:
    """Join ``texts[k]`` into row ``row[k]`` (rows ascending or not); null for rows without text."""
    if len(texts) == 0:
        return pa.nulls(n, pa.string())
    order = np.argsort(row, kind="stable")
    row = row[order]
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(row, minlength=n), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), pc.take(texts, pa.array(order)))
    joined = pc.binary_join(lists, sep)
    return pc.if_else(pc.equal(pc.list_value_length(lists), 0), pa.nulls(n, pa.string()), joined)


def join_notes(a: pa.Array, b: pa.Array | None, sep: str = "; ") -> pa.Array:
    """Element-wise ``a; b`` where both exist, else whichever exists (null when neither)."""
    if b is None:
        return a
    return pc.coalesce(pc.binary_join_element_wise(a, b, sep), a, b)


def as_polars(data: object) -> "pl.DataFrame":
    """A polars DataFrame from polars, pyarrow or pandas input (no copy where the formats allow)."""
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pa.Table):
        return pl.from_arrow(data)
    return pl.from_pandas(data)
