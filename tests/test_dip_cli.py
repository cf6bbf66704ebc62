"""`drgkit dip build / group / settle / explain` on a small planted history."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from drgkit.cli import app
from test_dip import planted_history

runner = CliRunner()


def test_dip_cli_round_trip(tmp_path):
    hist = tmp_path / "h.parquet"
    planted_history().with_columns(pl.format("H{}", pl.int_range(pl.len()) % 3).alias("hospital")).write_parquet(hist)
    cat = tmp_path / "cat"
    r = runner.invoke(app, ["dip", "build", str(hist), "-o", str(cat), "--threshold", "15", "--trim", "2.5,97.5"])
    assert r.exit_code == 0, r.output
    assert "4 core groups" in r.output and (cat / "manifest.toml").exists()
    out = tmp_path / "g.parquet"
    r = runner.invoke(app, ["dip", "group", str(hist), "-c", str(cat), "-o", str(out)])
    assert r.exit_code == 0, r.output
    g = pl.read_parquet(out)
    assert {"dip_group", "dip_kind", "aux_coefficient", "score", "status", "reason"} <= set(g.columns)
    r = runner.invoke(
        app,
        [
            "dip",
            "settle",
            str(out),
            "-c",
            str(cat),
            "--budget",
            "1000000",
            "--fund-ratio",
            "0.6",
            "-o",
            str(tmp_path / "h.csv"),
        ],
    )
    assert r.exit_code == 0, r.output
    per = pl.read_csv(tmp_path / "h.csv")
    assert per["payable"].sum() == 1_000_000 or abs(per["payable"].sum() - 1_000_000) < 0.01
    r = runner.invoke(app, ["dip", "explain", "-c", str(cat), "--dx", "I21.000", "--px", "36.0601|00.2400", "--json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.output)
    assert e["dip_group"] == "I21.0:36.0601+00.2400" and e["status"] == "ok"
    r = runner.invoke(app, ["dip", "build", str(hist), "-o", str(cat), "--threshold", "3", "--coverage", "0.9"])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(app, ["dip", "group", str(hist), "-c", str(tmp_path / "nope"), "-o", str(out)])
    assert r.exit_code == 2 and "no such DIP catalogue" in r.output


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--scale", "0", "scale must be a number > 0"),
        ("--scale", "-5", "scale must be a number > 0"),
        ("--coverage", "0", "coverage must be in (0, 1]"),
        ("--threshold", "0", "threshold must be ≥ 1"),
    ],
)
def test_dip_build_refuses_parameters_that_make_no_catalogue(tmp_path, option, value, words):
    hist = tmp_path / "h.parquet"
    planted_history().write_parquet(hist)
    r = runner.invoke(app, ["dip", "build", str(hist), "-o", str(tmp_path / "cat"), option, value])
    assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output
    assert not (tmp_path / "cat").exists()
