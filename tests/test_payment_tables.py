"""Every shipped city payment table: loads, matches its manifest, and drgkit reproduces its published standards.

Where a table publishes payment standards, ``standard_payment`` (RW × base rate × level coefficient, computed,
not copied) equals the published standard to 0.01 yuan on every DRG / level / insurance row. The only
exception is Beijing 2022, whose standards are rounded from unpublished weights (documented in
tables/README.md): there drgkit pays the printed standard and ``tables check`` reports 6/647.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from drgkit.payment import check_table, list_tables, load_table, standards

TABLES = [t.id for t in list_tables()]
COMPUTED = {"standard_source": "computed"}

# table -> rows with a published standard > 0 (and a weight), all reproduced to the cent
PUBLISHED_ROWS = {
    "jilin-2022": 625,
    "lanzhou-2022": 783,
    "linyi-2022": 2440,
    "qingdao-2023": 2728,
    "suzhou-2022": 1944,
    "suzhou-2023": 1944,
    "taizhou-2022": 353,
    "tongchuan-2022": 1192,
    "wuhan-2022": 1320,
    "wuxi-2022": 1806,
    "xian-2020": 597,
    "yancheng-2022": 1137,
    "yancheng-2023": 1076,
}


def test_thirty_tables_shipped():
    assert len(TABLES) == 30
    assert {"suzhou-2023", "harbin-2024", "xinjiang-bingtuan-2022", "yinchuan-2023"} <= set(TABLES)


@pytest.mark.parametrize("tid", TABLES)
def test_table_loads_and_matches_manifest(tid):
    t = load_table(tid)
    i = t.info
    dups = 1 if tid == "urumqi-2022" else 0  # DR13 listed twice upstream; the first row is used
    assert t.df.height + dups == i.rows
    assert t.df["drg"].n_unique() == i.drgs
    assert set(t.df["hospital_level"].unique()) - {""} == set(i.levels)
    assert set(t.df["insurance_type"].unique()) - {""} == set(i.insurance_types)
    assert i.licence in ("Apache-2.0", "MIT") and i.source and i.city and i.year
    assert (i.basis == "points") == (tid == "yinchuan-2023")
    assert len(t.notes) == dups


@pytest.mark.parametrize("tid", TABLES)
def test_published_standards_reproduced_to_the_cent(tid):
    s = standards(tid, COMPUTED)
    pub = s.filter(pl.col("payment_standard").is_not_null() & (pl.col("payment_standard") > 0))
    if tid == "beijing-2022":
        # no rate is published or implied; the printed standards are paid as printed
        assert pub.height == 647 and pub["standard_computed"].is_null().all()
        paid = standards(tid).filter(pl.col("payment_standard").is_not_null())
        assert (paid["standard"] == paid["payment_standard"]).all()
        return
    assert pub.height == PUBLISHED_ROWS.get(tid, 0)
    if pub.height:
        diff = (pub["standard_computed"] - pub["payment_standard"]).abs()
        worst = pub.with_columns(diff.alias("d")).sort("d", descending=True).row(0, named=True)
        assert diff.max() <= 0.01, worst


@pytest.mark.parametrize("tid", [t for t in TABLES if t in PUBLISHED_ROWS or t == "beijing-2022"])
def test_check_derives_the_manifest_rates(tid):
    checks = check_table(tid)
    assert checks
    for c in checks:
        if tid == "beijing-2022":
            assert c.rows_reproduced == 6 and c.rows_checked == 647 and c.manifest_rate is None
            continue
        expected = c.published_rate if c.published_rate is not None else c.manifest_rate
        assert c.rate == pytest.approx(expected, abs=1e-9)
        if tid == "wuxi-2022" and c.level in ("level2", "level3"):
            # the 25 basic groups are priced at the level-1 rate: listed as not following the level's rate
            assert (c.rows_reproduced, c.rows_checked) == (577, 602)
            assert set(c.outliers["implied_rate"].to_list()) == {7782.0}
            assert all("basic_group" in f for f in c.outliers["flags"].to_list())
        else:
            assert c.ok, (c.level, c.insurance, c.rows_reproduced, c.rows_checked)


def test_published_rates_and_coefficients_give_standards():
    """Tables with RW, rates and coefficients but no standards: drgkit computes them."""
    s = standards("changzhou-2022")
    row = s.filter(
        (pl.col("drg") == s["drg"][0])
        & (pl.col("hospital_level") == "level3")
        & (pl.col("insurance_type") == "employee")
    ).row(0, named=True)
    if "basic_group" not in row["flags"]:
        assert row["standard"] == pytest.approx(row["rw"] * 11519 * 1.01, abs=1e-6)
    lz = standards("lanzhou-2023").filter(pl.col("hospital_level") == "provincial_level3a")
    normal = lz.filter(~pl.col("_basic") & pl.col("rw").is_not_null())
    assert np.allclose(normal["standard"], normal["rw"] * 9986.9352 * 1.1476)
    hb = standards("harbin-2024").filter(pl.col("rw").is_not_null())
    emp = hb.filter(pl.col("insurance_type") == "employee")
    res = hb.filter(pl.col("insurance_type") == "resident")
    assert np.allclose(emp["standard"], emp["rw"] * 12252.70)
    assert np.allclose(res["standard"], res["rw"] * 9649.24)


def test_basic_groups_paid_equally_across_levels():
    # Suzhou prints 1.02 for basic groups at every level: used as printed
    s = standards("suzhou-2023").filter(pl.col("_basic"))
    assert s.height == 21 * 3
    per = s.group_by("drg").agg(pl.col("standard").n_unique().alias("k"), pl.col("coef").first())
    assert (per["k"] == 1).all() and (per["coef"] == 1.02).all()
    # Changzhou prints the level coefficients on basic rows too: the flag wins, no level coefficient
    c = standards("changzhou-2022").filter(pl.col("_basic") & (pl.col("insurance_type") == "employee"))
    assert c.height == 2 * 20
    assert (c["coef"] == 1.0).all()
    assert np.allclose(c["standard"], c["rw"] * 11519)
    # Wuxi: basic groups at the level-1 rate at every level (derived from its standards)
    w = standards("wuxi-2022", COMPUTED).filter(pl.col("_basic"))
    assert np.allclose(w["standard"], w["rw"] * 7782) and np.allclose(w["standard"], w["payment_standard"])


def test_weight_only_tables_need_a_rate():
    s = standards("fuzhou-2022")
    assert s["standard"].is_null().all()
    s = standards("fuzhou-2022", {"base_rate": 10000.0})
    assert np.allclose(s["standard"], s["rw"] * 10000)
    y = standards("yinchuan-2023", {"point_value": 12.5}).filter(pl.col("hospital_level") == "level3b")
    assert np.allclose(y["standard"], y["rw"] * y["coef"] * 12.5)
    assert not math.isnan(y["coef"].mean()) and y["coef"].min() < 1.0


def test_jilin_thresholds_are_the_published_multiples():
    d = load_table("jilin-2022").df
    assert np.allclose(d["low_outlier_threshold"], 0.35 * d["payment_standard"], atol=0.01)
    assert np.allclose(d["high_outlier_threshold"], 2 * d["payment_standard"], atol=0.01)
