"""`drgkit group --price` prices in the same pass, equal to `drgkit group` followed by `drgkit pay`."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drgkit.cli import app

DATA = Path(__file__).parent / "data" / "chs-drg-1.1-dev.csv"
runner = CliRunner()


def test_group_with_price_equals_group_then_pay(tmp_path: Path) -> None:
    one = tmp_path / "one.parquet"
    grouped = tmp_path / "grouped.parquet"
    two = tmp_path / "two.parquet"
    # a table prices its own scheme's groups (the national 1.1 cases grouped with Suzhou's 1.1-based scheme)
    r = runner.invoke(
        app,
        [
            "group",
            str(DATA),
            "-o",
            str(one),
            "--price",
            "suzhou-2023",
            "--level",
            "level3",
            "--scheme",
            "suzhou-2023",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, ["group", str(DATA), "-o", str(grouped), "--scheme", "suzhou-2023", "-q"]).exit_code == 0
    r = runner.invoke(app, ["pay", str(grouped), "-o", str(two), "--table", "suzhou-2023", "--level", "level3", "-q"])
    assert r.exit_code == 0, r.output
    a, b = pq.read_table(one), pq.read_table(two)
    assert a.num_rows == b.num_rows == 5000
    for col in ("drg", "standard_payment", "case_type", "payment", "margin"):
        assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
    ok = [s == "ok" for s in a.column("status").to_pylist()]
    types = a.column("case_type").to_pylist()
    assert all(t == "unpriced" for t, k in zip(types, ok) if not k)
    # suzhou-2023 prices its own DRG list: most national 1.1 DRGs are in it, the rest say why not
    assert sum(t != "unpriced" for t in types) > 2000
    reasons = a.column("price_reason").to_pylist()
    assert all(r for t, r in zip(types, reasons) if t == "unpriced")


def test_price_options_need_a_table(tmp_path: Path) -> None:
    r = runner.invoke(app, ["group", str(DATA), "-o", str(tmp_path / "x.parquet"), "--level", "level3"])
    assert r.exit_code == 2
    assert "need --price" in r.output


def test_group_with_a_dip_catalogue_scheme(tmp_path: Path) -> None:
    """`--scheme dip:FOLDER` groups into a DIP catalogue through the same command and output conventions."""
    hist = tmp_path / "hist.parquet"
    cat = tmp_path / "cat"
    out = tmp_path / "out.parquet"
    assert runner.invoke(app, ["synth", "-n", "20000", "-o", str(hist), "-q", "--seed", "3"]).exit_code == 0
    r = runner.invoke(app, ["dip", "build", str(hist), "-o", str(cat)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["group", str(hist), "-o", str(out), "--scheme", f"dip:{cat}", "-q"])
    assert r.exit_code == 0, r.output
    t = pq.read_table(out)
    assert t.num_rows == 20000
    assert t.column("case_id").to_pylist() == pq.read_table(hist).column("case_id").to_pylist()
    ok = [s == "ok" for s in t.column("status").to_pylist()]
    assert sum(ok) > 19000
    assert all(g for g, k in zip(t.column("dip_group").to_pylist(), ok) if k)
    r = runner.invoke(app, ["group", str(hist), "-o", str(out), "--scheme", "dip:/no/such/folder"])
    assert r.exit_code == 2 and "error:" in r.output


def test_group_with_edits_adds_the_edit_ids_without_changing_groups(tmp_path: Path) -> None:
    plain, checked = tmp_path / "plain.parquet", tmp_path / "checked.parquet"
    assert runner.invoke(app, ["group", str(DATA), "-o", str(plain), "-q"]).exit_code == 0
    r = runner.invoke(app, ["group", str(DATA), "-o", str(checked), "-q", "--edits"])
    assert r.exit_code == 0, r.output
    a, b = pq.read_table(plain), pq.read_table(checked)
    assert b.column_names == a.column_names + ["edits"]
    for col in ("status", "drg", "reason"):
        assert a.column(col).to_pylist() == b.column(col).to_pylist()
    edits = b.column("edits").to_pylist()
    status = b.column("status").to_pylist()
    # every record the grouper rejects carries at least one edit; most valid records carry none
    assert all(e for e, s in zip(edits, status) if s == "invalid")
    assert sum(1 for e in edits if not e) > 3000


def test_explain_with_a_dip_catalogue(tmp_path: Path) -> None:
    hist, cat = tmp_path / "hist.parquet", tmp_path / "cat"
    assert runner.invoke(app, ["synth", "-n", "20000", "-o", str(hist), "-q", "--seed", "4"]).exit_code == 0
    assert runner.invoke(app, ["dip", "build", str(hist), "-o", str(cat)]).exit_code == 0
    r = runner.invoke(
        app,
        [
            "explain",
            "--scheme",
            f"dip:{cat}",
            "--dx",
            "I21.000x005|E11.900",
            "--px",
            "36.0601",
            "--age",
            "65",
            "--sex",
            "1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = __import__("json").loads(r.output)
    assert d["dx4"] == "I21.0"
    assert d["status"] in ("ok", "ungroupable")


def test_pricing_another_schemes_groups_is_refused(tmp_path: Path) -> None:
    grouped = tmp_path / "g.parquet"
    assert runner.invoke(app, ["group", str(DATA), "-o", str(grouped), "-q", "--scheme", "chs-drg-2.0"]).exit_code == 0
    r = runner.invoke(
        app, ["pay", str(grouped), "-o", str(tmp_path / "p.parquet"), "--table", "suzhou-2023", "--level", "level3"]
    )
    assert r.exit_code == 2 and "prices the groups of suzhou-2023" in r.output and "chs-drg-2.0" in r.output
    r = runner.invoke(app, ["group", str(DATA), "-o", str(tmp_path / "x.parquet"), "--price", "suzhou-2023"])
    assert r.exit_code == 2 and "--scheme suzhou-2023" in r.output
    r = runner.invoke(
        app,
        [
            "pay",
            str(grouped),
            "-o",
            str(tmp_path / "p.parquet"),
            "--table",
            "suzhou-2023",
            "--level",
            "level3",
            "--allow-scheme-mismatch",
            "-q",
        ],
    )
    assert r.exit_code == 0


@pytest.mark.parametrize("width", [80, 120])
def test_tables_list_never_cuts_an_id_at_80_or_120_columns(width: int, monkeypatch) -> None:
    from rich.console import Console

    from drgkit import cli
    from drgkit.payment import list_tables

    monkeypatch.setattr(cli.common, "out", Console(width=width, highlight=False, record=True))
    assert runner.invoke(app, ["tables", "list"]).exit_code == 0
    text = cli.common.out.export_text()
    for info in list_tables():
        assert info.id in text and (not info.scheme or info.scheme in text)
    assert "…" not in text


def test_pay_says_which_policy_values_it_assumed(tmp_path: Path) -> None:
    from drgkit.payment import load_policy

    assert "patient_share 0.3 (default)" in load_policy(None).assumptions()
    assert "patient_share 0.2" in load_policy({"patient_share": 0.2}).assumptions()
    grouped = tmp_path / "g.parquet"
    assert runner.invoke(app, ["group", str(DATA), "-o", str(grouped), "-q", "--scheme", "suzhou-2023"]).exit_code == 0
    r = runner.invoke(
        app, ["pay", str(grouped), "-o", str(tmp_path / "p.parquet"), "--table", "suzhou-2023", "--level", "level3"]
    )
    assert r.exit_code == 0 and "支付政策：patient_share 0.3（默认）" in r.stderr


DATA_20 = Path(__file__).parent / "data" / "chs-drg-2.0-dev.csv"


def test_a_scheme_with_reference_weights_is_priced_with_a_base_rate(tmp_path: Path) -> None:
    """CHS-DRG 2.0 ships reference weights: `--price chs-drg-2.0 --base-rate R` prices every weighted group at
    RW × R; the RW is in the group output too, and the Parquet file says what it was priced with."""
    import json

    import pyarrow.compute as pc

    from drgkit.schemes.compile import load_compiled

    plain, priced, unrated = tmp_path / "g.parquet", tmp_path / "p.parquet", tmp_path / "u.parquet"
    assert runner.invoke(app, ["group", str(DATA_20), "-o", str(plain), "--scheme", "chs-drg-2.0", "-q"]).exit_code == 0
    r = runner.invoke(
        app,
        [
            "group",
            str(DATA_20),
            "-o",
            str(priced),
            "--scheme",
            "chs-drg-2.0",
            "--price",
            "chs-drg-2.0",
            "--base-rate",
            "12000",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    g, p = pq.read_table(plain), pq.read_table(priced)
    scheme = load_compiled("chs-drg-2.0")
    weight = dict(zip(scheme.drg_codes, scheme.drg_weights))
    expected = [None if w is None or w != w else w for w in (weight.get(d) for d in g.column("drg").to_pylist())]
    assert g.column("rw").to_pylist() == expected and sum(w is not None for w in expected) > 1000
    ok = pc.equal(p.column("case_type"), "normal")
    assert pc.sum(ok).as_py() > 1000
    for rw, std in zip(
        pc.filter(p.column("rw"), ok).to_pylist(), pc.filter(p.column("standard_payment"), ok).to_pylist()
    ):
        assert abs(std - rw * 12000) < 0.01
    meta = json.loads(pq.read_schema(priced).metadata[b"drgkit.pricing"])
    assert (
        meta["table"] == "chs-drg-2.0" and meta["policy"]["base_rate"] == 12000 and "patient_share" in meta["defaults"]
    )
    # without a rate nothing is priced, and the reason says how to give one
    r = runner.invoke(
        app, ["group", str(DATA_20), "-o", str(unrated), "--scheme", "chs-drg-2.0", "--price", "chs-drg-2.0", "-q"]
    )
    assert r.exit_code == 0, r.output
    reasons = set(pq.read_table(unrated).column("price_reason").to_pylist())
    assert any(x and "--base-rate" in x for x in reasons)
    assert "normal" not in pq.read_table(unrated).column("case_type").to_pylist()
    r = runner.invoke(
        app, ["pay", str(plain), "-o", str(tmp_path / "x.parquet"), "--table", "chs-drg-2.0", "--base-rate", "-5", "-q"]
    )
    assert r.exit_code == 2 and "base rate must be a number > 0" in r.output


def test_a_scheme_without_weights_has_no_rw_column(tmp_path: Path) -> None:
    out = tmp_path / "g.parquet"
    assert runner.invoke(app, ["group", str(DATA), "-o", str(out), "-q"]).exit_code == 0
    assert "rw" not in pq.read_table(out).column_names
