"""The hostile-input corpus (tests/data/hostile) against every command that reads abstracts: each run ends in
OK with rows in = rows out, or in exit code 2 with one error line — never a traceback, a hang, or a 0-row
output from a non-empty input."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drgkit.cli import app

HOSTILE = Path(__file__).parent / "data" / "hostile"
MANIFEST = list(csv.DictReader((HOSTILE / "manifest.csv").open(encoding="utf-8")))
COMMANDS = {
    "group": ["group", "{in}", "-o", "{out}.parquet"],
    "group-csv": ["group", "{in}", "-o", "{out}.csv"],
    "group-xlsx": ["group", "{in}", "-o", "{out}.xlsx"],
    "group-price": [
        "group",
        "{in}",
        "-o",
        "{out}.parquet",
        "--price",
        "suzhou-2023",
        "--level",
        "level3",
        "--scheme",
        "suzhou-2023",
    ],
    "group-edits": ["group", "{in}", "-o", "{out}.parquet", "--edits", "--scheme", "chs-drg-2.0"],
    "validate": ["validate", "{in}", "-o", "{out}.parquet"],
}
runner = CliRunner()


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return sum(1 for _ in csv.reader(f)) - 1
    import openpyxl

    return sum(1 for _ in openpyxl.load_workbook(path, read_only=True).active.iter_rows()) - 1


CASES = [(entry, name) for entry in MANIFEST for name in COMMANDS]


def test_the_corpus_is_wide() -> None:
    assert len(MANIFEST) >= 35 and len(CASES) >= 200


@pytest.mark.parametrize("entry, command", CASES, ids=[f"{e['file']}:{c}" for e, c in CASES])
def test_ok_with_every_row_or_one_error_line(entry: dict, command: str, tmp_path: Path) -> None:
    args = [
        a.replace("{in}", str(HOSTILE / entry["file"])).replace("{out}", str(tmp_path / "out"))
        for a in COMMANDS[command]
    ]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        result = runner.invoke(app, args)
    except Hang:
        pytest.fail(f"{entry['file']}: {command} ran over 60 s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "Traceback" not in result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{entry['file']}: {command} crashed") from result.exception
    if entry["rows"] == "":
        assert result.exit_code == 2, f"{entry['file']} ({entry['note']}) should be refused: {result.output}"
    elif not (command == "group-xlsx" and "Excel" in result.output):  # a cell over Excel's limit: refused
        # a readable table is read, whatever its values
        assert result.exit_code == 0, f"{entry['file']} ({entry['note']}): {result.output}"
    if result.exit_code == 2:
        lines = [ln for ln in result.stderr.strip().splitlines() if ln.startswith("error:")]
        assert len(lines) == 1, result.stderr
        assert not list(tmp_path.glob("out*")), "a failed run left an output"
        return
    assert result.exit_code == 0, result.output
    [out] = list(tmp_path.glob("out*"))
    assert _rows(out) == int(entry["rows"]), f"{entry['file']} ({entry['note']}): rows in ≠ rows out"
