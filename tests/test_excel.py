"""Excel as hospitals export it: notes sheets, hidden sheets, title and blank rows above the header, typed
cells, .xls, broken files — each read right or refused with one line."""
from __future__ import annotations

import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

import drgkit
from drgkit.io import InputError, read_cases, read_file

HEADER = ["病案号", "性别", "年龄", "出院科别", "主要诊断编码", "其他诊断编码1", "主要手术及操作编码", "出院日期", "总费用"]
ROWS = [
    ["A1", "女", 30, "0501", "O82.000", "O34.201", "74.1x01", datetime.datetime(2024, 5, 10), 12345.6],
    ["A2", "男", "82岁", "0801", "I21.000x005", "E11.900", "36.0601", datetime.datetime(2024, 5, 11), 35000],
]


def _book(path: Path, *, notes: bool = False, hidden_first: bool = False, title: bool = False,
          middle_blank: bool = False, trailing_blank: int = 0) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    if notes or hidden_first:
        sheet.title = "说明"
        sheet.append(["本表由病案系统导出，字段说明见下"])
        sheet.append(["性别", "1 男 2 女"])
        if hidden_first:
            sheet.sheet_state = "hidden"
        sheet = book.create_sheet("数据")
    if title:
        sheet.append(["2024年5月住院病案首页导出"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
        sheet.append([])
    sheet.append(HEADER)
    sheet.append(ROWS[0])
    if middle_blank:
        sheet.append([None] * len(HEADER))
    sheet.append(ROWS[1])
    for _ in range(trailing_blank):
        sheet.append([None] * len(HEADER))
    book.save(path)
    return path


@pytest.mark.parametrize("shape", [{}, {"notes": True}, {"hidden_first": True}, {"title": True},
                                   {"notes": True, "title": True}])
def test_the_data_sheet_and_its_header_are_found(tmp_path: Path, shape: dict) -> None:
    out = drgkit.group(_book(tmp_path / "in.xlsx", **shape))
    assert out.column("病案号").to_pylist() == ["A1", "A2"]
    assert out.column("drg").to_pylist()[0] == "OB19"  # the caesarean's procedure was read
    assert out.column("年龄").to_pylist() == [30, 82]


def test_cells_keep_their_types(tmp_path: Path) -> None:
    table = read_file(_book(tmp_path / "in.xlsx"))
    assert table.schema.field("出院科别").type == pa.string()
    assert table.column("出院科别").to_pylist() == ["0501", "0801"]  # department codes keep their zero
    assert pa.types.is_timestamp(table.schema.field("出院日期").type)
    assert table.schema.field("总费用").type == pa.float64()
    assert table.column("年龄").to_pylist() == ["30", "82岁"]  # numbers and text: text, 30 not 30.0


def test_rows_in_equal_rows_out_with_blank_rows(tmp_path: Path) -> None:
    table = read_cases(_book(tmp_path / "in.xlsx", middle_blank=True, trailing_blank=3))
    assert table.num_rows == 3  # the blank row between data rows is a row; those after the data are not
    assert table.column("case_id").to_pylist() == ["A1", None, "A2"]


def test_sheet_and_header_row_options(tmp_path: Path) -> None:
    path = _book(tmp_path / "in.xlsx", notes=True, title=True)
    assert read_cases(path, sheet="数据").num_rows == 2
    assert read_cases(path, sheet=2).num_rows == 2
    assert read_cases(path, sheet=2, header_row=3).num_rows == 2
    with pytest.raises(InputError, match="no sheet number 5"):
        read_cases(path, sheet=5)
    with pytest.raises(InputError, match="--header-row 2 is blank"):
        read_cases(path, sheet=2, header_row=2)


def test_a_workbook_without_codes_names_the_sheets_it_looked_at(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["nothing here"])
    book.create_sheet("汇总").append(["科室", "人次"])
    book.save(tmp_path / "none.xlsx")
    with pytest.raises(InputError, match=r"no sheet has a diagnosis column \(sheets looked at: 说明, 汇总"):
        read_cases(tmp_path / "none.xlsx")


def test_blank_and_repeated_header_cells_get_names(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["病案号", None, "主要诊断编码", "备注", "备注", "其他诊断\n编码1"])
    book.active.append(["A1", "x", "I21.000x005", "a", "b", "E11.900"])
    book.save(tmp_path / "h.xlsx")
    table = read_file(tmp_path / "h.xlsx")
    assert table.column_names == ["病案号", "column_B", "主要诊断编码", "备注", "备注_2", "其他诊断编码1"]


def test_xls(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("病案首页")
    for c, name in enumerate(["病案号", "性别", "年龄", "主要诊断编码", "主要手术及操作编码"]):
        sheet.write(0, c, name)
    for c, value in enumerate(["A1", "2", 30, "O82.000", "74.1x01"]):
        sheet.write(1, c, value)
    book.save(str(tmp_path / "old.xls"))
    out = drgkit.group(tmp_path / "old.xls")
    assert out.column("drg").to_pylist() == ["OB19"] and out.column("年龄").to_pylist() == [30]


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 not really a zip", "cannot read xlsx file"),
    (b"<html><table><tr><td>x</td></tr></table></html>", "HTML page saved as .xlsx"),
    (b"", "cannot read xlsx file"),
])
def test_broken_workbooks_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_cases(path)


def test_the_grouped_workbook_is_chinese_first_with_summary_and_problem_sheets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from drgkit.cli import app

    src = _book(tmp_path / "in.xlsx", title=True, middle_blank=True)
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(app, ["group", str(src), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["病案", "汇总", "问题病例"]
    rows = list(book["病案"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:len(HEADER)] == HEADER and header[len(HEADER):len(HEADER) + 3] == ["状态", "原因", "提示"]
    assert [r[header.index("状态")] for r in rows[1:]] == ["入组", "无效病案", "入组"]
    assert rows[2][header.index("原因")] == "V01 性别缺失或无效"  # the blank row: its reason in Chinese
    assert rows[1][header.index("年龄")] == 30 and isinstance(rows[1][header.index("总费用")], float)
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(values_only=True) if r[0]}
    assert summary["病例数 cases"] == "3" and summary["入组率 grouping rate"] == "66.7%"
    problems = list(book["问题病例"].iter_rows(values_only=True))
    assert len(problems) == 2 and problems[1][problems[0].index("原因")].startswith("V01")
    # the workbook fed back: priced through its Chinese headers and statuses, re-grouped without stale results
    priced = CliRunner().invoke(app, ["pay", str(out), "-o", str(tmp_path / "p.parquet"), "--table", "suzhou-2023",
                                      "--level", "level3", "--allow-scheme-mismatch", "-q"])
    assert priced.exit_code == 0, priced.output
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p.parquet").column("case_type").to_pylist()[1] == "unpriced"
