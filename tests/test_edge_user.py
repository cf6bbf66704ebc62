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


def test_a_discharge_disposition_outside_the_code_set_is_reported(tmp_path: Path) -> None:
    """离院方式 6 (or -1, 0, 离院) was read as it stood — 6 silently became a disposition no rule knows — and a
    column of plain digits was never checked against the code set at all."""
    codes = ["1", "6", "05", "5.0", "0", "离院", "医嘱离院", "", "-1"]
    rows = [[str(i), "女", "60", "", "", "5", c, "J18.900"] for i, c in enumerate(codes)]
    out = group_rows(tmp_path, write_csv(tmp_path / "in.csv", HEADER, rows))
    assert [r["leaving_type"] for r in out] == ["1", "", "5", "5", "", "", "1", "", ""]
    assert [r["status"] for r in out] == ["ok", "invalid", "ok", "ok", "invalid", "invalid", "ok", "ok", "invalid"]
    assert "leaving_type: '6' is not a discharge disposition code (1-5, 9)" in out[1]["reason"]
    digits = group_rows(tmp_path, write_csv(tmp_path / "digits.csv", HEADER, [r for r in rows if r[6] in ("1", "6")]))
    assert [r["status"] for r in digits] == ["ok", "invalid"]


def test_a_parquet_disposition_column_of_integers_is_checked_too(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "case_id": ["a", "b", "c"],
            "gender": [1, 2, 1],
            "age": [60, 60, 60],
            "leaving_type": pa.array([1, 7, None], pa.int64()),
            "dx": ["J18.900"] * 3,
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    out = group_rows(tmp_path, tmp_path / "in.parquet")
    assert [r["status"] for r in out] == ["ok", "invalid", "ok"]
    assert "leaving_type: '7'" in out[1]["reason"]


def test_a_diagnosis_table_keyed_by_the_record_number_links_by_that_column(tmp_path: Path) -> None:
    """A bureau's main table carries 结算ID and 病案号, its diagnosis table only 病案号: the codes were joined on
    结算ID values against 病案号 values, matched nothing, and every stay became 'no principal diagnosis'."""
    main = write_csv(
        tmp_path / "main.csv",
        ["病案号", "结算ID", "性别", "年龄"],
        [["B1", "S1", "男", "60"], ["B2", "S2", "女", "60"]],
    )
    dx = write_csv(
        tmp_path / "dx.csv",
        ["病案号", "诊断编码", "主诊断标志"],
        [["B2", "I10.x00", "0"], ["B1", "J18.900", "1"], ["B2", "J18.900", "1"], ["B9", "E11.900", "1"]],
        encoding="gb18030",
    )
    out = group_rows(tmp_path, main, "--diagnoses", dx)
    assert [r["dx"] for r in out] == ["J18.900", "J18.900|I10.x00"]
    assert [r["status"] for r in out] == ["ok", "ok"]
    result = invoke("group", main, "--diagnoses", dx, "-o", tmp_path / "again.csv")
    assert (
        "病案号 → stay by 病案号" in result.stderr
        and "1 病案号 value(s) of the diagnoses table matching no stay" in (result.stderr)
    )


def test_a_diagnosis_table_that_links_to_no_stay_is_one_error_line(tmp_path: Path) -> None:
    main = write_csv(tmp_path / "main.csv", ["结算ID", "性别", "年龄"], [["S1", "男", "60"]])
    dx = write_csv(tmp_path / "dx.csv", ["病案号", "诊断编码", "主诊断标志"], [["B1", "J18.900", "1"]])
    result = invoke("group", main, "--diagnoses", dx, "-o", tmp_path / "out.csv")
    assert result.exit_code == 2
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert "links to a stay" in line and "'B1'" in line and "'S1'" in line
    assert not (tmp_path / "out.csv").exists()


def test_headers_with_their_unit_or_procedure_written_with_brackets_are_read(tmp_path: Path) -> None:
    """实际住院(天), 总费用(元) were carried through unread (length of stay and cost silently missing), and
    手术(操作)编码1…N were not procedure columns: an empty second column went unread without a word."""
    header = [
        "病案号",
        "性别",
        "年龄",
        "实际住院(天)",
        "总费用(元)",
        "主要诊断编码",
        "手术(操作)编码1",
        "手术（操作）编码2",
    ]
    rows = [
        ["1", "女", "30", "5", "9,000.50", "O82.000", "74.1x01", "75.6100"],
        ["2", "女", "30", "3", "5000", "J18.900", "", ""],
    ]
    out = group_rows(tmp_path, write_csv(tmp_path / "in.csv", header, rows))
    assert [r["los"] for r in out] == ["5", "3"]
    assert [r["total_cost"] for r in out] == ["9000.5", "5000"]
    assert [r["px"] for r in out] == ["74.1x01|75.6100", ""]
    single = ["病案号", "性别", "年龄", "主要诊断编码", "手术编码", "住院总费用(元)", "呼吸机使用时间(小时)"]
    out = group_rows(
        tmp_path, write_csv(tmp_path / "one.csv", single, [["1", "女", "30", "O82.000", "74.1x01", "1", "2"]])
    )
    assert out[0]["px"] == "74.1x01" and out[0]["total_cost"] == "1"


def test_a_unit_that_changes_the_meaning_is_not_stripped() -> None:
    from drgkit.io.columns import classify_header

    assert classify_header("年龄(天)") == ("age_days", None)
    assert classify_header("总费用(万元)") is None  # in 10,000 yuan: not read as yuan
    assert classify_header("年龄(月)") is None


def test_database_and_iso_date_times_are_dates(tmp_path: Path) -> None:
    """SQL Server's 2024-03-05 08:30:00.000, ISO 2024-03-05T08:30:00(+08:00) and 2024年3月5日 8时30分 were 'not a
    date; written empty': the output lost the dates, and audit (readmissions) and benefits (order of stays
    within the year) read them the same way."""
    import openpyxl

    written = [
        "2024-03-05 08:30:00.000",
        "2024-03-05T08:30:00",
        "2024-03-05T08:30:00.5+08:00",
        "2024-03-05T08:30:00Z",
        "2024年3月5日 8时30分",
        "2024年3月5日8时30分15秒",
        "45356",
    ]
    header = ["病案号", "性别", "年龄", "出院时间", "主要诊断编码"]
    source = write_csv(tmp_path / "in.csv", header, [[str(i), "女", "60", d, "J18.900"] for i, d in enumerate(written)])
    result = invoke("group", source, "-o", tmp_path / "out.xlsx", "-q")
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
    column = [c.value for c in sheet[1]].index("出院时间") + 1
    cells = [sheet.cell(row, column) for row in range(2, 2 + len(written))]
    assert all(c.is_date for c in cells), [c.value for c in cells]
    assert [c.value.strftime("%Y-%m-%d %H:%M") for c in cells] == ["2024-03-05 08:30"] * 6 + ["2024-03-05 00:00"]
    notes = [c.value for c in sheet[1]].index("提示") + 1
    assert not any(sheet.cell(r, notes).value for r in range(2, 2 + len(written)))


def test_a_totals_row_at_the_bottom_of_a_workbook_is_reported_not_grouped(tmp_path: Path) -> None:
    """A coder's .xlsx: merged title rows, a hidden sheet, dates as serials and as 2024年3月5日, numbers as text
    with thousands commas, full-width digits — and a 合计 row whose 总费用 is the sum of the others.  The totals
    row came out as 'V01 gender missing', a stay like any other, and doubled the cost of every report."""
    import openpyxl

    book = openpyxl.Workbook()
    hidden = book.active
    hidden.title = "说明"
    hidden.sheet_state = "hidden"
    hidden.append(["主要诊断编码"])
    hidden.append(["K35.800"])
    sheet = book.create_sheet("病案首页")
    sheet.append(["某某医院2024年3月出院病案"])
    sheet.merge_cells("A1:H1")
    sheet.append(["病案号", "性别", "年龄", "入院日期", "出院日期", "主要诊断编码", "其他诊断编码1", "总费用"])
    sheet.append(["A1", "男", "８２", 45356, "2024年3月15日", "J18.900", "I10.x00", "12,345.60"])
    sheet.append(["A2", "女", "82岁", "2024-03-01", "2024-03-12", "J18.900", None, 800])
    sheet.append(["合 计", None, None, None, None, None, None, "13,145.60"])
    sheet.append(["A3", "女", "1岁2月", "2024-03-01", "2024-03-12", "J18.900", None, 800])
    book.save(tmp_path / "in.xlsx")
    out = group_rows(tmp_path, tmp_path / "in.xlsx")
    assert [r["case_id"] for r in out] == ["A1", "A2", "合 计", "A3"]
    assert [r["status"] for r in out] == ["ok", "ok", "invalid", "ok"]
    assert out[2]["reason"] == "V06 unreadable field value: case_id: '合 计' is a totals row, not an abstract"
    assert [r["age"] for r in out] == ["82", "82", "", "1"] and out[0]["total_cost"] == "12345.6"


def test_a_negative_or_absurd_total_cost_is_warned(tmp_path: Path) -> None:
    """总费用 -800 (a reversal row, 红冲) or 1.2e9 was read and priced without a word, while an age of 200 is
    warned; validate flags it, group did not."""
    header = ["病案号", "性别", "年龄", "主要诊断编码", "总费用"]
    costs = ["-800", "1,200,000,000", "800", ""]
    rows = [[str(i), "女", "60", "J18.900", c] for i, c in enumerate(costs)]
    out = group_rows(tmp_path, write_csv(tmp_path / "in.csv", header, rows))
    assert [r["total_cost"] for r in out] == ["-800", "1200000000", "800", ""]
    assert "total_cost: -800 yuan is outside the plausible 0–10,000,000" in out[0]["warnings"]
    assert "total_cost: 1200000000 yuan is outside" in out[1]["warnings"]
    assert out[2]["warnings"] == out[3]["warnings"] == ""


def test_explain_and_whatif_take_values_as_group_reads_them() -> None:
    """``drgkit explain --age 82岁`` (or 3月, --weight 3.2kg, --los 12天, --leaving-type 医嘱离院) was a boxed
    usage error — 'Input should be a valid integer' — though group reads those very cells."""
    import json

    as_written = invoke("explain", "--dx", "J18.900", "--age", "82岁", "--sex", "男", "--los", "12天", "--json")
    plain = invoke("explain", "--dx", "J18.900", "--age", "82", "--sex", "1", "--los", "12", "--json")
    assert as_written.exit_code == 0, as_written.output
    assert json.loads(as_written.stdout)["drg"] == json.loads(plain.stdout)["drg"] == "ES35"
    months = invoke("explain", "--dx", "P07.100", "--age", "3月", "--weight", "3.2kg", "--sex", "女", "--json")
    days = invoke(
        "explain", "--dx", "P07.100", "--age", "0", "--age-days", "90", "--weight", "3200", "--sex", "2", "--json"
    )
    assert json.loads(months.stdout)["drg"] == json.loads(days.stdout)["drg"]
    death = invoke("explain", "--dx", "J18.900", "--age", "60", "--sex", "1", "--leaving-type", "死亡", "--json")
    assert death.exit_code == 0, death.output
    whatif = invoke("whatif", "--dx", "J18.900|I50.900", "--age", "75岁", "--sex", "女")
    assert whatif.exit_code == 0, whatif.output


def test_an_unreadable_case_option_is_one_error_line() -> None:
    for option, value, words in [("--age", "八十二", "age: '八十二' is not a number"), ("--leaving-type", "6", "6")]:
        result = invoke("explain", "--dx", "J18.900", "--sex", "1", option, value)
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [f"error: {result.stderr.strip()[7:]}"]
        assert words in result.stderr and "Traceback" not in result.output
