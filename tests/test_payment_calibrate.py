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
    cost = np.repeat(rw_true, n) * 10000 * rng.lognormal(-(sigma**2) / 2, sigma, n.sum())
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
    df = pl.DataFrame(
        {
            "drg": ["A"] * 4 + ["B"] * 4,
            "status": ["ok"] * 8,
            "total_cost": [100.0, 100.0, 200.0, 200.0, 300.0, 300.0, 300.0, 300.0],
            "year": [2022, 2022, 2023, 2023] * 2,
        }
    )
    cal = calibrate(df, trim="none", years=parse_years("2022:1,2023:3"))
    m = dict(zip(cal.table["drg"], cal.table["mean_cost"]))
    assert m["A"] == pytest.approx((100 + 3 * 200) / 4)
    assert cal.overall_mean == pytest.approx((200 + 3 * 250) / 4)
    with pytest.raises(CalibrationError, match="--years takes"):
        parse_years("2022")
    with pytest.raises(CalibrationError, match="unknown trim"):
        calibrate(df, trim="median")


def test_report_indicators(tmp_path):
    df = pl.DataFrame(
        {
            "hospital": ["H1", "H1", "H1", "H2", "H2"],
            "status": ["ok", "ok", "invalid", "ok", "ok"],
            "drg": ["A", "B", None, "A", "B"],
            "los": [4, 10, 3, 8, 10],
            "total_cost": [100.0, 400.0, 50.0, 300.0, 400.0],
            "rw": [1.0, 2.0, None, 1.0, 2.0],
            "payment": [200.0, 400.0, None, 200.0, 400.0],
            "margin": [100.0, 0.0, None, -100.0, 0.0],
        }
    )
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


def test_counts_cv_and_los_before_and_after_trimming():
    """n_cases = usable cases of the group (before trimming) = n_kept + n_trimmed; cv_all on every usable case,
    cv on the kept ones; LOS statistics of the kept cases — each against a direct numpy computation."""
    hist, _, _ = synthetic_history(seed=3, sigma=0.6)
    rng = np.random.default_rng(3)
    hist = hist.with_columns(pl.Series("los", rng.integers(1, 30, hist.height)))
    cal = calibrate(hist, trim="iqr")
    t = cal.table.sort("drg")
    ok = hist.filter(pl.col("status") == "ok")
    for row in t.head(8).iter_rows(named=True):
        g = ok.filter(pl.col("drg") == row["drg"])
        y = g["total_cost"].to_numpy()
        q1, q3 = np.quantile(y, [0.25, 0.75])
        keep = (y >= q1 - 0.5 * (q3 - q1)) & (y <= q3 + 1.5 * (q3 - q1))
        assert row["n_cases"] == len(y) and row["n_kept"] == keep.sum() and row["n_trimmed"] == (~keep).sum()
        assert row["cv_all"] == pytest.approx(y.std() / y.mean(), abs=1e-4)
        assert row["cv"] == pytest.approx(y[keep].std() / y[keep].mean(), abs=1e-4)
        los = g["los"].to_numpy()[keep]
        assert row["los_mean"] == pytest.approx(los.mean(), abs=0.005) and row["los_median"] == np.median(los)
    assert cal.cases_used == ok.height and cal.cases_kept == int(t["n_kept"].sum())
    assert cal.riv_all < cal.riv  # trimming removes within-group spread


def test_every_row_left_out_is_counted_and_written(tmp_path):
    df = pl.DataFrame(
        {
            "drg": ["A", "A", None, "A", "B", "B", "A", "B"],
            "status": ["ok", "invalid", "ok", "ok", "ok", "ok", "ok", "ok"],
            "total_cost": [100.0, 100.0, 100.0, -5.0, 300.0, 300.0, 120.0, 310.0],
            "year": [2023, 2023, 2023, 2023, 2023, 2021, None, 2024],
        }
    )
    cal = calibrate(df, trim="none", years=parse_years("2023:1,2024:1"))
    assert cal.excluded == {"not_grouped": 1, "no_drg": 1, "no_positive_cost": 1, "no_year": 1, "outside_years": 1}
    assert cal.cases == 8 and cal.cases_used == 3 == cal.cases - sum(cal.excluded.values())
    files = cal.write(tmp_path / "cal.csv")
    import json

    summary = json.loads(files[1].read_text(encoding="utf-8"))
    assert files[1].name == "cal.summary.json" and summary["excluded"]["outside_years"] == 1
    assert summary["riv"] == pytest.approx(cal.riv) and summary["cases_used"] == 3
    r = CliRunner().invoke(app, ["calibrate", str(tmp_path / "h.parquet"), "-o", str(tmp_path / "c2.csv")])
    assert r.exit_code == 2  # no such file: one line
    df.write_parquet(tmp_path / "h.parquet")
    r = CliRunner().invoke(
        app,
        [
            "calibrate",
            str(tmp_path / "h.parquet"),
            "-o",
            str(tmp_path / "c2.csv"),
            "--years",
            "2023:1,2024:1",
            "--trim",
            "none",
            "--min-cases",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "outside years 1" in r.output and "not grouped 1" in r.output


def test_base_rate_spreads_the_budget_over_every_usable_case():
    hist, _, _ = synthetic_history(seed=4, sigma=0.8)
    cal = calibrate(hist, trim="iqr", budget=5e7)
    t = cal.table
    assert (t["n_trimmed"] > 0).any()
    assert cal.base_rate == pytest.approx(5e7 / float((t["n_cases"] * t["rw"]).sum()), rel=1e-6)  # RW: 6 decimals


def test_compared_with_the_schemes_reference_weights():
    import drgkit
    from drgkit.schemes.compile import load_compiled

    scheme = load_compiled("chs-drg-2.0")
    weights = {c: w for c, w in zip(scheme.drg_codes, scheme.drg_weights) if w == w}
    codes = sorted(weights)[:30]
    rng = np.random.default_rng(5)
    drg = np.repeat(codes, 50)
    cost = np.array([weights[c] for c in drg]) * 9000 * rng.lognormal(0, 0.1, drg.size)
    cal = drgkit.calibrate(
        pl.DataFrame({"drg": drg, "status": "ok", "total_cost": cost}), trim="none", reference="chs-drg-2.0"
    )
    t = cal.table
    assert t["reference_rw"].to_list() == pytest.approx([weights[c] for c in t["drg"]])
    assert (t["rw_vs_reference"] - t["rw"] / t["reference_rw"]).abs().max() < 1e-3
    # costs drawn proportional to the reference weights: the calibrated weights agree up to one scale
    scale = (t["rw_vs_reference"]).median()
    assert ((t["rw_vs_reference"] / scale - 1).abs() < 0.1).all()
