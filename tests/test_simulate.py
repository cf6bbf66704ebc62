"""Global-budget simulator: hand-computed settlement (3 hospitals, 10 cases), sharing bands, floating-price
property, scenario errors."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drgkit import price
from drgkit.simulate import ScenarioError, apportion_cents, load, run

TABLE = """drg,drg_name,rw,base_rate
AA15,a without cc,1.0,10000
AA13,a with cc,1.5,10000
BB19,b,2.0,10000
"""

# hospital, drg, cost. At the provisional rate 10,000 (S = RW × 10,000): every case is normal except
# H2's BB19 (60,000 > 2.5 × 20,000: high, paid 20,000·f + (60,000 − 50,000)) and H2's AA13 (4,000 < 0.4 ×
# 15,000: low, paid by item).
CASES = [
    ("H1", "AA15", 9000),
    ("H1", "AA15", 11000),
    ("H1", "BB19", 20000),
    ("H1", "AA13", 15000),
    ("H2", "AA15", 10000),
    ("H2", "BB19", 60000),
    ("H2", "AA13", 4000),
    ("H3", "AA15", 8000),
    ("H3", "AA15", 12000),
    ("H3", "BB19", 18000),
]


@pytest.fixture()
def table(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(TABLE, encoding="utf-8")
    return str(p)


def history(rows=CASES) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "hospital": [r[0] for r in rows],
            "drg": [r[1] for r in rows],
            "status": ["ok"] * len(rows),
            "total_cost": [float(r[2]) for r in rows],
        }
    )


def cfg(table, budget=100000.0, sharing=None, **settlement):
    d = {"history": {"table": table}, "settlement": {"budget": budget, **settlement}, "scenario": [{"name": "s"}]}
    if sharing is not None:
        d["sharing"] = sharing
    return d


def by_h(h: pl.DataFrame, col: str) -> dict:
    return dict(zip(h["hospital"].to_list(), h[col].to_list()))


def test_budget_neutrality_hand_computed(table):
    # ΣA (standards per unit of rate factor) = H1 55,000 + H2 (10,000 + 20,000) + H3 40,000 = 125,000;
    # by-item parts Cp: H2 10,000 (excess) + 4,000 (low) = 14,000; co-pay 30 % of cost = 50,100.
    # f = (100,000 − (14,000 − 50,100)) / 125,000 = 1.0888 -> rate 10,888.
    h, s = run(history(), cfg(table))
    assert s["rate_or_point_value"][0] == pytest.approx(10888.0, abs=1e-6)
    assert s["budget_binding"][0] is True
    pay = by_h(h, "fund_payable")
    assert pay == {"H1": 43384.0, "H2": 24464.0, "H3": 32152.0}
    assert s["fund_payable"][0] == 100000.0
    # sharing (defaults, spec §4.7): surplus kept whole; H2 overspends 27,336 of claims 51,800 ->
    # the fund bears 50 % of the first 10 % (5,180) = 2,590
    assert by_h(h, "sharing_adjustment") == {"H1": 0.0, "H2": 2590.0, "H3": 0.0}
    assert by_h(h, "fund_payment") == {"H1": 43384.0, "H2": 27054.0, "H3": 32152.0}
    assert by_h(h, "claim") == {"H1": 38500.0, "H2": 51800.0, "H3": 26600.0}
    assert by_h(h, "revenue") == {"H1": 59884.0, "H2": 49254.0, "H3": 43552.0}
    assert by_h(h, "margin") == {"H1": 4884.0, "H2": -24746.0, "H3": 5552.0}
    # monthly pre-payment at the provisional rate (f0 = 1) × 90 %: H1 (55,000 − 16,500) × 0.9
    assert by_h(h, "prepaid")["H1"] == 34650.0
    assert by_h(h, "clearance")["H1"] == pytest.approx(43384.0 - 34650.0)


def test_budget_to_the_cent(table):
    # budget 100,000.01: f = 136,100.01 / 125,000; exact payables 43,384.0044 / 24,464.0024 / 32,152.0032;
    # floors sum to 100,000.00, the one remaining cent goes to the largest remainder (H1)
    h, _s = run(history(), cfg(table, budget=100000.01))
    assert by_h(h, "fund_payable_cents") == {"H1": 4338401, "H2": 2446400, "H3": 3215200}
    assert int(h["fund_payable_cents"].sum()) == 10000001


def test_same_pricing_model_as_price(table):
    # the settlement is price() at the solved rate: H1/H3 (all normal) revenue = Σ price().payment
    h, _ = run(history(), cfg(table))
    from drgkit.payment import load_table

    priced = price(history(), load_table(table), policy={"base_rate": 10888.0, "base_rates": {"": 10888.0}})
    got = priced.group_by("hospital").agg(pl.col("payment").sum()).sort("hospital")
    assert dict(got.iter_rows())["H1"] == pytest.approx(
        by_h(h, "fund_payable")["H1"] + by_h(h, "patient_payment")["H1"]
    )
    assert dict(got.iter_rows())["H3"] == pytest.approx(43552.0)


def test_sharing_bands_hand_computed(table):
    sharing = {
        "surplus_cap": 0.1,
        "surplus_share": 0.5,
        "surplus_share_above": 0.0,
        "overspend_bands": [[0.05, 0.8], [0.2, 0.5]],
    }
    h, _ = run(history(), cfg(table, sharing=sharing))
    # H1: surplus 4,884 > 10 % of 38,500 = 3,850 -> keeps 0.5 × 3,850 = 1,925: paid 38,500 + 1,925
    # H3: surplus 5,552, cap 2,660 -> keeps 1,330: paid 26,600 + 1,330
    # H2: overspend 27,336: 0.8 × 2,590 (first 5 %) + 0.5 × (10,360 − 2,590) = 2,072 + 3,885 = 5,957
    assert by_h(h, "fund_payment") == {"H1": 40425.0, "H2": 30421.0, "H3": 27930.0}
    # area reserve 5 % of the budget (5,000) caps the shared overspend
    h, _ = run(history(), cfg(table, sharing={**sharing, "reserve_share": 0.05}))
    assert by_h(h, "sharing_adjustment")["H2"] == 5000.0


def test_fund_ratio_basis(table):
    # DIP-style (spec §3.2): 0.6 × Σ payment = 60,000 -> f = (100,000 − 14,000) / 125,000 = 0.688
    h, s = run(history(), cfg(table, budget=60000.0, budget_basis="fund_ratio", fund_ratio=0.6))
    assert s["rate_or_point_value"][0] == pytest.approx(6880.0)
    assert by_h(h, "fund_payable") == {"H1": 22704.0, "H2": 20784.0, "H3": 16512.0}


def test_not_binding_keeps_the_rate(table):
    d = cfg(table)
    d["scenario"] = [{"name": "fixed", "binding": False, "base_rate": 11000.0}]
    h, s = run(history(), d)
    assert s["rate_or_point_value"][0] == pytest.approx(11000.0)
    assert by_h(h, "fund_payable")["H1"] == 44000.0  # 55,000 × 1.1 − 16,500


def test_budget_growth_over_history(table):
    hist = price(history(), table)  # last year's fund spending at the table rate
    spent = float(hist["fund_payment"].sum())
    d = cfg(table)
    d["settlement"] = {"budget_growth": 0.0}
    _, s = run(hist, d)
    assert s["budget"][0] == pytest.approx(round(spent, 2))
    assert s["rate_or_point_value"][0] == pytest.approx(10000.0, rel=1e-9)


def test_case_mix_drift_moves_share_and_lowers_rate(table):
    d = cfg(table)
    d["scenario"] = [{"name": "base"}, {"name": "upcode", "cc_mcc_shift": 0.25}]
    _h, s = run(history(), d)
    rates = dict(zip(s["scenario"].to_list(), s["rate_or_point_value"].to_list()))
    assert rates["upcode"] < rates["base"]
    # H3: AA15 share 2/3 -> 0.25 points of its 3 cases (0.75 case) coded AA13 (+0.5 RW each)
    assert s.filter(pl.col("scenario") == "upcode")["fund_payable"][0] == 100000.0


ALL_NORMAL = [
    ("H1", "AA15", 10000),
    ("H1", "BB19", 21000),
    ("H2", "AA13", 14000),
    ("H2", "AA15", 9500),
    ("H3", "BB19", 19000),
    ("H3", "AA15", 10500),
    ("H3", "AA13", 15500),
    ("H4", "AA15", 9900),
]


@settings(max_examples=25, deadline=None)
@given(who=st.sampled_from(["H1", "H2", "H3", "H4"]), g=st.floats(-0.9, 3.0))
def test_one_hospital_volume_moves_others_by_floating_formula(tmp_path_factory, who, g):
    p = tmp_path_factory.mktemp("t") / "t.csv"
    p.write_text(TABLE, encoding="utf-8")
    B = 150000.0
    d = {
        "history": {"table": str(p)},
        "settlement": {"budget": B},
        "scenario": [{"name": "base"}, {"name": "grow", "hospital_volume_growth": {who: g}}],
    }
    h, s = run(history(ALL_NORMAL), d)
    base = h.filter(pl.col("scenario") == "base").sort("hospital")
    grow = h.filter(pl.col("scenario") == "grow").sort("hospital")
    f = s["rate_factor"][0]
    pat = dict(zip(base["hospital"], base["patient_payment"]))
    # W_h from the baseline: payment_h = f·W_h (all normal), payment = fund + co-pay
    W = {hh: (fp + pat[hh]) / f for hh, fp in zip(base["hospital"], base["fund_payable"])}
    scale = {hh: (1 + g if hh == who else 1.0) for hh in W}
    f_new = (B + sum(pat[x] * scale[x] for x in W)) / sum(W[x] * scale[x] for x in W)
    assert s["rate_factor"][1] == pytest.approx(f_new, rel=1e-9)
    for hh, fp in zip(grow["hospital"], grow["fund_payable"]):
        if hh != who:
            assert fp == pytest.approx(f_new * W[hh] - pat[hh], abs=0.011)
            # revenue before sharing scales by exactly f'/f for every other hospital
            assert (fp + pat[hh]) / (dict(zip(base["hospital"], base["fund_payable"]))[hh] + pat[hh]) == pytest.approx(
                f_new / f, abs=1e-6
            )
    assert int(grow["fund_payable_cents"].sum()) == round(B * 100)


def test_apportion_cents_sum():
    rng = np.random.default_rng(0)
    for _ in range(100):
        x = rng.uniform(0, 1e7, 50)
        total = round(x.sum() * 100)
        assert apportion_cents(x, total).sum() == total


@pytest.mark.parametrize(
    "data, field",
    [
        ({"settlement": {"budget": -5}}, "settlement.budget"),
        ({"settlement": {"budgett": 5}}, "settlement.budgett"),
        ({"bogus": 1}, "bogus"),
        ({"settlement": {"method": "ffs"}}, "settlement.method"),
        ({"sharing": {"overspend_bands": [[0.2, 0.5], [0.1, 0.3]]}}, "sharing.overspend_bands[1]"),
        ({"sharing": {"surplus_share": 1.5}}, "sharing.surplus_share"),
        ({"scenario": [{"name": "a", "volume_growth": "lots"}]}, "scenario 'a'.volume_growth"),
        ({"scenario": [{"name": "a", "cc_shift": 0.1}]}, "scenario 'a'.cc_shift"),
        ({"scenario": [{"name": "a"}, {"name": "a"}]}, "scenario[1].name"),
        ({"scenario": [{"budget": 1}]}, "scenario[0].name"),
        ({"scenario": [{"name": "a", "policy": {"low_ratio": -1}}]}, "scenario 'a'.policy.low_ratio"),
        ({"scenario": [{"name": "a", "budget": 0}]}, "scenario 'a'.budget"),
    ],
)
def test_bad_scenarios_name_the_field(data, field):
    with pytest.raises(ScenarioError) as e:
        load(data)
    assert str(e.value).startswith(field), str(e.value)
    assert "\n" not in str(e.value)


def test_bad_history_and_scenario_values(table, tmp_path):
    with pytest.raises(ScenarioError, match=r"history\.hospital_column: the history has no column 'hospital'"):
        run(history().drop("hospital"), cfg(table))
    with pytest.raises(ScenarioError, match="total_cost"):
        run(history().drop("total_cost"), cfg(table))
    d = cfg(table)
    d["scenario"] = [{"name": "x", "hospital_volume_growth": {"H9": 0.1}}]
    with pytest.raises(ScenarioError, match=r"scenario 'x'.hospital_volume_growth.H9"):
        run(history(), d)
    d["scenario"] = [{"name": "x", "weights": {"ZZ99": 1.0}}]
    with pytest.raises(ScenarioError, match=r"scenario 'x'.weights.ZZ99"):
        run(history(), d)
    f = tmp_path / "s.toml"
    f.write_text("[settlement]\nbudget = -1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"s.toml: settlement.budget must be > 0"):
        load(f)
    with pytest.raises(ScenarioError, match=r"history\.path"):
        run(None, cfg(table))


def test_draws_percentiles(table):
    h, s = run(history(), cfg(table), draws=200, seed=1)
    assert s["rate_p5"][0] < s["rate_p50"][0] < s["rate_p95"][0]
    assert math.isclose(s["rate_p50"][0], 10888.0, rel_tol=0.3)
    assert (h["revenue_p5"] <= h["revenue_p95"]).all()
    _h2, s2 = run(history(), cfg(table), draws=200, seed=1)
    assert s2["rate_p50"][0] == s["rate_p50"][0]


DIP_TABLE = """drg,basis,rw,hospital_level,level_coefficient,flags
A,points,2000,level3,1.1,
A,points,2000,level2,0.9,
B,points,800,level3,1.1,
B,points,800,level2,0.9,
C,points,500,level3,1.1,basic_group
C,points,500,level2,0.9,basic_group
"""


def test_dip_spec_example_6_1(tmp_path):
    # spec §6.1: scores A 2000 / B 800 / C 500 (basic group, coef 1), H1 tertiary 1.1, H2 secondary 0.9,
    # PV_initial 5.0, low r < 0.5 (cost / PV), high r > 2 (score × (r − 1)), fund ratio 0.6, budget 26,514
    p = tmp_path / "dip.csv"
    p.write_text(DIP_TABLE, encoding="utf-8")
    rows = [
        ("H1", "3", "A", 11000),
        ("H1", "3", "A", 30000),
        ("H1", "3", "B", 1500),
        ("H1", "3", "C", 2600),
        ("H2", "2", "A", 8500),
        ("H2", "2", "B", 3800),
        ("H2", "2", "C", 2400),
    ]
    hist = pl.DataFrame(
        {
            "hospital": [r[0] for r in rows],
            "hospital_level": [r[1] for r in rows],
            "drg": [r[2] for r in rows],
            "status": ["ok"] * 7,
            "total_cost": [float(r[3]) for r in rows],
        }
    )
    d = {
        "history": {"table": str(p)},
        "settlement": {"method": "dip", "budget": 26514.0, "fund_ratio": 0.6},
        "policy": {
            "point_value": 5.0,
            "high_bands": [[math.inf, 2.0]],
            "low_ratio": 0.5,
            "basic_group_coefficient": 1.0,
        },
        "scenario": [{"name": "s"}],
    }
    h, s = run(hist, d)
    assert s["budget_basis"][0] == "fund_ratio"
    # total points 9,820 -> PV_settle = (26,514 / 0.6) / 9,820 = 4.5
    assert s["rate_or_point_value"][0] == pytest.approx(4.5, abs=1e-9)
    assert by_h(h, "fund_payable") == {"H1": 18360.0, "H2": 8154.0}  # 6,800 × 4.5 × 0.6; 3,020 × 4.5 × 0.6
    # sharing (§4.7 defaults; no evaluation coefficient): claims 0.6 × cost = 27,060 / 8,820
    # H1 overspend 8,700: 50 % of 2,706 = 1,353; H2 overspend 666 (7.6 %): 333
    assert by_h(h, "fund_payment") == {"H1": 19713.0, "H2": 8487.0}


def test_final_comparator_fixed_point(table):
    # thresholds at the settled rate: H2's high case pays 20,000f + 60,000 − 2.5 × 20,000f, so
    # 75,000f + (60,000 + 4,000 − 50,100) = 100,000 -> f = 1.148 (case types unchanged: r = 2.61, 0.23)
    _h, s = run(history(), cfg(table, comparator="final"))
    assert s["rate_or_point_value"][0] == pytest.approx(11480.0, rel=1e-6)
    assert s["fund_payable"][0] == 100000.0


def test_package_is_callable_as_the_issue_spells_it(table) -> None:
    """``drgkit.simulate(history, scenarios)`` is ``drgkit.simulate.run``."""
    import drgkit

    a = drgkit.simulate(history(), cfg(table))
    b = run(history(), cfg(table))
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert a[1]["rate_or_point_value"][0] == pytest.approx(10888.0, abs=1e-6)
