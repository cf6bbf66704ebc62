"""The fund forecast (drgkit fund forecast): the digest's indicators on a hand-checked 3-year example, the
warnings and the year the reserve runs out, Monte Carlo bands, scenarios side by side, a settlement as the
inpatient spending, one-line errors naming the key, and the command (figures, page, 80-column table)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import drgkit
from drgkit import cli
from drgkit.benefits.fund import FundError, forecast, load_fund, project
from drgkit.cli import app

runner = CliRunner()

# One pool with employees and residents, small numbers so every value below can be checked by hand.
HAND = {
    "name": "hand",
    "base_year": 2024,
    "years": 3,
    "reserve": 100,
    "income": {
        "active": 10,
        "retired": 4,
        "wage": 100,
        "employer_rate": 0.1,
        "employee_rate": 0.02,
        "employer_to_pool": 1.0,
        "employee_to_pool": 0.5,
        "residents": 2,
        "premium": 5,
        "subsidy": 15,
        "growth": {"wage": 0.1, "retired": 0.25},
    },
    "spending": {
        "inpatient": 100,
        "outpatient": 40,
        "other": 10,
        "growth": {"inpatient_volume": 0.1, "outpatient_price": 0.05},
    },
}


def test_the_indicators_on_a_hand_checked_three_year_example() -> None:
    table, projections = forecast(HAND)
    assert table["year"].to_list() == [2025, 2026, 2027]
    # income: employees 10 × wage 100 × 1.1^t × (0.1 × 1.0 + 0.02 × 0.5 = 0.11) = 121, 133.1, 146.41;
    # residents 2 × (5 + 15) = 40 every year (no growth); other 0
    employees = [10 * 100 * 1.1**t * (0.1 * 1.0 + 0.02 * 0.5) for t in (1, 2, 3)]
    assert employees == pytest.approx([121.0, 133.1, 146.41])
    income = [e + 2 * (5 + 15) for e in employees]
    assert income == pytest.approx([161.0, 173.1, 186.41])
    # spending: inpatient 100 × 1.1^t (volume) = 110, 121, 133.1; outpatient 40 × 1.05^t (price) = 42, 44.1,
    # 46.305; other 10
    spending = [100 * 1.1**t + 40 * 1.05**t + 10 for t in (1, 2, 3)]
    assert spending == pytest.approx([162.0, 175.1, 189.405])
    # 当期结余 = income − spending: −1, −2, −2.995; 当期结余率 = balance ÷ income
    balance = [-1.0, -2.0, -2.995]
    assert [i - s for i, s in zip(income, spending)] == pytest.approx(balance)
    rate = [-1 / 161, -2 / 173.1, -2.995 / 186.41]
    # 累计结余 = last year's + balance: 100 − 1 = 99, 99 − 2 = 97, 97 − 2.995 = 94.005
    reserve = [99.0, 97.0, 94.005]
    # 可支付月数 = reserve ÷ (spending ÷ 12): 7.33, 6.65, 5.96 — the last below the 6–9 month range
    months = [99 / (162 / 12), 97 / (175.1 / 12), 94.005 / (189.405 / 12)]
    assert months[2] < 6 < months[1]
    # growth against the base year's income 110 + 40 = 150 and spending 100 + 40 + 10 = 150
    income_growth = [161 / 150 - 1, 173.1 / 161 - 1, 186.41 / 173.1 - 1]
    spending_growth = [162 / 150 - 1, 175.1 / 162 - 1, 189.405 / 175.1 - 1]
    # retirees 4 × 1.25^t = 5, 6.25, 7.8125 of 10 active (no growth): the retirees' share rises
    retired_share = [5 / 15, 6.25 / 16.25, 7.8125 / 17.8125]
    for column, want in [
        ("income", income),
        ("spending", spending),
        ("balance", balance),
        ("balance_rate", rate),
        ("reserve", reserve),
        ("months", months),
        ("income_growth", income_growth),
        ("spending_growth", spending_growth),
        ("retired_share", retired_share),
        ("employee_income", employees),
        ("resident_income", [40.0] * 3),
        ("inpatient", [110.0, 121.0, 133.1]),
        ("outpatient", [42.0, 44.1, 46.305]),
    ]:
        assert table[column].to_list() == pytest.approx(want, rel=1e-12), column
    assert table["warnings"].to_list() == ["deficit", "deficit", "below_target;deficit"]
    assert projections[0].exhausted_year() is None
    assert "months_p5" not in table.columns  # no [uncertainty]: no draws


def test_the_year_the_reserve_runs_out_and_every_threshold_warning() -> None:
    data = {
        "base_year": 2024,
        "years": 6,
        "reserve": 50,
        "income": {"residents": 1, "premium": 40, "subsidy": 60},  # 100 a year
        "spending": {"inpatient": 100, "growth": {"inpatient_price": 0.2}},  # 120, 144, 172.8 …
        "thresholds": {"too_little": 2, "target": [4, 5], "too_much": 30},
    }
    table, projections = forecast(data)
    # 50 + (100 − 120) = 30; 30 + (100 − 144) = −14; −14 + (100 − 172.8) = −86.8
    assert table["reserve"].to_list()[:3] == pytest.approx([30.0, -14.0, -86.8])
    assert projections[0].exhausted_year() == 2026
    # 2025: 30 / (120 / 12) = 3 months: above too_little (2), below the 4–5 range
    assert table["warnings"].to_list()[:2] == ["below_target;deficit", "exhausted;deficit"]
    tight = forecast({**data, "thresholds": {"too_little": 3.5, "target": [4, 5], "too_much": 30}})[0]
    assert tight["warnings"][0] == "too_little;deficit"  # 3 < 3.5
    assert forecast({**data, "reserve": 10_000})[0]["warnings"][0] == "too_much;deficit"  # 9,980 / 10 months
    assert forecast({**data, "reserve": 70})[0]["warnings"][0] == "deficit"  # 50 / 10 = 5: the range's edge is in it
    assert forecast({**data, "reserve": 72})[0]["warnings"][0] == "above_target;deficit"  # 52 / 10 = 5.2
    assert forecast({**data, "reserve": 65})[0]["warnings"][0] == "deficit"  # 45 / 10 = 4.5 months: in range
    # the optional indicators (no default: the digest gives no number): balance rate −20 / 100 = −20 % below
    # −10 %; spending growth 20 % against income growth 0 %: a gap of 20 points above 5
    both = {
        **data,
        "reserve": 65,
        "thresholds": {**data["thresholds"], "min_balance_rate": -0.1, "max_growth_gap": 0.05},
    }
    assert forecast(both)[0]["warnings"][0] == "deficit;low_balance_rate;growth_gap"


def test_warning_lines_name_the_first_year_each_threshold_is_crossed() -> None:
    from drgkit.benefits.fund_report import warning_lines

    _, projections = forecast(HAND)
    assert warning_lines(projections) == ["基准：2025 年当期收不抵支", "基准：2027 年可支付月数低于 6–9 个月的合理区间"]
    assert warning_lines(projections, "en")[1] == "baseline: 2027 months of reserve below the 6–9 month range"


def _uncertain(draws: int = 400, seed: int = 3) -> dict:
    data = copy.deepcopy(HAND)
    data["uncertainty"] = {"draws": draws, "seed": seed, "sd": {"wage": 0.02, "inpatient_volume": 0.03}}
    return data


def test_monte_carlo_bands_are_reproducible_and_ordered() -> None:
    a, _ = forecast(_uncertain())
    b, _ = forecast(_uncertain())
    assert a.equals(b)  # the same seed: the same bands, to the bit
    c, _ = forecast(_uncertain(seed=4))
    assert not c["months_p5"].equals(a["months_p5"])
    for name in ("months", "reserve"):
        assert (a[f"{name}_p5"] <= a[f"{name}_p50"]).all() and (a[f"{name}_p50"] <= a[f"{name}_p95"]).all()
        assert (a[f"{name}_p5"] < a[f"{name}_p95"]).all()  # a real spread
    # symmetric shocks: the median stays near the central path
    assert a["months_p50"].to_list() == pytest.approx(a["months"].to_list(), abs=0.2)
    exhausted = a["p_exhausted"].to_list()
    assert exhausted == sorted(exhausted)  # "exhausted by this year" can only grow
    # the band widens with the horizon: shocks compound
    width = (a["months_p95"] - a["months_p5"]).to_list()
    assert width == sorted(width)
    # draws and seed given to forecast() override the file's
    d, _ = forecast(_uncertain(), draws=50, seed=4)
    e, _ = forecast(_uncertain(draws=50, seed=4))
    assert d.equals(e)
    # no spread: every draw is the central path
    flat = copy.deepcopy(_uncertain())
    flat["uncertainty"]["sd"] = {"wage": 0.0}
    p = project(load_fund(flat)[0])
    assert np.allclose(p.draws["months"], p.central["months"])
    # a wild spread never takes spending or a count below zero (a shocked rate stops at −99 %)
    wild = copy.deepcopy(_uncertain())
    wild["uncertainty"]["sd"] = {"inpatient_volume": 1.0, "active": 1.0}
    p = project(load_fund(wild)[0])
    assert (p.draws["inpatient"] > 0).all() and (p.draws["active"] > 0).all()


def test_scenarios_side_by_side_share_the_draws() -> None:
    data = {
        **_uncertain(),
        "scenario": [
            {"name": "same", "description": "the baseline again"},
            {
                "name": "DRG reform",
                "description": "inpatient volume growth 10 % → 5 %",
                "spending": {"growth": {"inpatient_volume": 0.05}},
            },
            {"name": "contribution +1 point", "income": {"employer_rate": 0.11}},
            {"name": "benefit +5 %", "spending": {"inpatient_scale": 1.05}},
        ],
    }
    table, projections = forecast(data)
    assert table["scenario"].unique(maintain_order=True).to_list() == [
        "baseline",
        "same",
        "DRG reform",
        "contribution +1 point",
        "benefit +5 %",
    ]

    def of(name: str) -> pl.DataFrame:
        return table.filter(pl.col("scenario") == name)

    # every scenario draws the same shocks: a scenario equal to the baseline has the baseline's bands exactly
    assert of("same").drop("scenario").equals(of("baseline").drop("scenario"))
    # inpatient 100 × 1.05^t + outpatient 40 × 1.05^t + other 10
    assert of("DRG reform")["spending"].to_list() == pytest.approx([157.0, 164.35, 172.0675])
    assert (of("DRG reform")["months"] > of("baseline")["months"]).all()
    # employees 10 × 110 × (0.11 + 0.02 × 0.5) + residents 40
    assert of("contribution +1 point")["income"][0] == pytest.approx(10 * 110 * (0.11 + 0.01) + 40)
    # inpatient 100 × 1.05 × 1.1 = 115.5 + outpatient 42 + other 10
    assert of("benefit +5 %")["spending"][0] == pytest.approx(167.5)
    assert of("baseline")["spending"][0] == pytest.approx(162.0)
    assert [p.fund.description for p in projections][1:3] == [
        "the baseline again",
        "inpatient volume growth 10 % → 5 %",
    ]


def test_the_inpatient_spending_can_come_from_a_settlement(tmp_path: Path) -> None:
    stays = pa.table(
        {
            "人员编号": ["a", "b"],
            "出院日期": ["2024-01-01"] * 2,
            "险种类型": ["职工"] * 2,
            "医院等级": ["三级"] * 2,
            "医疗费总额": [11800.0, 21800.0],
        }
    )
    pq.write_table(drgkit.benefits(stays, "example-national"), tmp_path / "settled.parquet")
    data = copy.deepcopy(HAND)
    data["spending"] = {"inpatient_from": "settled.parquet", "inpatient_scale": 2.0, "outpatient": 0}
    data["scenario"] = [{"name": "given", "spending": {"inpatient": 1000}}]
    path = tmp_path / "fund.toml"
    path.write_text(_toml(data), encoding="utf-8")
    base, scenarios = load_fund(path)  # inpatient_from is read next to the fund file
    # example-national, employee at level 3: 0.75 × (11,800 − 1,800) + 0.75 × (21,800 − 1,800), doubled
    assert base.spending["inpatient"] == 2 * (7500.0 + 15000.0)
    # a scenario's inpatient replaces the baseline's inpatient_from (the scale still applies)
    assert scenarios[0].spending["inpatient"] == 2000.0
    pq.write_table(stays, tmp_path / "raw.parquet")
    data["spending"]["inpatient_from"] = "raw.parquet"
    with pytest.raises(FundError, match=r"raw\.parquet has no fund_payment column"):
        load_fund(_save(tmp_path, data))


def _toml(data: dict) -> str:
    from drgkit.tomlutil import toml_value

    def inline(v) -> str:
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{a} = {inline(b)}" for a, b in v.items()) + " }"
        return toml_value(v)

    lines, tables, arrays = [], [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            arrays.append((k, v))
        else:
            lines.append(f"{k} = {toml_value(v)}")
    out = "\n".join(lines) + "\n"
    for k, v in tables:
        out += f"[{k}]\n" + "".join(f"{kk} = {inline(vv)}\n" for kk, vv in v.items())
    for k, items in arrays:
        for item in items:
            out += f"[[{k}]]\n" + "".join(f"{kk} = {inline(vv)}\n" for kk, vv in item.items())
    return out


def _save(tmp_path: Path, data: dict, name: str = "fund.toml") -> Path:
    path = tmp_path / name
    path.write_text(_toml(data), encoding="utf-8")
    return path


def _with(change) -> dict:
    data = copy.deepcopy(HAND)
    change(data)
    return data


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("reserve"), "fund: reserve is missing"),
        (
            lambda d: d["income"].pop("employer_to_pool"),
            "income.employer_to_pool is missing: the share of the employer's contribution",
        ),
        (lambda d: d["income"].update(employer_rate=7), "income.employer_rate must be between 0 and 1, got 7"),
        (lambda d: d["income"].update(wages=1), "unknown key 'income.wages'"),
        (lambda d: d["income"].pop("wage"), "income.wage is missing"),
        (lambda d: d["income"].update(premium=0, subsidy=0), "income.premium / income.subsidy are missing"),
        (
            lambda d: d["spending"]["growth"].update(inpatient_volumes=0.1),
            "unknown key 'spending.growth.inpatient_volumes'",
        ),
        (lambda d: d["spending"]["growth"].update(inpatient_volume=-1.5), "inpatient_volume must be between -0.99"),
        (lambda d: d["spending"].update(inpatient_from="x.parquet"), "give inpatient or inpatient_from, not both"),
        (lambda d: d.update(spending={"inpatient": 0}), "no inpatient, outpatient or other spending"),
        (lambda d: d.update(thresholds={"target": [9, 6]}), "thresholds must satisfy too_little ≤ target low"),
        (lambda d: d.update(thresholds={"target": 6}), "thresholds.target must be [low, high] months"),
        (lambda d: d.update(thresholds={"too_litle": 2}), "unknown key 'thresholds.too_litle'"),
        (lambda d: d.update(scenario=[{"name": "x"}, {"name": "x"}]), "scenario[1].name 'x' is used twice"),
        (lambda d: d.update(scenario=[{"description": "no name"}]), "scenario[0].name is missing"),
        (
            lambda d: d.update(scenario=[{"name": "y", "spending": {"outpatient": "many"}}]),
            "scenario 'y': spending.outpatient must be a number, got 'many'",
        ),
        (lambda d: d.update(scenario=[{"name": "z", "years": 5}]), "scenario 'z': years cannot change in a scenario"),
        (lambda d: d.update(scenario=[{"name": "t", "thresholds": {}}]), "thresholds cannot change in a scenario"),
        (lambda d: d.update(years=0), "years must be between 1 and 100"),
        (lambda d: d.update(years=2.5), "years must be a whole number"),
        (lambda d: d.update(uncertainty={"sd": {"wag": 0.1}}), "unknown key 'uncertainty.sd.wag'"),
        (lambda d: d.update(uncertainty={"percentiles": [95, 5]}), "percentiles must rise without repeats"),
        (lambda d: d.update(uncertainty={"draws": -1}), "uncertainty.draws must be between 0 and"),
    ],
)
def test_a_bad_fund_file_is_one_line_naming_the_key(change, message) -> None:
    with pytest.raises(FundError) as exc:
        load_fund(_with(change))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_bad_files_on_the_command_line_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    out = tmp_path / "out"
    broken = tmp_path / "broken.toml"
    broken.write_text("base_year = 2024\nyears = \n", encoding="utf-8")
    for args, message in [
        ([str(broken)], "broken.toml: not valid TOML"),
        ([str(_save(tmp_path, _with(lambda d: d["income"].update(employer_rate=7))))], "income.employer_rate"),
        ([str(tmp_path / "none.toml")], "none.toml: no such fund file or shipped example (shipped: example-employees"),
        (["example-nowhere"], "no such fund file or shipped example"),
        ([], "give a fund TOML file (or --example"),
        ([str(broken), "--example"], "give a fund file or --example, not both"),
    ]:
        r = runner.invoke(app, ["fund", "forecast", *args, "-o", str(out)])
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and "Traceback" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1, r.output
    (tmp_path / "file").write_text("x")
    r = runner.invoke(app, ["fund", "forecast", str(_save(tmp_path, HAND)), "-o", str(tmp_path / "file")])
    assert r.exit_code == 2 and "is a file; -o names the folder" in r.output


def test_the_command_writes_the_table_the_figures_and_the_page(tmp_path: Path) -> None:
    data = _uncertain(draws=100, seed=1)
    data["scenario"] = [{"name": "DRG 改革", "spending": {"growth": {"inpatient_volume": 0.05}}}]
    out = tmp_path / "results"
    r = runner.invoke(app, ["fund", "forecast", str(_save(tmp_path, data)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "基准：2027 年可支付月数低于 6–9 个月的合理区间" in r.output
    assert "预测了 2 个情景 × 3 年" in r.output
    assert "示例数据" not in r.output  # not an example: no example banner
    for name in ("years.parquet", "years.csv", "report.html", "figures/months.png", "figures/balance.png"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "累计结余可支付月数" in page and "DRG 改革" in page and page.count("data:image/png;base64,") == 3
    assert "各情景对比" in page and "可支付月数 P5–P95" in page
    table = pl.read_parquet(out / "years.parquet")
    assert table.height == 6 and {"months_p5", "months_p50", "months_p95", "p_exhausted"} <= set(table.columns)
    assert pl.read_csv(out / "years.csv").height == 6


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_shipped_example_runs_and_its_table_fits_80_columns(tmp_path: Path, monkeypatch, lang: str) -> None:
    monkeypatch.setattr(cli.common, "out", Console(width=80, highlight=False, record=True))
    out = tmp_path / "example"
    r = runner.invoke(app, ["fund", "forecast", "--example", "-o", str(out), "--lang", lang])
    assert r.exit_code == 0, r.output
    text = cli.common.out.export_text()
    assert "…" not in text
    table_lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(cell_len(line) for line in table_lines) <= 80
    # 4 scenarios × 10 years; the example's benefit increase runs its reserve out in the last year
    assert ("预测了 4 个情景 × 10 年" if lang == "zh" else "forecast 4 scenarios × 10 years") in text
    assert re.search(r"(待遇提高：2034 年累计结余耗尽|待遇提高: 2034 reserve exhausted)", text)
    assert ("示例数据" if lang == "zh" else "example data") in text
    for name in ("months", "balance", "income_spending"):
        png = (out / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    page = (out / "report.html").read_text(encoding="utf-8")
    assert ("示例数据" if lang == "zh" else "example data") in page
    # the same example by name, without --example
    t, _ = forecast("example-employees")
    assert t.height == 40 and pl.read_parquet(out / "years.parquet").equals(t)


def test_many_scenarios_leave_columns_out_by_name_and_are_escaped_on_the_page(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cli.common, "out", Console(width=80, highlight=False, record=True))
    data = copy.deepcopy(HAND)
    data["scenario"] = [{"name": f"<b>情景{k}</b> 住院量增长", "reserve": 100 + k} for k in range(8)]
    data["scenario"].append({"name": "[red]reform", "reserve": 108})  # not a rich style tag
    out = tmp_path / "many"
    r = runner.invoke(app, ["fund", "forecast", str(_save(tmp_path, data)), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = cli.common.out.export_text()
    assert "…" not in text and max(cell_len(line) for line in text.splitlines() if line[:1] in "┏┃│└") <= 80
    assert "未显示" in text or "not shown" in text  # the caption names the scenarios left out
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;情景7&lt;/b&gt;" in page and "<b>情景" not in page and "[red]reform" in page
    assert "[red]reform" in text  # in the caption of the columns left out


def test_the_shipped_example_is_labelled_and_cites_its_provenance() -> None:
    from drgkit.benefits.fund import examples_dir

    text = (examples_dir() / "example-employees.toml").read_text(encoding="utf-8")
    base, scenarios = load_fund("example-employees")
    assert base.example and "示例" in base.name and "非任何地区数据" in base.name
    assert (base.too_little, base.target, base.too_much) == (3.0, (6.0, 9.0), 15.0)
    assert "[POLICY-2009-67]" in text and "[SEED-TRAINING]" in text and "[ASSUMPTION]" in text
    # the contribution rates sit in the digest's national ranges: employer 6–8 %, employee 2 %
    assert 0.06 <= base.income["employer_rate"] <= 0.08 and base.income["employee_rate"] == 0.02
    assert 0.06 <= scenarios[1].income["employer_rate"] <= 0.08
    readme = (examples_dir() / "README.md").read_text(encoding="utf-8")
    assert "example" in readme.lower() and "[ASSUMPTION]" in readme


# ---------------------------------------------------------------------------------------- policy what-if

WHATIF_STAYS = pa.table(
    {
        "人员编号": ["P", "P", "Q"],
        "出院日期": ["2024-01-10", "2024-05-01", "2024-02-01"],
        "险种类型": ["职工", "职工", "居民"],
        "医院等级": ["三级", "三级", "一级"],
        "医疗费总额": [11800.0, 11800.0, 1300.0],
        "年收入": [20000.0, 20000.0, 10000.0],
    }
)
