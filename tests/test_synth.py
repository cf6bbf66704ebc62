"""Synthetic discharge-abstract generator: shape, determinism, realism constraints and dirty rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from drgkit.demo import COLUMNS, DEFECTS, generate, write_demo
from drgkit.schemes.tables import icd_table, load_table

NUMERIC = ("age", "age_days", "birth_weight", "los", "leaving_type")


@pytest.fixture(scope="module")
def dirty_table():
    return generate(20000, seed=7, dirty=0.05, labels=True)


@pytest.fixture(scope="module")
def clean_table():
    return generate(20000, seed=11, dirty=0.0, labels=True)


def _valid_dx(scheme):
    return {r[0] for r in icd_table(scheme, "icd_dx")[1]} | {r[1] for r in load_table(scheme, "mdc_dx")[1]}


def test_deterministic_for_a_seed():
    a = generate(3000, seed=42)
    b = generate(3000, seed=42)
    c = generate(3000, seed=43)
    assert a.equals(b)
    assert not a.equals(c)


def test_columns_and_dtypes(dirty_table, clean_table):
    assert tuple(generate(10, seed=1).column_names) == COLUMNS
    assert tuple(dirty_table.column_names) == COLUMNS + ("target_adrg", "defect")
    for t, numeric_type in ((dirty_table, pa.string()), (clean_table, pa.int64())):
        s = t.schema
        for name in ("case_id", "patient_id", "hospital", "dept", "gender", "dx", "px"):
            assert s.field(name).type == pa.string(), name
        for name in NUMERIC:
            assert s.field(name).type == numeric_type, name
        assert pa.types.is_integer(s.field("hospital_level").type)
        assert s.field("admission_date").type == pa.date32()
        assert s.field("discharge_date").type == pa.date32()
        assert s.field("total_cost").type == pa.float64()


def test_rows_ids_and_dates(clean_table):
    t = clean_table
    assert t.num_rows == 20000 and generate(0).num_rows == 0 and generate(1).num_rows == 1
    assert pc.count_distinct(t["case_id"]).as_py() == t.num_rows
    assert t["case_id"][0].as_py() == "D00000001"
    d = t.select(
        ["patient_id", "hospital", "hospital_level", "los", "admission_date", "discharge_date", "leaving_type", "px"]
    ).to_pandas()
    stays = d.patient_id.value_counts()
    assert 0.04 < (stays >= 2).mean() < 0.12
    assert set(d.hospital_level.unique()) <= {1, 2, 3} and 3 in set(d.hospital_level)
    assert d.hospital.str.fullmatch(r"H\d{3}").all()
    sizes = d.hospital.value_counts()
    assert sizes.iloc[0] > 3 * sizes.median()  # skewed hospital sizes
    days = pc.days_between(t["admission_date"], t["discharge_date"]).to_numpy()
    assert (days == d.los.to_numpy()).all()
    assert (d.los >= 1).all() and 5 <= d.los.median() <= 11
    lt = d.leaving_type.value_counts(normalize=True)
    assert set(lt.index) <= {1, 2, 3, 4, 5} and 0.8 < lt[1] < 0.92 and lt[5] > 0.003
    assert 0.3 < (d.px != "").mean() < 0.9


def test_dirty_fraction(dirty_table):
    defect = dirty_table["defect"].to_numpy(zero_copy_only=False)
    frac = (defect != "").mean()
    assert abs(frac - 0.05) < 0.005
    assert set(defect[defect != ""]) <= set(DEFECTS)
    assert len(set(defect[defect != ""])) >= len(DEFECTS) - 1
    d = dirty_table.to_pandas()
    bad = d[d.defect != ""]
    assert (d[d.defect == "gender_invalid"].gender.isin(["0", "9", "X"])).all()
    assert (d[d.defect == "gender_blank"].gender == "").all()
    assert (d[d.defect == "age_negative"].age == "-1").all()
    assert (d[d.defect == "los_text"].los == "abc").all()
    assert (d[d.defect == "dx_missing"].dx == "").all()
    assert (d[d.defect == "px_unknown"].px.str.contains("99.9999", regex=False)).all()
    low = d[d.defect == "dx_lowercase"].dx
    assert (low == low.str.lower()).all()
    valid = _valid_dx("chs-drg-1.1")
    assert not d[d.defect == "dx_unknown"].dx.str.split("|").str[0].isin(valid).any()
    # clean rows have clean values
    clean = d[d.defect == ""]
    assert clean.gender.isin(["1", "2"]).all()
    assert clean.los.str.fullmatch(r"\d+").all() and clean.age.str.fullmatch(r"\d+").all()
    assert len(bad) == round(0.05 * len(d))
    assert dirty_table.num_rows == generate(20000, seed=7, dirty=0.0).num_rows
    assert pc.sum(pc.equal(generate(5000, seed=3, dirty=0.0)["gender"], "")).as_py() in (0, None)


@pytest.mark.parametrize("scheme", ["chs-drg-1.1", "chs-drg-2.0", "beijing-2022"])
def test_codes_come_from_scheme(scheme):
    t = generate(8000, scheme=scheme, seed=2, dirty=0.03, labels=True).to_pandas()
    clean = t[t.defect == ""]
    valid = _valid_dx(scheme)
    pdx = clean.dx.str.split("|").str[0]
    assert pdx.isin(valid).mean() == 1.0
    rules = {r[0] for r in load_table(scheme, "adrg")[1]}
    assert set(t.target_adrg) <= rules
    # target rules with a dx list get their principal diagnosis from it
    lists = {}
    for rule, _adrg, lst, code in load_table(scheme, "adrg_codes")[1]:
        lists.setdefault((rule, lst), set()).add(code)
    exprs = {r[0]: r[7] for r in load_table(scheme, "adrg")[1]}
    checked = 0
    for rule, p in zip(clean.target_adrg, pdx):
        if "pdx_in(dx)" in exprs[rule] and (rule, "dx") in lists:
            assert p in lists[(rule, "dx")], (rule, p)
            checked += 1
    assert checked > 1000
    # surgical target rules carry a main procedure from their px list
    px = {r[0] for r in icd_table(scheme, "icd_px")[1]} | {r[0] for r in load_table(scheme, "or_procedures")[1]}
    px |= {code for (rule, lst), codes in lists.items() if lst.startswith("px") for code in codes}
    all_px = {c for s in clean.px for c in s.split("|") if c}
    assert all_px <= px
    main = clean[clean.target_adrg.map(lambda r: "main_px_in(px)" in exprs[r])]
    assert len(main) > 200
    assert all(row.px.split("|")[0] in lists[(row.target_adrg, "px")] for row in main.itertuples())
    cc = {r[0]: r[1] for r in load_table(scheme, "cc")[1]}
    sec = clean.dx.str.split("|").map(lambda codes: codes[1:])
    mcc = sec.map(lambda codes: any(cc.get(c) == "MCC" for c in codes)).mean()
    ccr = sec.map(lambda codes: any(cc.get(c) == "CC" for c in codes)).mean()
    assert 0.12 < mcc < 0.28 and 0.2 < ccr < 0.4
    assert 1.8 < sec.map(len).mean() < 3.2 and sec.map(len).max() <= 8


def test_demographic_constraints(clean_table):
    d = clean_table.to_pandas()
    mdc = {r[0]: r[4] for r in load_table("chs-drg-1.1", "adrg")[1]}
    exprs = {r[0]: r[7] for r in load_table("chs-drg-1.1", "adrg")[1]}
    m = d.target_adrg.map(mdc)
    assert (d[m == "MDCO"].gender == "2").all()
    assert d[m == "MDCO"].age.between(18, 45).all()
    assert (d[m == "MDCN"].gender == "2").all()
    assert (d[m == "MDCM"].gender == "1").all()
    newborn = d[d.target_adrg.map(lambda r: "newborn(" in exprs[r])]
    assert len(newborn) > 20
    assert (newborn.age == 0).all() and newborn.age_days.between(0, 28).all()
    assert newborn.birth_weight.notna().all()
    weighed = d[d.birth_weight.notna()]
    assert (weighed.age == 0).all() and (weighed.age_days <= 28).all()
    assert (d[m == "MDCP"].age == 0).all()
    assert d[d.age == 0].age_days.notna().all()
    assert d[d.age >= 1].age_days.isna().all()
    # birth-weight bands of the PS* rules
    for rule, lo, hi in (("PS1", 0, 1500), ("PS2", 1500, 2000), ("PS4", 2500, 10000)):
        bw = d[d.target_adrg == rule].birth_weight
        assert bw.between(lo, hi - 1).all(), rule


def test_costs_have_structure(clean_table):
    d = clean_table.to_pandas()
    assert (d.total_cost > 0).all()
    cost, los = np.log(d.total_cost), np.log(d.los)
    assert np.corrcoef(cost, los)[0, 1] > 0.4
    surgical = d.px != ""
    assert d[surgical].total_cost.median() > 1.5 * d[~surgical].total_cost.median()
    assert d.total_cost.quantile(0.999) > 8 * d.total_cost.median()  # heavy right tail
    by_level = d.groupby("hospital_level").total_cost.median()
    assert by_level.is_monotonic_increasing
    top = d.target_adrg.value_counts(normalize=True)
    assert top.head(40).sum() > 0.5  # a few dozen groups dominate


def test_write_demo(tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    p = write_demo(tmp_path / "demo.parquet", n=500, seed=1)
    assert pq.read_table(p).equals(generate(500, seed=1))
    c = write_demo(tmp_path / "demo.csv", n=300, seed=1)
    t = pacsv.read_csv(c, convert_options=pacsv.ConvertOptions(column_types={k: pa.string() for k in COLUMNS}))
    assert t.num_rows == 300 and tuple(t.column_names) == COLUMNS
    with pytest.raises(ValueError):
        write_demo(tmp_path / "demo.xyz", n=10)
