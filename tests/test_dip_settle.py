"""DIP end to end on the spec digest's worked example §6.1: build → group → settle, every number exact."""

from __future__ import annotations

import polars as pl
import pytest

from drgkit import dip

# Groups A, B, C = three medical groups (no procedure). Per year: (cost A, n A), (cost B, n B), (cost C, n C),
# chosen so the yearly group means are A 9000 / 9800 / 10200, B 4000, C 2500 and the all-case yearly means
# 4700 / 4800 / 5100 (spec §6.1 step 1).
DX = {"A": "I21.000", "B": "J18.900", "C": "I10.x00"}
YEARS = {
    2022: {"A": (9000, 1), "B": (4000, 3), "C": (2500, 1)},
    2023: {"A": (9800, 2), "B": (4000, 1), "C": (2500, 4)},
    2024: {"A": (10200, 4), "B": (4000, 2), "C": (2500, 7)},
}


def history() -> pl.DataFrame:
    rows = []
    for year, groups in YEARS.items():
        for g, (cost, n) in groups.items():
            rows += [{"dx": DX[g], "px": "", "total_cost": float(cost), "year": year, "hospital_level": "3"}] * n
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    cat = dip.build(history(), threshold=1, years="2022:1,2023:2,2024:7", trim="none")
    folder = cat.write(tmp_path_factory.mktemp("dip") / "cat")
    # group C is a primary-care group (coefficient 1): an edit of the catalogue, as an area would publish it
    g = pl.read_csv(folder / "groups.csv", infer_schema_length=0)
    g.with_columns(
        pl.when(pl.col("dx4") == "I10.x").then(pl.lit("primary_care")).otherwise(pl.col("kind")).alias("kind")
    ).write_csv(folder / "groups.csv")
    return folder


def test_spec_6_1_scores(catalogue):
    cat = dip.load_catalogue(catalogue)
    scores = dict(cat.groups.select("dx4", "score").iter_rows())
    assert scores == pytest.approx({"I21.0": 2000, "J18.9": 800, "I10.x": 500})
    assert cat.pv_initial == pytest.approx(5.0)


def test_spec_6_1_settlement(catalogue):
    cases = pl.DataFrame(
        {
            "hospital": ["H1"] * 4 + ["H2"] * 3,
            "dx": [DX[g] for g in "AABCABC"],
            "total_cost": [11000.0, 30000.0, 1500.0, 2600.0, 8500.0, 3800.0, 2400.0],
            "discharge_date": ["2025-01-15"] * 7,
        }
    )
    grouped = dip.group(cases, catalogue)
    assert grouped["status"].to_list() == ["ok"] * 7
    hospitals = pl.DataFrame(
        {"hospital": ["H1", "H2"], "coefficient": [1.1, 0.9], "evaluation": [1.0, 0.98], "deduction": [200.0, 0.0]}
    )
    s = dip.settle(
        grouped,
        catalogue,
        budget=26_514,
        fund_ratio=0.6,
        hospitals=hospitals,
        policy={"patient_share": 0.4},
        monthly_deductions=pl.DataFrame({"hospital": ["H1"], "month": ["2025-01"], "deduction": [200.0]}),
    )
    assert s.cases["case_score"].to_list() == pytest.approx([2200, 3800, 300, 500, 1800, 720, 500])
    assert s.cases["case_type"].to_list() == [
        "normal",
        "high_ratio",
        "low_ratio",
        "normal",
        "normal",
        "normal",
        "normal",
    ]
    per = {r["hospital"]: r for r in s.hospitals.iter_rows(named=True)}
    assert per["H1"]["total_score"] == pytest.approx(6800) and per["H2"]["total_score"] == pytest.approx(3020)
    assert s.total_score == pytest.approx(9820)
    assert s.pv_settle == pytest.approx(4.5)
    assert per["H1"]["payable_before_evaluation"] == pytest.approx(18360)
    assert per["H2"]["payable_before_evaluation"] == pytest.approx(8154)
    assert per["H1"]["payable"] == pytest.approx(18160) and per["H2"]["payable"] == pytest.approx(7990.92)
    m = s.monthly.filter(pl.col("hospital") == "H1")
    assert m["prepay"].to_list() == pytest.approx([14164])
    assert per["H1"]["clearance"] == pytest.approx(3996)


def test_settle_errors(catalogue):
    grouped = dip.group(pl.DataFrame({"dx": ["I21.000"], "total_cost": [100.0]}), catalogue)
    with pytest.raises(dip.DipError, match="budget"):
        dip.settle(grouped, catalogue, budget=0, fund_ratio=0.6)
    with pytest.raises(dip.DipError, match="dip group"):
        dip.settle(pl.DataFrame({"x": [1]}), catalogue, budget=1, fund_ratio=0.6)
