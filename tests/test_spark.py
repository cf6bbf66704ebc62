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
    session = (SparkSession.builder.master("local[2]").appName("drgkit-test")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    yield session
    session.stop()


def test_spark_matches_local(spark):
    import drgkit
    from drgkit.spark import group as spark_group

    header = (DATA / "chs-drg-2.0-dev.csv").open(encoding="utf-8").readline().strip().split(",")
    table = pacsv.read_csv(DATA / "chs-drg-2.0-dev.csv", convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header})).slice(0, 1500)
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
    assert [d for d, m in zip(remote["drg"].tolist(), lenient) if not m] == \
        [d for d, m in zip(table.column("exp_drg").to_pylist(), lenient) if not m]
