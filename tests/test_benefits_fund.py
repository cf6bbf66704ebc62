"""The fund forecast (drgkit fund forecast): the digest's indicators on a hand-checked 3-year example, the
warnings and the year the reserve runs out, Monte Carlo bands, scenarios, a settlement as the inpatient
spending, and one-line errors naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import drgkit
from drgkit.benefits.fund import FundError, forecast, load_fund, project
from drgkit.cli import app

runner = CliRunner()

# pooled contributions 10 employees × 100 wage × (0.1 × 1.0 + 0.02 × 0.5) = 110; wages +10 % a year;
# spending 100 inpatient (+10 % volume a year) + 20 outpatient; reserve 100 at the end of 2024
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
        "growth": {"wage": 0.1},
    },
    "spending": {"inpatient": 100, "outpatient": 20, "growth": {"inpatient_volume": 0.1}},
}


def test_the_indicators_on_a_hand_checked_three_year_example() -> None:
    table, _ = forecast(HAND)
    got = table.select(
        "year",
        "income",
        "spending",
        "balance",
        "balance_rate",
        "reserve",
        "months",
        "income_growth",
        "spending_growth",
        "warnings",
    ).rows()
    expect = [
        # income 110 × 1.1; spending 110 + 20; 当期结余 −9; 结余率 −9/121; 累计结余 100 − 9; 91 / (130 / 12) months
        (2025, 121.0, 130.0, -9.0, -9 / 121, 91.0, 91 / (130 / 12), 0.1, 130 / 120 - 1, "deficit"),
        (2026, 133.1, 141.0, -7.9, -7.9 / 133.1, 83.1, 83.1 / (141 / 12), 0.1, 141 / 130 - 1, "deficit"),
        # 76.41 / (153.1 / 12) = 5.99 months: below the 6–9 month range
        (
            2027,
            146.41,
            153.1,
            -6.69,
            -6.69 / 146.41,
            76.41,
            76.41 / (153.1 / 12),
            0.1,
            153.1 / 141 - 1,
            "below_target;deficit",
        ),
    ]
    for row, want in zip(got, expect):
        assert row[0] == want[0] and row[-1] == want[-1]
        assert row[1:-1] == pytest.approx(want[1:-1], rel=1e-12)


def test_residents_premiums_and_subsidies_and_the_year_the_reserve_runs_out() -> None:
    data = {
        "base_year": 2024,
        "years": 6,
        "reserve": 50,
        "income": {"residents": 1, "premium": 40, "subsidy": 60},  # 100 a year
        "spending": {"inpatient": 100, "growth": {"inpatient_price": 0.2}},  # 120, 144, 172.8 …
        "thresholds": {"too_little": 2, "target": [4, 5], "too_much": 30},
    }
    table, projections = forecast(data)
    reserve = table["reserve"].to_list()
    assert reserve[:3] == pytest.approx([30.0, -14.0, -86.8])
    assert projections[0].exhausted_year() == 2026
    # 30 / (120 / 12) = 3 months: above too_little (2), below the 4–5 range
    assert table["warnings"].to_list()[:2] == ["below_target;deficit", "exhausted;deficit"]
    tight = forecast({**data, "thresholds": {"too_little": 3.5, "target": [4, 5], "too_much": 30}})[0]
    assert tight["warnings"][0] == "too_little;deficit"
    # too much: a large reserve
    rich = forecast({**data, "reserve": 10_000})[0]
    assert rich["warnings"][0] == "too_much;deficit"


def test_monte_carlo_bands_are_reproducible_and_bracket_the_central_path() -> None:
    data = copy.deepcopy(HAND)
    data["uncertainty"] = {"draws": 400, "seed": 3, "sd": {"wage": 0.02, "inpatient_volume": 0.02}}
    a, _ = forecast(data)
    b, _ = forecast(data)
    assert a.equals(b)
    assert (a["months_p5"] <= a["months"]).all() and (a["months"] <= a["months_p95"]).all()
    assert (a["months_p5"] < a["months_p95"]).all()
    exhausted = a["p_exhausted"].to_list()
    assert exhausted == sorted(exhausted)  # "exhausted by this year" can only grow
    # no spread: every draw is the central path
    flat = copy.deepcopy(data)
    flat["uncertainty"]["sd"] = {"wage": 0.0}
    p = project(load_fund(flat)[0])
    assert np.allclose(p.draws["months"], p.central["months"])


def test_scenarios_override_nested_values_side_by_side() -> None:
    data = {
        **copy.deepcopy(HAND),
        "scenario": [
            {
                "name": "DRG reform",
                "description": "inpatient volume +5 %",
                "spending": {"growth": {"inpatient_volume": 0.05}},
            },
            {"name": "contribution +1 point", "income": {"employer_rate": 0.11}},
        ],
    }
    table, _ = forecast(data)
    assert table["scenario"].unique(maintain_order=True).to_list() == [
        "baseline",
        "DRG reform",
        "contribution +1 point",
    ]
    reform = table.filter(pl.col("scenario") == "DRG reform")
    assert reform["spending"].to_list() == pytest.approx([125.0, 130.25, 135.7625])
    more = table.filter(pl.col("scenario") == "contribution +1 point")
    assert more["income"][0] == pytest.approx(10 * 110 * (0.11 + 0.01))
    assert table.filter(pl.col("scenario") == "baseline")["spending"][0] == 130.0


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
    path = tmp_path / "fund.toml"
    path.write_text(_toml(data), encoding="utf-8")
    base, _ = load_fund(path)
    assert base.spending["inpatient"] == 2 * (7500.0 + 15000.0)  # 0.75 × 10,000 + 0.75 × 20,000, doubled


def _toml(data: dict, prefix: str = "") -> str:
    from drgkit.tomlutil import toml_value

    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {toml_value(v)}")
    out = "\n".join(lines) + "\n"
    for k, v in tables:
        name = f"{prefix}{k}"
        flat = {kk: vv for kk, vv in v.items() if not isinstance(vv, dict)}
        out += f"[{name}]\n" + "".join(f"{kk} = {toml_value(vv)}\n" for kk, vv in flat.items())
        for kk, vv in v.items():
            if isinstance(vv, dict):
                out += f"{kk} = {{ " + ", ".join(f"{a} = {toml_value(b)}" for a, b in vv.items()) + " }\n"
    return out


def _with(change) -> dict:
    data = copy.deepcopy(HAND)
    change(data)
    return data


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("reserve"), "reserve is missing"),
        (lambda d: d["income"].pop("employer_to_pool"), None),  # one of the two shares is enough
        (
            lambda d: [d["income"].pop("employer_to_pool"), d["income"].pop("employee_to_pool")],
            "income.employer_to_pool / income.employee_to_pool are missing",
        ),
        (lambda d: d["income"].update(employer_rate=7), "income.employer_rate must be between 0 and 1"),
        (lambda d: d["income"].update(wages=1), "unknown key 'income.wages'"),
        (
            lambda d: d["spending"]["growth"].update(inpatient_volumes=0.1),
            "unknown key 'spending.growth.inpatient_volumes'",
        ),
        (lambda d: d.update(thresholds={"target": [9, 6]}), "thresholds must satisfy too_little ≤ target low"),
        (lambda d: d.update(scenario=[{"name": "x"}, {"name": "x"}]), "scenario[1].name 'x' is used twice"),
        (
            lambda d: d.update(scenario=[{"name": "y", "spending": {"outpatient": "many"}}]),
            "scenario 'y': spending.outpatient must be a number",
        ),
        (lambda d: d.update(years=0), "years must be between 1 and 100"),
    ],
)
def test_a_bad_fund_file_is_one_line_naming_the_key(change, message) -> None:
    data = _with(change)
    if message is None:
        load_fund(data)
        return
    with pytest.raises(FundError) as exc:
        load_fund(data)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_the_command_writes_the_table_the_figures_and_the_page(tmp_path: Path) -> None:
    data = copy.deepcopy(HAND)
    data["uncertainty"] = {"draws": 100, "seed": 1, "sd": {"wage": 0.02}}
    path = tmp_path / "fund.toml"
    path.write_text(
        _toml(data) + '\n[[scenario]]\nname = "DRG 改革"\nspending.growth.inpatient_volume = 0.05\n', encoding="utf-8"
    )
    out = tmp_path / "results"
    r = runner.invoke(app, ["fund", "forecast", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "baseline：2027 年可支付月数低于 6–9 个月的合理区间" in r.output
    assert "预测了 2 个情景 × 3 年" in r.output
    for name in ("years.parquet", "years.csv", "report.html", "figures/months.png", "figures/income_spending.png"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "累计结余可支付月数" in page and "DRG 改革" in page and "data:image/png;base64," in page
    table = pl.read_parquet(out / "years.parquet")
    assert table.height == 6 and "months_p95" in table.columns
    r = runner.invoke(app, ["fund", "forecast", str(tmp_path / "none.toml"), "-o", str(out)])
    assert r.exit_code == 2 and "no such fund file" in r.output


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


def test_whatif_hand_checked_change_in_fund_and_out_of_pocket() -> None:
    from drgkit.benefits.whatif import compare

    t = compare(WHATIF_STAYS, "example-national", "example-national-repeat-free")
    rows = {(r["insurance"], r["level"]): r for r in t.iter_rows(named=True)}
    assert list(rows) == [
        ("employee", "level3"),
        ("resident", "level1"),
        ("employee", "all"),
        ("resident", "all"),
        ("all", "all"),
    ]
    p = rows[("employee", "level3")]
    # P's 2nd stay has no deductible under B: the fund pays 0.75 × 11,800 instead of 0.75 × 10,000
    assert (p["fund_payment_a"], p["fund_payment_b"], p["fund_payment_change"]) == (15000.0, 16350.0, 1350.0)
    assert (p["patient_payment_a"], p["patient_payment_b"]) == (8600.0, 7250.0)
    assert (p["stays"], p["person_years"], p["oop_year_mean_a"], p["oop_year_mean_b"]) == (2, 1, 8600.0, 7250.0)
    q = rows[("resident", "level1")]
    assert q["fund_payment_change"] == 0.0 and q["patient_mean_a"] == 450.0
    total = rows[("all", "all")]
    assert total["fund_payment_change"] == 1350.0 and total["fund_change_share"] == pytest.approx(1350 / 15850)
    # P pays 8,600 of a 20,000 income (43 % > 40 %) under A, 7,250 (36 %) under B; Q 450 of 10,000
    assert (total["catastrophic_share_a"], total["catastrophic_share_b"]) == (0.5, 0.0)
    assert total["person_years_with_income"] == 2


def test_whatif_command(tmp_path: Path) -> None:
    src = tmp_path / "stays.parquet"
    pq.write_table(WHATIF_STAYS, src)
    out = tmp_path / "whatif.csv"
    r = runner.invoke(
        app,
        [
            "fund",
            "whatif",
            str(src),
            "-p",
            "example-national",
            "--against",
            "example-national-repeat-free",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "example-national → example-national-repeat-free" in r.output
    assert "+1,350.00" in r.output and "有收入的人年 2 个" in r.output
    assert pl.read_csv(out).height == 5
    no_income = tmp_path / "n.parquet"
    pq.write_table(WHATIF_STAYS.drop_columns(["年收入"]), no_income)
    r = runner.invoke(
        app,
        [
            "fund",
            "whatif",
            str(no_income),
            "-p",
            "example-national",
            "--against",
            "example-national-age65",
            "--lang",
            "en",
        ],
    )
    assert r.exit_code == 0 and "no annual income column" in r.output
