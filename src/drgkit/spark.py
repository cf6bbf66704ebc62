"""Group a Spark DataFrame with the same kernel on every executor (``mapInArrow``).

>>> from drgkit.spark import group
>>> grouped = group(spark.read.parquet("s3://bucket/abstracts/"), scheme="chs-drg-2.0")
>>> grouped.write.parquet("s3://bucket/grouped/")

Each executor's Python worker compiles the scheme once (or loads it from ``DRGKIT_CACHE_DIR``) and groups
its partitions batch by batch: the same code path as ``drgkit group``, so the rows and results are the same.
On a cluster, install drgkit on every executor (``pip install drgkit`` in the image, or ship a wheel with
``--py-files`` / ``spark.archives``) and point ``DRGKIT_CACHE_DIR`` at a local disk. Spark does not keep row
order across partitions; join on ``case_id`` to compare with local results.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from .api import DEFAULT_SCHEME, Options, group_canonical
from .io import canonicalize
from .schemes.compile import load_compiled


def output_schema(input_schema: pa.Schema, scheme: str = DEFAULT_SCHEME,
                  mapping: Mapping[str, str] | None = None, options: Options = Options()) -> pa.Schema:
    """Arrow schema of the grouped output for an input schema (grouping an empty table)."""
    empty = canonicalize(input_schema.empty_table(), mapping=mapping)
    return group_canonical(empty, load_compiled(scheme), options, threads=1).schema


def group(df: Any, scheme: str = DEFAULT_SCHEME, *, mapping: Mapping[str, str] | None = None,
          options: Options = Options(), threads: int = 1) -> Any:
    """Group a ``pyspark.sql.DataFrame``; returns a DataFrame with the input columns plus the results.

    ``threads`` is the number of kernel threads per Python worker (Spark already runs one worker per core).
    """
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    schema = output_schema(to_arrow_schema(df.schema), scheme, mapping, options)
    mapping = dict(mapping or {})

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        compiled = load_compiled(scheme)
        for batch in batches:
            table = canonicalize(pa.Table.from_batches([batch]), mapping=mapping)
            out = group_canonical(table, compiled, options, threads=threads)
            yield from out.select(schema.names).cast(schema).to_batches()

    return df.mapInArrow(run, from_arrow_schema(schema))
