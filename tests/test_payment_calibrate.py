"""Calibration recovers known weights; CV and RIV match a direct numpy computation; report indicators."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from drgkit.cli import app
from drgkit.payment import price
from drgkit.payment.calibrate import CalibrationError, calibrate, parse_years
from drgkit.payment.report import indicators, write_report


def synthetic_history(seed: int = 0, sigma: float = 0.1):
    rng = np.random.default_rng(seed)
    g = 40
    rw_true = rng.uniform(0.3, 8.0, g)
    n = np.concatenate([rng.integers(150, 2500, g - 5), rng.integers(5, 60, 5)])  # 5 low-volume groups
    drg = np.repeat([f"D{i:03d}" for i in range(g)], n)
    cost = np.repeat(rw_true, n) * 10000 * rng.lognormal(-sigma ** 2 / 2, sigma, n.sum())
    status = np.where(rng.random(n.sum()) < 0.01, "invalid", "ok")
    return pl.DataFrame({"drg": drg, "status": status, "total_cost": cost}), rw_true, n


@pytest.mark.parametrize("trim", ["iqr", "sd3", "pct5_95", "pct2_5_97_5", "none"])
def test_recovers_known_weights(trim):
    hist, rw_true, _n = synthetic_history()
    cal = calibrate(hist, trim=trim)
    t = cal.table.sort("drg")
    ok = hist.filter(pl.col("status") == "ok")
    counts = ok.group_by("drg").len().sort("drg")["len"].to_numpy()
    norm = rw_true / (np.sum(counts * rw_true) / counts.sum())  # known weights, case-weighted mean 1
    big = t["n_cases"].to_numpy() >= 100
    err = np.abs(t["rw"].to_numpy() / norm - 1)
    assert big.sum() == 35
    assert err[big].max() < 0.02, err[big].max()
    assert t.filter(pl.col("low_volume")).height == 5


def test_cv_and_riv_match_numpy():
    hist, _, _ = synthetic_history(seed=1, sigma=0.5)
    cal = calibrate(hist, trim="none")
    ok = hist.filter(pl.col("status") == "ok")
    y = ok["total_cost"].to_numpy()
    groups = ok["drg"].to_numpy()
    ssw = sum(((y[groups == g] - y[groups == g].mean()) ** 2).sum() for g in np.unique(groups))
    riv = 1 - ssw / ((y - y.mean()) ** 2).sum()
    assert cal.riv == pytest.approx(riv, rel=1e-9)
    t = cal.table.sort("drg")
    for g, cv in zip(t["drg"].to_list()[:10], t["cv"].to_list()[:10]):
        x = y[groups == g]
        assert cv == pytest.approx(x.std() / x.mean(), abs=1e-4)
    assert cal.overall_mean == pytest.approx(y.mean())


def test_budget_rate_and_loop_into_pay(tmp_path):
    hist, _, _ = synthetic_history()
    cal = calibrate(hist, trim="none", budget=7_200_000, fund_ratio=0.6)
    t = cal.table
    assert cal.base_rate == pytest.approx(12_000_000 / float((t["n_cases"] * t["rw"]).sum()))
    path = tmp_path / "new.csv"
    cal.write(path)
    priced = price(hist, path, policy={"low_ratio": 0.0, "high_bands": [[float("inf"), 1e9]]})
    normal = priced.filter(pl.col("case_type") == "normal")
    # every case paid its standard; total = budget / fund ratio up to the rounding of RW (6 decimals) and rate (2)
    assert normal["payment"].sum() == pytest.approx(12_000_000, rel=5e-5)


def test_years_weighting():
    df = pl.DataFrame({"drg": ["A"] * 4 + ["B"] * 4, "status": ["ok"] * 8,
                       "total_cost": [100.0, 100.0, 200.0, 200.0, 300.0, 300.0, 300.0, 300.0],
                       "year": [2022, 2022, 2023, 2023] * 2})
    cal = calibrate(df, trim="none", years=parse_years("2022:1,2023:3"))
    m = dict(zip(cal.table["drg"], cal.table["mean_cost"]))
    assert m["A"] == pytest.approx((100 + 3 * 200) / 4)
    assert cal.overall_mean == pytest.approx((200 + 3 * 250) / 4)
    with pytest.raises(CalibrationError, match="--years takes"):
        parse_years("2022")
    with pytest.raises(CalibrationError, match="unknown trim"):
        calibrate(df, trim="median")


def test_report_indicators(tmp_path):
    df = pl.DataFrame({"hospital": ["H1", "H1", "H1", "H2", "H2"], "status": ["ok", "ok", "invalid", "ok", "ok"],
                       "drg": ["A", "B", None, "A", "B"], "los": [4, 10, 3, 8, 10],
                       "total_cost": [100.0, 400.0, 50.0, 300.0, 400.0], "rw": [1.0, 2.0, None, 1.0, 2.0],
                       "payment": [200.0, 400.0, None, 200.0, 400.0], "margin": [100.0, 0.0, None, -100.0, 0.0]})
    per, losing = indicators(df, "hospital")
    h1 = per.row(0, named=True)
    assert h1["cases"] == 3 and h1["grouping_rate"] == pytest.approx(2 / 3) and h1["cmi"] == pytest.approx(1.5)
    # A: area mean LOS 6, cost 200; B: 10, 400
    assert h1["time_index"] == pytest.approx((4 / 6 + 1) / 2)
    assert h1["cost_index"] == pytest.approx((100 / 200 + 1) / 2)
    assert per.row(1, named=True)["margin"] == pytest.approx(-100)
    assert losing["drg"][0] == "A" or losing["margin"][0] <= losing["margin"][1]
    files = write_report(df, tmp_path / "rep", "hospital")
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    assert any(f.suffix == ".png" for f in files)


def test_cli_calibrate_report(tmp_path):
    hist, _, _ = synthetic_history()
    src = tmp_path / "hist.parquet"
    hist.with_columns(pl.lit("H1").alias("hospital")).write_parquet(src)
    out = tmp_path / "cal.csv"
    r = CliRunner().invoke(app, ["calibrate", str(src), "-o", str(out), "--budget", "1e8", "--trim", "sd3"])
    assert r.exit_code == 0, r.output
    assert "RIV" in r.output and out.exists()
    priced = tmp_path / "priced.parquet"
    r = CliRunner().invoke(app, ["pay", str(src), "-o", str(priced), "--table", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["report", str(priced), "--by", "hospital", "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["calibrate", str(src), "-o", str(out), "--trim", "x"])
    assert r.exit_code == 2 and "unknown trim" in r.output
