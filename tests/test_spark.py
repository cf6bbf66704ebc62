"""drgkit.spark.group in Spark local mode gives the same rows and results as the local grouper."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

DATA = Path(__file__).parent / "data"

pyspark = pytest.importorskip("pyspark", reason="pyspark not installed (optional extra: pip install drgkit[spark])")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java: no `java` on PATH and no JAVA_HOME", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("drgkit-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_matches_local(spark):
    import drgkit
    from drgkit.spark import group as spark_group

    header = (DATA / "chs-drg-2.0-dev.csv").open(encoding="utf-8").readline().strip().split(",")
    table = pacsv.read_csv(
        DATA / "chs-drg-2.0-dev.csv",
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}),
    ).slice(0, 1500)
    local = drgkit.group(table, scheme="chs-drg-2.0")
    df = spark.createDataFrame(table.to_pandas()).repartition(3)
    remote = spark_group(df, scheme="chs-drg-2.0").toPandas()
    assert len(remote) == table.num_rows
    remote = remote.set_index("case_id").loc[local.column("case_id").to_pylist()]
    for col in ("status", "reason", "mdc", "adrg", "drg", "drg_name", "cc_level", "cc_code", "scheme_checksum"):
        expected = local.column(col).to_pylist()
        got = [None if (v is None or v != v) else v for v in remote[col].tolist()]
        assert got == expected, col
    # and the results are real: the reference grouper's labels are reproduced
    lenient = [g == "M" for g in table.column("gender").to_pylist()]  # M is read as male here
    assert [d for d, m in zip(remote["drg"].tolist(), lenient) if not m] == [
        d for d, m in zip(table.column("exp_drg").to_pylist(), lenient) if not m
    ]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """3,000 synthetic cases with hospitals, grouped and priced locally (the reference for every test below)."""
    import drgkit
    from drgkit.demo import generate

    raw = generate(3000, scheme="suzhou-2023", seed=11, dirty=0.03, hospitals=6)
    return drgkit.group(raw, scheme="suzhou-2023")


def _by_case(frame, columns):
    return {row["case_id"]: tuple(row[c] for c in columns) for row in frame.select(["case_id", *columns]).to_pylist()}


def _spark_rows(spark_df, columns):
    table = spark_df.toArrow()
    return _by_case(table, columns)


def test_pricing_dip_and_edits_on_spark_equal_local(spark, history, tmp_path):
    import polars as pl

    import drgkit
    from drgkit import spark as ds

    df = spark.createDataFrame(history.to_pandas()).repartition(3)
    columns = ("case_type", "standard_payment", "payment", "fund_payment", "price_reason")
    local = drgkit.price(history, "suzhou-2023", level="level3")
    assert _spark_rows(ds.price(df, "suzhou-2023", level="level3"), columns) == _by_case(local, columns)

    catalogue = tmp_path / "cat"
    drgkit.dip.build(pl.from_arrow(history), threshold=10).write(catalogue)
    local = drgkit.dip.group(history, str(catalogue))
    columns = ("status", "dip_group", "dip_group_name", "score", "aux_coefficient")
    assert _spark_rows(ds.dip_group(df, str(catalogue)), columns) == _by_case(local, columns)

    local = drgkit.validate(history, "suzhou-2023")
    columns = ("edits", "n_errors", "messages_zh")
    got = _spark_rows(ds.validate(df, "suzhou-2023"), columns)
    assert got == _by_case(local, columns) and len(got) == history.num_rows


@pytest.mark.parametrize("years", [None, {2023: 1.0, 2024: 3.0}])
def test_calibration_on_spark_equals_local(spark, history, years):
    import polars as pl

    import drgkit
    from drgkit import spark as ds

    frame = pl.from_arrow(history)
    if years:
        frame = frame.with_columns(
            pl.Series("year", [2022, 2023, 2024] * (frame.height // 3) + [2024] * (frame.height % 3))
        )
    local = drgkit.calibrate(frame, trim="iqr", years=years, budget=5e7, min_cases=20, reference="suzhou-2023")
    remote = ds.calibrate(
        spark.createDataFrame(frame.to_pandas()).repartition(4),
        trim="iqr",
        years=years,
        budget=5e7,
        min_cases=20,
        reference="suzhou-2023",
    )
    assert remote.excluded == local.excluded and remote.cases == local.cases == frame.height
    assert (remote.cases_used, remote.cases_kept) == (local.cases_used, local.cases_kept)
    assert remote.riv == pytest.approx(local.riv, rel=1e-9) and remote.base_rate == pytest.approx(local.base_rate)
    a, b = local.table.sort("drg"), remote.table.sort("drg")
    assert a["drg"].to_list() == b["drg"].to_list() and a.columns == b.columns
    for column in ("n_cases", "n_kept", "n_trimmed", "low_volume", "drg_name"):
        assert a[column].to_list() == b[column].to_list(), column
    for column in ("rw", "mean_cost", "cv", "cv_all", "los_mean", "los_median", "reference_rw"):
        assert b[column].to_list() == pytest.approx(a[column].to_list(), rel=1e-6, nan_ok=True), column
