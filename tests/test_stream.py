"""Streams in, streams out: a polars LazyFrame and an Arrow RecordBatchReader are grouped batch by batch and
answer exactly as grouping the whole table does; a hive-partitioned Parquet folder is grouped into the same
partitions."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import drgkit
from drgkit import stream
from drgkit.cli import app
from drgkit.demo.export import coder_export

runner = CliRunner()


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("s") / "s.parquet"
    assert runner.invoke(app, ["synth", "-n", "2500", "-o", str(path), "-q", "--seed", "3"]).exit_code == 0
    return path


def test_a_lazyframe_comes_back_lazy_and_equal_to_the_whole_table(cases: Path, monkeypatch) -> None:
    monkeypatch.setattr(stream, "BATCH_ROWS", 333)  # many batches, the last one short
    whole = drgkit.group(pl.read_parquet(cases))
    lazy = drgkit.group(pl.scan_parquet(cases))
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().equals(whole)
    assert lazy.head(7).collect().equals(whole.head(7))
    ok = lazy.filter(pl.col("status") == "ok").select("case_id", "drg").collect()
    assert ok.equals(whole.filter(pl.col("status") == "ok").select("case_id", "drg"))


def test_a_lazyframe_with_chinese_headers(tmp_path: Path) -> None:
    frame = pl.from_arrow(coder_export(200, seed=1))
    assert isinstance(frame, pl.DataFrame)
    assert "主要诊断编码" in frame.columns
    lazy = drgkit.group(frame.lazy(), scheme="chs-drg-2.0")
    assert lazy.collect().equals(drgkit.group(frame, scheme="chs-drg-2.0"))


@pytest.mark.parametrize("rows_per_batch", [1, 97, 10_000])
def test_a_record_batch_reader_comes_back_as_one(cases: Path, rows_per_batch: int) -> None:
    file = pq.ParquetFile(cases)
    reader = (
        pa.RecordBatchReader.from_batches(file.schema_arrow, file.iter_batches(batch_size=rows_per_batch))
        if rows_per_batch > 1
        else pa.RecordBatchReader.from_batches(
            file.schema_arrow, (b for b in file.read().slice(0, 40).to_batches(max_chunksize=1))
        )
    )
    out = drgkit.group(reader)
    assert isinstance(out, pa.RecordBatchReader)
    got = out.read_all()
    expected = drgkit.group(file.read() if rows_per_batch > 1 else file.read().slice(0, 40))
    assert got.equals(expected)


def test_an_empty_stream_keeps_its_schema(cases: Path) -> None:
    schema = pq.read_schema(cases)
    out = drgkit.group(pa.RecordBatchReader.from_batches(schema, iter([]))).read_all()
    assert out.num_rows == 0 and "status" in out.column_names and "case_id" in out.column_names


def test_a_partitioned_dataset_is_grouped_into_the_same_partitions(cases: Path, tmp_path: Path) -> None:
    data = pl.read_parquet(cases)
    folder = tmp_path / "ds"
    for year, part in ((2023, data[:900]), (2024, data[900:])):
        (folder / f"year={year}").mkdir(parents=True)
        part.write_parquet(folder / f"year={year}" / "part-0.parquet")
    (folder / "_SUCCESS").write_text("")
    out = tmp_path / "grouped"
    r = runner.invoke(app, ["group", str(folder), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == [
        "year=2023/part-0.parquet",
        "year=2024/part-0.parquet",
    ]
    back = pl.read_parquet(out, hive_partitioning=True).sort("year", maintain_order=True)
    assert back.height == data.height and back["year"].to_list() == [2023] * 900 + [2024] * (data.height - 900)
    assert back.drop("year").equals(drgkit.group(data))
    for target, message in ((tmp_path / "x.parquet", "is a folder"), (folder / "inner", "inside the input")):
        r = runner.invoke(app, ["group", str(folder), "-o", str(target)])
        assert r.exit_code == 2 and message in r.output, r.output
