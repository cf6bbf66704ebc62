"""drgkit simulate: the example in one command, a scenario file with --draws, and a bad file."""

from __future__ import annotations

import polars as pl
from typer.testing import CliRunner

from drgkit.cli import app
from drgkit.simulate.example import EXAMPLE_TOML

runner = CliRunner()


def test_example_one_command(tmp_path):
    out = tmp_path / "res"
    r = runner.invoke(app, ["simulate", "--example", "-o", str(out), "--draws", "50"])
    assert r.exit_code == 0, r.output
    hosp = pl.read_parquet(out / "hospitals.parquet")
    scen = pl.read_parquet(out / "scenarios.parquet")
    assert hosp.columns[:7] == ["scenario", "hospital", "cases", "revenue", "fund_payment", "cost", "margin"]
    assert {"revenue_p5", "revenue_p95"} <= set(hosp.columns)
    for c in ("scenario", "method", "budget", "budget_binding", "rate_or_point_value", "total_payment", "fund_payment"):
        assert c in scen.columns
    assert scen.height == EXAMPLE_TOML.count("[[scenario]]")
    for row in scen.filter(pl.col("budget_binding")).iter_rows(named=True):
        assert round(row["fund_payable"] * 100) == round(row["budget"] * 100)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64,") == 4
    assert (out / "figures" / "rate_fan.png").stat().st_size > 1000
    # the written scenario file runs again by itself, without draws
    r = runner.invoke(app, ["simulate", str(out / "scenarios.toml"), "-o", str(tmp_path / "again")])
    assert r.exit_code == 0, r.output
    again = pl.read_parquet(tmp_path / "again" / "scenarios.parquet")
    assert again["rate_or_point_value"].to_list() == scen["rate_or_point_value"].to_list()


def test_bad_file_one_line_error(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        '[history]\npath = "h.parquet"\ntable = "suzhou-2023"\n[[scenario]]\nname = "a"\nvolume_growth = -3\n',
        encoding="utf-8",
    )
    r = runner.invoke(app, ["simulate", str(f), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "scenario 'a'.volume_growth must be ≥ -1" in r.output


def test_example_never_overwrites_the_users_files(tmp_path):
    from typer.testing import CliRunner as _Runner

    from drgkit.cli import app as _app

    (tmp_path / "scenarios.toml").write_text("# mine\n", encoding="utf-8")
    result = _Runner().invoke(_app, ["simulate", "--example", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "already holds scenarios.toml" in result.output
    assert (tmp_path / "scenarios.toml").read_text(encoding="utf-8") == "# mine\n"


def test_a_folder_given_as_the_scenario_file_is_one_line(tmp_path):
    from typer.testing import CliRunner as _Runner

    from drgkit.cli import app as _app

    result = _Runner().invoke(_app, ["simulate", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output and "Traceback" not in result.output
