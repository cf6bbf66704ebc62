"""The ``drgkit`` command line, through typer's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import drgkit
from conftest import DATA, read_oracle
from drgkit.cli import app

runner = CliRunner()

ORACLE = DATA / "opendrg-input-30.csv"


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_error_line(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    # the mapping report ("columns read: …") may come first; the error is one line, the last
    lines = [
        ln
        for ln in result.stderr.strip().splitlines()
        if not ln.startswith(("columns read:", "carried through:", "读取的列：", "原样保留的列：", "skipped "))
    ]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def no_temp_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]


# --------------------------------------------------------------------------- group


def test_group_csv_to_parquet_same_rows_and_order(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = invoke("group", ORACLE, "-o", out)
    assert result.exit_code == 0, result.output
    assert "已分组 30 份病案（方案 chs-drg-1.1）" in result.stdout  # Chinese first
    table = pq.read_table(out)
    source = read_oracle(ORACLE.name)
    assert table.num_rows == source.num_rows
    assert table.column("case_id").to_pylist() == source.column("case_id").to_pylist()
    assert set(table.column("status").to_pylist()) == {"ok"}
    assert table.column("drg").to_pylist() == source.column("exp_drg").to_pylist()
    assert table.column("dx").type == pa.list_(pa.string())
    assert no_temp_files(tmp_path) == []


def test_group_scheme_option(tmp_path: Path) -> None:
    source = read_oracle("hongshan-2.0-17.csv")
    out = tmp_path / "hs.parquet"
    result = invoke("group", DATA / "hongshan-2.0-17.csv", "-o", out, "--scheme", "chs-drg-2.0", "--strict-gender")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert set(table.column("scheme").to_pylist()) == {"chs-drg-2.0"}
    assert table.column("drg").to_pylist() == source.column("label_drg").to_pylist()


def test_group_writes_csv_output(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert invoke("group", ORACLE, "-o", out, "-q").exit_code == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "case_id" and "drg" in rows[0]
    assert len(rows) == 31
    assert [r[0] for r in rows[1:]] == read_oracle(ORACLE.name).column("case_id").to_pylist()
    assert rows[1][rows[0].index("dx")] == "K22.301|K11.901|E11.900|I10.x05"


def test_group_map_option(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "stay,sexe,years,diags,procs\na,1,65,I21.000x005|E11.900,36.0601\nb,2,30,K35.301,\n", encoding="utf-8"
    )
    out = tmp_path / "mine.parquet"
    result = invoke(
        "group",
        path,
        "-o",
        out,
        "--canonical",
        "--map",
        "diags=dx",
        "--map",
        "procs=px",
        "--map",
        "sexe=gender",
        "--map",
        "years=age",
        "--map",
        "stay=case_id",
        "-q",
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column("case_id").to_pylist() == ["a", "b"]
    assert table.column("drg").to_pylist()[0] == "FM19"
    assert table.column("status").to_pylist() == ["ok", "ok"]
    bad = invoke("group", path, "-o", tmp_path / "x.parquet", "--map", "nosuch=dx")
    one_error_line(bad, "nosuch")
    bad = invoke("group", path, "-o", tmp_path / "x.parquet", "--map", "no-equals-sign")
    one_error_line(bad, "--map")


def test_group_quiet_prints_nothing(tmp_path: Path) -> None:
    result = invoke("group", ORACLE, "-o", tmp_path / "q.parquet", "--quiet")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


GBK_HEADER = [
    "病案号",
    "性别",
    "年龄",
    "年龄(天)",
    "新生儿出生体重",
    "住院天数",
    "离院方式",
    "总费用",
    "主要诊断编码",
    "其他诊断编码1",
    "其他诊断编码2",
    "主要手术操作编码",
    "其他手术操作编码1",
    "出院科别",
]
GBK_ROWS = [
    ["病例1", "1", "65", "", "", "10", "1", "35000.50", "I21.000x005", "E11.900", "", "36.0601", "", "心内科"],
    ["病例2", "2", "0", "3", "1200", "20", "1", "8000", "P07.100", "", "", "", "", "新生儿科"],
    ["病例3", "男", "65", "", "", "5", "1", "5000", "C61.x00", "", "", "60.5x02", "", "泌尿外科"],
    ["病例4", "2", "30", "", "", "3", "1", "abc", "K35.301", "", "", "", "", ""],
]


def test_group_gbk_csv_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "首页.csv"
    lines = [",".join(GBK_HEADER)] + [",".join(r) for r in GBK_ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    out = tmp_path / "out.parquet"
    result = invoke("group", path, "-o", out, "--canonical")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column("case_id").to_pylist() == ["病例1", "病例2", "病例3", "病例4"]
    assert table.column("dx").to_pylist()[0] == ["I21.000x005", "E11.900"]
    assert table.column("dept").to_pylist()[1] == "新生儿科"
    # by default the input's own columns come back, in order, numbers typed, results appended
    shaped = tmp_path / "shaped.parquet"
    assert invoke("group", path, "-o", shaped, "-q").exit_code == 0
    own = pq.read_table(shaped)
    assert own.column_names[: len(GBK_HEADER)] == GBK_HEADER
    assert own.column_names[len(GBK_HEADER)] == "status"
    assert own.column("drg").to_pylist() == table.column("drg").to_pylist()
    assert pa.types.is_floating(own.schema.field(GBK_HEADER[7]).type)  # the cost column: typed
    assert own.column(GBK_HEADER[7]).to_pylist()[:3] == [35000.5, 8000.0, 5000.0]
    status = table.column("status").to_pylist()
    drg = table.column("drg").to_pylist()
    assert (status[0], drg[0]) == ("ok", "FM19")
    assert status[1] == "ok" and drg[1].startswith("P")
    # 男 is male with the default (lenient) gender reading: prostate cancer enters MDCM
    assert (status[2], table.column("mdc").to_pylist()[2]) == ("ok", "MDCM")
    assert status[3] == "invalid" and "total_cost" in table.column("reason").to_pylist()[3]
    # strict gender: 男 is not a sex code
    strict = tmp_path / "strict.parquet"
    assert invoke("group", path, "-o", strict, "--strict-gender", "-q").exit_code == 0
    assert pq.read_table(strict).column("status").to_pylist()[2] == "invalid"


def test_group_xlsx_in_and_out(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(GBK_HEADER)
    for row in GBK_ROWS:
        sheet.append(row)
    src = tmp_path / "in.xlsx"
    book.save(src)
    out = tmp_path / "out.xlsx"
    result = invoke("group", src, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert "状态" in header and "DRG" in header  # the coder's workbook: result headers in Chinese
    assert len(rows) == 1 + len(GBK_ROWS)
    assert header[: len(GBK_HEADER)] == GBK_HEADER  # the coder's own headers, in her order
    assert [r[header.index("病案号")] for r in rows[1:]] == ["病例1", "病例2", "病例3", "病例4"]
    assert rows[1][header.index("DRG")] == "FM19"
    assert rows[1][header.index("年龄")] == 65  # a number, not text
    assert no_temp_files(tmp_path) == []


def test_unknown_scheme_is_one_line_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    result = invoke("group", ORACLE, "-o", out, "--scheme", "no-such-scheme")
    one_error_line(result, "unknown scheme", "no-such-scheme")
    assert not out.exists()


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = invoke("group", tmp_path / "missing.csv", "-o", tmp_path / "x.parquet")
    one_error_line(result, "missing.csv", "not found")
    result = invoke("group", tmp_path, "-o", tmp_path / "x.parquet")
    one_error_line(result, "no .parquet files")  # a folder is read as a Parquet dataset


def test_output_that_is_the_input_is_refused_and_the_export_kept(tmp_path: Path, monkeypatch) -> None:
    """`group x.csv -o x.csv` (or ./x.csv, or a link to it) would replace the coder's export by its grouped
    copy: refused in one line, the file untouched; the same for pay, validate and dip group."""
    export = tmp_path / "x.csv"
    export.write_bytes(ORACLE.read_bytes())
    link = tmp_path / "link.csv"
    link.symlink_to(export)
    monkeypatch.chdir(tmp_path)
    for target in (export, Path("./x.csv"), link):
        one_error_line(invoke("group", export, "-o", target), "is the input", "another file")
    for command in (["pay", "--table", "x"], ["validate"], ["dip", "group", "--catalogue", tmp_path]):
        one_error_line(invoke(*command, export, "-o", export), "is the input")
    assert export.read_bytes() == ORACLE.read_bytes()
    long = tmp_path / "dx.csv"
    long.write_text("id,code\n1,I21.000\n", encoding="utf-8")
    one_error_line(invoke("group", export, "--diagnoses", long, "-o", long), "is the input")
    assert invoke("group", export, "-o", tmp_path / "y.csv").exit_code == 0  # another file: written


def test_garbage_input_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"\x00\x01garbage" * 100)
    one_error_line(invoke("group", path, "-o", tmp_path / "x.parquet"), "junk.parquet")
    path = tmp_path / "nodx.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    one_error_line(invoke("group", path, "-o", tmp_path / "x.parquet"), "no diagnosis column")


def test_failed_run_keeps_existing_output_and_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous result")
    # fails before anything is written
    one_error_line(invoke("group", tmp_path / "missing.csv", "-o", out))
    assert out.read_bytes() == b"previous result"
    # fails after the first batch was written: a malformed line beyond the first 1 MB block
    path = tmp_path / "big.csv"
    good = "".join(
        f"C{i:07d},1,65,I21.000x005|E11.900|I10.x00|E78.500|K21.000,36.0601|88.5500,12345.67\n" for i in range(16_000)
    )
    path.write_text(
        "case_id,gender,age,dx,px,total_cost\n" + good + "bad,row,with,too,many,fields,here,!\n", encoding="utf-8"
    )
    assert path.stat().st_size > 1_200_000
    result = invoke("group", path, "-o", out, "--batch-size", "5000")
    one_error_line(result, "big.csv")
    assert out.read_bytes() == b"previous result"
    assert no_temp_files(tmp_path) == []


def test_failed_write_midway_keeps_existing_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import drgkit.api

    out = tmp_path / "out.csv"
    out.write_text("old\n", encoding="utf-8")
    calls = {"n": 0}
    real = drgkit.api.group_canonical

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise drgkit.io.InputError("simulated failure in the second batch")
        return real(*args, **kwargs)

    monkeypatch.setattr(drgkit.api, "group_canonical", flaky)
    result = invoke("group", ORACLE, "-o", out, "--batch-size", "10")
    one_error_line(result, "simulated failure")
    # stops at the failure (batches run two at a time, so the third may have started): far from all 500
    assert 2 <= calls["n"] <= 4
    assert out.read_text(encoding="utf-8") == "old\n"
    assert no_temp_files(tmp_path) == []


def test_success_replaces_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous result")
    assert invoke("group", ORACLE, "-o", out, "-q", "--batch-size", "7").exit_code == 0
    assert pq.read_table(out).num_rows == 30
    assert no_temp_files(tmp_path) == []


# --------------------------------------------------------------------------- explain

EXPLAIN = ["explain", "--dx", "I21.000x005|E11.900", "--px", "36.0601", "--age", "65", "--sex", "1"]


def test_explain_prints_path_and_chinese_names() -> None:
    result = invoke(*EXPLAIN)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in (
        "chs-drg-1.1",
        "MDCF",
        "循环系统疾病及功能障碍",
        "FM1",
        "FM19",
        "经皮冠状动脉支架植入",
        "I21.000x005",
        "E11.900",
        "36.0601",
        "冠状动脉药物涂层支架置入术",
        "结果: 入组",
    ):
        assert needle in out, needle
    assert "✓ 入组规则   FM1" in out and "主要手术在本组手术表内" in out


def test_explain_json() -> None:
    result = invoke(*EXPLAIN, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "scheme",
        "scheme_checksum",
        "status",
        "reason",
        "mdc",
        "mdc_name",
        "adrg",
        "adrg_name",
        "drg",
        "drg_name",
        "rule",
        "cc_level",
        "cc_code",
        "diagnoses",
        "procedures",
        "trace",
    ):
        assert key in data, key
    assert (data["scheme"], data["status"], data["mdc"], data["adrg"], data["drg"]) == (
        "chs-drg-1.1",
        "ok",
        "MDCF",
        "FM1",
        "FM19",
    )
    assert data["drg_name"] == "经皮冠状动脉支架植入"
    assert [d["code"] for d in data["diagnoses"]] == ["I21.000x005", "E11.900"]
    assert data["procedures"][0]["or_procedure"] is True
    assert any(step["step"] == "rule" and step["item"] == "FM1" and step["matched"] for step in data["trace"])


def test_explain_agrees_with_group() -> None:
    table = pa.table({"gender": ["1"], "age": ["65"], "dx": ["I21.000x005|E11.900"], "px": ["36.0601"]})
    grouped = drgkit.group(table)
    data = json.loads(invoke(*EXPLAIN, "--json").stdout)
    assert data["drg"] == grouped.column("drg")[0].as_py()


def test_explain_errors() -> None:
    one_error_line(invoke(*EXPLAIN, "--scheme", "nope"), "unknown scheme")
    result = invoke("explain", "--dx", "I21.000x005", "--sex", "X", "--age", "50")
    assert result.exit_code == 0
    assert "无效病案" in result.stdout
    # the value problem in the reason is in the page's language, the value as written
    assert "原因: V06 字段值无法识别: gender: 'X' 不是可识别的性别" in result.stdout
    english = invoke("explain", "--dx", "I21.000x005", "--sex", "X", "--age", "50", "--lang", "en")
    assert "reason: V06 unreadable field value: gender: 'X' is not a recognised sex" in english.stdout


# --------------------------------------------------------------------------- schemes, demo


def test_schemes_lists_29() -> None:
    result = invoke("schemes", "--json")
    assert result.exit_code == 0
    ids = [s["id"] for s in json.loads(result.stdout)]
    assert len(ids) == 29 == len(set(ids))
    for sid in ("chs-drg-1.1", "chs-drg-2.0", "chs-drg-1.0", "beijing-2022", "wlmq-2022", "zhejiang-2022"):
        assert sid in ids
    text = invoke("schemes")
    assert text.exit_code == 0
    assert "29 schemes" in text.stdout
    assert "beijing-2022" in text.stdout and "wlmq-2022" in text.stdout


def test_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo.parquet"
    result = invoke("demo", "-n", "2000", "-o", out)
    assert result.exit_code == 0, result.output
    assert "generated 2,000 synthetic abstracts" in result.stdout
    table = pq.read_table(out)
    assert table.num_rows == 2000
    status = table.column("status")
    assert pc.sum(pc.equal(status, "ok")).as_py() > 1000
    assert set(status.to_pylist()) <= {"ok", "ungroupable", "ambiguous", "invalid"}
    assert no_temp_files(tmp_path) == []


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "group" in result.output and "explain" in result.output


def test_a_named_pipe_and_a_zero_batch_size_end_in_exit_2_not_a_hang(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    one_error_line(invoke("group", fifo, "-o", tmp_path / "x.parquet"), "not a regular file")
    src = tmp_path / "c.csv"
    src.write_text("case_id,gender,age,dx\n1,1,65,I21.000x005\n", encoding="utf-8")
    for size in ("0", "-5"):
        assert invoke("group", src, "-o", tmp_path / "y.parquet", "--batch-size", size).exit_code == 2
    assert not (tmp_path / "y.parquet").exists()


def test_three_table_output_shows_the_codes_it_grouped_and_the_report_names_the_tables(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("结算ID,性别,年龄\nS1,2,30\nS2,1,70\n", encoding="utf-8")
    (tmp_path / "d.csv").write_text(
        "结算ID,诊断代码,主诊断标志\nS1,O34.201,0\nS1,O82.000,1\nS2,J18.900,1\n", encoding="utf-8"
    )
    (tmp_path / "p.csv").write_text("结算ID,手术操作代码,主要手术标志\nS1,74.1x01,1\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    result = invoke(
        "group", tmp_path / "s.csv", "--diagnoses", tmp_path / "d.csv", "--procedures", tmp_path / "p.csv", "-o", out
    )
    assert result.exit_code == 0, result.output
    assert "主诊断标志 → principal diagnosis" in result.stderr
    table = pq.read_table(out)
    assert table.column_names[:5] == ["结算ID", "性别", "年龄", "dx", "px"]
    assert table.column("drg").to_pylist()[0] == "OB19"  # the caesarean, from the procedure table
    assert table.column("dx").to_pylist() == [["O82.000", "O34.201"], ["J18.900"]]


def test_os_errors_and_every_drgkit_error_are_one_line(tmp_path: Path) -> None:
    import drgkit
    from drgkit.io import InputError
    from drgkit.payment import PolicyError, TableError

    assert all(issubclass(e, drgkit.DrgkitError) for e in (InputError, PolicyError, TableError))
    src = tmp_path / "c.csv"
    src.write_text("case_id,gender,age,dx\n1,1,65,I21.000x005\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    one_error_line(invoke("group", src, "-o", tmp_path / "adir"), "adir")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = invoke("group", src, "-o", locked / "out.parquet")
        if result.exit_code != 0:  # root may write anyway
            one_error_line(result)
    finally:
        locked.chmod(0o700)


def test_stale_temporary_outputs_of_killed_runs_are_swept(tmp_path: Path) -> None:
    import os
    import time

    src = tmp_path / "c.csv"
    src.write_text("case_id,gender,age,dx\n1,1,65,I21.000x005\n", encoding="utf-8")
    stale = tmp_path / ".out.csv.abc123.tmp"
    fresh = tmp_path / ".out.csv.def456.tmp"  # another run may be writing this one now
    stale.write_text("x")
    fresh.write_text("y")
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    assert invoke("group", src, "-o", tmp_path / "out.csv", "-q").exit_code == 0
    assert not stale.exists() and fresh.exists()


def test_sigterm_leaves_no_temporary_file(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    big = tmp_path / "big.parquet"
    assert invoke("synth", "-n", "2000000", "-o", big, "-q").exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "drgkit.cli", "group", str(big), "-o", str(tmp_path / "o.csv"), "-q", "--threads", "1"]
    )
    deadline = time.time() + 60
    while not list(tmp_path.glob(".o.csv.*.tmp")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert not list(tmp_path.glob(".o.csv.*.tmp"))


def test_lang_en_prints_english_and_an_unknown_language_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = invoke("group", ORACLE, "-o", out, "--lang", "en")
    assert result.exit_code == 0 and "grouped 30 abstracts with chs-drg-1.1" in result.stdout
    assert "入组" not in result.stdout and "columns read:" in result.output
    zh = invoke("group", ORACLE, "-o", out)
    assert "入组" in zh.stdout and "病例最多的组" in zh.stdout and "读取的列：" in zh.output
    bad = invoke("group", ORACLE, "-o", out, "--lang", "fr")
    assert bad.exit_code == 2 and "language must be one of zh, en" in bad.output
    e_zh = invoke("explain", "--dx", "J18.900|I50.900", "--age", "70", "--sex", "2")
    e_en = invoke("explain", "--dx", "J18.900|I50.900", "--age", "70", "--sex", "2", "--lang", "en")
    assert "结果: 入组" in e_zh.stdout and "伴严重并发症或合并症（MCC）" in e_zh.stdout
    assert "result: grouped" in e_en.stdout and "with a major complication or comorbidity (MCC)" in e_en.stdout


def test_the_sample_export_groups_like_a_coders_file(tmp_path: Path) -> None:
    """`drgkit sample` writes a coder-shaped workbook; grouping it reads every code column, keeps every row,
    and the 问题病例 sheet explains each problem case."""
    import openpyxl

    sample, out = tmp_path / "病案首页示例.xlsx", tmp_path / "分组结果.xlsx"
    assert invoke("sample", "-o", sample).exit_code == 0
    result = invoke("group", sample, "-o", out, "--explain", "problems")
    assert result.exit_code == 0, result.output
    assert "→ dx (9 columns, principal first)" in result.output and "→ px (5 columns, main first)" in result.output
    book = openpyxl.load_workbook(out, read_only=True)
    cases = list(book["病案"].iter_rows(values_only=True))
    assert len(cases) == 321 and cases[0][0] == "病案号"
    problems = list(book["问题病例"].iter_rows(values_only=True))
    header = problems[0]
    states = {r[header.index("状态")] for r in problems[1:]}
    reasons = {r[header.index("原因")][:3] for r in problems[1:]}
    assert states <= {"未入组 (0000)", "无效病案", "歧义组 (QY)"} and {"U05", "V01", "U01"} <= reasons
    assert all(r[header.index("分组说明")] for r in problems[1:])
