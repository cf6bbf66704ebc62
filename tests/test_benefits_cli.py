"""`drgkit benefits` on an export with the settlement list's Chinese headers: the split per stay, the workbook
with Chinese headers, the shipped policies and the template, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drgkit.cli import app
from drgkit.io.read import read_file

runner = CliRunner()

EXPORT = """人员编号,出院日期,险种类型,医院等级,医疗费总额,全自费金额,年龄,结算ID
P001,2024-03-01,职工基本医疗保险,三级甲等,"31,800.00",1000,70,S1
P001,2024-01-15,职工基本医疗保险,三级甲等,11800,,70,S2
P002,2024/02/01,城乡居民基本医疗保险,一级,1300元,,40,S3
P003,2024-02-01,390,二级,,,50,S4
"""


@pytest.fixture()
def export(tmp_path: Path) -> Path:
    path = tmp_path / "结算清单.csv"
    path.write_text(EXPORT, encoding="utf-8-sig")
    return path


def test_settles_a_chinese_export_and_writes_the_split(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    r = runner.invoke(app, ["benefits", str(export), "-o", str(out), "--policy", "example-national"])
    assert r.exit_code == 0, r.output
    assert "已结算 3 例（2 人）" in r.output and "示例政策" in r.output
    assert "未结算 1 例：医疗费总额缺失或不是数字" in r.output
    t = pq.read_table(out)
    assert t.column("结算ID").to_pylist() == ["S1", "S2", "S3", "S4"]  # rows in = rows out, same order
    assert t.column("人员编号").to_pylist()[0] == "P001"  # the input's own columns kept
    # S2 is P001's first stay: 1,800 deductible, 75 % of 10,000; S1 the second: 全自费 1,000, 75 % of 29,000
    assert t.column("admission_in_year").to_pylist() == [2, 1, 1, None]
    assert t.column("fund_payment").to_pylist() == [21750.0, 7500.0, 850.0, None]
    assert t.column("patient_payment").to_pylist() == [10050.0, 4300.0, 450.0, None]
    assert t.column("full_self_pay").to_pylist()[0] == 1000.0
    for row in range(3):
        parts = sum(
            t.column(c)[row].as_py()
            for c in ("fund_payment", "critical_illness_payment", "assistance_payment", "patient_payment")
        )
        assert parts == pytest.approx([31800.0, 11800.0, 1300.0][row], abs=0.001)


def test_the_age_rule_policy_and_a_csv_output(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["benefits", str(export), "-o", str(out), "--policy", "example-national-age65", "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == ""
    t = pacsv.read_csv(out)
    # 70 years old: deductible 0.8 × 1,800, share 0.80: S2 pays 1,440 + 0.2 × 10,360
    assert t.column("deductible").to_pylist()[1] == 1440.0
    assert t.column("patient_payment").to_pylist()[1] == pytest.approx(3512.0)


def test_a_workbook_has_chinese_headers(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    r = runner.invoke(app, ["benefits", str(export), "-o", str(out), "-p", "example-national", "-q"])
    assert r.exit_code == 0, r.output
    t = read_file(out, sheet=1)
    for header in (
        "人员编号",
        "医疗费总额",
        "全自费",
        "乙类先行自付",
        "起付线",
        "统筹基金支付",
        "大病/大额支付",
        "医疗救助支付",
        "个人自付（政策内）",
        "个人负担合计",
        "年度统筹基金支付累计",
        "结算说明",
    ):
        assert header in t.column_names, header
    assert t.column("结算说明").to_pylist()[3] == "医疗费总额缺失或不是数字"
    # fed back in, the earlier results are recomputed rather than read (same answer, no duplicated columns)
    again = tmp_path / "again.parquet"
    r = runner.invoke(app, ["benefits", str(out), "-o", str(again), "-p", "example-national", "-q"])
    assert r.exit_code == 0, r.output
    a = pq.read_table(again)
    assert a.column("fund_payment").to_pylist() == [21750.0, 7500.0, 850.0, None]
    assert not any(name.endswith("(结算)") for name in a.column_names)


def test_policies_and_template(tmp_path: Path) -> None:
    r = runner.invoke(app, ["benefits", "--policies"])
    assert r.exit_code == 0 and "example-national" in r.output and "example-national-age65" in r.output
    r = runner.invoke(app, ["benefits", "--template"])
    assert r.exit_code == 0 and "[employee]" in r.output
    mine = tmp_path / "mine.toml"
    mine.write_text(r.output, encoding="utf-8")
    stays = tmp_path / "s.csv"
    stays.write_text("psn_no,dscg_time,medfee_sumamt\nA,2024-01-01,2000\n", encoding="utf-8")
    out = tmp_path / "o.parquet"
    r = runner.invoke(
        app, ["benefits", str(stays), "-o", str(out), "-p", str(mine), "--insurance", "职工", "--level", "3", "-q"]
    )
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("fund_payment").to_pylist() == [150.0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "no-such"], "no-such: no such benefit policy file or shipped policy"),
        ([], "give a benefit policy with --policy"),
        (["-p", "example-national", "--insurance", "商业"], "--insurance '商业': not a known insurance type"),
        (["-p", "example-national", "--map", "医保号=patient_id"], "--map 医保号=patient_id: no column '医保号'"),
    ],
)
def test_errors_are_one_line(export: Path, tmp_path: Path, args: list[str], message: str) -> None:
    r = runner.invoke(app, ["benefits", str(export), "-o", str(tmp_path / "x.parquet"), *args])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert r.output.count("error:") == 1


def test_a_bad_policy_file_names_the_key(export: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[employee]\ndeductible = { level3 = 1800 }\nfund_share = { level3 = 75 }\nannual_ceiling = 450000\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["benefits", str(export), "-o", str(tmp_path / "x.parquet"), "-p", str(bad)])
    assert r.exit_code == 2
    assert "bad.toml: employee.fund_share.level3 must be between 0 and 1, got 75" in r.output
