"""Group data that does not fit in memory: a polars LazyFrame, an Arrow RecordBatchReader, any iterable of
Arrow batches — batch by batch, answering in the same streaming form.

Grouping is row by row (a row's result does not depend on its neighbours), so a stream is grouped by grouping
each batch the way :func:`drgkit.group` groups a table; the header plan (which column is which field) is made
once, from the first batch, and the output schema is that of the first grouped batch, every later batch cast
to it (a batch that cannot be cast is an error, never a silent change of type).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from .canonical import Options, group_canonical
from .schemes import DEFAULT_SCHEME
from .schemes.compile import load_compiled

#: rows per batch when drgkit chooses (a LazyFrame collected in streaming mode)
BATCH_ROWS = 200_000


def group_batches(
    batches: Iterable[pa.Table | pa.RecordBatch],
    scheme: str = DEFAULT_SCHEME,
    *,
    mapping: Mapping[str, str] | None = None,
    options: Options = Options(),
    threads: int | None = None,
    canonical: bool = False,
    allow_unmapped: bool = False,
) -> Iterator[pa.Table]:
    """Each batch grouped as :func:`drgkit.group` groups a table, in order: one output row per input row."""
    from .io.output import input_shaped
    from .io.read import apply_plan, canonicalize_with_plan

    compiled = load_compiled(scheme)
    plan = None
    schema: pa.Schema | None = None
    for batch in batches:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if plan is None:
            canon, plan, _ = canonicalize_with_plan(table, mapping=mapping, allow_unmapped=allow_unmapped)
        else:
            canon = apply_plan(table, plan)
        out = group_canonical(canon, compiled, options, threads)
        out = out if canonical else input_shaped(out, plan)
        if schema is None:
            schema = out.schema
        elif out.schema != schema:
            out = out.cast(schema)
        yield out


def group_reader(reader: pa.RecordBatchReader, scheme: str = DEFAULT_SCHEME, **kwargs: Any) -> pa.RecordBatchReader:
    """An Arrow stream grouped lazily: a RecordBatchReader of the grouped batches (read it once)."""
    tables = group_batches(_non_empty(reader, reader.schema), scheme, **kwargs)
    first = next(tables)

    def batches() -> Iterator[pa.RecordBatch]:
        yield from first.to_batches()
        for table in tables:
            yield from table.to_batches()

    return pa.RecordBatchReader.from_batches(first.schema, batches())


def group_lazy(frame: Any, scheme: str = DEFAULT_SCHEME, **kwargs: Any) -> Any:
    """A polars LazyFrame grouped lazily: a LazyFrame whose collection streams ``frame`` in batches through the
    grouper (projections, filters and ``head`` on the result apply batch by batch)."""
    import polars as pl
    from polars.io.plugins import register_io_source

    sample = next(group_batches([frame.head(1).collect().to_arrow()], scheme, **kwargs))
    schema = pl.from_arrow(sample).schema  # type: ignore[union-attr]

    def source(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        arrow = (df.to_arrow() for df in frame.collect_batches(chunk_size=batch_size or BATCH_ROWS))
        left = n_rows
        for table in group_batches(_non_empty(arrow, None), scheme, **kwargs):
            df = pl.from_arrow(table)
            assert isinstance(df, pl.DataFrame)
            df = df.cast(schema)
            if with_columns is not None:
                df = df.select(with_columns)
            if predicate is not None:
                df = df.filter(predicate)
            if left is not None:
                df, left = df.head(left), left - min(left, df.height)
            yield df
            if left == 0:
                return

    return register_io_source(source, schema=schema, explain_name="drgkit.group")


def _non_empty(
    batches: Iterable[pa.Table | pa.RecordBatch], schema: pa.Schema | None
) -> Iterator[pa.Table | pa.RecordBatch]:
    """The batches with rows; one empty batch when there are none, so an empty stream still has a schema."""
    seen = False
    last: pa.Table | pa.RecordBatch | None = None
    for batch in batches:
        last = batch
        if batch.num_rows:
            seen = True
            yield batch
    if not seen:
        if last is not None:
            yield last
        elif schema is not None:
            yield schema.empty_table()
