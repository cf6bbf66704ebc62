"""Never silent: renaming any one code column of a real-shaped export (tests/data/exports) to a header drgkit
does not know (字段7, col_x) is an error, on one line, that names that column and the --map that reads it —
for every code column of several header families (主要诊断编码 / 出院主要诊断编码, 其他诊断编码N, 主要手术及操作编码,
其他手术及操作编码N, 医保结算清单 代码, 出院诊断编码N / 手术及操作编码N numbered from the principal, one 诊断编码
column, interface diag_codeN / oprn_oprt_codeN, English dxN / pxN).  The --map it names reads the file to
exactly the groups of the file as exported, and --allow-unmapped turns the error into a warning (exit 0) —
except when the renamed column held the principal diagnosis or main procedure while others of its kind are
still read (the next one would silently become the principal), or was the only diagnosis column."""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import DATA
from drgkit.cli import app

EXPORTS = DATA / "exports"
#: (file, encoding, unknown header the code column is renamed to)
FILES = [
    ("v11_front_sheet_gbk.csv", "gbk", "字段7"),  # 出院主要诊断编码, 其他诊断编码N, 主要手术及操作编码 …
    ("v11_parens.csv", "utf-8", "字段7"),  # 主要诊断编码, 其他诊断编码(N), 其他手术及操作编码(N)
    ("v11_settlement_list.csv", "utf-8", "字段7"),  # 主要诊断代码, 其他诊断代码N …, names beside codes
    ("v11_discharge_numbered_bom.csv", "utf-8-sig", "字段7"),  # 出院诊断编码1…N, 手术及操作编码1…N
    ("v11_single_pipe.csv", "utf-8", "字段7"),  # one 诊断编码 column, one 手术操作编码 column
    ("v11_interface_wide.csv", "utf-8", "col_x"),  # diag_code1…N, oprn_oprt_code1…N
    ("v11_english.csv", "utf-8", "col_x"),
]  # dx1…N, px1…N
ENCODING = {name: encoding for name, encoding, _ in FILES}
UNKNOWN = {name: unknown for name, _, unknown in FILES}
FIRST_IS_PRINCIPAL = re.compile(r"^(出院诊断编码|手术及操作编码|diag_code|oprn_oprt_code|dx|px)1$")
runner = CliRunner()


def kind(header: str) -> str | None:
    """'dx' or 'px' for a code column of the corpus (names beside codes are not), else None."""
    h = header.strip()
    if re.fullmatch(r"(diag_code|dx)\d+", h) or ("诊断" in h and ("编码" in h or "代码" in h)):
        return "dx"
    if re.fullmatch(r"(oprn_oprt_code|px)\d+", h) or ("手术" in h and ("编码" in h or "代码" in h)):
        return "px"
    return None


def is_principal(header: str) -> bool:
    h = header.strip()
    return h.startswith(("主要", "出院主要", "第一")) or bool(FIRST_IS_PRINCIPAL.match(h))


def _read(name: str) -> tuple[list[str], list[list[str]]]:
    with open(EXPORTS / name, encoding=ENCODING[name], newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


CASES = [(name, column) for name, _, _ in FILES for column in _read(name)[0] if kind(column)]


def _group(out: Path, *args: str):
    return runner.invoke(app, ["group", *args, "-o", str(out), "-q"])


def _results(path: Path) -> list[tuple[str, str]]:
    table = pq.read_table(path, columns=["status", "drg"])
    return list(zip(table.column("status").to_pylist(), table.column("drg").to_pylist()))


@cache
def _as_exported(name: str, tmp: str) -> tuple[tuple[str, str], ...]:
    out = Path(tmp) / f"{name}.as_exported.parquet"
    result = _group(out, str(EXPORTS / name), "--scheme", "chs-drg-1.1")
    assert result.exit_code == 0, result.output
    return tuple(_results(out))


def error_line(result) -> str:
    """The one error line of a refused run (the mapping report may come before it)."""
    assert result.exit_code == 2, f"exit {result.exit_code}, not refused; stderr: {result.stderr.strip()[:400]}"
    assert "Traceback" not in result.output
    lines = [
        ln
        for ln in result.stderr.strip().splitlines()
        if ln.strip() and not ln.startswith(("columns read:", "carried through:", "skipped "))
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def test_every_family_has_its_code_columns_tested() -> None:
    assert len(CASES) >= 60
    assert {name for name, _ in CASES} == set(ENCODING)
    columns = {column.strip() for _, column in CASES}
    for family in (
        "主要诊断编码",
        "出院主要诊断编码",
        "其他诊断编码1",
        "主要手术及操作编码",
        "其他手术及操作编码1",
        "主要诊断代码",
        "其他诊断代码1",
        "出院诊断编码1",
        "手术及操作编码1",
        "诊断编码",
        "手术操作编码",
        "diag_code1",
        "oprn_oprt_code1",
        "dx1",
        "px1",
    ):
        assert family in columns, family


def _renamed(tmp_path: Path, name: str, column: str) -> tuple[Path, list[str]]:
    """The export with ``column`` renamed to an unknown header, written as the export was (encoding, BOM)."""
    header, rows = _read(name)
    values = [r[header.index(column)] for r in rows]
    assert any(v.strip() for v in values), f"{column} is empty in {name}: nothing to lose, nothing to test"
    path = tmp_path / name
    with open(path, "w", encoding=ENCODING[name], newline="") as f:
        csv.writer(f).writerows([[UNKNOWN[name] if h == column else h for h in header], *rows])
    return path, header


IDS = [f"{n}:{c}" for n, c in CASES]


@pytest.mark.parametrize("name, column", CASES, ids=IDS)
def test_a_renamed_code_column_is_an_error_naming_it(tmp_path: Path, tmp_path_factory, name: str, column: str) -> None:
    path, _ = _renamed(tmp_path, name, column)
    unknown = UNKNOWN[name]
    refused = runner.invoke(app, ["group", str(path), "-o", str(tmp_path / "out.parquet"), "--scheme", "chs-drg-1.1"])
    error = error_line(refused)
    assert unknown in error and "--map" in error, error
    assert not (tmp_path / "out.parquet").exists()

    # the --map the error names reads the file as it was exported: the same groups, row by row
    suggested = re.search(r"--map\s+'?([^'\s]+=[^'\s]+)'?", error)
    assert suggested, error
    fixed = _group(tmp_path / "fixed.parquet", str(path), "--scheme", "chs-drg-1.1", "--map", suggested.group(1))
    assert fixed.exit_code == 0, fixed.output
    expected = _as_exported(name, str(tmp_path_factory.getbasetemp()))
    got = _results(tmp_path / "fixed.parquet")
    differ = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert len(got) == len(expected) and not differ, (
        f"--map {suggested.group(1)}: {len(differ)} rows group differently from the export as written, "
        f"e.g. row {differ[:1]}: {[got[i] for i in differ[:1]]} vs {[expected[i] for i in differ[:1]]}"
    )


@pytest.mark.parametrize("name, column", CASES, ids=IDS)
def test_allow_unmapped_turns_the_error_into_a_warning(tmp_path: Path, name: str, column: str) -> None:
    path, header = _renamed(tmp_path, name, column)
    unknown = UNKNOWN[name]
    loose = runner.invoke(
        app, ["group", str(path), "-o", str(tmp_path / "loose.parquet"), "--scheme", "chs-drg-1.1", "--allow-unmapped"]
    )
    others = [h for h in header if h != column and kind(h) == kind(column)]
    if is_principal(column) and others:
        # the next column of its kind would silently become the principal: still refused
        assert "--map" in error_line(loose)
    elif kind(column) == "dx" and not others:
        error_line(loose)  # no diagnosis column left at all
    else:
        assert loose.exit_code == 0, loose.output
        assert unknown in loose.stderr, loose.stderr
