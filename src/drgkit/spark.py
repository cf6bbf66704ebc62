"""The drgkit pipeline on Spark: grouping, pricing, DIP grouping, coding edits and weight calibration, each
with the same code on every executor as on one machine (Arrow batches through ``mapInArrow``; calibration's
per-group statistics through ``applyInArrow``).

>>> from drgkit import spark as ds
>>> grouped = ds.group(spark.read.parquet("s3://bucket/abstracts/"), scheme="chs-drg-2.0")
>>> priced = ds.price(grouped, "chs-drg-2.0", base_rate=12000, level="level3")
>>> cal = ds.calibrate(grouped, trim="iqr", budget=3e9)          # a drgkit Calibration, as locally
>>> grouped.write.parquet("s3://bucket/grouped/")

Each executor's Python worker compiles a scheme or loads a table once (or reads it from ``DRGKIT_CACHE_DIR``)
and works batch by batch: every row's result is that of ``drgkit group`` / ``pay`` / ``validate`` and the
calibration equals :func:`drgkit.calibrate` on the same rows. On a cluster install drgkit on every executor
(``pip install drgkit`` in the image, or ``--py-files`` / ``spark.archives``; docs/spark.md) and point
``DRGKIT_CACHE_DIR`` at a local disk. Spark does not keep row order across partitions: join on ``case_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa

from .canonical import Options, group_canonical
from .io import canonicalize
from .schemes import DEFAULT_SCHEME
from .schemes.compile import load_compiled


def _map(df: Any, fn: Callable[[pa.Table], pa.Table]) -> Any:
    """``fn`` over every Arrow batch of a Spark DataFrame; the output schema is ``fn`` of an empty batch."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = pa.schema([pa.field(f.name, _spark_type(f.type), f.nullable) for f in fn(_empty(df)).schema])

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from fn(pa.Table.from_batches([batch])).select(schema.names).cast(schema).to_batches()

    return df.mapInArrow(run, from_arrow_schema(schema))


def _spark_type(t: pa.DataType) -> pa.DataType:
    """Spark's Arrow has no large, view or unsigned types (polars makes them): the plain ones, recursively."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t) or pa.types.is_list_view(t):
        return pa.list_(_spark_type(t.value_type))
    if pa.types.is_unsigned_integer(t):  # polars counts are UInt32; Spark has signed integers only
        return pa.int64()
    return t


def output_schema(
    input_schema: pa.Schema,
    scheme: str = DEFAULT_SCHEME,
    mapping: Mapping[str, str] | None = None,
    options: Options = Options(),
) -> pa.Schema:
    """Arrow schema of the grouped output for an input schema (grouping an empty table)."""
    empty = canonicalize(input_schema.empty_table(), mapping=mapping)
    return group_canonical(empty, load_compiled(scheme), options, threads=1).schema


def group(
    df: Any,
    scheme: str = DEFAULT_SCHEME,
    *,
    mapping: Mapping[str, str] | None = None,
    options: Options = Options(),
    threads: int = 1,
) -> Any:
    """Group a ``pyspark.sql.DataFrame``; returns a DataFrame with the input columns plus the results.

    ``threads`` is the number of kernel threads per Python worker (Spark already runs one worker per core).
    """
    mapping = dict(mapping or {})

    def fn(table: pa.Table) -> pa.Table:
        return group_canonical(canonicalize(table, mapping=mapping), load_compiled(scheme), options, threads=threads)

    return _map(df, fn)


def price(
    df: Any,
    table: str,
    *,
    level: str | None = None,
    insurance: str | None = None,
    policy: str | dict | None = None,
    base_rate: float | None = None,
    allow_scheme_mismatch: bool = False,
) -> Any:
    """Price a grouped Spark DataFrame (the output of :func:`group`) as :func:`drgkit.price` prices a table.
    ``table`` and ``policy`` are ids or paths every executor can read (or a policy dict)."""
    from .payment import price as price_table

    def fn(batch: pa.Table) -> pa.Table:
        return price_table(
            batch,
            table,
            level=level,
            insurance=insurance,
            policy=policy,
            base_rate=base_rate,
            allow_scheme_mismatch=allow_scheme_mismatch,
        )

    return _map(df, fn)


def dip_group(df: Any, catalogue: str, *, mapping: Mapping[str, str] | None = None) -> Any:
    """Group a Spark DataFrame into a DIP catalogue (a folder every executor can read), as
    :func:`drgkit.dip.group` does; a row's group does not depend on the other rows of its batch."""
    from .dip import group as dip_group_table

    mapping = dict(mapping or {})
    return _map(df, lambda batch: dip_group_table(batch, catalogue, mapping=mapping))


def validate(
    df: Any, scheme: str = DEFAULT_SCHEME, *, mapping: Mapping[str, str] | None = None, disable: tuple[str, ...] = ()
) -> Any:
    """The coding edits of :func:`drgkit.validate` on every row: ``case_id``, ``edits``, ``n_errors``,
    ``messages_zh``, ``messages_en``."""
    from .monitor import validate as validate_table

    mapping = dict(mapping or {})
    return _map(df, lambda batch: validate_table(batch, scheme, mapping=mapping, disable=disable))


def calibrate(
    df: Any,
    *,
    trim: str = "iqr",
    years: dict[int, float] | None = None,
    budget: float | None = None,
    fund_ratio: float = 1.0,
    min_cases: int = 100,
    reference: str | None = None,
) -> Any:
    """:func:`drgkit.calibrate` over a grouped Spark DataFrame: the usable rows are marked batch by batch,
    each group's statistics (counts, sums, trimmed spread, LOS) computed on its own rows by one executor,
    and the few rows per group combined on the driver into the same :class:`~drgkit.payment.calibrate
    .Calibration` — weights, CV, RIV and base rate equal to calibrating the same rows on one machine."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from .arrowutil import polars_frame
    from .payment.calibrate import check_options, exclusion_reasons, finish, group_stats, usable

    check_options(trim, budget, fund_ratio)

    def mark(batch: pa.Table) -> pa.Table:
        return usable(polars_frame(batch), years).to_arrow()

    marked = _map(df, mark).cache()
    try:
        counts = {row["_why"]: row["count"] for row in marked.groupBy("_why").count().collect()}
        excluded = {name: int(counts.get(name, 0)) for name, _ in exclusion_reasons(years)}
        cases = int(sum(counts.values()))
        rows = marked.filter("_why IS NULL").drop("_why")
        empty = group_stats(polars_frame(_empty(marked)).drop("_why"), trim, years).to_arrow().schema
        schema = pa.schema([pa.field(f.name, _spark_type(f.type)) for f in empty])

        def stats(group: pa.Table) -> pa.Table:
            return group_stats(polars_frame(group), trim, years).to_arrow().select(schema.names).cast(schema)

        per_group = rows.groupBy("drg").applyInArrow(stats, from_arrow_schema(schema)).toArrow()
    finally:
        marked.unpersist()
    return finish(
        polars_frame(per_group),
        excluded=excluded,
        cases=cases,
        trim=trim,
        years=years,
        budget=budget,
        fund_ratio=fund_ratio,
        min_cases=min_cases,
        reference=reference,
    )


def _empty(df: Any) -> pa.Table:
    """An empty Arrow table of a Spark DataFrame's schema (timestamps in the session's time zone)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    zone = df.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    return to_arrow_schema(df.schema, timezone=zone).empty_table()
