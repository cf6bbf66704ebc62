"""Terminal tables never cut a number, a code or an id — at 80 and at 120 columns (drgkit.terminal)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from drgkit import cli
from drgkit.cli import app
from drgkit.terminal import Col, fit_table

runner = CliRunner()


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, highlight=False)
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize("width", [40, 80, 120])
def test_numbers_and_ids_are_whole_or_the_column_is_named_as_left_out(width: int) -> None:
    rows = [
        (
            "苏州市第一人民医院",
            "H0000000001",
            f"{3_750_000.5 * (i + 1):,.2f}",
            f"{i * 12_345:,}",
            "一段很长的说明文字" * 3,
        )
        for i in range(4)
    ]
    cols = [
        Col("hospital", keep=True),
        Col("id", "id", keep=True),
        Col("payment", "number", keep=True),
        Col("cases", "number"),
        Col("note"),
    ]
    text = _render(fit_table("t", cols, rows, width), width)
    assert "…" not in text
    for row in rows:
        assert row[1] in text and row[2] in text  # kept columns: whole
        assert row[3] in text or "cases" in text.split("not shown")[-1]
    assert max(len(line) for line in text.splitlines()) <= width


def _ellipsis_free(args: list[str], width: int, monkeypatch) -> str:
    monkeypatch.setattr(cli.common, "out", Console(width=width, highlight=False, record=True))
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = cli.common.out.export_text()
    assert "…" not in text, text
    return text


@pytest.mark.parametrize("width", [80, 120])
def test_commands_print_whole_numbers_at_80_and_120(width: int, tmp_path: Path, monkeypatch) -> None:
    cases, grouped = tmp_path / "s.parquet", tmp_path / "g.parquet"
    assert runner.invoke(app, ["synth", "-n", "3000", "-o", str(cases), "-q"]).exit_code == 0  # has hospitals
    text = _ellipsis_free(["group", str(cases), "-o", str(grouped), "--scheme", "suzhou-2023"], width, monkeypatch)
    assert re.search(r"入组\s*│\s*[\d,]+\s*│", text)
    priced = tmp_path / "p.parquet"
    text = _ellipsis_free(
        ["pay", str(grouped), "-o", str(priced), "--table", "suzhou-2023", "--level", "level3"], width, monkeypatch
    )
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    payments = pq.read_table(priced)
    normal = pc.sum(pc.filter(payments.column("payment"), pc.equal(payments.column("case_type"), "normal"))).as_py()
    assert f"{normal:,.2f}" in text  # the total, whole
    _ellipsis_free(["tables", "show", "suzhou-2023", "-n", "5"], width, monkeypatch)
    _ellipsis_free(["tables", "list"], width, monkeypatch)
    _ellipsis_free(["report", str(priced), "-o", str(tmp_path / "rep")], width, monkeypatch)


def _render_text(table, width: int) -> str:
    console = Console(width=width, record=True, highlight=False)
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_simulate_summary_keeps_every_number_whole(width: int, lang: str, tmp_path: Path) -> None:
    import polars as pl

    from drgkit.simulate.report import summary_table

    out = tmp_path / "sim"
    assert runner.invoke(app, ["simulate", "--example", "-o", str(out), "--draws", "0"]).exit_code == 0
    scen, hosp = pl.read_parquet(out / "scenarios.parquet"), pl.read_parquet(out / "hospitals.parquet")
    text = _render_text(summary_table(scen, hosp, width, lang), width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    for r in scen.iter_rows(named=True):  # the settled rate and the fund's payment (万元) of every scenario
        assert f"{r['rate_or_point_value']:,.2f}" in text
        assert f"{r['fund_payment'] / 1e4:,.2f}" in text
    assert ("区域总额预算模拟" if lang == "zh" else "global-budget simulation") in text
    if "not shown" in text or "未显示" in text:  # a left-out column is named in the table's own language
        assert ("未显示" in text) == (lang == "zh")


def test_report_and_audit_speak_the_chosen_language(tmp_path: Path, monkeypatch) -> None:
    cases, priced = tmp_path / "s.parquet", tmp_path / "p.parquet"
    assert runner.invoke(app, ["synth", "-n", "2000", "-o", str(cases), "-q"]).exit_code == 0
    assert (
        runner.invoke(
            app,
            [
                "group",
                str(cases),
                "-o",
                str(priced),
                "--scheme",
                "suzhou-2023",
                "--price",
                "suzhou-2023",
                "--level",
                "level3",
                "-q",
            ],
        ).exit_code
        == 0
    )
    zh = _ellipsis_free(["report", str(priced), "-o", str(tmp_path / "r1")], 120, monkeypatch)
    table = zh.split("已写出")[0]  # file names carry field names; the table must not
    assert "按医院统计的指标" in table and "入组率" in table and "grouping_rate" not in table
    en = _ellipsis_free(["report", str(priced), "-o", str(tmp_path / "r2"), "--lang", "en"], 120, monkeypatch)
    assert "indicators by hospital" in en and "grouping" in en and "入组率" not in en.split("written")[0]
    for lang, title in (("zh", "风险最高的 3 家医院"), ("en", "the 3 hospitals with the highest risk")):
        result = runner.invoke(
            app, ["audit", str(priced), "-o", str(tmp_path / f"a{lang}"), "--top", "3", "--no-figures", "--lang", lang]
        )
        assert result.exit_code == 0, result.output
        assert title in result.output and "…" not in result.output
