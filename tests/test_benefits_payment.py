"""One payment model: with a benefit policy, DRG pricing takes the patient's payment from the person-level
settlement (patient by item, fund = payment − patient) and says when it falls back to the flat share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import drgkit
from drgkit.cli import app
from drgkit.demo import generate
from drgkit.payment.price import PRICING_METADATA_KEY

runner = CliRunner()


@pytest.fixture(scope="module")
def grouped():
    return drgkit.group(generate(3000, scheme="suzhou-2023", seed=5), scheme="suzhou-2023")


def _meta(table) -> dict:
    return json.loads(table.schema.metadata[PRICING_METADATA_KEY])


def test_price_with_benefits_takes_the_patient_from_the_settlement(grouped) -> None:
    flat = drgkit.price(grouped, "suzhou-2023")
    by_person = drgkit.price(grouped, "suzhou-2023", policy={"benefits": "example-national"})
    settled = drgkit.benefits(grouped, "example-national", insurance="employee")  # the policy's default insurance
    priced = np.array([t != "unpriced" for t in by_person.column("case_type").to_pylist()])
    patient = np.array(by_person.column("patient_payment").to_pylist(), dtype=float)
    expect = np.array(settled.column("patient_payment").to_pylist(), dtype=float)
    assert np.array_equal(patient[priced], expect[priced])
    payment = np.array(by_person.column("payment").to_pylist(), dtype=float)
    fund = np.array(by_person.column("fund_payment").to_pylist(), dtype=float)
    assert np.allclose(fund[priced], payment[priced] - patient[priced], atol=0.006)
    # the payment itself does not change; only its split between fund and patient
    assert by_person.column("payment").equals(flat.column("payment"))
    meta = _meta(by_person)
    assert meta["patient_basis"] == "benefits" and meta["benefit_insurance_assumed"] == "employee"
    assert by_person.column("patient_basis").to_pylist() == [("benefits" if p else None) for p in priced]
    assert _meta(flat)["patient_basis"] == "flat_share"


def test_without_a_person_id_the_flat_share_stays_and_the_result_says_why(grouped) -> None:
    anonymous = grouped.drop_columns(["patient_id"])
    out = drgkit.price(anonymous, "suzhou-2023", policy={"benefits": "example-national"})
    flat = drgkit.price(anonymous, "suzhou-2023")
    assert out.column("patient_payment").equals(flat.column("patient_payment"))
    meta = _meta(out)
    assert "benefits" not in out.column("patient_basis").to_pylist()
    assert "no person id column" in meta["flat_share_why"]


def test_pay_says_which_patient_basis_it_used(grouped, tmp_path: Path) -> None:
    src = tmp_path / "grouped.parquet"
    pq.write_table(grouped, src)
    r = runner.invoke(app, ["pay", str(src), "-o", str(tmp_path / "flat.parquet"), "--table", "suzhou-2023"])
    assert r.exit_code == 0, r.output
    assert "个人负担：按统一比例 30%（未给待遇政策" in r.output
    out = tmp_path / "by_person.parquet"
    r = runner.invoke(
        app,
        ["pay", str(src), "-o", str(out), "--table", "suzhou-2023", "--benefits", "example-national", "--lang", "en"],
    )
    assert r.exit_code == 0, r.output
    assert "settled by person and year under the benefit policy example-national" in r.output
    t = pq.read_table(out)
    assert (
        pc.sum(t.column("patient_payment")).as_py()
        != pc.sum(pq.read_table(tmp_path / "flat.parquet").column("patient_payment")).as_py()
    )


def test_a_payment_policy_file_names_the_benefit_policy(grouped, tmp_path: Path) -> None:
    """The key is part of the payment policy TOML, so every command reading one (pay, group --price, simulate,
    dip settle) splits payments the same way."""
    policy = tmp_path / "pay.toml"
    policy.write_text('benefits = "example-national-age65"\nlow_ratio = 0.4\n', encoding="utf-8")
    out = drgkit.price(grouped, "suzhou-2023", policy=policy)
    assert _meta(out)["benefits"] == "example-national-age65"
    with pytest.raises(drgkit.DrgkitError, match="no-such"):
        drgkit.price(grouped, "suzhou-2023", policy={"benefits": "no-such"})


def test_a_simulate_scenario_with_a_benefit_policy_splits_payments_by_person(tmp_path: Path) -> None:
    from drgkit.simulate.example import write_example

    path = write_example(tmp_path, rows=4000)
    with open(path, "a", encoding="utf-8") as f:
        f.write('\n[[scenario]]\nname = "benefits"\nvolume_growth = 0.03\npolicy = { benefits = "example-national" }\n')
    r = runner.invoke(app, ["simulate", str(path), "-o", str(tmp_path / "out"), "--draws", "0", "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (
        "benefits: patient payments: settled by person and year under the benefit policy example-national" in r.output
    )
    h = pq.read_table(tmp_path / "out" / "hospitals.parquet").to_pandas()
    by = h.groupby("scenario")[["patient_payment", "fund_payment"]].sum()
    # the budget binds: the fund pays the same; what patients pay (and so hospital revenue) changes
    assert by.loc["benefits", "fund_payment"] == pytest.approx(by.loc["baseline", "fund_payment"], rel=1e-9)
    assert by.loc["benefits", "patient_payment"] != pytest.approx(by.loc["baseline", "patient_payment"], rel=1e-3)


def test_dip_settle_with_a_benefit_policy_says_how_patients_paid(tmp_path: Path) -> None:
    history = tmp_path / "h.parquet"
    pq.write_table(generate(6000, seed=3), history)
    assert runner.invoke(app, ["dip", "build", str(history), "-o", str(tmp_path / "cat")]).exit_code == 0
    grouped = tmp_path / "g.parquet"
    r = runner.invoke(app, ["dip", "group", str(history), "-c", str(tmp_path / "cat"), "-o", str(grouped), "-q"])
    assert r.exit_code == 0, r.output
    policy = tmp_path / "p.toml"
    policy.write_text('benefits = "example-national"\n', encoding="utf-8")
    args = ["dip", "settle", str(grouped), "-c", str(tmp_path / "cat"), "--budget", "50000000", "--fund-ratio", "0.7"]
    r = runner.invoke(app, [*args, "--lang", "en"])
    assert r.exit_code == 0 and "patient payments: the flat share 30% (no benefit policy" in r.output
    r = runner.invoke(app, [*args, "--policy", str(policy), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "under the benefit policy example-national for 5,934 cases" in r.output


# ------------------------------------------------------------------ hand-computed: one payment model, what-if


def _three_stays(grouped):
    """Three priced-able stays: P1 twice at a level-3 hospital as an employee (discharged 5 Jan: 10,000 yuan;
    1 Mar: 4,000 yuan — listed first, so input order is not discharge order), P2 once at a level-2 hospital
    as a resident (8,000 yuan). No self-pay amounts: example-national's cost mix puts none outside the policy."""
    import pyarrow as pa

    ok = pc.equal(grouped.column("status"), "ok")
    t = grouped.filter(ok).slice(0, 3)

    def put(table, name, values, type_=None):
        return table.set_column(table.column_names.index(name), name, pa.array(values, type_))

    t = put(t, "patient_id", ["P1", "P1", "P2"])
    t = put(t, "discharge_date", ["2024-03-01", "2024-01-05", "2024-02-01"])
    t = put(t, "total_cost", [4000.0, 10000.0, 8000.0])
    t = put(t, "hospital_level", [3, 3, 2], pa.int8())
    return t.append_column("insurance_type", pa.array(["职工", "职工", "居民"]))


# example-national by hand: employee level 3 deductible 1,800, fund share 75 %; resident level 2: 450, 70 %.
# P1, 5 Jan, 10,000: 1,800 + (10,000 − 1,800) × 25 % = 3,850; P1, 1 Mar, 4,000 (the full deductible again, as
# repeat_deductible = [1.0]): 1,800 + 2,200 × 25 % = 2,350; P2, 8,000: 450 + 7,550 × 30 % = 2,715.
HAND_PATIENT = [2350.0, 3850.0, 2715.0]


def test_three_stays_split_by_hand_under_example_national(grouped) -> None:
    stays = _three_stays(grouped)
    flat = drgkit.price(stays, "suzhou-2023")
    out = drgkit.price(stays, "suzhou-2023", benefits="example-national")
    assert out.column("patient_payment").to_pylist() == HAND_PATIENT
    assert out.column("patient_basis").to_pylist() == ["benefits"] * 3
    payment = out.column("payment").to_pylist()
    assert payment == flat.column("payment").to_pylist()  # the benefit policy moves the split, not the payment
    assert out.column("fund_payment").to_pylist() == pytest.approx(
        [p - q for p, q in zip(payment, HAND_PATIENT)], abs=1e-9
    )
    meta = _meta(out)
    assert meta["patient_basis"] == "benefits" and meta["benefits"] == "example-national"
    assert "benefit_insurance_assumed" not in meta  # the stays carry their insurance type
    # without a benefit policy: 30 % of cost, and said so
    assert flat.column("patient_payment").to_pylist() == [1200.0, 3000.0, 2400.0]
    assert flat.column("patient_basis").to_pylist() == ["flat_share"] * 3
    assert _meta(flat)["patient_basis"] == "flat_share"


def test_fund_plus_patient_is_the_payment_on_every_row(grouped) -> None:
    for benefits in (None, "example-national", "example-national-age65"):
        out = drgkit.price(grouped, "suzhou-2023", benefits=benefits)
        priced = np.array([t != "unpriced" for t in out.column("case_type").to_pylist()])
        pay, pat, fund = (
            np.array(out.column(c).to_pylist(), dtype=float)[priced]
            for c in ("payment", "patient_payment", "fund_payment")
        )
        assert np.abs(fund + pat - pay).max() < 1e-6  # to the cent, on every priced row
        assert out.column("patient_basis").null_count == int((~priced).sum())  # unpriced: nothing to split


def test_stays_the_benefit_policy_cannot_settle_keep_the_flat_share_and_say_why(grouped) -> None:
    import pyarrow as pa

    stays = _three_stays(grouped)
    stays = stays.set_column(
        stays.column_names.index("discharge_date"),
        "discharge_date",
        pa.array([None, "2024-01-05", "2024-02-01"], pa.string()),
    )
    out = drgkit.price(stays, "suzhou-2023", benefits="example-national")
    # P1's March stay has no discharge date: 30 % of 4,000; the other two as by hand
    assert out.column("patient_payment").to_pylist() == [1200.0, 3850.0, 2715.0]
    assert out.column("patient_basis").to_pylist() == ["flat_share", "benefits", "benefits"]
    assert "discharge date" in _meta(out)["flat_share_why"]


def _policy_dict(name: str) -> dict:
    import tomllib

    from drgkit.benefits.policy import policies_dir

    return tomllib.loads((policies_dir() / f"{name}.toml").read_text(encoding="utf-8"))


def test_what_if_two_policies_differing_only_in_the_fund_share() -> None:
    """B raises the employees' level-3 fund share from 75 % to 80 %: by hand, P1's two stays (in-policy cost
    above the deductible 8,200 and 2,200) move 5 % × 10,400 = 520 yuan from the patient to the pooled fund; the
    resident's stay does not change."""
    import polars as pl

    a = _policy_dict("example-national")
    b = _policy_dict("example-national")
    b["employee"]["fund_share"]["level3"] = 0.80
    b["name"] = "raised"
    stays = pl.DataFrame(
        {
            "人员编号": ["P1", "P1", "P2"],
            "出院日期": ["2024-03-01", "2024-01-05", "2024-02-01"],
            "险种类型": ["职工", "职工", "居民"],
            "医院等级": ["三级", "三级", "二级"],
            "医疗费总额": [4000.0, 10000.0, 8000.0],
            "年收入": [15000.0, 15000.0, None],
        }
    )
    out = drgkit.benefits.compare(stays, a, b)
    row = {(r["insurance"], r["level"]): r for r in out.iter_rows(named=True)}
    assert list(row) == [
        ("employee", "level3"),
        ("employee", "all"),
        ("resident", "level2"),
        ("resident", "all"),
        ("all", "all"),
    ]
    emp, res, total = row[("employee", "level3")], row[("resident", "level2")], row[("all", "all")]
    assert emp["fund_payment_a"] == pytest.approx(8200 * 0.75 + 2200 * 0.75)
    assert emp["fund_payment_change"] == pytest.approx(520.0)
    assert emp["patient_payment_change"] == pytest.approx(-520.0)
    assert emp["fund_change_share"] == pytest.approx(520 / 7800)
    assert res["fund_payment_change"] == 0 and res["patient_payment_change"] == 0
    assert total["fund_payment_change"] == pytest.approx(520.0) and total["stays"] == 3
    # P1's year: 3,850 + 2,350 = 6,200 under A, 6,200 − 520 = 5,680 under B; P2's 2,715 either way
    assert emp["oop_year_mean_a"] == pytest.approx(6200.0) and emp["oop_year_mean_b"] == pytest.approx(5680.0)
    assert total["oop_year_mean_a"] == pytest.approx((6200 + 2715) / 2)
    assert total["oop_year_p50_a"] == pytest.approx((6200 + 2715) / 2)  # two person-years: the midpoint
    # catastrophic at 40 % of 15,000 = 6,000: P1 above it under A (6,200), below under B (5,680); P2 has no income
    assert total["person_years_with_income"] == 1
    assert total["catastrophic_share_a"] == 1.0 and total["catastrophic_share_b"] == 0.0
    assert res["catastrophic_share_a"] is None
    assert total["stays_not_compared"] == 0


def test_benefits_against_from_the_command_line(tmp_path: Path) -> None:
    src = tmp_path / "住院.csv"
    src.write_text(
        "人员编号,出院日期,险种类型,医院等级,医疗费总额,年收入\n"
        "P1,2024-03-01,职工,三级,4000,15000\nP1,2024-01-05,职工,三级,10000,15000\n"
        "P2,2024-02-01,居民,二级,8000,\nP3,2024-02-03,居民,一级,,\n",
        encoding="utf-8",
    )
    policy = tmp_path / "raised.toml"
    text = (Path(drgkit.benefits.policy.policies_dir()) / "example-national.toml").read_text(encoding="utf-8")
    policy.write_text(
        text.replace('name = "example-national"', 'name = "raised"').replace("level3 = 0.75", "level3 = 0.80"),
        encoding="utf-8",
    )
    out = tmp_path / "whatif.csv"
    r = runner.invoke(
        app, ["benefits", str(src), "--policy", "example-national", "--against", str(policy), "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "变化率" in r.output and "+520" in r.output and "+6.7%" in r.output  # 520 / 7,800
    assert "1 例未比较" in r.output  # P3 has no cost: said, not silently dropped
    import polars as pl

    table = pl.read_csv(out)
    total = table.filter(pl.col("insurance") == "all").row(0, named=True)
    assert total["fund_payment_change"] == pytest.approx(520.0) and total["stays_not_compared"] == 1
    # a bad policy path and a missing column: one line each, no traceback
    r = runner.invoke(app, ["benefits", str(src), "--policy", "example-national", "--against", "nope.toml"])
    assert r.exit_code == 2 and "nope.toml: no such benefit policy" in r.output and "Traceback" not in r.output
    bare = tmp_path / "bare.csv"
    bare.write_text("出院日期,险种类型,医院等级,医疗费总额\n2024-01-05,职工,三级,10000\n", encoding="utf-8")
    r = runner.invoke(app, ["benefits", str(bare), "--policy", "example-national", "--against", str(policy)])
    assert r.exit_code == 2 and "no person id column" in r.output and "Traceback" not in r.output


def test_pay_with_a_chinese_header_file_and_fallback_lines(grouped, tmp_path: Path) -> None:
    stays = _three_stays(grouped)
    src = tmp_path / "grouped.parquet"
    pq.write_table(stays.rename_columns(["人员编号" if c == "patient_id" else c for c in stays.column_names]), src)
    out = tmp_path / "priced.csv"
    r = runner.invoke(
        app, ["pay", str(src), "-o", str(out), "--table", "suzhou-2023", "--benefits", "example-national"]
    )
    assert r.exit_code == 0, r.output
    assert "个人负担：按待遇政策 example-national 逐人逐年结算 3 例" in r.output
    import polars as pl

    priced = pl.read_csv(out)
    assert priced["patient_payment"].to_list() == HAND_PATIENT
    assert priced["patient_basis"].to_list() == ["benefits"] * 3
    # no person id at all: every case at the flat share, and the line says why
    anonymous = tmp_path / "anonymous.parquet"
    pq.write_table(stays.drop_columns(["patient_id"]), anonymous)
    r = runner.invoke(
        app,
        [
            "pay",
            str(anonymous),
            "-o",
            str(out),
            "--table",
            "suzhou-2023",
            "--benefits",
            "example-national",
            "--lang",
            "en",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "3 cases at the flat share 30% (no person id column" in r.output
    # the payment policy option given a benefit policy: one line naming the right option
    r = runner.invoke(app, ["pay", str(src), "-o", str(out), "--table", "suzhou-2023", "--policy", "example-national"])
    assert r.exit_code == 2 and "--benefits example-national" in r.output


def test_group_price_settles_each_person_across_batches(tmp_path: Path) -> None:
    """group --price prices batch by batch; the benefit settlement runs over the whole file first, so a small
    batch size gives the same patient payments as pay on the whole grouped file."""
    raw = tmp_path / "raw.parquet"
    pq.write_table(generate(1500, scheme="suzhou-2023", seed=11), raw)
    base = ["group", str(raw), "-s", "suzhou-2023", "-q"]
    streamed, whole, priced = (tmp_path / f"{n}.parquet" for n in ("streamed", "whole", "priced"))
    args = ["--price", "suzhou-2023", "--benefits", "example-national", "--batch-size", "200", "-t", "1"]
    r = runner.invoke(app, [*base, "-o", str(streamed), *args])
    assert r.exit_code == 0, r.output
    assert runner.invoke(app, [*base, "-o", str(whole)]).exit_code == 0
    r = runner.invoke(
        app, ["pay", str(whole), "-o", str(priced), "--table", "suzhou-2023", "--benefits", "example-national", "-q"]
    )
    assert r.exit_code == 0, r.output
    a, b = pq.read_table(streamed), pq.read_table(priced)
    for column in ("payment", "patient_payment", "fund_payment", "patient_basis"):
        assert a.column(column).equals(b.column(column)), column
    assert pc.sum(pc.equal(a.column("patient_basis"), "benefits")).as_py() > 0


def test_dip_settle_payable_is_the_cases_fund_payments_with_a_benefit_policy(tmp_path: Path) -> None:
    import polars as pl

    history = tmp_path / "h.parquet"
    pq.write_table(generate(3000, seed=3), history)
    assert runner.invoke(app, ["dip", "build", str(history), "-o", str(tmp_path / "cat")]).exit_code == 0
    grouped = tmp_path / "g.parquet"
    assert (
        runner.invoke(
            app, ["dip", "group", str(history), "-c", str(tmp_path / "cat"), "-o", str(grouped), "-q"]
        ).exit_code
        == 0
    )
    s = drgkit.dip.settle(
        pl.read_parquet(grouped), tmp_path / "cat", budget=2.5e7, fund_ratio=0.7, benefits="example-national"
    )
    cases = s.cases.filter(pl.col("patient_basis").is_not_null())
    assert (cases["payment"] - cases["patient_payment"] - cases["fund_payment"]).abs().max() < 1e-6
    assert s.hospitals["payable_before_evaluation"].sum() == pytest.approx(cases["fund_payment"].sum(), rel=1e-12)
    assert s.patient_basis["patient_basis"] == "benefits" and s.patient_basis["benefit_rows"] == cases.height


def test_why_stays_fell_back_to_the_flat_share_is_said_in_the_line_language() -> None:
    """The reason is stored in English (metadata) and read back in Chinese where the line is Chinese: a missing
    column's message from the same catalogue entry, and per-reason counts."""
    from drgkit.benefits.settle import why_text
    from drgkit.lang import say

    missing = say("benefits.missing.patient_id", "en")
    assert why_text(missing, "en") == missing
    zh = why_text(missing, "zh")
    assert zh == say("benefits.missing.patient_id", "zh") and "人员编号" in zh and "column" not in zh
    counts = f"{say('benefits.reason.1', 'en')}: 12; {say('benefits.reason.3', 'en')}: 3"
    assert why_text(counts, "zh") == f"{say('benefits.reason.1', 'zh')}：12；{say('benefits.reason.3', 'zh')}：3"
