"""Pricing: hand-computed cases (spec digest §6.2), base groups, unpriced rows, and clear errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from drgkit.cli import app
from drgkit.payment import Policy, PolicyError, TableError, load_policy, load_table, price

HEADER = "drg,drg_name,basis,rw,hospital_level,insurance_type,base_rate,level_coefficient,payment_standard,flags\n"


@pytest.fixture()
def spec_table(tmp_path):
    """The four DRGs of the spec's worked example §6.2: rate 10,000 / RW, tertiary coefficient 1.1."""
    path = tmp_path / "spec.csv"
    rows = [("G1", 0.5), ("G2", 1.2), ("G3", 4.0), ("G4", 6.0)]
    path.write_text(HEADER + "".join(f"{d},group {d},rw,{w},level3,,10000,1.1,,\n" for d, w in rows), encoding="utf-8")
    return path


def spec_cases():
    return pl.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(1, 8)],
            "status": ["ok", "ok", "ok", "ok", "ok", "ambiguous", "ok"],
            "drg": ["G2", "G1", "G2", "G4", "G3", "QY", "G3"],
            "total_cost": [12000.0, 1800.0, 39600.0, 108900.0, 40000.0, 10000.0, 150000.0],
            "special_review": [False, False, False, False, False, False, True],
        }
    )


def test_spec_worked_example_drg(spec_table):
    policy = {"ambiguous_cost_share": 0.8, "patient_share": 0.3}
    out = price(spec_cases(), spec_table, level="level3", policy=policy)
    assert out["standard_payment"].to_list()[:5] == pytest.approx([13200, 5500, 13200, 66000, 44000])
    assert out["case_type"].to_list() == [
        "normal",
        "low_ratio",
        "high_ratio",
        "high_ratio",
        "normal",
        "special",
        "special",
    ]
    assert out["payment"].to_list() == pytest.approx([13200, 1800, 19800, 75900, 44000, 8000, 150000])
    assert out["payment"].sum() == pytest.approx(312_700)
    assert out["patient_payment"].sum() == pytest.approx(108_690)
    assert out["fund_payment"].sum() == pytest.approx(204_010)
    assert out["margin"].to_list()[:4] == pytest.approx([1200, 0, -19800, -33000])
    assert out["price_reason"][6].startswith("special review")
    # floating-rate variant: final rate 9,600 -> case 1 standard 12,672, still normal
    out = price(spec_cases(), spec_table, level="level3", policy={"base_rates": {"level3": 9600}})
    assert out["standard_payment"][0] == pytest.approx(12672)
    assert out["case_type"][0] == "normal"


def test_qy_unpriced_by_default_and_types_preserved(spec_table):
    cases = spec_cases()
    for data, kind in ((cases, pl.DataFrame), (cases.to_arrow(), pa.Table), (cases.to_pandas(), pd.DataFrame)):
        out = price(data, spec_table, level="level3")
        assert isinstance(out, kind)
    out = price(cases, spec_table, level="level3")
    row = out.row(5, named=True)
    assert row["case_type"] == "unpriced" and row["price_reason"] == "status ambiguous"
    assert row["payment"] is None and row["fund_payment"] is None and row["margin"] is None


def test_high_ratio_variants(spec_table):
    cases = spec_cases().head(4)
    by_item = price(cases, spec_table, level="level3", policy={"high_payment": "by_item"})
    assert by_item["payment"][2] == pytest.approx(39600)
    harbin = price(cases, spec_table, level="level3", policy={"high_a": 1.7, "high_beta": 0.5})
    # S × (1.7 + 0.5 × (r − k)), r = 3, k = 2.5
    assert harbin["payment"][2] == pytest.approx(13200 * (1.7 + 0.5 * 0.5))
    flat = price(cases, spec_table, level="level3", policy={"high_bands": [[math.inf, 3.5]]})
    assert flat["case_type"][2] == "normal"


def test_suzhou_case_by_hand():
    """Suzhou 2023 AA19 (RW 29.7) at a level-2 hospital: 29.7 × 8728.30 × 1.02 = 264,415.1202."""
    cases = pl.DataFrame(
        {
            "status": ["ok"] * 4,
            "drg": ["AA19"] * 4,
            "total_cost": [250000.0, 600000.0, 80000.0, 264415.12],
            "hospital_level": ["二级", 2, "level2", "2"],
        },
        strict=False,
    )
    out = price(cases, "suzhou-2023")
    assert out["pay_level"].to_list() == ["level2"] * 4
    assert out["standard_payment"][0] == pytest.approx(264415.1202, abs=1e-6)
    # RW 29.7 > 5 -> k = 1.5; low ratio 0.4
    assert out["case_type"].to_list() == ["normal", "high_ratio", "low_ratio", "normal"]
    s = 264415.1202
    assert out["payment"].to_list() == pytest.approx([round(s, 2), round(s + 600000 - 1.5 * s, 2), 80000, round(s, 2)])
    assert out["patient_payment"][0] == pytest.approx(75000)
    assert out["fund_payment"][0] == pytest.approx(round(s, 2) - 75000, abs=0.011)


def test_base_group_same_price_at_every_level():
    basic = load_table("suzhou-2023").df.filter(pl.col("flags").str.contains("basic_group"))["drg"][0]
    normal = "AA19"
    cases = pl.DataFrame(
        {
            "status": ["ok"] * 6,
            "drg": [basic] * 3 + [normal] * 3,
            "total_cost": [5000.0] * 6,
            "hospital_level": ["level1", "level2", "level3"] * 2,
        }
    )
    out = price(cases, "suzhou-2023")
    std = out["standard_payment"].to_list()
    assert std[0] == std[1] == std[2]
    assert len(set(std[3:])) == 3
    # Wuxi basic group at a level-3 hospital: RW × 7,782 (the level-1 rate), as published
    wx = (
        load_table("wuxi-2022")
        .df.filter(pl.col("flags").str.contains("basic_group") & (pl.col("hospital_level") == "level3"))
        .row(0, named=True)
    )
    out = price(
        pl.DataFrame({"status": ["ok"], "drg": [wx["drg"]], "total_cost": [1000.0]}),
        "wuxi-2022",
        level="level3",
        policy={"standard_source": "computed"},
    )
    assert out["standard_payment"][0] == pytest.approx(wx["rw"] * 7782)
    assert out["standard_payment"][0] == pytest.approx(wx["payment_standard"], abs=0.01)


def test_unpriced_reasons():
    first = load_table("fuzhou-2022").df["drg"][0]
    cases = pl.DataFrame(
        {
            "status": ["invalid", "ok", "ok", "ungroupable"],
            "drg": [None, "ZZ99", first, "0000"],
            "total_cost": [1.0, 2.0, 3.0, 4.0],
        }
    )
    out = price(cases, "fuzhou-2022")
    assert out["case_type"].to_list() == ["unpriced"] * 4
    reasons = out["price_reason"].to_list()
    assert reasons[0] == "status invalid" and reasons[3] == "status ungroupable"
    assert reasons[1] == "DRG ZZ99 not in table fuzhou-2022"
    assert "base rate" in reasons[2] and "base_rate" in reasons[2]
    out = price(cases, "fuzhou-2022", policy={"base_rate": 10000, "ungrouped_cost_share": 0.7})
    assert out["standard_payment"][2] == pytest.approx(load_table("fuzhou-2022").df["rw"][0] * 10000)
    assert out["case_type"][3] == "special" and out["payment"][3] == pytest.approx(2.8)


def test_special_groups_paid_by_item():
    bj = load_table("beijing-2022").df.filter(pl.col("flags").str.contains("fee_for_service"))["drg"][0]
    out = price(pl.DataFrame({"status": ["ok"], "drg": [bj], "total_cost": [12345.0]}), "beijing-2022")
    assert out["case_type"][0] == "special" and out["payment"][0] == pytest.approx(12345.0)
    yc = load_table("yancheng-2022").df.filter(
        pl.col("flags").str.contains("case_by_case") & (pl.col("hospital_level") == "level3")
    )["drg"][0]
    out = price(pl.DataFrame({"status": ["ok"], "drg": [yc], "total_cost": [5000.0]}), "yancheng-2022", level="level3")
    assert out["case_type"][0] == "special"


def test_jilin_table_thresholds():
    row = load_table("jilin-2022").df.row(0, named=True)
    s = row["payment_standard"]
    costs = [s * 2 + 1, s * 2 - 1, s * 0.35 - 1, s * 0.35 + 1]
    out = price(pl.DataFrame({"status": ["ok"] * 4, "drg": [row["drg"]] * 4, "total_cost": costs}), "jilin-2022")
    assert out["case_type"].to_list() == ["high_ratio", "normal", "low_ratio", "normal"]
    assert out["payment"][0] == pytest.approx(round(s + (costs[0] - 2 * s), 2), abs=0.011)


def test_los_rule_and_insurance_share():
    drg = load_table("tongchuan-2022").df.filter(pl.col("rw") > 1)["drg"][0]
    out = price(
        pl.DataFrame(
            {
                "status": ["ok"] * 2,
                "drg": [drg] * 2,
                "total_cost": [100.0, 20000.0],
                "los": [1, 10],
                "insurance_type": ["居民", "职工"],
            }
        ),
        "tongchuan-2022",
        policy={"los_min_days": 2, "patient_shares": {"resident": 0.5, "employee": 0.2}},
    )
    assert out["case_type"][0] == "special" and out["price_reason"][0].startswith("LOS")
    assert out["pay_insurance"].to_list() == ["resident", "employee"]
    assert out["patient_payment"].to_list() == pytest.approx([50.0, 4000.0])


# ------------------------------------------------------------------ errors name the row / key
@pytest.mark.parametrize(
    "row,needle",
    [
        (",x,rw,1.0,level3,,10000,1.1,,", "row 3 (DRG ''): missing DRG code"),
        ("G9,x,rw,1.0,level3,,-5,1.1,,", "row 3 (DRG 'G9'): negative base_rate"),
        ("G9,x,rw,abc,level3,,10000,1.1,,", "row 3 (DRG 'G9'): rw is not a number: 'abc'"),
        ("G9,x,rw,1.0,level9,,10000,1.1,,", "row 3 (DRG 'G9'): unknown hospital level 'level9'"),
        ("G9,x,rw,1.0,level3,farmer,10000,1.1,,", "row 3 (DRG 'G9'): unknown insurance type 'farmer'"),
        ("G1,x,rw,1.0,level3,,10000,1.1,,", "row 3 (DRG 'G1'): DRG listed more than once"),
        ("G9,x,rw,1.0,level3,,0,1.1,,", "row 3 (DRG 'G9'): base_rate is zero"),
    ],
)
def test_bad_tables_name_the_row(tmp_path, row, needle):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "G1,x,rw,1.0,level3,,10000,1.1,,\n" + row + "\n", encoding="utf-8")
    with pytest.raises(TableError) as exc:
        load_table(path)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_table_and_level():
    with pytest.raises(TableError, match="unknown payment table 'atlantis-2030'"):
        load_table("atlantis-2030")
    cases = pl.DataFrame(
        {
            "status": ["ok", "ok"],
            "drg": ["AA19", "AA19"],
            "total_cost": [1.0, 2.0],
            "hospital_level": ["level3", "level7"],
        }
    )
    with pytest.raises(TableError, match=r"row 2: unknown hospital level 'level7'"):
        price(cases, "suzhou-2023")
    with pytest.raises(TableError, match="unknown hospital level 'level4'"):
        price(cases, "suzhou-2023", level="level4")
    with pytest.raises(TableError, match="unknown insurance type 'resident'"):
        price(cases, "lanzhou-2023", level="level3", insurance="resident")
    with pytest.raises(TableError, match="distinguishes hospital levels"):
        price(cases.drop("hospital_level"), "suzhou-2023")
    # a case paid at the policy's cost share (ungroupable, ambiguous) is priced too: its level must be known;
    # an invalid row (an export's blank or totals row) is never priced and needs none
    for status in ("ungroupable", "ambiguous"):
        odd = cases.with_columns(pl.Series("status", ["ok", status]))
        with pytest.raises(TableError, match=r"row 2: unknown hospital level 'level7'"):
            price(odd, "suzhou-2023")
    invalid = price(cases.with_columns(pl.Series("status", ["ok", "invalid"])), "suzhou-2023")
    assert invalid["pay_level"].to_list()[1] is None and invalid["payment"].to_list()[1] is None


@pytest.mark.parametrize(
    "text,needle",
    [
        ("low_ratio = -1", "low_ratio must be ≥ 0"),
        ("low_ratoi = 0.4", "unknown key 'low_ratoi'"),
        ('high_payment = "double"', "high_payment must be one of excess, by_item, standard"),
        ("high_bands = [[2, 2.5], [1, 3.0]]", "high_bands[1]: bounds must increase"),
        ("high_bands = [[1, 0.2]]", "must exceed low_ratio"),
        ('by_item_flags = ["weird"]', "unknown flag 'weird'"),
        ("patient_share = 1.5", "patient_share must be between 0 and 1"),
        ("[base_rates]\nlevel3 = -100", "base_rates.level3 must be ≥ 0"),
        ("low_ratio = ", "not valid TOML"),
    ],
)
def test_bad_policies_name_the_key(tmp_path, text, needle):
    path = tmp_path / "policy.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(PolicyError) as exc:
        load_policy(path)
    assert needle in str(exc.value) and str(path) in str(exc.value)


def test_policy_round_trip(tmp_path):
    p = Policy(low_ratio=0.5, base_rates={"level3/employee": 9000.0}, patient_shares={"resident": 0.4})
    path = tmp_path / "p.toml"
    path.write_text(p.to_toml(), encoding="utf-8")
    assert load_policy(path) == p or load_policy(path).to_toml() == p.to_toml()
    assert list(Policy().high_k(np.array([0.5, 1.0, 1.5, 2.0, 4.9, 5.0, 7.0]))) == [3, 3, 2.5, 2.5, 2, 2, 1.5]


# ------------------------------------------------------------------ command line
def test_cli_tables_and_pay(tmp_path, spec_table):
    runner = CliRunner()
    r = runner.invoke(app, ["tables", "list", "--json"])
    assert r.exit_code == 0 and '"suzhou-2023"' in r.output
    r = runner.invoke(app, ["tables", "show", "suzhou-2023", "--level", "level3", "--drg", "AA", "-n", "3"])
    assert r.exit_code == 0 and "8728.3" in r.output
    r = runner.invoke(app, ["tables", "check", "wuxi-2022", "--json"])
    assert r.exit_code == 0 and '"rows_reproduced": 577' in r.output
    src = tmp_path / "grouped.csv"
    spec_cases().write_csv(src)
    policy = tmp_path / "p.toml"
    policy.write_text("ambiguous_cost_share = 0.8\n", encoding="utf-8")
    out = tmp_path / "priced.parquet"
    r = runner.invoke(
        app, ["pay", str(src), "-o", str(out), "--table", str(spec_table), "--level", "level3", "--policy", str(policy)]
    )
    assert r.exit_code == 0, r.output
    priced = pl.read_parquet(out)
    assert priced["payment"].sum() == pytest.approx(312_700)
    r = runner.invoke(app, ["pay", str(src), "-o", str(out), "--table", "suzhou-2023", "--level", "level9"])
    assert r.exit_code == 2 and "unknown hospital level 'level9'" in r.output
    policy.write_text("low_ratio = 'x'\n", encoding="utf-8")
    r = runner.invoke(
        app, ["pay", str(src), "-o", str(out), "--table", str(spec_table), "--level", "level3", "--policy", str(policy)]
    )
    assert r.exit_code == 2 and "low_ratio must be a number" in r.output


def test_spec_worked_example_dip_points(tmp_path):
    """Spec §6.1 with the same pricing model: points × point value × coefficient (DIP reuses it)."""
    path = tmp_path / "dip.csv"
    rows = [
        (g, pts, lv, coef, flags)
        for g, pts, flags in (("A", 2000, ""), ("B", 800, ""), ("C", 500, "basic_group"))
        for lv, coef in (("level3", 1.1), ("level2", 0.9))
    ]
    path.write_text(
        HEADER + "".join(f"{g},{g},points,{p},{lv},,,{'' if f else c},,{f}\n" for g, p, lv, c, f in rows),
        encoding="utf-8",
    )
    cases = pl.DataFrame(
        {
            "status": ["ok"] * 7,
            "drg": ["A", "A", "B", "C", "A", "B", "C"],
            "hospital_level": ["level3"] * 4 + ["level2"] * 3,
            "total_cost": [11000.0, 30000.0, 1500.0, 2600.0, 8500.0, 3800.0, 2400.0],
        }
    )
    policy = {"point_value": 5.0, "low_ratio": 0.5, "high_bands": [[math.inf, 2.0]]}
    out = price(cases, path, policy=policy)
    assert out["case_type"].to_list() == ["normal", "high_ratio", "low_ratio", "normal", "normal", "normal", "normal"]
    case_points = (out["payment"] / 5.0).to_list()
    assert case_points == pytest.approx([2200, 3800, 300, 500, 1800, 720, 500])
    assert out.filter(pl.col("hospital_level") == "level3")["payment"].sum() / 5 == pytest.approx(6800)


def test_unusable_costs_are_unpriced_with_a_reason_never_paid_in_full():
    """1,234.50 is read as the grouper reads it; a blank, negative or infinite cost cannot decide the case
    type, so the case is unpriced and says why (it was paid the full standard as 'normal')."""
    import drgkit

    t = pa.table(
        {
            "case_id": list("abcde"),
            "gender": ["1"] * 5,
            "age": ["70"] * 5,
            "dx": ["J18.900"] * 5,
            "total_cost": ["1,234.50", None, "-30000", "5000", "5,000"],
        }
    )
    priced = drgkit.price(
        drgkit.group(t, scheme="suzhou-2023", canonical=True), "suzhou-2023", level="level3"
    ).to_pylist()
    assert priced[0]["case_type"] == "low_ratio" and priced[0]["payment"] == 1234.5
    assert (priced[1]["case_type"], priced[1]["price_reason"]) == ("unpriced", "total_cost missing or unreadable")
    assert (priced[2]["case_type"], priced[2]["price_reason"]) == ("unpriced", "total_cost is negative")
    assert priced[3]["payment"] == priced[4]["payment"] and priced[3]["case_type"] == "normal"
    no_cost = drgkit.price(pa.table({"drg": ["ES35"], "status": ["ok"]}), "suzhou-2023", level="level3").to_pylist()
    assert no_cost[0]["case_type"] == "unpriced" and "no total_cost column" in no_cost[0]["price_reason"]
    inf = drgkit.price(
        pa.table({"drg": ["ES35"], "status": ["ok"], "total_cost": [float("inf")]}), "suzhou-2023", level="level3"
    ).to_pylist()
    assert inf[0]["case_type"] == "unpriced" and inf[0]["price_reason"] == "total_cost is not finite"


@pytest.mark.parametrize("key", ["Level3", "level3/employe", "三级", "level3/employee/x"])
def test_a_base_rate_key_typo_is_an_error_not_silently_ignored(key):
    with pytest.raises(PolicyError, match="base_rates key"):
        load_policy({"base_rates": {key: 5000}})


def test_every_pricing_reason_reads_in_chinese():
    """price_reason is stored in English (canonical); each wording price() can write reads back in Chinese."""
    from drgkit.lang import _catalogue, price_reason_text, say

    samples = {
        "drg": "ZZ99",
        "table": "fuzhou-2022",
        "share": "0.7",
        "status": "invalid",
        "flag": "basic_group",
        "days": "1",
        "how": "excess",
    }
    for key in (k for k in _catalogue() if k.startswith("price.")):
        english = say(key, "en", **samples)
        chinese = price_reason_text(english, "zh")
        assert chinese != english and re.search(r"[\u4e00-\u9fff]", chinese), key
        assert "ZZ99" in chinese if "{drg}" in _catalogue()[key]["zh"] else True
    assert (
        price_reason_text("cost above the high-ratio threshold: paid excess", "zh")
        == "费用高于高倍率界值：按标准加超出部分分担支付"
    )
    assert price_reason_text("status invalid", "zh") == "状态为 无效病案，不计价"
    # the reasons a real run writes, all translated (no English word left but codes and table ids)
    first = load_table("fuzhou-2022").df["drg"][0]
    cases = pl.DataFrame(
        {
            "status": ["invalid", "ok", "ok", "ungroupable", "ok"],
            "drg": [None, "ZZ99", first, "0000", first],
            "total_cost": [1.0, 2.0, 3.0, 4.0, None],
        }
    )
    for why in price(cases, "fuzhou-2022")["price_reason"].drop_nulls().to_list():
        text = price_reason_text(why, "zh")
        assert not re.search(r"\b(paid|table|status|cost|publishes)\b", text), (why, text)
