"""Golden test of real-shaped exports (tests/data/exports, built by make_exports.py from the labelled dev
cases): every export groups, through the CLI, to exactly the status and DRG of its canonical twin, row by
row; and the twins agree with the reference groupers' labels."""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drgkit.cli import app

EXPORTS = Path(__file__).parent / "data" / "exports"
DATA = Path(__file__).parent / "data"
MANIFEST = list(csv.DictReader((EXPORTS / "manifest.csv").open(encoding="utf-8")))
runner = CliRunner()


def _group(tmp: Path, args: list[str], out_name: str) -> list[dict]:
    out = tmp / out_name
    result = runner.invoke(app, ["group", *args, "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return pq.read_table(out, columns=["status", "reason", "drg"]).to_pylist()


@lru_cache(maxsize=None)
def _twin(twin: str, scheme: str, tmp: str) -> tuple[dict, ...]:
    return tuple(_group(Path(tmp), [str(EXPORTS / twin), "--scheme", scheme, "--strict-gender"], twin + ".parquet"))


def test_the_corpus_covers_every_family() -> None:
    files = [m["file"] for m in MANIFEST]
    assert len(files) >= 30
    suffixes = {Path(f).suffix for f in files}
    assert {".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet"} <= suffixes
    assert sum(1 for m in MANIFEST if m["diagnoses"]) >= 3  # three-table sets
    assert {m["scheme"] for m in MANIFEST} == {"chs-drg-1.1", "chs-drg-2.0"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_an_export_groups_exactly_as_its_canonical_twin(entry: dict, tmp_path_factory) -> None:
    tmp = tmp_path_factory.getbasetemp()
    expected = _twin(entry["twin"], entry["scheme"], str(tmp))
    args = [str(EXPORTS / entry["file"]), "--scheme", entry["scheme"]]
    for option in ("diagnoses", "procedures"):
        if entry[option]:
            args += [f"--{option}", str(EXPORTS / entry[option])]
    got = _group(tmp_path_factory.mktemp("export"), args, "out.parquet")
    assert len(got) == len(expected)
    mismatched = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected))
                  if (g["status"], g["drg"]) != (e["status"], e["drg"])]
    assert not mismatched, mismatched[:3]


@pytest.mark.parametrize("twin, scheme, source", [("v11.twin.csv", "chs-drg-1.1", "chs-drg-1.1-dev.csv"),
                                                  ("v20.twin.csv", "chs-drg-2.0", "chs-drg-2.0-dev.csv")])
def test_the_twins_agree_with_the_reference_labels(twin: str, scheme: str, source: str, tmp_path_factory) -> None:
    labels = {r["case_id"]: r for r in csv.DictReader((DATA / source).open(encoding="utf-8"))}
    ids = [r["case_id"] for r in csv.DictReader((EXPORTS / twin).open(encoding="utf-8"))]
    got = _twin(twin, scheme, str(tmp_path_factory.getbasetemp()))
    for case_id, row in zip(ids, got):
        label = labels[case_id]
        if label["exp_status"] == "SUCCESS":
            assert row["drg"] == label["exp_drg"], (case_id, row, label["exp_drg"])
        else:
            assert row["status"] != "ok", (case_id, row)
