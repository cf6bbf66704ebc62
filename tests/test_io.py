"""Reading, preparing and writing discharge abstracts (drgkit.io)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgkit.io import (
    IncrementalCsvWriter,
    IncrementalParquetWriter,
    IncrementalWriter,
    InputError,
    canonicalize,
    code_lists,
    iter_case_batches,
    open_cases,
    prepare,
    read_cases,
    total_rows,
    write_table,
)
from drgkit.io.codelists import SPACE_BEFORE_CODE
from drgkit.io.columns import normalize_header, plan_headers
from drgkit.io.formats import detect_encoding

DATA = Path(__file__).parent / "data"


def write_text(path: Path, rows: list[list[str]], encoding: str = "utf-8", sep: str = ",") -> Path:
    path.write_bytes(("\n".join(sep.join(r) for r in rows) + "\n").encode(encoding))
    return path


# --------------------------------------------------------------------------- headers and CSV


def test_gbk_front_sheet_numbered_columns_in_numeric_order(tmp_path: Path) -> None:
    # Header order scrambled on purpose: 10..12 before 2 in the file, principal column last.
    others = [f"其他诊断编码{i}" for i in (1, 10, 11, 12, 2, 3, 4, 5, 6, 7, 8, 9)]
    header = [
        "病案号",
        "性别",
        "年龄（岁）",
        "出院科别",
        " 实际住院天数 ",
        *others,
        "主要诊断编码",
        "主要手术操作编码",
        "其他手术操作编码1",
        "总费用",
        "医院名称",
    ]
    codes = {name: f"D{int(name[6:]):02d}.000" for name in others}
    row1 = [
        "BA001",
        "男",
        "45",
        "0801",
        "7",
        *[codes[n] for n in others],
        "I21.000",
        "36.0600",
        "00.6600",
        "12345.60",
        "人民医院",
    ]
    row2 = [
        "BA002",
        "女",
        "3",
        "0302",
        "2",
        "J18.900",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "J15.900",
        "",
        "",
        "800",
        "人民医院",
    ]
    path = write_text(tmp_path / "front.csv", [header, row1, row2], encoding="gbk")
    assert detect_encoding(path) == "gb18030"

    table = read_cases(path)
    assert table.column("dx").to_pylist() == [
        ["I21.000"] + [f"D{i:02d}.000" for i in range(1, 13)],
        ["J15.900", "J18.900"],
    ]
    assert table.column("px").to_pylist() == [["36.0600", "00.6600"], []]
    assert table.column("case_id").to_pylist() == ["BA001", "BA002"]
    assert table.column("gender").to_pylist() == ["男", "女"]
    assert table.column("age").to_pylist() == ["45", "3"]
    assert table.column("dept").to_pylist() == ["0801", "0302"]  # text: the leading zero stays
    assert table.column("los").to_pylist() == ["7", "2"]
    assert table.column("total_cost").to_pylist() == ["12345.60", "800"]
    assert table.column("hospital_name").to_pylist() == ["人民医院", "人民医院"]  # a known field
    # the source code columns stay (the output keeps them as given), after the canonical ones
    assert table.column("其他诊断编码10").to_pylist() == ["D10.000", None]
    # canonical columns first, in canonical order, then pass-through
    assert table.column_names[:8] == ["case_id", "gender", "age", "dept", "los", "dx", "px", "total_cost"]


def test_utf8_bom_csv_and_codes_keep_their_text(tmp_path: Path) -> None:
    rows = [["case_id", "dx", "px", "dept"], ["1", "A01.000", "00.0100|00.5000", "0100"]]
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(",".join(r) for r in rows).encode("utf-8"))
    assert detect_encoding(path) == "utf-8-sig"
    table = read_cases(path)
    assert table.column_names[0] == "case_id"
    assert table.column("px").to_pylist() == [["00.0100", "00.5000"]]
    assert table.column("dept").to_pylist() == ["0100"]


def test_utf8_without_bom_chinese_headers(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "u.csv", [["结算ID", "性别", "年龄(天)", "诊断编码"], ["S1", "2", "10", "P07.100;P22.000"]]
    )
    assert detect_encoding(path) == "utf-8"
    table = read_cases(path)
    assert table.column("age_days").to_pylist() == ["10"]
    assert table.column("dx").to_pylist() == [["P07.100", "P22.000"]]


def test_gbk_detected_when_chinese_starts_after_the_probe(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    ascii_rows = "".join(f"C{i:07d},A01.000\n" for i in range(120_000))  # > 1 MiB of ASCII first
    path.write_bytes(("case_id,dx\n" + ascii_rows + "人民,B01.000\n").encode("gbk"))
    assert detect_encoding(path) == "gb18030"
    table = read_cases(path)
    assert table.num_rows == 120_001
    assert table.column("case_id")[-1].as_py() == "人民"


def test_tab_separated_txt_and_tsv(tmp_path: Path) -> None:
    rows = [["case_id", "gender", "dx", "px"], ["a", "1", "K35.800,K65.000", ""]]
    for name in ("cases.txt", "cases.tsv"):
        table = read_cases(write_text(tmp_path / name, rows, sep="\t"))
        assert table.column("dx").to_pylist() == [["K35.800", "K65.000"]]
        assert table.column("px").to_pylist() == [[]]


def test_pipe_comma_semicolon_strings_trimmed_and_empties_dropped(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "case_id,dx,px\n"
        '1," I21.000 | I10.x00 ||E11.900 ",36.0600\n'
        '2,"A01.000;B02.000, C03.000",\n'
        '3,"J18.900，J96.000｜K21.000",\n'
        "4,,\n",
        encoding="utf-8",
    )
    table = read_cases(path)
    assert table.column("dx").to_pylist() == [
        ["I21.000", "I10.x00", "E11.900"],
        ["A01.000", "B02.000", "C03.000"],
        ["J18.900", "J96.000", "K21.000"],
        [],
    ]
    assert table.column("px").to_pylist() == [["36.0600"], [], [], []]


def test_full_width_parentheses_and_spaces_in_headers() -> None:
    assert normalize_header(" 年龄（天） ") == normalize_header("年龄(天)")
    plan = plan_headers(
        ["年龄（周岁）", "年龄不足1周岁的天龄", "新生儿出生体重（克）", "离院方式", "重症监护时长", "SETL_ID", "dx"]
    )
    assert plan.rename == {
        "年龄（周岁）": "age",
        "年龄不足1周岁的天龄": "age_days",
        "新生儿出生体重（克）": "birth_weight",
        "离院方式": "leaving_type",
        "重症监护时长": "icu_hours",
        "SETL_ID": "case_id",
        "dx": "dx",
    }


def test_national_interface_field_codes() -> None:
    headers = [
        "setl_id",
        "psn_no",
        "fixmedins_code",
        "gend",
        "brdy",
        "nwb_bir_wt",
        "nwb_adm_wt",
        "adm_time",
        "dscg_time",
        "dscg_caty",
        "act_ipt_days",
        "dscg_way",
        "vent_used_dura",
        "amount",
        "diag_code1",
        "diag_code2",
        "oprn_oprt_code1",
    ]
    plan = plan_headers(headers)
    assert plan.rename == {
        "setl_id": "case_id",
        "psn_no": "patient_id",
        "fixmedins_code": "hospital",
        "gend": "gender",
        "brdy": "birth_date",
        "nwb_bir_wt": "birth_weight",
        "nwb_adm_wt": "admission_weight",
        "adm_time": "admission_date",
        "dscg_time": "discharge_date",
        "dscg_caty": "dept",
        "act_ipt_days": "los",
        "dscg_way": "leaving_type",
        "vent_used_dura": "ventilator_hours",
        "amount": "total_cost",
        "diag_code1": "diag_code1",
        "diag_code2": "diag_code2",
        "oprn_oprt_code1": "oprn_oprt_code1",
    }
    assert plan.dx_parts == ["diag_code1", "diag_code2"]
    assert plan.px_parts == ["oprn_oprt_code1"]


def test_two_headers_for_one_name_the_better_alias_wins(tmp_path: Path) -> None:
    path = write_text(tmp_path / "two.csv", [["就诊ID", "结算ID", "dx1", "dx2"], ["M1", "S1", "A01.000", "B01.000"]])
    table = read_cases(path)
    assert table.column("case_id").to_pylist() == ["S1"]  # 结算ID ranks above 就诊ID
    assert table.column("就诊ID").to_pylist() == ["M1"]
    assert table.column("dx").to_pylist() == [["A01.000", "B01.000"]]


def test_map_overrides_aliases_and_unknown_map_column_fails(tmp_path: Path) -> None:
    rows = [["id", "年龄", "岁数", "诊断", "次要诊断"], ["1", "99", "40", "I21.000", "I10.x00"]]
    path = write_text(tmp_path / "m.csv", rows)
    table = read_cases(path, mapping={"岁数": "age", "id": "case_id", "诊断": "dx_main", "次要诊断": "dx1"})
    assert table.column("age").to_pylist() == ["40"]
    assert table.column("年龄").to_pylist() == ["99"]  # the alias lost to the mapping and passes through
    assert table.column("case_id").to_pylist() == ["1"]
    assert table.column("dx").to_pylist() == [["I21.000", "I10.x00"]]
    with pytest.raises(InputError, match="no_such_column"):
        read_cases(path, mapping={"no_such_column": "age"})


def test_read_cases_takes_the_options_of_open_cases(tmp_path: Path) -> None:
    """One option list (CaseOptions) for both: the whole table equals the streamed batches; a keyword that is not
    an option (a misspelling, open_cases' batch_size) is refused by name."""
    rows = [["病案首页导出"], ["stay", "主要诊断编码", "性别", "年龄"], ["1", "I21.000", "1", "65"]]
    path = write_text(tmp_path / "h.csv", rows)
    options: dict = {"header_row": 2, "mapping": {"stay": "case_id"}, "allow_unmapped": False}
    whole = read_cases(path, **options)
    assert whole.equals(pa.concat_tables(open_cases(path, batch_size=1, **options).batches()))
    assert (whole.column("case_id").to_pylist(), whole.column("dx").to_pylist()) == (["1"], [["I21.000"]])
    with pytest.raises(TypeError, match="read_cases\\(\\) got an unexpected keyword argument 'sheets'"):
        read_cases(path, sheets=1)
    with pytest.raises(TypeError, match="read_cases\\(\\) got an unexpected keyword argument 'batch_size'"):
        read_cases(path, batch_size=10)
    with pytest.raises(TypeError, match="open_cases\\(\\) got an unexpected keyword argument 'maping'"):
        open_cases(path, maping={})


def test_no_diagnosis_column_is_an_input_error(tmp_path: Path) -> None:
    path = write_text(tmp_path / "nodx.csv", [["case_id", "age"], ["1", "3"]])
    with pytest.raises(InputError, match="no diagnosis column found; expected one of"):
        read_cases(path)


def test_empty_files(tmp_path: Path) -> None:
    header_only = write_text(tmp_path / "h.csv", [["病案号", "性别", "主要诊断编码", "其他诊断编码1"]])
    table = read_cases(header_only)
    assert table.num_rows == 0
    assert table.column_names == ["case_id", "gender", "dx", "px", "主要诊断编码", "其他诊断编码1"]
    assert table.schema.field("dx").type == pa.list_(pa.string())

    # a 0-byte or blank-only file has no header: an error, not a silent 0-row result
    for name, content in (("zero.csv", b""), ("blank.csv", b"\r\n  \n\t\n"), ("bom.csv", b"\xef\xbb\xbf\n\n")):
        empty = tmp_path / name
        empty.write_bytes(content)
        with pytest.raises(InputError, match="empty"):
            read_cases(empty)
        with pytest.raises(InputError, match="empty"):
            list(iter_case_batches(empty))


@pytest.mark.parametrize(
    "prefix", [b"\n", b"\r\n", b"\xef\xbb\xbf\n", b"\n\n  \n", b"2024\xe5\xb9\xb4\xe5\xaf\xbc\xe5\x87\xba\n\n"]
)
def test_blank_and_title_lines_above_the_header_are_skipped(tmp_path: Path, prefix: bytes) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(prefix + b"case_id,gender,age,dx\n1,1,65,I21.000x005\n2,2,70,J18.900\n")
    table = read_cases(path)
    assert table.column("case_id").to_pylist() == ["1", "2"]
    assert table.column("dx").to_pylist() == [["I21.000x005"], ["J18.900"]]


def test_unreadable_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_cases(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="directory"):
        read_cases(tmp_path)
    bad_parquet = tmp_path / "bad.parquet"
    bad_parquet.write_bytes(b"not a parquet file at all")
    with pytest.raises(InputError, match=r"bad\.parquet: cannot read parquet"):
        read_cases(bad_parquet)
    bad_xlsx = tmp_path / "bad.xlsx"
    bad_xlsx.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(InputError, match=r"bad\.xlsx"):
        read_cases(bad_xlsx)
    with pytest.raises(InputError, match="unsupported file type"):
        read_cases(write_text(tmp_path / "x.json", [["{}"]]))
    ragged = write_text(tmp_path / "ragged.csv", [["case_id", "dx"], ["1", "A", "extra", "cells"]])
    with pytest.raises(InputError, match=r"ragged\.csv"):
        read_cases(ragged)


# --------------------------------------------------------------------------- parquet, Excel, three tables


def test_parquet_with_list_columns_and_typed_fields(tmp_path: Path) -> None:
    source = pa.table(
        {
            "setl_id": pa.array([10, 11, 12], pa.int64()),
            "gend": pa.array([1, 2, None], pa.int64()),
            "dx": pa.array([["I21.000", None, " I10.x00"], None, []], pa.large_list(pa.large_string())),
            "px": pa.array([["36.0600"], [], None], pa.list_(pa.string())),
            "note": ["a", "b", "c"],
        }
    )
    path = tmp_path / "in.parquet"
    pq.write_table(source, path)
    assert total_rows(path) == 3
    table = read_cases(path)
    assert table.column("case_id").to_pylist() == [10, 11, 12]
    assert table.column("dx").to_pylist() == [["I21.000", "I10.x00"], [], []]
    assert table.column("px").to_pylist() == [["36.0600"], [], []]
    assert table.column("note").to_pylist() == ["a", "b", "c"]
    prepared = prepare(table)
    assert prepared.gender.tolist() == [1, 2, 0]


def test_excel_round_trip_keeps_text_and_lists(tmp_path: Path) -> None:
    table = pa.table(
        {
            "case_id": ["0001", "0002"],
            "gender": ["1", "2"],
            "dept": ["0801", None],
            "dx": pa.array([["I21.000", "I10.x00"], ["K35.800"]], pa.list_(pa.string())),
            "px": pa.array([["00.0100"], []], pa.list_(pa.string())),
            "医院": ["甲", "乙"],
        }
    )
    path = tmp_path / "cases.xlsx"
    write_table(table, path)
    back = read_cases(path)
    assert back.column("case_id").to_pylist() == ["0001", "0002"]
    assert back.column("dept").to_pylist() == ["0801", None]
    assert back.column("dx").to_pylist() == [["I21.000", "I10.x00"], ["K35.800"]]
    assert back.column("px").to_pylist() == [["00.0100"], []]
    assert back.column("医院").to_pylist() == ["甲", "乙"]


def test_excel_numbered_columns_and_sheet_choice(tmp_path: Path) -> None:
    first = pl.DataFrame({"x": ["ignored"]})
    second = pl.DataFrame(
        {
            "住院号": ["Z1", "Z2"],
            "主要诊断编码": ["O80.000", "A01.000"],
            "出院诊断编码1": ["Z37.000", None],
            "出院诊断编码2": ["O70.000", "B01.000"],
        }
    )
    path = tmp_path / "two_sheets.xlsx"
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(first.columns)
    book.active.append(first.row(0))
    sheet = book.create_sheet("病案")
    sheet.append(second.columns)
    for row in second.iter_rows():
        sheet.append(list(row))
    book.save(path)
    for choice in ("病案", 2, None):  # by default: the first sheet with a diagnosis column, not the notes
        table = read_cases(path, sheet=choice)
        assert table.column("case_id").to_pylist() == ["Z1", "Z2"]
        assert table.column("dx").to_pylist() == [["O80.000", "Z37.000", "O70.000"], ["A01.000", "B01.000"]]
    with pytest.raises(InputError, match="no diagnosis column"):
        read_cases(path, sheet="说明")  # the notes sheet, asked for by name, has no codes
    with pytest.raises(InputError, match=r"no sheet named '数据' \(sheets: 说明, 病案\)"):
        read_cases(path, sheet="数据")


def test_three_table_input(tmp_path: Path) -> None:
    stays = write_text(
        tmp_path / "setl.csv", [["setl_id", "gend", "age"], ["S1", "1", "60"], ["S2", "2", "30"], ["S3", "1", "5"]]
    )
    diagnoses = write_text(
        tmp_path / "diag.csv",
        [
            ["setl_id", "diag_code", "maindiag_flag"],
            ["S2", "O80.000", "0"],
            ["S1", "I10.x00", "0"],
            ["S1", "E11.900", "0"],
            ["S1", "I21.000", "1"],
            ["S2", "Z37.000", "1"],
            ["S1", "", "0"],
        ],
    )
    procedures = write_text(
        tmp_path / "oprn.csv",
        [
            ["结算ID", "手术操作代码", "主要手术标志"],
            ["S1", "88.5600", "0"],
            ["S1", "36.0600", "1"],
            ["S9", "99.9999", "1"],
        ],
        encoding="gbk",
    )
    table = read_cases(stays, diagnoses=diagnoses, procedures=procedures)
    assert table.column("case_id").to_pylist() == ["S1", "S2", "S3"]
    assert table.column("dx").to_pylist() == [["I21.000", "I10.x00", "E11.900"], ["Z37.000", "O80.000"], []]
    assert table.column("px").to_pylist() == [["36.0600", "88.5600"], [], []]


# --------------------------------------------------------------------------- streaming, rows and order


def test_rows_in_equal_rows_out_in_order_on_oracle_file() -> None:
    source = DATA / "chs-drg-2.0-dev.csv"
    table = read_cases(source)
    raw = pl.read_csv(source, infer_schema=False)
    assert table.num_rows == raw.height == 5000
    assert table.column("case_id").to_pylist() == raw["case_id"].to_list()
    expected_dx = [s.split("|") if s else [] for s in raw["dx"].to_list()]
    assert table.column("dx").to_pylist() == expected_dx
    assert table.column("exp_drg").to_pylist() == raw["exp_drg"].to_list()


def test_iter_case_batches_csv_and_parquet_agree_with_read_cases(tmp_path: Path) -> None:
    source = DATA / "chs-drg-1.1-dev.csv"
    whole = read_cases(source)
    batches = list(iter_case_batches(source, batch_size=1_500))
    assert [b.num_rows for b in batches] == [1500, 1500, 1500, 500]
    assert pa.concat_tables(batches).equals(whole)

    parquet = tmp_path / "dev.parquet"
    write_table(whole, parquet)
    assert total_rows(parquet) == 5000
    assert total_rows(source) is None
    batches = list(iter_case_batches(parquet, batch_size=2_000, mapping={"exp_drg": "expected"}))
    assert sum(b.num_rows for b in batches) == 5000
    assert batches[0].column("expected").to_pylist()[:3] == whole.column("exp_drg").to_pylist()[:3]
    assert pa.concat_tables(batches).column("dx").to_pylist() == whole.column("dx").to_pylist()


def test_iter_case_batches_gbk_text(tmp_path: Path) -> None:
    rows = [["病案号", "主要诊断编码", "其他诊断编码1"]] + [[f"病{i}", "I21.000", f"E{i % 10}0.000"] for i in range(50)]
    path = write_text(tmp_path / "g.csv", rows, encoding="gbk")
    batches = list(iter_case_batches(path, batch_size=20))
    assert [b.num_rows for b in batches] == [20, 20, 10]
    assert pa.concat_tables(batches).column("case_id").to_pylist() == [f"病{i}" for i in range(50)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="AIK0123.x ", min_size=0, max_size=6), max_size=5), max_size=8))
def test_code_lists_matches_simple_split(rows: list[list[str]]) -> None:
    text = pa.array(["|".join(codes) for codes in rows], pa.string())
    # whitespace before the start of a code separates two codes, as '|' does
    expected = [
        [c.strip() for c in re.sub(SPACE_BEFORE_CODE, r"\1|\2", "|".join(r)).split("|") if c.strip()] for r in rows
    ]
    assert code_lists(text).to_pylist() == expected


def test_code_lists_on_sliced_chunked_and_typed_inputs() -> None:
    lists = pa.array([["A"], None, [" B ", "", None, "C"], ["D"]], pa.list_(pa.string()))
    assert code_lists(lists.slice(1, 2)).to_pylist() == [[], ["B", "C"]]
    chunked = pa.chunked_array([pa.array(["A|B", None]), pa.array(["C;D"])])
    assert code_lists(chunked).to_pylist() == [["A", "B"], [], ["C", "D"]]
    assert code_lists(pa.array([3601, None], pa.int64())).to_pylist() == [["3601"], []]
    assert code_lists(pa.nulls(2)).to_pylist() == [[], []]


def test_canonicalize_in_memory_table_and_stream_mapping_error(tmp_path: Path) -> None:
    table = pa.table({"住院号": ["1"], "出院诊断编码1": ["A01.000"], "出院诊断编码2": ["B01.000"]})
    out = canonicalize(table)
    assert out.column_names == ["case_id", "dx", "px", "出院诊断编码1", "出院诊断编码2"]
    assert out.column("dx").to_pylist() == [["A01.000", "B01.000"]]
    path = write_text(tmp_path / "s.csv", [["case_id", "dx"], ["1", "A"]])
    with pytest.raises(InputError, match="missing_col"):
        list(iter_case_batches(path, mapping={"missing_col": "age"}))


# --------------------------------------------------------------------------- prepare


def test_gender_parsing_table() -> None:
    values = ["1", "2", 1, "1.0", "男", "女", "M", "f", "Male", "FEMALE", "0", "9", "X", "3", "", None, " 2 "]
    expected = [1, 2, 1, 1, 1, 2, 1, 2, 1, 2, 0, 0, 0, 0, 0, 0, 2]
    table = pa.table(
        {"gender": pa.array([str(v) if v is not None else None for v in values]), "dx": [["A"]] * len(values)}
    )
    prepared = prepare(table)
    assert prepared.gender.dtype == np.int8
    assert prepared.gender.tolist() == expected
    problems = prepared.problems.to_pylist()
    assert problems[12] == "gender: 'X' is not a recognised sex"
    assert problems[10] is None and problems[11] is None and problems[14] is None  # 0/9/blank: unknown, no problem
    strict = prepare(table, strict_gender=True)
    assert strict.gender.tolist() == [1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    ints = prepare(pa.table({"gender": pa.array([1, 2, 0, None]), "dx": [[]] * 4}))
    assert ints.gender.tolist() == [1, 2, 0, 0]


def test_numeric_fields_and_problems() -> None:
    table = pa.table(
        {
            "age": ["45", " 12 ", "12.0", "abc", "-1", "3.5", "", None],
            "los": pa.array([3, -2, None, 7, 0, 1, 2, 3], pa.int64()),
            "birth_weight": pa.array([3200.0, 2500.5, float("nan"), None, 1.0, 2.0, 3.0, 4.0]),
            "total_cost": ["1,234.50", "x", "0", "", None, "12", "-5", "1e3"],
            "dx": [["A"]] * 8,
        }
    )
    prepared = prepare(table)
    assert prepared.age.dtype == np.int32
    assert prepared.age.tolist() == [45, 12, 12, -1, -1, -1, -1, -1]
    assert prepared.los.tolist() == [3, -1, -1, 7, 0, 1, 2, 3]
    assert prepared.birth_weight.tolist() == [3200, -1, -1, -1, 1, 2, 3, 4]
    assert prepared.age_days.tolist() == [-1] * 8  # no column: all missing
    assert prepared.icu_hours.tolist() == [-1] * 8
    np.testing.assert_array_equal(prepared.total_cost, [1234.5, np.nan, 0.0, np.nan, np.nan, 12.0, -5.0, 1000.0])
    assert prepared.problems.to_pylist() == [
        None,
        "birth_weight: 2500.5 is not a whole number; los: -2 is negative; total_cost: 'x' is not a number",
        None,
        "age: 'abc' is not a number",
        "age: '-1' is negative",
        "age: '3.5' is not a whole number",
        None,  # blank is missing, not a problem
        None,
    ]


def test_prepare_missing_columns_dept_and_codes() -> None:
    table = pa.table(
        {
            "dx": pa.array([["i21.000 ", "Ｉ１０．ｘ００"], ["K35.8.", "."], []], pa.list_(pa.string())),
            "px": ["36.06 00", None, "00.0100"],
            "dept": [" 0801", "", None],
        }
    )
    prepared = prepare(table)
    assert len(prepared) == 3
    assert prepared.dx.to_pylist() == [["i21.000", "I10.x00"], ["K35.8"], []]
    assert prepared.px.to_pylist() == [["36.0600"], [], ["00.0100"]]
    assert prepared.dept.to_pylist() == ["0801", None, None]
    assert prepared.gender.tolist() == [0, 0, 0]
    assert np.isnan(prepared.total_cost).all()
    assert prepared.code_notes.to_pylist() == [
        ["I10.x00 ← 'Ｉ１０．ｘ００'", "36.0600 ← '36.06 00'"],
        ["K35.8 ← 'K35.8.'", "(removed) ← '.'"],
        None,
    ]
    assert prepared.problems.to_pylist() == [None, None, None]


def test_prepare_empty_table() -> None:
    prepared = prepare(pa.table({"dx": pa.array([], pa.list_(pa.string()))}))
    assert prepared.n == 0 and prepared.age.shape == (0,) and len(prepared.problems) == 0


# --------------------------------------------------------------------------- writing


def _result_table() -> pa.Table:
    return pa.table(
        {
            "case_id": ["1", "2"],
            "dx": pa.array([["I21.000", "I10.x00"], []], pa.list_(pa.string())),
            "drg": ["FM19", None],
            "weight": [1.25, None],
            "名称": ["急性心肌梗死", "无"],
        }
    )


def test_write_csv_has_bom_and_joined_lists(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_table(_result_table(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "I21.000|I10.x00" in text and "急性心肌梗死" in text
    back = read_cases(path)
    assert back.column("dx").to_pylist() == [["I21.000", "I10.x00"], []]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temp file left


def test_write_parquet_round_trip_and_unknown_extension(tmp_path: Path) -> None:
    table = _result_table()
    write_table(table, tmp_path / "out.parquet")
    back = pq.read_table(tmp_path / "out.parquet")
    assert back.equals(table)
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(InputError, match="unsupported output type"):
        write_table(table, tmp_path / "out.json")


def _dictionary_encoded(path: Path) -> dict[str, bool]:
    meta = pq.ParquetFile(path).metadata.row_group(0)
    return {
        meta.column(i).path_in_schema: "RLE_DICTIONARY" in meta.column(i).encodings for i in range(meta.num_columns)
    }


def test_parquet_output_drops_the_dictionary_only_where_values_do_not_repeat(tmp_path: Path) -> None:
    """IDs and amounts (every value new) are written plain; codes, groups and code lists keep their
    dictionary; the values and types read back are the same either way."""
    from drgkit.io.write import DICTIONARY_SAMPLE_ROWS, IncrementalWriter

    n = DICTIONARY_SAMPLE_ROWS * 2
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "结算ID": [f"S{i:08d}" for i in range(n)],
            "a.b": rng.random(n),  # a dot in the name: Parquet's leaf path is the same string
            "drg": rng.choice(["FM19", "ES31", "GB11"], n),
            "dx": [["I21.000", "I10.x00"][: i % 3] for i in range(n)],
            "age": rng.integers(0, 100, n),
        }
    )
    path = tmp_path / "out.parquet"
    with IncrementalWriter(path, table.schema) as writer:
        writer.write(table.slice(0, n // 2))
        writer.write(table.slice(n // 2))
    assert pq.read_table(path).equals(table)
    assert _dictionary_encoded(path) == {
        "结算ID": False,
        "a.b": False,
        "drg": True,
        "dx.list.element": True,
        "age": True,
    }
    small = tmp_path / "small.parquet"  # too few rows to judge by: every column keeps its dictionary
    write_table(table.slice(0, 100), small)
    assert all(_dictionary_encoded(small).values())
    assert pq.read_table(small).equals(table.slice(0, 100))


def test_parquet_output_has_no_statistics_for_the_text_columns_drgkit_adds(tmp_path: Path) -> None:
    """Min/max of drg, reason, … span every row group of an export in its own order: not written. The input's
    columns and drgkit's numeric columns keep theirs."""
    table = pa.table({"结算ID": ["S1", "S2"], "drg": ["FM19", "ES31"], "reason": [None, "x"], "payment": [1.0, 2.0]})
    path = tmp_path / "out.parquet"
    write_table(table, path)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    stats = {meta.column(i).path_in_schema: meta.column(i).is_stats_set for i in range(meta.num_columns)}
    assert stats == {"结算ID": True, "drg": False, "reason": False, "payment": True}
    assert pq.read_table(path).equals(table)


def test_failed_write_leaves_no_file_and_keeps_old_one(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("old", encoding="utf-8")
    nested = pa.table({"s": pa.array([{"a": 1}])})
    with pytest.raises(InputError):
        write_table(nested, path)  # CSV cannot hold a struct column
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_incremental_writer_success_and_failure(tmp_path: Path, suffix: str) -> None:
    table = _result_table()
    path = tmp_path / f"stream{suffix}"
    with IncrementalWriter(path, table.schema) as writer:
        writer.write(table)
        writer.write(table.to_batches()[0])
        assert not path.exists()  # only the temp file exists while streaming
    back = read_cases(path)
    assert back.num_rows == 4
    assert back.column("dx").to_pylist() == [["I21.000", "I10.x00"], [], ["I21.000", "I10.x00"], []]

    failed = tmp_path / f"failed{suffix}"
    with pytest.raises(RuntimeError), IncrementalWriter(failed, table.schema) as writer:
        writer.write(table)
        raise RuntimeError("grouping crashed")
    assert not failed.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"stream{suffix}"]


def test_typed_incremental_writers_check_extension(tmp_path: Path) -> None:
    schema = _result_table().schema
    with pytest.raises(InputError):
        IncrementalParquetWriter(tmp_path / "x.csv", schema)
    with pytest.raises(InputError):
        IncrementalCsvWriter(tmp_path / "x.parquet", schema)
    with IncrementalCsvWriter(tmp_path / "x.csv", schema) as writer:
        writer.write(_result_table())
    assert os.path.getsize(tmp_path / "x.csv") > 3


@pytest.mark.parametrize(
    "text, encoding, expected",
    [
        ("case_id,gender,dx\n1,女,I21.000\n", "gbk", "gb18030"),  # 女 in GBK is valid UTF-8 (Ů)
        ("case_id,leave,dx\n1,转院,I21.000\n", "gbk", "gb18030"),  # 转院 in GBK reads תԺ as UTF-8
        ("case_id,性别,dx\n1,女,I21.000\n", "utf-8", "utf-8"),
        ("case_id,name,dx\n1,José Müller·×,I21.000\n", "utf-8", "utf-8"),  # Latin-1 letters and symbols
    ],
)
def test_encoding_is_decided_by_which_reading_gives_chinese(
    tmp_path: Path, text: str, encoding: str, expected: str
) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(text.encode(encoding))
    assert detect_encoding(path) == expected
    assert read_cases(path).num_rows == 1


def test_gbk_chinese_first_seen_past_the_first_megabyte(tmp_path: Path) -> None:
    rows = ["case_id,gender,age,dx"] + [f"{i},1,65,I21.000x005" for i in range(60_000)] + ["x,男,65,I21.000x005"]
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    assert path.stat().st_size > 1 << 20
    table = read_cases(path)
    assert table.num_rows == 60_001 and table.column("gender")[-1].as_py() == "男"


def test_an_open_quote_that_swallows_rows_is_an_error_but_a_two_line_note_is_not(tmp_path: Path) -> None:
    swallowed = tmp_path / "q.csv"
    swallowed.write_text(
        'case_id,gender,age,dx,note\n1,1,65,I21.000x005,a\n2,1,65,"I21.000x005,x\n'
        '3,1,65,J18.900",y\n4,1,65,J18.900,z\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"data row 2, column 'dx': a quote"):
        read_cases(swallowed)
    note = tmp_path / "n.csv"
    note.write_text(
        'case_id,gender,age,dx,note\n1,1,65,I21.000x005,"first line\nsecond line"\n2,1,65,J18.900,z\n', encoding="utf-8"
    )
    assert read_cases(note).column("note").to_pylist() == ["first line\nsecond line", "z"]


def test_a_renamed_column_never_overwrites_another(tmp_path: Path) -> None:
    table = pa.table({"note": ["n"], "x": ["old x"], "x_source": ["kept"], "dx": ["I21.000"]})
    out = canonicalize(table, mapping={"note": "x"})
    assert out.column("x").to_pylist() == ["n"]
    assert out.column("x_source").to_pylist() == ["kept"]
    assert out.column("x_source_2").to_pylist() == ["old x"]


def test_three_tables_flags_blank_principals_and_a_one_stay_long_table(tmp_path: Path) -> None:
    stays = write_text(tmp_path / "s.csv", [["结算ID", "性别", "年龄"], ["S1", "2", "30"], ["S2", "1", "70"]])
    # principal listed second, flagged; S2 has no flagged diagnosis; only S1 has a procedure
    diag = write_text(
        tmp_path / "d.csv",
        [["结算ID", "诊断代码", "主诊断标志"], ["S1", "O34.201", "0"], ["S1", "O82.000", "1"], ["S2", "J18.900", "0"]],
    )
    oprn = write_text(tmp_path / "p.csv", [["结算ID", "手术操作代码", "主要手术标志"], ["S1", "74.1x01", "1"]])
    table = read_cases(stays, diagnoses=diag, procedures=oprn)
    assert table.column("dx").to_pylist() == [["O82.000", "O34.201"], ["", "J18.900"]]
    assert table.column("px").to_pylist() == [["74.1x01"], []]
    flags_nothing = write_text(tmp_path / "d2.csv", [["结算ID", "诊断代码", "主诊断标志"], ["S1", "O82.000", "主"]])
    with pytest.raises(InputError, match="flags no code as the principal diagnosis"):
        read_cases(stays, diagnoses=flags_nothing)


def test_outputs_never_hold_live_formulas_and_xlsx_is_typed_and_usable(tmp_path: Path) -> None:
    import openpyxl

    table = pa.table(
        {"医院": ['=HYPERLINK("http://x","a")', "@SUM(A1)", "-5", "+细节", "a\x01b"], "费用": [1.5, 2.0, 3.0, 4.0, 5.0]}
    )
    write_table(table, tmp_path / "o.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "o.xlsx").active
    assert [c.data_type for c in sheet["A"][1:3]] == ["s", "s"]  # text, not formulas
    assert sheet["A2"].value == table.column("医院")[0].as_py()
    assert sheet["A6"].value == "a\ufffdb" and sheet["B2"].value == 1.5
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:B6"
    write_table(table, tmp_path / "o.csv")
    text = (tmp_path / "o.csv").read_text(encoding="utf-8-sig").splitlines()
    assert text[1].startswith("\"'=HYPERLINK") and text[2].startswith("\"'@SUM")
    assert text[3].startswith('"-5"') and text[4].startswith("\"'+细节")
    with pytest.raises(InputError, match="over Excel's 32,767"):
        write_table(pa.table({"x": ["a" * 40_000]}), tmp_path / "long.xlsx")
