"""Excel as hospitals export it: notes sheets, hidden sheets, title and blank rows above the header, two-row
headers, typed cells, .xls, broken files — each read right or refused with one line.

The first tests call :func:`drgkit.io.excel.read_excel` with small predicates; the last ones go through
``read_cases`` / ``drgkit.group`` with the real field vocabulary.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pyarrow as pa
import pytest

import drgkit
from drgkit.io import InputError, read_cases, read_file
from drgkit.io.excel import read_excel, sheet_names

KNOWN = {"病案号", "性别", "年龄", "出院科别", "主要诊断编码", "出院日期", "总费用"}


def known(header: str) -> bool:
    return header in KNOWN or re.fullmatch(r"其他诊断编码\d*(_\d+)?", header) is not None


def has_dx(headers: list[str]) -> bool:
    return "主要诊断编码" in headers


def read(path: Path, **kwargs) -> pa.Table:
    return read_excel(path, is_known_header=known, has_needed_fields=has_dx, **kwargs)


def _save(
    path: Path,
    sheets: dict[str, list[list]],
    *,
    hidden: tuple[str, ...] = (),
    merges: dict[str, list[str]] | None = None,
) -> Path:
    """A workbook of ``{sheet name: rows}`` written with openpyxl (``None`` is an empty cell)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=r, column=c, value=value)
        for ref in (merges or {}).get(name, []):
            sheet.merge_cells(ref)
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


HEADER = ["病案号", "性别", "年龄", "主要诊断编码"]
DATA = [["A1", "女", 30, "O82.000"], ["A2", "男", 82, "I21.000x005"]]


# ----------------------------------------------------------------------------------------------
# Which sheet


def test_notes_sheet_first_then_the_data_sheet(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "a.xlsx", {"说明": [["本表由病案系统导出"], ["性别", "1 男 2 女"]], "数据": [HEADER, *DATA]}
    )
    table = read(path)
    assert table.column_names == HEADER
    assert table.column("病案号").to_pylist() == ["A1", "A2"]
    assert sheet_names(path) == ["说明", "数据"]


def test_a_field_list_sheet_does_not_pass_for_the_data(tmp_path: Path) -> None:
    fields = [["字段", "说明"], ["主要诊断编码", "ICD-10 医保版"], ["性别", "1 男 2 女"], ["年龄", "岁"]]
    path = _save(tmp_path / "a.xlsx", {"字段说明": fields, "数据": [HEADER, *DATA]})
    assert read(path).column_names == HEADER
    # alone, a sheet whose header has a single known cell is still read
    one = _save(tmp_path / "b.xlsx", {"数据": [["编号", "主要诊断编码"], ["1", "I21.000"]]})
    assert read(one).column_names == ["编号", "主要诊断编码"]


def test_a_hidden_sheet_is_skipped_unless_named(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "a.xlsx", {"旧": [HEADER, ["OLD", "女", 1, "Z00"]], "数据": [HEADER, *DATA]}, hidden=("旧",)
    )
    assert read(path).column("病案号").to_pylist() == ["A1", "A2"]
    assert read(path, sheet="旧").column("病案号").to_pylist() == ["OLD"]
    assert read(path, sheet=1).column("病案号").to_pylist() == ["OLD"]


def test_sheet_by_name_and_by_number(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "a.xlsx",
        {"说明": [["notes"]], "数据": [HEADER, *DATA], "数据2": [HEADER, ["B1", "男", 5, "J18.900"]]},
    )
    assert read(path, sheet="数据2").column("病案号").to_pylist() == ["B1"]
    assert read(path, sheet=3).column("病案号").to_pylist() == ["B1"]
    assert read(path, sheet="3").column("病案号").to_pylist() == ["B1"]  # --sheet 3 as given on the line
    assert read(path, sheet=" 数据2 ").num_rows == 1  # stray spaces around the name
    assert read(path, sheet=2).num_rows == 2
    # a sheet named by the user is read even without the needed fields
    assert read(path, sheet="说明").column_names == ["notes"]


def test_a_missing_sheet_names_the_sheets(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.xlsx", {"说明": [["notes"]], "数据": [HEADER, *DATA]})
    with pytest.raises(InputError, match=r"no sheet named '病案' \(sheets: 说明, 数据\)"):
        read(path, sheet="病案")
    with pytest.raises(InputError, match=r"no sheet number 7; the workbook has 2 sheets \(说明, 数据\)"):
        read(path, sheet=7)


def test_no_sheet_qualifies_names_the_sheets_looked_at(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "a.xlsx",
        {"说明": [["notes"]], "汇总": [["科室", "人次"], ["内科", 3]], "隐藏": [HEADER, *DATA]},
        hidden=("隐藏",),
    )
    with pytest.raises(InputError) as info:
        read(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"{path}: no sheet has a diagnosis column (sheets looked at: 说明, 汇总; "
        f"hidden, not looked at: 隐藏; header rows checked: the first 30 non-empty rows)"
    )
    assert "--sheet" in message and "--header-row" in message


def test_an_empty_sheet_named_is_an_error(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.xlsx", {"空": [], "数据": [HEADER, *DATA]})
    assert read(path).num_rows == 2  # skipped when looking
    with pytest.raises(InputError, match="sheet '空' is empty"):
        read(path, sheet="空")


# ----------------------------------------------------------------------------------------------
# Which row is the header


def test_title_and_blank_rows_above_the_header(tmp_path: Path) -> None:
    rows = [["2024年5月住院病案首页导出"], [], ["导出时间：2024-06-01", None, "单位：元"], HEADER, *DATA]
    path = _save(tmp_path / "a.xlsx", {"数据": rows}, merges={"数据": ["A1:D1"]})
    table = read(path)
    assert table.column_names == HEADER and table.num_rows == 2
    assert table.column("年龄").to_pylist() == [30, 82]


def test_leading_empty_rows_and_columns_keep_their_excel_positions(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for c, name in enumerate(["病案号", "性别", None, "主要诊断编码"], start=3):  # header at C4, F4 blank
        sheet.cell(row=4, column=c, value=name)
    for r, row in enumerate([["A1", "女", "x", "O82.000"], ["A2", "男", "y", "I21.000"]], start=5):
        for c, value in enumerate(row, start=3):
            sheet.cell(row=r, column=c, value=value)
    book.save(tmp_path / "a.xlsx")
    table = read(tmp_path / "a.xlsx")
    assert table.column_names == ["病案号", "性别", "column_E", "主要诊断编码"]
    assert table.column("column_E").to_pylist() == ["x", "y"]
    assert read(tmp_path / "a.xlsx", header_row=4).column_names == table.column_names


def test_forced_header_row(tmp_path: Path) -> None:
    # a legend row that looks like a header (two known cells) above the real one: only --header-row helps
    rows = [["字段说明"], ["性别", "年龄"], [], HEADER, *DATA]
    path = _save(tmp_path / "a.xlsx", {"数据": rows})
    with pytest.raises(InputError, match="no sheet has a diagnosis column"):
        read(path)
    table = read(path, header_row=4)
    assert table.column_names == HEADER and table.column("病案号").to_pylist() == ["A1", "A2"]
    assert read(path, sheet="数据", header_row=2).column_names[:2] == ["性别", "年龄"]
    with pytest.raises(InputError, match=r"sheet '数据': --header-row 3 is blank"):
        read(path, sheet=1, header_row=3)
    with pytest.raises(InputError, match=r"--header-row 40 is past the last row \(6\)"):
        read(path, sheet=1, header_row=40)


def test_the_header_is_found_among_the_first_30_non_empty_rows(tmp_path: Path) -> None:
    notes = [[f"说明 {i}"] for i in range(29)]
    path = _save(tmp_path / "a.xlsx", {"数据": [*notes, [], [], HEADER, *DATA]})
    assert read(path).num_rows == 2
    path = _save(tmp_path / "b.xlsx", {"数据": [*notes, ["more"], HEADER, *DATA]})
    with pytest.raises(InputError, match="no sheet has a diagnosis column"):
        read(path)
    assert read(path, header_row=31).num_rows == 2


def test_a_header_with_one_known_cell_is_taken_when_no_row_has_two(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.xlsx", {"数据": [["title"], ["id", "主要诊断编码", "备注"], ["A1", "I21.000", "x"]]})
    assert read(path).column_names == ["id", "主要诊断编码", "备注"]


# ----------------------------------------------------------------------------------------------
# Header names


def test_blank_repeated_and_multi_line_header_cells(tmp_path: Path) -> None:
    header = ["病案号", None, "主要诊断编码", "备注", "备注", "  其他诊断\n编码1 ", "备注_2", None]
    path = _save(tmp_path / "a.xlsx", {"数据": [header, ["A1", "x", "I21.000", "a", "b", "E11.900", "c"]]})
    table = read(path)
    # H has neither a header nor a value: not a column
    assert table.column_names == ["病案号", "column_B", "主要诊断编码", "备注", "备注_3", "其他诊断编码1", "备注_2"]


def test_a_header_without_data_is_a_column_of_nulls(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.xlsx", {"数据": [[*HEADER, "备注"], ["A1", "女", 30, "O82.000"]]})
    table = read(path)
    assert table.column_names == [*HEADER, "备注"] and table.column("备注").to_pylist() == [None]
    header_only = read(_save(tmp_path / "b.xlsx", {"数据": [HEADER]}))
    assert header_only.column_names == HEADER and header_only.num_rows == 0
    assert all(t == pa.string() for t in header_only.schema.types)


def test_two_row_header_with_merged_group_cells(tmp_path: Path) -> None:
    rows = [
        ["病案号", "性别", "主要诊断", None, "其他诊断", None, None],
        [None, None, "编码", "名称", "编码1", "编码2", "编码3"],
        ["A1", "女", "O82.000", "剖宫产", "O34.201", None, None],
    ]
    merges = ["A1:A2", "B1:B2", "C1:D1", "E1:G1"]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}, merges={"数据": merges}))
    assert table.column_names == [
        "病案号",
        "性别",
        "主要诊断编码",
        "主要诊断名称",
        "其他诊断编码1",
        "其他诊断编码2",
        "其他诊断编码3",
    ]
    assert table.num_rows == 1 and table.column("主要诊断编码").to_pylist() == ["O82.000"]


def test_a_group_row_above_the_header(tmp_path: Path) -> None:
    rows = [
        ["基本信息", None, None, "其他诊断", None],
        ["病案号", "性别", "主要诊断编码", "编码1", "编码2"],
        ["A1", "女", "O82.000", "O34.201", "E11.900"],
    ]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}, merges={"数据": ["A1:C1", "D1:E1"]}))
    assert table.column_names == ["病案号", "性别", "主要诊断编码", "其他诊断编码1", "其他诊断编码2"]
    assert table.num_rows == 1


def test_a_header_cell_merged_across_columns_names_each_column(tmp_path: Path) -> None:
    rows = [["病案号", "主要诊断编码", "其他诊断编码", None, None], ["A1", "O82.000", "O34.201", "E11.900", None]]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}, merges={"数据": ["C1:E1"]}))
    assert table.column_names == ["病案号", "主要诊断编码", "其他诊断编码", "其他诊断编码_2", "其他诊断编码_3"]
    assert table.column("其他诊断编码_2").to_pylist() == ["E11.900"]


def test_a_header_like_row_under_the_header_is_not_data(tmp_path: Path) -> None:
    # 医保结算清单 exports: Chinese labels, then the interface field codes, then data
    rows = [["病案号", "性别", "年龄", "主要诊断编码"], ["mdtrt_id", "gend", "age", "diag_code"], *DATA]
    table = read_excel(
        _save(tmp_path / "a.xlsx", {"数据": rows}),
        has_needed_fields=has_dx,
        is_known_header=lambda h: known(h) or h in {"gend", "age"},
    )
    assert table.column("病案号").to_pylist() == ["A1", "A2"]
    assert table.column("年龄").type == pa.int64()


# ----------------------------------------------------------------------------------------------
# Rows and cells


def test_cells_keep_their_types(tmp_path: Path) -> None:
    header = [
        "病案号",
        "主要诊断编码",
        "出院科别",
        "年龄",
        "总费用",
        "出院日期",
        "入院日期",
        "年龄2",
        "新生儿",
        "结果",
        "混合日期",
    ]
    rows = [
        header,
        [
            "A1",
            "O82.000",
            "0801",
            30,
            12345.6,
            datetime.datetime(2024, 5, 10, 9, 30),
            datetime.date(2024, 5, 1),
            30,
            True,
            1.5,
            datetime.datetime(2024, 5, 1),
        ],
        [
            "A2",
            "I21.000",
            "0501",
            82,
            35000,
            datetime.datetime(2024, 5, 11),
            datetime.date(2024, 5, 2),
            "82岁",
            False,
            "#N/A",
            "2024.05.02",
        ],
        ["A3", "J18.900", "1201", 5, 0.5, None, datetime.date(2024, 5, 3), 12345678, None, 2, None],
    ]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}))
    types = dict(zip(table.column_names, table.schema.types))
    assert types["出院科别"] == pa.string()
    assert table.column("出院科别").to_pylist() == ["0801", "0501", "1201"]  # department codes keep their zero
    assert types["年龄"] == pa.int64() and table.column("年龄").to_pylist() == [30, 82, 5]
    assert types["总费用"] == pa.float64() and table.column("总费用").to_pylist() == [12345.6, 35000.0, 0.5]
    assert pa.types.is_timestamp(types["出院日期"]) and pa.types.is_timestamp(types["入院日期"])
    assert table.column("出院日期").to_pylist()[0] == datetime.datetime(2024, 5, 10, 9, 30)
    assert table.column("入院日期").to_pylist()[2] == datetime.datetime(2024, 5, 3)
    # numbers and text: text, whole numbers without ".0"
    assert types["年龄2"] == pa.string() and table.column("年龄2").to_pylist() == ["30", "82岁", "12345678"]
    assert types["新生儿"] == pa.bool_() and table.column("新生儿").to_pylist() == [True, False, None]
    assert types["结果"] == pa.float64() and table.column("结果").to_pylist() == [1.5, None, 2.0]  # #N/A: null
    assert types["混合日期"] == pa.string()
    assert table.column("混合日期").to_pylist() == ["2024-05-01 00:00:00", "2024.05.02", None]


def test_a_late_text_value_does_not_null_a_numeric_column(tmp_path: Path) -> None:
    rows = [HEADER] + [[f"A{i}", "女", 30, "O82.000"] for i in range(1500)] + [["Z", "男", "3月", "O82.000"]]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}))
    assert table.column("年龄").type == pa.string()
    assert table.column("年龄").to_pylist()[-2:] == ["30", "3月"]


def test_rows_in_equal_rows_out(tmp_path: Path) -> None:
    rows = [["title"], HEADER, [], DATA[0], [], [], DATA[1], [], [None, " ", ""], []]
    table = read(_save(tmp_path / "a.xlsx", {"数据": rows}))
    # the empty row after the header and those between data rows are rows; those after the data are not
    assert table.column("病案号").to_pylist() == [None, "A1", None, None, "A2"]
    assert table.column("年龄").to_pylist() == [None, 30, None, None, 82]


def test_a_column_past_the_header_with_data_is_kept(tmp_path: Path) -> None:
    table = read(_save(tmp_path / "a.xlsx", {"数据": [HEADER, [*DATA[0], None, "stray"], DATA[1]]}))
    assert table.column_names == [*HEADER, "column_F"]
    assert table.column("column_F").to_pylist() == ["stray", None]


# ----------------------------------------------------------------------------------------------
# A hand-made package: shared strings, rich text, escapes, merged ranges (what Excel and WPS write;
# openpyxl writes inline strings)


def _raw_xlsx(path: Path, rows: list[list], merges: list[str] = (), sheet: str = "病案") -> Path:
    strings: list[str] = []

    def cell(ref: str, value) -> str:
        if value is None:
            return ""
        if isinstance(value, (int, float)):
            return f'<c r="{ref}"><v>{value}</v></c>'
        if isinstance(value, tuple):  # rich text runs
            runs = "".join(f"<r><rPr><b/></rPr><t>{escape(v)}</t></r>" for v in value)
            strings.append(f'<si>{runs}<rPh sb="0" eb="1"><t>ヨミ</t></rPh></si>')
        else:
            strings.append(f'<si><t xml:space="preserve">{escape(value)}</t></si>')
        return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'

    body = ""
    for r, row in enumerate(rows, start=1):
        cells = "".join(cell(f"{chr(65 + c)}{r}", v) for c, v in enumerate(row))
        body += f'<row r="{r}">{cells}</row>' if cells else ""
    merge_xml = (
        (f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>")
        if merges
        else ""
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            f'"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/'
            f'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" Type="{rel}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" '
            f'Target="/xl/sharedStrings.xml"/></Relationships>',
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}"><sheetData>{body}</sheetData>{merge_xml}</worksheet>',
        )
        z.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="{main}" count="{len(strings)}" uniqueCount="{len(strings)}">{"".join(strings)}</sst>',
        )
    return path


def test_shared_strings_rich_text_and_escaped_line_breaks(tmp_path: Path) -> None:
    rows = [
        ["2024年住院病案首页"],
        [],
        ["病案号", ("主要诊断", "编码"), "其他诊断_x000A_编码1", "年龄"],
        ["A1", "O82.000", "O34.201", 30],
        ["A2", "I21.000", None, 82],
    ]
    path = _raw_xlsx(tmp_path / "wps.xlsx", rows, merges=["A1:D1"])
    table = read(path)
    assert table.column_names == ["病案号", "主要诊断编码", "其他诊断编码1", "年龄"]
    assert table.column("其他诊断编码1").to_pylist() == ["O34.201", None]
    assert table.column("年龄").to_pylist() == [30, 82]


def test_shared_strings_two_row_header(tmp_path: Path) -> None:
    rows = [
        ["病案号", "主要诊断", None, "其他诊断", None],
        [None, "编码", "名称", "编码1", "编码2"],
        ["A1", "O82.000", "剖宫产", "O34.201", "E11.900"],
    ]
    path = _raw_xlsx(tmp_path / "wps.xlsx", rows, merges=["A1:A2", "B1:C1", "D1:E1"])
    table = read(path)
    assert table.column_names == ["病案号", "主要诊断编码", "主要诊断名称", "其他诊断编码1", "其他诊断编码2"]
    assert table.num_rows == 1


# ----------------------------------------------------------------------------------------------
# .xls


def _xls(
    path: Path, rows: list[list], merges: list[tuple[int, int, int, int, str]] = (), name: str = "病案首页"
) -> Path:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet(name)
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    covered = set()
    for r0, r1, c0, c1, label in merges:
        sheet.write_merge(r0, r1, c0, c1, label)
        covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and (r, c) not in covered:
                if isinstance(value, datetime.date):
                    sheet.write(r, c, value, dates)
                else:
                    sheet.write(r, c, value)
    book.save(str(path))
    return path


def test_xls(tmp_path: Path) -> None:
    rows = [
        ["2024年病案首页"],
        [],
        [*HEADER, "出院科别", "出院日期", "总费用"],
        ["A1", "女", 30, "O82.000", "0801", datetime.date(2024, 5, 10), 12.5],
        ["A2", "男", "82岁", "I21.000", "0501", datetime.date(2024, 5, 11), 30],
    ]
    table = read(_xls(tmp_path / "old.xls", rows))
    assert table.column_names == [*HEADER, "出院科别", "出院日期", "总费用"]
    assert table.column("年龄").to_pylist() == ["30", "82岁"]
    assert table.column("出院科别").to_pylist() == ["0801", "0501"]
    assert table.column("出院日期").to_pylist()[0] == datetime.datetime(2024, 5, 10)
    assert table.column("总费用").to_pylist() == [12.5, 30.0]


def test_xls_two_row_header_without_merge_information(tmp_path: Path) -> None:
    rows = [
        [None, None, None, None, None, None],
        [None, None, "编码", "名称", "编码1", "编码2"],
        ["A1", "女", "O82.000", "剖宫产", "O34.201", None],
    ]
    merges = [(0, 1, 0, 0, "病案号"), (0, 1, 1, 1, "性别"), (0, 0, 2, 3, "主要诊断"), (0, 0, 4, 5, "其他诊断")]
    table = read(_xls(tmp_path / "old.xls", rows, merges))
    assert table.column_names == ["病案号", "性别", "主要诊断编码", "主要诊断名称", "其他诊断编码1", "其他诊断编码2"]
    assert table.column("性别").to_pylist() == ["女"]


@pytest.mark.parametrize("suffix", [".xls", ".xlsm"])
def test_an_xlsx_under_another_excel_suffix_is_read(tmp_path: Path, suffix: str) -> None:
    path = _save(tmp_path / "a.xlsx", {"数据": [["title"], HEADER, *DATA]})
    path = path.rename(tmp_path / f"a{suffix}")  # .xls: read by its content
    assert read(path).column("病案号").to_pylist() == ["A1", "A2"]


# ----------------------------------------------------------------------------------------------
# Files that are not workbooks: one line each


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.xlsx", b"PK\x03\x04 not really a zip", "is a damaged .xlsx (its ZIP container is broken"),
        ("bad.xlsx", bytes(range(256)) * 20, "cannot read xlsx file"),
        ("bad.xlsx", b"", "is empty (0 bytes)"),
        ("bad.xls", b"<html><body><table><tr><td>x</td></tr></table></body></html>", "HTML page saved as .xls"),
        ("bad.xlsx", b"<!DOCTYPE html><html><table></table></html>", "HTML page saved as .xlsx"),
        (
            "bad.xls",
            b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n<Workbook '
            b'xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "XML Spreadsheet 2003",
        ),
        ("bad.xls", "病案号\t主要诊断编码\nA1\tI21.000\n".encode("gb18030"), "tab-separated text file saved as .xls"),
        (
            "bad.xlsx",
            OLE + b"\x00" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 500,
            "password-protected",
        ),
        ("bad.xls", OLE + b"\x00" * 2000, "cannot read xls file"),
        ("bad.xls", "\ufeff病案号\t主要诊断编码\r\nA1\tI21.000\r\n".encode("utf-16-le"), "UTF-16 text"),
        ("bad.xlsx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "is a PDF document"),
    ],
)
def test_broken_workbooks_are_one_line(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))
    with pytest.raises(InputError):
        sheet_names(path)


def test_a_zip_that_is_not_a_workbook_and_a_truncated_workbook(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.xlsx", "w") as z:
        z.writestr("病案.csv", "病案号,主要诊断编码\n")
    with pytest.raises(InputError, match="is a ZIP archive but not an Excel workbook"):
        read(tmp_path / "a.xlsx")
    whole = _save(tmp_path / "b.xlsx", {"数据": [HEADER, *DATA]}).read_bytes()
    (tmp_path / "c.xlsx").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"c\.xlsx: is a damaged \.xlsx"):
        read(tmp_path / "c.xlsx")


def test_header_row_must_be_positive(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.xlsx", {"数据": [HEADER, *DATA]})
    with pytest.raises(InputError, match="--header-row must be 1 or more"):
        read(path, header_row=0)


# ----------------------------------------------------------------------------------------------
# Through the reader and the grouper, with the real vocabulary

FRONT = [
    "病案号",
    "性别",
    "年龄",
    "出院科别",
    "主要诊断编码",
    "其他诊断编码1",
    "主要手术及操作编码",
    "出院日期",
    "总费用",
]
ROWS = [
    ["A1", "女", 30, "0501", "O82.000", "O34.201", "74.1x01", datetime.datetime(2024, 5, 10), 12345.6],
    ["A2", "男", "82岁", "0801", "I21.000x005", "E11.900", "36.0601", datetime.datetime(2024, 5, 11), 35000],
]


def _book(
    path: Path,
    *,
    notes: bool = False,
    hidden_first: bool = False,
    title: bool = False,
    middle_blank: bool = False,
    trailing_blank: int = 0,
) -> Path:
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
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(FRONT))
        sheet.append([])
    sheet.append(FRONT)
    sheet.append(ROWS[0])
    if middle_blank:
        sheet.append([None] * len(FRONT))
    sheet.append(ROWS[1])
    for _ in range(trailing_blank):
        sheet.append([None] * len(FRONT))
    book.save(path)
    return path


@pytest.mark.parametrize(
    "shape", [{}, {"notes": True}, {"hidden_first": True}, {"title": True}, {"notes": True, "title": True}]
)
def test_the_data_sheet_and_its_header_are_found(tmp_path: Path, shape: dict) -> None:
    out = drgkit.group(_book(tmp_path / "in.xlsx", **shape))
    assert out.column("病案号").to_pylist() == ["A1", "A2"]
    assert out.column("drg").to_pylist()[0] == "OB19"  # the caesarean's procedure was read
    assert out.column("年龄").to_pylist() == [30, 82]


def test_read_file_keeps_the_cell_types(tmp_path: Path) -> None:
    table = read_file(_book(tmp_path / "in.xlsx"))
    assert table.schema.field("出院科别").type == pa.string()
    assert table.column("出院科别").to_pylist() == ["0501", "0801"]
    assert pa.types.is_timestamp(table.schema.field("出院日期").type)
    assert table.schema.field("总费用").type == pa.float64()
    assert table.column("年龄").to_pylist() == ["30", "82岁"]


def test_read_cases_rows_in_equal_rows_out(tmp_path: Path) -> None:
    table = read_cases(_book(tmp_path / "in.xlsx", middle_blank=True, trailing_blank=3))
    assert table.num_rows == 3
    assert table.column("case_id").to_pylist() == ["A1", None, "A2"]


def test_read_cases_sheet_and_header_row_options(tmp_path: Path) -> None:
    path = _book(tmp_path / "in.xlsx", notes=True, title=True)
    assert read_cases(path, sheet="数据").num_rows == 2
    assert read_cases(path, sheet=2).num_rows == 2
    assert read_cases(path, sheet=2, header_row=3).num_rows == 2
    with pytest.raises(InputError, match="no sheet number 5"):
        read_cases(path, sheet=5)
    with pytest.raises(InputError, match="--header-row 2 is blank"):
        read_cases(path, sheet=2, header_row=2)


def test_xls_groups(tmp_path: Path) -> None:
    rows = [["病案号", "性别", "年龄", "主要诊断编码", "主要手术及操作编码"], ["A1", "2", 30, "O82.000", "74.1x01"]]
    out = drgkit.group(_xls(tmp_path / "old.xls", rows))
    assert out.column("drg").to_pylist() == ["OB19"] and out.column("年龄").to_pylist() == [30]


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
    assert header[: len(FRONT)] == FRONT and header[len(FRONT) : len(FRONT) + 3] == ["状态", "原因", "提示"]
    assert [r[header.index("状态")] for r in rows[1:]] == ["入组", "无效病案", "入组"]
    assert rows[2][header.index("原因")] == "V06 字段值无法识别: （空行，不是病案）"  # the blank row, said in Chinese
    assert rows[1][header.index("年龄")] == 30 and isinstance(rows[1][header.index("总费用")], float)
    summary = {r[0]: r[1] for r in book["汇总"].iter_rows(values_only=True) if r[0]}
    assert summary["病例数 cases"] == "3" and summary["入组率 grouping rate"] == "66.7%"
    problems = list(book["问题病例"].iter_rows(values_only=True))
    assert len(problems) == 2 and problems[1][problems[0].index("原因")].startswith("V06")
    # the workbook fed back: priced through its Chinese headers and statuses, re-grouped without stale results
    priced = CliRunner().invoke(
        app,
        [
            "pay",
            str(out),
            "-o",
            str(tmp_path / "p.parquet"),
            "--table",
            "suzhou-2023",
            "--level",
            "level3",
            "--allow-scheme-mismatch",
            "-q",
        ],
    )
    assert priced.exit_code == 0, priced.output
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p.parquet").column("case_type").to_pylist()[1] == "unpriced"
