"""A hostile user at an 80-column terminal: the sample export (Chinese headers) through group, pay, report,
audit, dip — with a totals row, blank rows and numbers stored as text.  Each test here was a defect."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drgkit.cli import app

runner = CliRunner()


def invoke(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "80", **(env or {})})


def sample_rows(tmp_path: Path, n: int = 60) -> tuple[list[str], list[list[str]]]:
    out = tmp_path / "sample.csv"
    assert invoke("sample", "-o", out, "-n", n).exit_code == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def with_totals_row(header: list[str], rows: list[list[str]], label_column: str) -> list[list[str]]:
    """The rows and, at the bottom, the export's totals row: ``合计`` in ``label_column``, the summed cost."""
    cost = header.index("总费用")
    total = [""] * len(header)
    total[header.index(label_column)] = "合计"
    total[cost] = f"{sum(float(r[cost] or 0) for r in rows):.2f}"
    return [*rows, total]


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """(priced workbook with a totals row, priced workbook without it, the cost of the stays)."""
    tmp_path = tmp_path_factory.mktemp("priced")
    header, rows = sample_rows(tmp_path)
    cost = header.index("总费用")
    out = []
    for name, table in (("with", with_totals_row(header, rows, "病案号")), ("without", rows)):
        source = write_csv(tmp_path / f"{name}.csv", header, table)
        grouped = tmp_path / f"{name}-grouped.xlsx"
        assert invoke("group", source, "-o", grouped, "-q", "--scheme", "suzhou-2023").exit_code == 0
        result = invoke("pay", grouped, "-o", tmp_path / f"{name}.xlsx", "--table", "suzhou-2023", "--level", "level3")
        assert result.exit_code == 0, result.output
        out.append(tmp_path / f"{name}.xlsx")
    return out[0], out[1], sum(float(r[cost] or 0) for r in rows)


def read_indicators(folder: Path) -> list[dict[str, str]]:
    with open(folder / "indicators.csv", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_leaves_a_totals_row_out_of_every_sum_and_says_so(tmp_path: Path, priced) -> None:
    """drgkit report counted a totals row (合计 as 病案号) as one more stay in a blank-named hospital, with the
    whole year's cost as its 医疗总费用: the report's total cost was twice the real one."""
    with_totals, without, cost = priced
    result = invoke("report", with_totals, "-o", tmp_path / "with")
    assert result.exit_code == 0, result.output
    assert "未计入合计行 1 行" in result.stderr
    plain = invoke("report", without, "-o", tmp_path / "without")
    assert "合计行" not in plain.stderr
    got, expected = read_indicators(tmp_path / "with"), read_indicators(tmp_path / "without")
    assert got == expected
    assert all(r["医院"] for r in got)
    assert sum(float(r["医疗总费用（万元）"]) for r in got) == pytest.approx(cost / 1e4, abs=0.01 * len(got))
    english = invoke("report", with_totals, "-o", tmp_path / "en", "--lang", "en")
    assert "left out 1 totals rows" in english.stderr


def test_report_lists_the_losing_groups_with_the_chinese_list_mark(tmp_path: Path, priced) -> None:
    """'亏损最多的组（结余，万元）：RE1B -8.46, RE11 -3.58, …' — an English comma list in a Chinese line."""
    _, without, _ = priced
    zh = invoke("report", without, "-o", tmp_path / "zh")
    line = next(ln for ln in zh.stdout.splitlines() if ln.startswith("亏损最多的组"))
    assert "、" in line and ", " not in line
    en = invoke("report", without, "-o", tmp_path / "en", "--lang", "en")
    assert ", " in next(ln for ln in en.stdout.splitlines() if ln.startswith("losing most"))


def test_report_by_department_leaves_out_a_totals_row_labelled_in_the_department(tmp_path: Path) -> None:
    header, rows = sample_rows(tmp_path, 40)
    source = write_csv(tmp_path / "in.csv", header, with_totals_row(header, rows, "出院科室"))
    grouped = tmp_path / "grouped.csv"
    assert invoke("group", source, "-o", grouped, "-q").exit_code == 0
    result = invoke("report", grouped, "--by", "dept", "-o", tmp_path / "rep")
    assert result.exit_code == 0, result.output
    assert "未计入合计行 1 行" in result.stderr
    shown = read_indicators(tmp_path / "rep")
    assert sum(int(r["病例数"]) for r in shown) == len(rows)
    assert not any("合计" in r["科室"] for r in shown)


def test_audit_leaves_a_totals_row_out_and_says_so(tmp_path: Path, priced) -> None:
    """drgkit audit counted the totals row as a case ('已审核 61 例' of 60) of a hospital named null."""
    import polars as pl

    with_totals, _, _ = priced
    result = invoke("audit", with_totals, "-o", tmp_path / "audit", "--no-figures")
    assert result.exit_code == 0, result.output
    assert "已审核 60 例" in result.stdout
    assert "未计入合计行 1 行" in result.stderr
    hospitals = pl.read_parquet(tmp_path / "audit" / "hospitals.parquet")
    assert hospitals["hospital"].null_count() == 0 and hospitals["cases"].sum() == 60
    assert "合计" not in pl.read_parquet(tmp_path / "audit" / "cases.parquet")["case_id"].to_list()


def test_xlsx_writes_dates_as_dates_and_keeps_a_time_only_where_there_is_one(tmp_path: Path) -> None:
    """Every date column of the .xlsx showed ``2023-02-18 0:00:00`` (format yyyy-mm-dd h:mm:ss) though no
    value had a time: a column of midnights (or date32) is written yyyy-mm-dd, a column with a time keeps it;
    both stay real Excel dates."""
    import datetime as dt

    import openpyxl
    import pyarrow as pa

    from drgkit.io import write_table

    midnight = [dt.datetime(2023, 2, 18), None, dt.datetime(2024, 12, 31)]
    table = pa.table(
        {
            "入院日期": pa.array(midnight, pa.timestamp("us")),
            "出院日期": pa.array([dt.date(2023, 2, 26), dt.date(2023, 3, 1), None], pa.date32()),
            "结算时间": pa.array([dt.datetime(2023, 2, 26, 9, 30), None, midnight[0]], pa.timestamp("ms")),
            "utc": pa.array(midnight, pa.timestamp("s", tz="UTC")),
        }
    )
    write_table(table, tmp_path / "out.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    formats = {}
    for column in sheet.iter_cols(min_row=2):
        cells = [c for c in column if c.value is not None]
        assert all(c.is_date for c in cells)
        formats[sheet.cell(1, column[0].column).value] = {c.number_format for c in cells}
    assert formats == {
        "入院日期": {"yyyy-mm-dd"},
        "出院日期": {"yyyy-mm-dd"},
        "结算时间": {"yyyy-mm-dd h:mm:ss"},
        "utc": {"yyyy-mm-dd"},
    }
    assert sheet["A2"].value == dt.datetime(2023, 2, 18) and sheet["C2"].value == dt.datetime(2023, 2, 26, 9, 30)


def test_the_grouped_workbook_writes_admission_and_discharge_dates_without_a_time(tmp_path: Path) -> None:
    import openpyxl

    header, rows = sample_rows(tmp_path, 20)
    out = tmp_path / "分组结果.xlsx"
    assert invoke("group", write_csv(tmp_path / "in.csv", header, rows), "-o", out, "-q").exit_code == 0
    book = openpyxl.load_workbook(out)
    dated = [c for sheet in book.worksheets for row in sheet.iter_rows(min_row=2) for c in row if c.is_date]
    assert dated and {c.number_format for c in dated} == {"yyyy-mm-dd"}


@pytest.fixture(scope="module")
def dip_catalogue(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a DIP catalogue built from 1,500 sample abstracts, the 60-row sample with a totals row)."""
    tmp_path = tmp_path_factory.mktemp("dip")
    history = tmp_path / "history.csv"
    assert invoke("sample", "-o", history, "-n", 1500).exit_code == 0
    assert invoke("dip", "build", history, "-o", tmp_path / "cat", "--threshold", "5", "-q").exit_code == 0
    header, rows = sample_rows(tmp_path)
    return tmp_path / "cat", write_csv(tmp_path / "in.csv", header, with_totals_row(header, rows, "病案号"))


def fits(text: str, width: int = 80) -> bool:
    from rich.cells import cell_len

    return all(cell_len(line) <= width for line in text.splitlines())


def test_dip_group_prints_its_summary_in_the_language_of_group(tmp_path: Path, dip_catalogue) -> None:
    """drgkit dip group ended with 'grouped 61 cases into cat …: invalid 1, ok 45 …' while drgkit group
    speaks Chinese by default; it had no --lang, and its column report was always Chinese."""
    catalogue, source = dip_catalogue
    zh = invoke("dip", "group", source, "-c", catalogue, "-o", tmp_path / "zh.xlsx")
    assert zh.exit_code == 0, zh.output
    assert "已按 DIP 目录 cat 分组 61 份病案" in zh.stdout and "grouped" not in zh.stdout
    assert "入组 " in zh.stdout and "无效病案 " in zh.stdout and "核心病种 " in zh.stdout
    assert fits(zh.stdout)
    en = invoke("dip", "group", source, "-c", catalogue, "-o", tmp_path / "en.xlsx", "--lang", "en")
    assert "grouped 61 cases into cat" in en.stdout and "invalid record " in en.stdout
    for result in (zh, en):  # broken between counts, never between a status and its count
        assert not any(line[:1].isdigit() or line.endswith(")") for line in result.stdout.splitlines())
    assert en.stderr.startswith("columns read:")
    assert fits(en.stdout)
    by_env = invoke("dip", "group", source, "-c", catalogue, "-o", tmp_path / "env.xlsx", env={"DRGKIT_LANG": "en"})
    assert "grouped 61 cases into cat" in by_env.stdout


def test_dip_settle_reads_dip_groups_own_workbook_and_leaves_its_totals_row_out(tmp_path: Path, dip_catalogue) -> None:
    """drgkit dip settle refused the workbook drgkit dip group had just written ('grouped data has no
    'status' column': it read the result as abstracts, dropping the result's columns; a Parquet result under
    the input's headers had no 'total_cost'); once read, the totals row was a hospital '' with the whole
    year's cost."""
    catalogue, source = dip_catalogue
    settled = {}
    for name, extra in (("workbook.xlsx", ()), ("canonical.parquet", ("--canonical",)), ("shaped.csv", ())):
        grouped = tmp_path / name
        assert invoke("dip", "group", source, "-c", catalogue, "-o", grouped, "-q", *extra).exit_code == 0
        result = invoke(
            "dip",
            "settle",
            grouped,
            "-c",
            catalogue,
            "--budget",
            500000,
            "--fund-ratio",
            0.6,
            "-o",
            tmp_path / f"{name}.csv",
        )
        assert result.exit_code == 0, result.output
        assert "未计入合计行 1 行" in result.stderr
        with open(tmp_path / f"{name}.csv", encoding="utf-8-sig", newline="") as handle:
            settled[name] = [
                {k: v if k == "hospital" else round(float(v), 2) for k, v in row.items()}
                for row in csv.DictReader(handle)
            ]
    assert settled["workbook.xlsx"] == settled["canonical.parquet"] == settled["shaped.csv"]
    rows = settled["workbook.xlsx"]
    assert sum(r["cases"] for r in rows) == 60 and all(r["hospital"] for r in rows)


def test_dip_settle_speaks_the_language_of_the_other_commands(tmp_path: Path, dip_catalogue) -> None:
    """drgkit dip settle printed 'total score …; PV_initial …; PV_settle …' and a table 'per hospital' under
    the raw field names (total_score, payable_before_evaluation …) in the middle of Chinese lines."""
    catalogue, source = dip_catalogue
    grouped = tmp_path / "grouped.parquet"
    assert invoke("dip", "group", source, "-c", catalogue, "-o", grouped, "-q").exit_code == 0
    args = ("dip", "settle", grouped, "-c", catalogue, "--budget", 500000, "--fund-ratio", 0.6)
    zh = invoke(*args)
    assert zh.exit_code == 0, zh.output
    assert "总分值 " in zh.stdout and "结算点值 " in zh.stdout and "各医院 DIP 结算" in zh.stdout
    assert "医院应付" in zh.stdout and "（万元）" in zh.stdout
    for english in ("total score", "PV_", "per hospital", "payable", "total_cost", "cases"):
        assert english not in zh.stdout
    assert fits(zh.stdout)
    en = invoke(*args, "--lang", "en")
    assert "total score " in en.stdout and "PV_settle " in en.stdout and "DIP settlement by hospital" in en.stdout
    assert fits(en.stdout)


def test_a_left_out_columns_caption_breaks_between_names_never_inside_one() -> None:
    """At 80 columns the caption naming the columns left out broke inside a name: '费率' at the end of one
    line and 'P95（元）' on the next (simulate), '年终清算（' / '万元）' (dip settle)."""
    from rich.cells import cell_len
    from rich.console import Console

    from drgkit.terminal import Col, fit_table

    names = ["情景", "结算方式", "基金预算（万元）", "预算封顶", "费率 P5（元）", "费率 P95（元）", "年终清算（万元）"]
    names += ["payable before evaluation (10k yuan)", "year-end settlement (10k yuan)"]
    row = ["upcoding H001/H002", "DRG 费率浮动", "27,191.03", "是", "8,425.57", "8,962.56", "1,234.56", "1", "2"]
    cols = [Col(n, "id" if i < 2 else "number", keep=i < 3) for i, n in enumerate(names)]
    console = Console(width=80, record=True, color_system=None)
    for lang in ("zh", "en"):
        console.print(fit_table("模拟", cols, [row], 54, hint="report.html", lang=lang))
    text = console.export_text()
    caption = [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] not in "┏┃┡│└模"]
    assert caption, text
    joined = "\n".join(caption)
    for name in names[3:]:
        assert name in joined.replace("\n", "") and name in joined, joined  # whole, on one line
    assert all(cell_len(line) <= 54 for line in text.splitlines())


def test_report_and_audit_read_costs_and_stays_saved_as_text(tmp_path: Path, priced) -> None:
    """A priced workbook re-saved with 总费用 as text ('5,671.59元') and 实际住院天数 as '8天' gave a report
    whose 医疗总费用 was 0 for every hospital and whose time and cost indices were blank, and an audit with no
    average stay — without a word: both read numbers with a bare cast."""
    import openpyxl
    import polars as pl

    _, without, _ = priced
    book = openpyxl.load_workbook(without)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    for name, written in (("总费用", "{:,.2f}元"), ("实际住院天数", "{}天")):
        for row in sheet.iter_rows(min_row=2):
            cell = row[header.index(name)]
            if isinstance(cell.value, (int, float)):
                cell.value = written.format(cell.value)
    text = tmp_path / "text.xlsx"
    book.save(text)
    for source, folder in ((without, "numbers"), (text, "text")):
        assert invoke("report", source, "-o", tmp_path / folder).exit_code == 0
        assert invoke("audit", source, "-o", tmp_path / f"audit-{folder}", "--no-figures").exit_code == 0
    assert read_indicators(tmp_path / "text") == read_indicators(tmp_path / "numbers")
    assert all(float(r["医疗总费用（万元）"]) > 0 for r in read_indicators(tmp_path / "text"))
    alos = [
        dict(pl.read_parquet(tmp_path / f / "hospitals.parquet").select("hospital", "alos").iter_rows())
        for f in ("audit-numbers", "audit-text")
    ]
    assert None not in alos[1].values() and alos[1] == pytest.approx(alos[0])


def test_a_result_number_saved_as_text_is_read_as_the_grouper_reads_it() -> None:
    import pyarrow as pa

    from drgkit.io.results import canonical_results

    table = pa.table(
        {
            "总费用": ["12,345.60", "12345.6元", "¥ 800", "1,23", "", None, "nan"],
            "实际住院天数": ["8天", "8", " 12 ", "x", "", None, "inf"],
        }
    )
    read = canonical_results(table, ["total_cost", "los"]).to_pydict()
    assert read["total_cost"] == [12345.6, 12345.6, 800.0, None, None, None, None]
    assert read["los"] == [8.0, 8.0, 12.0, None, None, None, None]


def test_blank_rows_of_an_export_are_no_stays_in_report_audit_and_dip_settle(
    tmp_path: Path, priced, dip_catalogue
) -> None:
    """group keeps an export's empty lines in place (rows in = rows out, marked invalid); report then showed a
    blank-named hospital with 2 cases (and a lower overall 入组率), audit '已审核 322 例', dip settle a hospital
    '' with 2 cases."""
    import polars as pl

    _, without, _ = priced
    header, rows = sample_rows(tmp_path)
    blank = [""] * len(header)
    source = write_csv(tmp_path / "blank.csv", header, [*rows[:20], blank, blank, *rows[20:]])
    grouped = tmp_path / "grouped.xlsx"
    assert invoke("group", source, "-o", grouped, "-q", "--scheme", "suzhou-2023").exit_code == 0
    priced_blank = tmp_path / "priced.xlsx"
    assert invoke("pay", grouped, "-o", priced_blank, "--table", "suzhou-2023", "--level", "level3").exit_code == 0
    result = invoke("report", priced_blank, "-o", tmp_path / "blank")
    assert result.exit_code == 0 and "未计入空行 2 行" in result.stderr and "合计行" not in result.stderr
    assert invoke("report", without, "-o", tmp_path / "plain").exit_code == 0
    assert read_indicators(tmp_path / "blank") == read_indicators(tmp_path / "plain")
    audited = invoke("audit", priced_blank, "-o", tmp_path / "audit", "--no-figures")
    assert "已审核 60 例" in audited.stdout and "未计入空行 2 行" in audited.stderr
    assert pl.read_parquet(tmp_path / "audit" / "hospitals.parquet")["hospital"].null_count() == 0
    catalogue, _ = dip_catalogue
    dip = tmp_path / "dip.csv"
    assert invoke("dip", "group", source, "-c", catalogue, "-o", dip, "-q").exit_code == 0
    settled = invoke(
        "dip", "settle", dip, "-c", catalogue, "--budget", 500000, "--fund-ratio", 0.6, "-o", tmp_path / "h.csv"
    )
    assert settled.exit_code == 0 and "未计入空行 2 行" in settled.stderr
    with open(tmp_path / "h.csv", encoding="utf-8-sig", newline="") as handle:
        assert all(r["hospital"] for r in csv.DictReader(handle))


def test_a_result_with_only_result_columns_has_no_blank_rows() -> None:
    import pyarrow as pa

    from drgkit.io.results import blank_rows, stays

    assert not any(blank_rows(pa.table({"status": ["ok", None], "drg": ["A", None]})).to_pylist())
    canonical = pa.table({"case_id": ["1", None], "dx": [["J18.900"], []], "status": ["ok", "invalid"]})
    assert blank_rows(canonical).to_pylist() == [False, True]  # group --canonical writes [] for no codes
    table = pa.table(
        {"病案号": ["1", None, " ", "合计"], "总费用": [1.0, None, None, 1.0], "状态": ["入组", "无效病案", None, None]}
    )
    kept, left_out = stays(table)
    assert kept.column("病案号").to_pylist() == ["1"] and (left_out.totals, left_out.blank) == (1, 2)
    assert left_out.lines("en") == [
        "left out 1 totals rows (stay id, hospital or department 合计, 总计 …: not stays)",
        "left out 2 blank rows (no abstract data)",
    ]


SCENARIOS = """
[history]
path = "{history}"
table = "suzhou-2023"
hospital_column = "hospital"
level_column = "hospital_level"

[settlement]
method = "drg_rate"
budget_growth = 0.03
binding = true

[[scenario]]
name = "baseline"
volume_growth = 0.03
"""


def test_simulate_reads_the_priced_workbook_and_leaves_its_totals_and_blank_rows_out(tmp_path: Path) -> None:
    """simulate --history took only Parquet/CSV/Arrow under canonical names: the workbook drgkit pay writes
    ('unknown file type .xlsx'), or its CSV under the input's headers ('no column hospital'), was refused,
    and a canonical history with a 合计 row stopped on 'hospital has 1 empty values'."""
    import polars as pl

    header, rows = sample_rows(tmp_path)
    header = [*header, "医院等级"]
    rows = [[*r, "三级"] for r in rows]
    table = with_totals_row(header, [*rows[:10], [""] * len(header), *rows[10:]], "病案号")
    source = write_csv(tmp_path / "in.csv", header, table)
    grouped = tmp_path / "grouped.xlsx"
    assert invoke("group", source, "-o", grouped, "-q", "--scheme", "suzhou-2023").exit_code == 0
    hospitals = {}
    for name, extra in (("priced.xlsx", ()), ("canonical.parquet", ("--canonical",))):
        priced = tmp_path / name
        if extra:  # the canonical history: grouped and priced under canonical names
            canonical = tmp_path / "grouped.parquet"
            assert invoke("group", source, "-o", canonical, "-q", "--scheme", "suzhou-2023", *extra).exit_code == 0
            grouped_for = canonical
        else:
            grouped_for = grouped
        assert invoke("pay", grouped_for, "-o", priced, "--table", "suzhou-2023").exit_code == 0
        scenarios = tmp_path / f"{name}.toml"
        scenarios.write_text(SCENARIOS.format(history=priced.as_posix()), encoding="utf-8")
        result = invoke("simulate", scenarios, "-o", tmp_path / f"out-{name}")
        assert result.exit_code == 0, result.output
        assert "未计入合计行 1 行" in result.stderr and "未计入空行 1 行" in result.stderr
        out = pl.read_parquet(tmp_path / f"out-{name}" / "hospitals.parquet").sort("hospital")
        hospitals[name] = out.select("hospital", "cases", "cost")
    assert hospitals["priced.xlsx"].equals(hospitals["canonical.parquet"])
    assert hospitals["priced.xlsx"]["hospital"].null_count() == 0
    assert "" not in hospitals["priced.xlsx"]["hospital"].to_list()


def test_pay_prices_an_export_whose_blank_and_totals_rows_have_no_hospital_level(tmp_path: Path) -> None:
    """drgkit pay stopped on 'row 11: unknown hospital level '' in column hospital_level' when the export
    had an empty line or a 合计 row (no 医院等级): rows it never prices (invalid) need no level."""
    header, rows = sample_rows(tmp_path)
    header = [*header, "医院等级"]
    rows = [[*r, "三级"] for r in rows]
    outputs = []
    for name, table in (
        ("plain", rows),
        ("export", with_totals_row(header, [*rows[:10], [""] * len(header), *rows[10:]], "病案号")),
    ):
        grouped = tmp_path / f"{name}.xlsx"
        source = write_csv(tmp_path / f"{name}.csv", header, table)
        assert invoke("group", source, "-o", grouped, "-q", "--scheme", "suzhou-2023", "--canonical").exit_code == 0
        out = tmp_path / f"{name}-priced.csv"
        result = invoke("pay", grouped, "-o", out, "--table", "suzhou-2023")
        assert result.exit_code == 0, result.output
        with open(out, encoding="utf-8-sig", newline="") as handle:
            outputs.append(list(csv.DictReader(handle)))
    plain, export = outputs
    assert len(export) == len(plain) + 2
    kept = [r for r in export if r["case_id"] not in ("", "合计")]
    assert [r["payment"] for r in kept] == [r["payment"] for r in plain]
    assert [r["pay_level"] for r in kept] == [r["pay_level"] for r in plain]
    left = [r for r in export if r not in kept]
    assert [r["状态"] for r in left] == ["无效病案", "无效病案"] and {r["pay_level"] for r in left} == {""}


def test_audit_notes_are_said_in_the_language_of_the_run(tmp_path: Path) -> None:
    """audit printed '注：no hospital column: every case is audited …' and '注：admission_date: 1 value(s) are
    not dates …' — English after a Chinese 注：."""
    header, rows = sample_rows(tmp_path, 40)
    keep = [i for i, h in enumerate(header) if h != "医疗机构名称"]
    grouped = tmp_path / "grouped.csv"
    source = write_csv(tmp_path / "in.csv", [header[i] for i in keep], [[r[i] for i in keep] for r in rows])
    assert invoke("group", source, "-o", grouped, "-q").exit_code == 0
    with open(grouped, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    table[6][table[0].index("入院日期")] = "不详"
    with open(grouped, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(table)
    zh = invoke("audit", grouped, "-o", tmp_path / "zh", "--no-figures")
    assert zh.exit_code == 0, zh.output
    assert "注：没有医院列" in zh.stderr and "注：入院时间：1 个值不是日期（如第 6 行的 '不详'）" in zh.stderr
    assert "no hospital column" not in zh.stderr and "not dates" not in zh.stderr
    en = invoke("audit", grouped, "-o", tmp_path / "en", "--no-figures", "--lang", "en")
    assert "note: no hospital column" in en.stderr and "admission_date: 1 value(s) are not dates" in en.stderr


def test_the_patient_basis_line_names_insurance_types_in_chinese() -> None:
    """pay's line said '（无险种列，均按 employee 结算）' and '30% (resident 50%, employee 20%)' in Chinese."""
    from drgkit.payment.price import patient_basis_line

    basis = {"patient_share": 0.3, "patient_basis": "benefits", "benefits": "example-national", "benefit_rows": 5}
    zh = patient_basis_line({**basis, "benefit_insurance_assumed": "employee"}, "zh")
    assert "均按职工结算" in zh and "employee" not in zh
    assert "all settled as employee" in patient_basis_line({**basis, "benefit_insurance_assumed": "employee"}, "en")
    shares = {"patient_share": 0.3, "patient_shares": {"resident": 0.5, "employee": 0.2}}
    assert "30%（居民 50%、职工 20%）" in patient_basis_line(shares, "zh")
    assert "30% (resident 50%, employee 20%)" in patient_basis_line(shares, "en")
