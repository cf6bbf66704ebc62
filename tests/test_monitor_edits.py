"""Edits on every abstract (drgkit.monitor.edits): one test per edit, with real codes of the 医保版 tables."""

from __future__ import annotations

import csv

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

import drgkit
from drgkit.cli import app
from drgkit.demo.synth import generate
from drgkit.monitor import load_edits, sex_codes, validate
from drgkit.paths import edits_dir, icd_dir

BASE = {
    "case_id": "C1",
    "gender": "1",
    "age": "65",
    "age_days": None,
    "birth_weight": None,
    "los": "7",
    "leaving_type": "1",
    "dx": "I21.000x005|E11.900",
    "px": "36.0601",
    "total_cost": "30000",
    "admission_date": "2023-03-01",
    "discharge_date": "2023-03-08",
}


def case(**changes) -> dict:
    row = dict(BASE)
    row.update(changes)
    return row


def run(*rows: dict, **kw) -> list[dict]:
    cols = list(dict.fromkeys([*BASE, *(k for r in rows for k in r)]))
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in cols})
    return validate(table, **kw).to_pylist()


def fired(row: dict, **kw) -> list[str]:
    return run(row, **kw)[0]["edits"]


def test_valid_abstract_has_no_edits():
    out = run(case())[0]
    assert out == {"case_id": "C1", "edits": [], "n_errors": 0, "messages_zh": [], "messages_en": []}


def test_edit_table_ships_every_edit_with_both_languages():
    edits = load_edits()
    assert len({e.id for e in edits}) == len(edits) >= 30
    assert all(e.zh and e.en and e.severity in ("error", "warning") and e.enabled for e in edits)


@pytest.mark.parametrize(
    "changes, edit, detail",
    [
        ({"dx": "I21.000x005|Q99.999x999"}, "C01", "Q99.999x999"),  # not a code at all
        ({"dx": "I21.000x005|A01.000x002"}, "C02", "A01.000x002 → A01.003"),  # 国临版 with a 医保版 twin
        ({"px": "36.0601|99.9999x999"}, "C03", "99.9999x999"),
        ({"px": "36.0601|00.6600x008"}, "C04", "00.6600x008 → 00.6601"),
        ({"dx": "A00.000|E11.900"}, "P01", "A00.000"),  # 霍乱 is on the grey list
        ({"dx": "J17.0*|A01.000"}, "P02", "J17.0*"),  # asterisk code first
        ({"dx": "V01.x00|S72.000"}, "P03", "V01.x00"),  # external cause first
        ({"px": "00.0100"}, "P04", "00.0100"),  # grey main procedure
        ({"dx": "I21.000x005|E11.900|E11.900"}, "D01", "E11.900"),
        ({"px": "36.0601|36.0601"}, "D02", "36.0601"),
        ({"dx": "I21.000x005|N93.800"}, "S01", "N93.800"),  # female-only dx, male case
        ({"gender": "2", "dx": "I21.000x005|N40.x00"}, "S02", "N40.x00"),  # prostate hyperplasia, woman
        ({"px": "36.0601|70.7701"}, "S03", "70.7701"),  # vaginal operation, man
        ({"gender": "2", "px": "36.0601|60.2100"}, "S04", "60.2100"),  # TURP, woman
        ({"dx": "I21.000x005|P37.100"}, "A01", "P37.100"),  # perinatal code at 65
        ({"age_days": "12"}, "A02", "12"),
        ({"birth_weight": "3200"}, "A03", "3200"),
        ({"los": "-3"}, "V01", "-3"),
        ({"discharge_date": "2023-02-20"}, "V02", "2023-03-01 → 2023-02-20"),
        ({"los": "12"}, "V03", "12 ≠ 7"),
        ({"age": "150"}, "V04", "150"),
        ({"age": "0", "age_days": "400", "birth_weight": "3000", "dx": "P07.100"}, "V05", "400"),
        ({"age": "0", "age_days": "3", "birth_weight": "30000", "dx": "P07.100"}, "V06", "30000"),
        ({"total_cost": "-5"}, "V07", "-5"),
        ({"age": "0", "age_days": "3", "birth_weight": "-2500", "dx": "P07.100"}, "V06", "-2500"),
        ({"icu_hours": "-10"}, "V08", "icu_hours: '-10' is negative"),
        ({"los": "3.5"}, "V08", "los: '3.5' is not a whole number"),
    ],
)
def test_each_code_and_value_edit(changes, edit, detail):
    out = run(case(**changes))[0]
    assert edit in out["edits"], out
    i = out["edits"].index(edit)
    assert out["messages_en"][i].endswith(": " + detail)
    assert out["messages_zh"][i].startswith(edit + " ") and out["messages_zh"][i].endswith("：" + detail)
    severity = {e.id: e.severity for e in load_edits()}
    assert out["n_errors"] == sum(severity[e] == "error" for e in out["edits"])


@pytest.mark.parametrize(
    "changes, edit",
    [
        ({"case_id": None}, "M01"),
        ({"case_id": "  "}, "M01"),
        ({"gender": None}, "M02"),
        ({"gender": "9"}, "M02"),
        ({"gender": "x"}, "M02"),
        ({"age": None}, "M03"),
        ({"dx": ""}, "M04"),
        ({"dx": "|E11.900"}, "M04"),
        ({"age": "0", "dx": "P07.100", "birth_weight": "1400"}, "M05"),
        ({"age": "0", "age_days": "3", "dx": "P07.100"}, "M06"),
        ({"los": None}, "M07"),
        ({"los": "abc"}, "M07"),
        ({"leaving_type": None}, "M08"),
        ({"admission_date": None}, "M09"),
        ({"discharge_date": "not a date"}, "M09"),
        ({"total_cost": None}, "M10"),
    ],
)
def test_missing_fields(changes, edit):
    assert edit in fired(case(**changes))


def test_an_age_in_months_is_read_as_the_grouper_reads_it() -> None:
    """``3月`` is age 0 and 90 days to the grouper: not "age missing" (M03), and the newborn checks judge it."""
    assert "M03" not in fired(case(age="3月", dx="J18.900", px=""))
    assert "V04" in fired(case(age="-3"))  # a negative age is still named by its own edit


@pytest.mark.parametrize(
    "changes",
    [
        {"gender": "2", "dx": "O80.000", "px": "", "age": "29", "birth_weight": "3200"},  # mother: baby weight ok
        {"age": "0", "age_days": "3", "birth_weight": "1400", "dx": "P07.100", "px": ""},  # real newborn
        {"gender": "2", "dx": "N80.000"},  # female dx, woman
        {"dx": "A01.002+G01*"},  # dagger/asterisk pair
        {"los": "1", "discharge_date": "2023-03-01"},  # same-day stay = 1 day
        {"admission_date": "2023/03/01", "discharge_date": "20230308"},  # other date spellings
        # values as exports write them, read as the grouper reads them (the edits' own parser missed these)
        {"leaving_type": "医嘱离院"},
        {"age": "82岁", "los": "7天", "total_cost": "30,000.00元"},
    ],
)
def test_no_false_alarms(changes):
    assert fired(case(**changes)) == []


def test_disable_and_custom_table(tmp_path):
    row = case(dx="I21.000x005|N93.800|E11.900|E11.900")
    assert fired(row) == ["D01", "S01"]
    assert fired(row, disable=["S01"]) == ["D01"]
    path = tmp_path / "edits.csv"
    with open(edits_dir() / "edits.csv", encoding="utf-8") as src, open(path, "w", encoding="utf-8") as dst:
        for line in src:
            dst.write(line.replace("D01,warning,1", "D01,warning,0"))
    assert fired(row, edits=path) == ["S01"]
    with pytest.raises(ValueError):
        load_edits(disable=["ZZ9"])


def test_sex_code_sets_follow_the_mdc_lists_and_categories():
    from drgkit.schemes.tables import load_dicts

    sets = sex_codes("chs-drg-1.1")
    on_list = {}
    for r in load_dicts("chs-drg-1.1", "mdc_dx"):
        on_list.setdefault(r["mdc"], set()).add(r["dx"])
    # never a code the scheme accepts as principal diagnosis for the other sex
    assert not sets["dx_F"] & on_list["MDCM"]
    assert not sets["dx_M"] & (on_list["MDCN"] | on_list["MDCO"])
    assert not sets["dx_F"] & sets["dx_M"] and not sets["px_F"] & sets["px_M"]
    # most of each list is sex-specific; newborn (Z38) and indeterminate-sex (Q56) codes are not
    assert len(sets["dx_F"] & (on_list["MDCN"] | on_list["MDCO"])) > 1500
    assert len(sets["dx_M"] & on_list["MDCM"]) > 250
    assert not any(c.startswith(("Z38", "Q56")) for c in sets["dx_F"] | sets["dx_M"])
    assert "74.1x00" in sets["px_F"] and "60.2100" in sets["px_M"] and "36.0601" not in sets["px_F"] | sets["px_M"]


def test_grey_codes_are_real_table_codes():
    with open(icd_dir() / "grey_dx_chs_v2.csv", encoding="utf-8") as fh:
        assert "A00.000" in {r["code"] for r in csv.DictReader(fh)}


def test_one_row_per_input_row_and_input_types():
    t = generate(3000, seed=5, dirty=0.05)
    out = validate(t)
    assert out.column("case_id").to_pylist() == t.column("case_id").to_pylist()
    pdf = validate(t.to_pandas())
    assert list(pdf["case_id"]) == t.column("case_id").to_pylist()
    assert validate(pl.from_arrow(t)).height == t.num_rows


def test_edits_never_change_grouping_and_cover_invalid_records():
    t = generate(20000, seed=7, dirty=0.05)
    before = drgkit.group(t)
    out = validate(t)
    after = drgkit.group(t)
    assert before.equals(after)
    # every record the grouper refuses as invalid carries an error edit; V08 exactly on the rows the grouper
    # finds a field it cannot read (reason V06)
    invalid = pc.equal(before.column("status"), "invalid")
    assert pc.all(pc.greater(pc.filter(out.column("n_errors"), invalid), 0)).as_py()
    unreadable = pc.fill_null(pc.starts_with(before.column("reason"), "V06"), False).to_pylist()
    assert [("V08" in e) for e in out.column("edits").to_pylist()] == unreadable and any(unreadable)
    # clean synthetic abstracts have no missing-field or impossible-value edits
    clean = validate(generate(5000, seed=7, dirty=0.0))
    flat = set(pc.list_flatten(clean.column("edits")).to_pylist())
    assert not {e for e in flat if e[0] in "MV"}


def test_cli_validate(tmp_path):
    import pyarrow.parquet as pq

    src = tmp_path / "cases.parquet"
    pq.write_table(
        pa.table({c: pa.array([case()[c], case(gender="2", dx="I21.000x005|N40.x00")[c]], pa.string()) for c in BASE}),
        src,
    )
    result = CliRunner().invoke(app, ["validate", str(src), "-o", str(tmp_path / "e.parquet")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = pq.read_table(tmp_path / "e.parquet").to_pylist()
    assert [r["edits"] for r in out] == [[], ["S02"]]


def test_an_own_edit_table_with_an_unknown_id_is_refused(tmp_path):
    import pytest as _pytest

    from drgkit.monitor.edits import load_edits

    own = tmp_path / "own.csv"
    own.write_text("id,severity,enabled,zh,en\nX99,error,1,自定义,my edit\n", encoding="utf-8")
    with _pytest.raises(ValueError, match="'X99' is not one drgkit implements"):
        load_edits(own)
