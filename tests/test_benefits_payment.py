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
    assert "benefits: patient payments: settled by person and year under the benefit policy example-national" in r.output
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
    assert "under the benefit policy example-national for 5,938 cases" in r.output
