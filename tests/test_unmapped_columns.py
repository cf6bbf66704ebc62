"""Never silent: renaming any one code column of a real-shaped export to a header drgkit does not know is an
error that names that column and the --map that reads it — for every code column of several header
families — and that --map, or --allow-unmapped, then lets the file through."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgkit.cli import app
from drgkit.io.columns import classify_header

EXPORTS = Path(__file__).parent / "data" / "exports"
FILES = ["v11_front_sheet_gbk.csv", "v11_settlement_list.csv", "v11_discharge_numbered_bom.csv",
         "v11_interface_wide.csv", "v11_single_pipe.csv", "v11_parens.csv"]
runner = CliRunner()


def _read(name: str) -> tuple[list[str], list[list[str]], str]:
    encoding = "gbk" if "gbk" in name else "utf-8-sig"
    with open(EXPORTS / name, encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:], encoding


def _code_columns(header: list[str]) -> list[str]:
    return [h for h in header if (classify_header(h) or ("",))[0].startswith(("dx", "px"))]


CASES = [(name, column) for name in FILES for column in _code_columns(_read(name)[0])]


def test_every_family_has_its_code_columns_tested() -> None:
    assert len(CASES) >= 60
    assert {name for name, _ in CASES} == set(FILES)


@pytest.mark.parametrize("name, column", CASES, ids=[f"{n}:{c}" for n, c in CASES])
def test_a_renamed_code_column_is_an_error_naming_it(tmp_path: Path, name: str, column: str) -> None:
    header, rows, encoding = _read(name)
    unknown = "字段X"
    renamed = [unknown if h == column else h for h in header]
    path = tmp_path / name
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([renamed, *rows])
    values = [r[header.index(column)] for r in rows]
    result = runner.invoke(app, ["group", str(path), "-o", str(tmp_path / "out.parquet")])
    if not any(v.strip() for v in values):
        # an empty column holds no codes: nothing is lost, and nothing is refused
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and f"'{unknown}'" in error and "--map" in error, error
    assert not (tmp_path / "out.parquet").exists()
    # the --map the error names reads the file
    suggested = re.search(r"--map '([^']+)'", error).group(1)
    fixed = runner.invoke(app, ["group", str(path), "-o", str(tmp_path / "fixed.parquet"), "-q", "--map", suggested])
    assert fixed.exit_code == 0, fixed.output
    loose = runner.invoke(app, ["group", str(path), "-o", str(tmp_path / "loose.parquet"), "-q", "--allow-unmapped"])
    kind = classify_header(column)[0][:2]
    others = [c for c in _code_columns(header) if c != column and classify_header(c)[0].startswith(kind)]
    if suggested.endswith("_main") and others:
        assert loose.exit_code == 2  # the secondary codes left would become the principal: still refused
    elif kind == "dx" and not others:
        assert loose.exit_code == 2  # no diagnosis column left at all
    else:
        assert loose.exit_code == 0, loose.output
