"""drgkit audit on a synthetic year with planted split admissions and one up-coding hospital."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import drgkit
from drgkit.cli import app
from drgkit.monitor.audit import audit
from drgkit.monitor.plant import planted_year

runner = CliRunner()


@pytest.fixture(scope="module")
def year():
    y = planted_year(40000, seed=11, split_pairs=400, far_pairs=400)
    priced = drgkit.price(drgkit.group(y, scheme="suzhou-2023"), "suzhou-2023")
    return y, priced, audit(priced)


def test_planted_split_admissions_are_found(year):
    y, _, a = year
    c = a.cases.with_columns(planted=pl.Series(y["planted"].to_pylist()), pair=pl.Series(y["planted_pair"].to_pylist()))
    split = c.filter(pl.col("planted") == "split")
    far = c.filter(pl.col("planted") == "far")
    recall = split["flags"].list.contains("split_admission").mean()
    fpr = far["flags"].list.contains("split_admission").mean()
    assert recall >= 0.99 and fpr <= 0.01, (recall, fpr)
    # both stays of a planted pair are linked to each other
    ids = dict(zip(c["case_id"], c["pair"]))
    linked = split.filter(pl.col("linked_case_id").is_not_null())
    agree = sum(ids.get(k) == p for k, p in zip(linked["linked_case_id"], linked["pair"])) / linked.height
    assert agree >= 0.99


def test_upcoding_hospital_ranks_first_on_cc_share(year):
    y, _, a = year
    h = pl.from_arrow(y).filter(pl.col("planted") == "upcode")["hospital"].unique().to_list()
    assert len(h) == 1
    top = a.hospitals.sort("z_cc_share", descending=True, nulls_last=True)["hospital"][0]
    assert top == h[0]
    assert "cc_share" in a.hospitals.filter(pl.col("hospital") == h[0])["risk_signals"][0]


def test_outputs_shape(year, tmp_path):
    y, priced, a = year
    assert a.cases.height == y.num_rows and a.cases["case_id"].to_list() == y["case_id"].to_pylist()
    assert set(a.cases["flags"].explode().drop_nulls()) >= {"split_admission", "low_ratio", "high_ratio"}
    assert a.hospitals["hospital"].n_unique() == a.hospitals.height
    for s in (
        "cc_share",
        "cmi",
        "cmi_change",
        "low_ratio_share",
        "alos",
        "death_share",
        "transfer_share",
        "high_rw_share",
    ):
        assert s in a.hospitals.columns and f"z_{s}" in a.hospitals.columns
    assert a.doctors is not None and a.depts is not None
    path = tmp_path / "g.parquet"
    pq.write_table(priced, path)
    res = CliRunner().invoke(
        app, ["audit", str(path), "-o", str(tmp_path / "audit"), "--readmit-days", "15"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    cases = pl.read_parquet(tmp_path / "audit" / "cases.parquet")
    assert cases.columns[:3] == ["case_id", "flags", "linked_case_id"]
    assert (tmp_path / "audit" / "hospitals.parquet").is_file() and (tmp_path / "audit" / "report.md").is_file()


def test_split_rule_by_hand():
    d = dt.date
    rows = pl.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e", "f"],
            "patient_id": ["p", "p", "p", "q", "q", "r"],
            "hospital": ["H1", "H1", "H1", "H1", "H2", "H1"],
            "admission_date": [
                d(2023, 1, 1),
                d(2023, 1, 12),
                d(2023, 3, 1),
                d(2023, 1, 1),
                d(2023, 1, 5),
                d(2023, 1, 1),
            ],
            "discharge_date": [
                d(2023, 1, 5),
                d(2023, 1, 15),
                d(2023, 3, 3),
                d(2023, 1, 3),
                d(2023, 1, 9),
                d(2023, 1, 2),
            ],
            "status": ["ok"] * 6,
            "drg": ["ES31", "ES35", "ES31", "FR21", "FR21", "ES31"],
            "adrg": ["ES3", "ES3", "ES3", "FR2", "FR2", "ES3"],
            "mdc": ["MDCE", "MDCE", "MDCE", "MDCF", "MDCF", "MDCE"],
            "cc_level": ["mcc", "none", "mcc", "mcc", "mcc", "none"],
            "los": [4, 3, 2, 2, 4, 1],
        }
    )
    c = audit(rows, readmit_days=15).cases
    flags = dict(zip(c["case_id"], c["flags"].to_list()))
    links = dict(zip(c["case_id"], c["linked_case_id"]))
    assert "split_admission" in flags["a"] and "split_admission" in flags["b"]
    assert links["a"] == "b" and links["b"] == "a"
    assert "split_admission" not in flags["c"]  # 45 days later
    assert "split_admission" not in flags["e"] and "short_readmission" in flags["e"]  # other hospital
    assert flags["f"] == []


def test_dates_that_are_not_dates_are_said_not_silently_dropped(year, tmp_path):
    from drgkit.monitor.audit import AuditError

    _, priced, a = year
    split_flags = a.cases["flags"].list.contains("split_admission").sum()
    df = pl.from_arrow(priced)
    text = df.with_columns(pl.col("admission_date").cast(pl.Utf8).str.replace_all("-", "/"))
    again = audit(text)
    assert again.cases["flags"].list.contains("split_admission").sum() == split_flags  # 2024/05/10 reads
    broken = df.with_columns(pl.lit("not a date").alias("admission_date"))
    with pytest.raises(AuditError, match="no value is a date"):
        audit(broken)
    some = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("32/13/2024"))
        .otherwise(pl.col("admission_date").cast(pl.Utf8))
        .alias("admission_date")
    )
    noted = audit(some)
    assert noted.notes and "1 value(s) are not dates" in noted.notes[0]
    with pytest.raises(AuditError, match="readmit_days"):
        audit(priced, readmit_days=-5)


def test_report_cells_cannot_inject_html_or_break_the_table(year, tmp_path):
    _, priced, _ = year
    df = pl.from_arrow(priced).with_columns(
        pl.when(pl.col("hospital") == pl.col("hospital").first())
        .then(pl.lit("<script>x</script>|H0"))
        .otherwise(pl.col("hospital"))
        .alias("hospital")
    )
    result = audit(df)
    (tmp_path / "quarterly_trends.png").write_bytes(b"stale")
    result.quarters = result.quarters.head(0)
    result.write(tmp_path)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in report and "&lt;script&gt;x&lt;/script&gt;\\|H0" in report
    assert "quarterly_trends.png" not in report and not (tmp_path / "quarterly_trends.png").exists()


def test_the_workbook_a_gbk_csv_and_a_csv_audit_alike(year, tmp_path):
    """The coder's workbook (Chinese headers and status texts) and a GBK CSV give the flags the Parquet gives;
    离院方式 written as text (死亡) counts as code 5."""
    _, priced, _a = year
    small = pl.from_arrow(priced).head(3000) if not isinstance(priced, pl.DataFrame) else priced.head(3000)
    parquet = tmp_path / "g.parquet"
    small.write_parquet(parquet)
    expected = audit(parquet).cases
    workbook, csv, gbk = tmp_path / "g.xlsx", tmp_path / "g.csv", tmp_path / "g_gbk.csv"
    for path in (workbook, csv):
        assert (
            runner.invoke(
                app, ["group", str(parquet), "-o", str(path), "--scheme", "suzhou-2023", "--price", "suzhou-2023", "-q"]
            ).exit_code
            == 0
        )
    gbk.write_bytes(csv.read_text(encoding="utf-8-sig").encode("gbk"))
    for path in (workbook, csv, gbk):
        got = audit(path).cases
        assert got["flags"].to_list() == expected["flags"].to_list(), path.name
    assert expected["flags"].list.contains("death").sum() > 0
    worded = small.with_columns(pl.col("leaving_type").cast(pl.Utf8).replace({"5": "死亡", "1": "医嘱离院"}))
    assert audit(worded).cases["flags"].to_list() == expected["flags"].to_list()


def test_no_hospital_column_or_no_rows(year, tmp_path):
    _, priced, _ = year
    small = (pl.from_arrow(priced) if not isinstance(priced, pl.DataFrame) else priced).head(500)
    a = audit(small.drop("hospital"))
    assert a.cases.height == 500 and set(a.cases["hospital"]) == {"all"}
    assert any("no hospital column" in n for n in a.notes)
    path = tmp_path / "empty.csv"
    small.head(0).select("case_id", "status", "drg").write_csv(path)
    r = runner.invoke(app, ["audit", str(path), "-o", str(tmp_path / "au")])
    assert r.exit_code == 2 and "no rows" in r.output and "Traceback" not in r.output
