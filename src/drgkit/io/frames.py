"""Data frames in and out: every public entry point takes a pyarrow Table, a polars or pandas DataFrame or a
file path, works on Arrow, and answers in the caller's type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa


def to_arrow(data: Any) -> tuple[pa.Table, str]:
    """``(table, kind)``: the data as an Arrow table and what it was ("arrow", "polars" or "pandas").

    A path is read with :func:`drgkit.io.read_cases` (headers mapped to canonical names).
    """
    if isinstance(data, pa.Table):
        return data, "arrow"
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data]), "arrow"
    if isinstance(data, (str, Path)):
        from drgkit.io.read import read_cases

        return read_cases(data), "arrow"
    mod = type(data).__module__
    if mod.startswith("polars"):
        if type(data).__name__ == "LazyFrame":  # a query: run it (the result is a polars DataFrame)
            data = data.collect()
        return data.to_arrow(), "polars"
    if mod.startswith("pandas"):
        try:
            return pa.Table.from_pandas(data, preserve_index=False), "pandas"
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # an object column mixing types (1 and "a"): read it as text, as a CSV of it would be
            frame = data.copy()
            for name in frame.columns:
                if frame[name].dtype == object:
                    frame[name] = frame[name].map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))
            return pa.Table.from_pandas(frame, preserve_index=False), "pandas"
    raise TypeError(f"expected a pyarrow Table, a polars or pandas DataFrame or a file path, not {type(data)}")


def from_arrow(table: pa.Table, kind: str, like: Any = None) -> Any:
    """The table back in the caller's type (``kind`` from :func:`to_arrow`).  ``like``: the caller's own
    data; a pandas result takes its index (rows in = rows out, same order), so joining back by index works."""
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if kind == "pandas":
        frame = table.to_pandas()
        if like is not None and hasattr(like, "index") and len(like.index) == len(frame):
            frame.index = like.index
        return frame
    return table
