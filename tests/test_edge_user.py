"""A demanding user at the edge: exports as coders and bureaus really write them, through the command line
(typer's CliRunner).  Each test here was a silent defect: a value dropped or misread, a file read wrongly."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from drgkit.cli import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def write_csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def group_rows(tmp_path: Path, source: Path, *extra: object) -> list[dict[str, str]]:
    """``drgkit group`` to CSV with canonical names; the output rows."""
    out = tmp_path / "out.csv"
    result = invoke("group", source, "-o", out, "--canonical", "-q", *extra)
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


HEADER = ["病案号", "性别", "年龄", "年龄不足1周岁的天龄", "新生儿出生体重", "实际住院天数", "离院方式", "出院诊断编码"]


def test_birth_weight_in_kilograms_or_with_thousands_commas_is_read_in_grams(tmp_path: Path) -> None:
    """``1.2kg``, ``3.2公斤``, ``3,200`` were 'not a number': the newborn's record became invalid."""
    rows = [
        ["1", "女", "0", "3", "1.2kg", "5", "1", "P07.100"],
        ["2", "女", "0", "3", "3.2公斤", "5", "1", "P07.100"],
        ["3", "女", "0", "3", "1.25 千克", "5", "1", "P07.100"],
        ["4", "女", "0", "3", "3,200", "5", "1", "P07.100"],
        ["5", "女", "0", "3", "3200克", "5", "1", "P07.100"],
        ["6", "女", "0", "3", "1,23", "5", "1", "P07.100"],  # a decimal comma or a slip: not read
    ]
    out = group_rows(tmp_path, write_csv(tmp_path / "in.csv", HEADER, rows))
    assert [r["birth_weight"] for r in out] == ["1200", "3200", "1250", "3200", "3200", ""]
    assert [r["status"] for r in out[:5]] == ["ok"] * 5
    assert out[5]["status"] == "invalid" and "birth_weight: '1,23'" in out[5]["reason"]
