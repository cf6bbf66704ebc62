"""Grey codes (灰码): a grey principal diagnosis has its own reason (status as the official groupers give it),
grey secondary diagnoses and procedures are named in warnings, and explain / whatif list the finer codes
(细目) to code instead, with their groups."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import drgkit
from drgkit.codes.grey import finer_codes, grey_codes
from drgkit.monitor.whatif import whatif
from drgkit.schemes.compile import load_compiled

INPUT = ["case_id", "gender", "age", "age_days", "birth_weight", "dept", "los", "leaving_type", "dx", "px",
         "total_cost"]


@pytest.mark.parametrize("name, scheme, expected", [("chs-drg-1.1-dev.csv", "chs-drg-1.1", 13),
                                                    ("chs-drg-2.0-dev.csv", "chs-drg-2.0", 19)])
def test_every_grey_principal_of_the_dev_cases_is_named(name: str, scheme: str, expected: int) -> None:
    table = pacsv.read_csv(f"tests/data/{name}", convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in INPUT}))
    out = drgkit.group(table.select(INPUT), scheme=scheme, options=drgkit.Options(strict_gender=True))
    grey = grey_codes("chs-v2", "dx")
    named = 0
    for row, label in zip(out.to_pylist(), table.to_pylist()):
        if not row["dx"] or row["dx"][0] not in grey:
            continue
        pdx = row["dx"][0]
        if row["status"] == "ungroupable":
            assert row["reason"].startswith("U05") and row["reason"].endswith(pdx), row
            assert label["exp_status"] != "SUCCESS"  # the reference does not group it either
            named += 1
        else:  # grouped by the rules (as the reference does): still said
            assert f"grey diagnosis code {pdx}" in row["warnings"], row
            assert row["drg"] == label["exp_drg"]
    assert named == expected


def test_grey_secondary_diagnoses_and_procedures_are_warned_in_any_position() -> None:
    t = pa.table({"case_id": ["a", "b"], "gender": ["1", "1"], "age": ["70", "70"],
                  "dx": ["J18.900|Z51.100", "J96.000"], "px": ["", "96.0400|96.7200"]})
    rows = drgkit.group(t).to_pylist()
    assert "grey diagnosis code Z51.100 (灰码)" in rows[0]["warnings"]
    assert "grey procedure code 96.7200 (灰码)" in rows[1]["warnings"]
    assert rows[0]["status"] == rows[1]["status"] == "ok"


def test_finer_codes_share_the_stem_and_are_not_grey() -> None:
    scheme = load_compiled("chs-drg-1.1")
    finer = finer_codes(scheme, "dx", "I21.000")
    assert [c for c, _ in finer] == ["I21.000x005", "I21.001", "I21.002", "I21.003", "I21.004"]
    assert all(name for _, name in finer)
    assert [c for c, _ in finer_codes(scheme, "px", "96.7200")] == ["96.7201"]
    grey = grey_codes("chs-v2", "dx")
    assert not any(c in grey for c, _ in finer_codes(scheme, "dx", "S32.800"))


def test_explain_lists_the_finer_codes_of_a_grey_principal() -> None:
    e = drgkit.explain(dx="I21.000|E11.900", age=65, sex=1)
    d = e.as_dict()
    assert d["reason"]["code"] == "U05" and d["status"] == "ungroupable"
    assert d["diagnoses"][0]["grey"] and len(d["diagnoses"][0]["finer_codes"]) == 5
    text = e.text()
    assert "灰码 grey code" in text and "I21.001          急性前壁心肌梗死" in text


def test_whatif_gives_the_group_and_payment_of_each_finer_code() -> None:
    w = whatif("I21.000|E11.900", "36.0601", age=65, sex=1, table="suzhou-2023", level="level3")
    [grey] = w.finer
    assert grey["code"] == "I21.000" and len(grey["alternatives"]) == 5
    assert w.now["status"] == "ungroupable"
    for alt in grey["alternatives"]:
        again = drgkit.explain(dx=f"{alt['code']}|E11.900", px="36.0601", age=65, sex=1).as_dict()
        assert alt["drg"] == again["drg"] and alt["changed"]
        assert alt["standard_payment"] and alt["standard_payment"] > 0
    assert "细目 finer codes instead (5)" in w.text()


def test_group_explain_says_why_in_one_sentence_per_row(tmp_path) -> None:
    from drgkit.api import group_canonical
    from drgkit.io import canonicalize

    table = canonicalize(pa.table({"case_id": ["a", "b", "c"], "gender": ["1", "1", "1"], "age": ["65", "65", None],
                                   "dx": ["I21.000x005|I50.900", "I21.000", "J18.900"], "px": ["36.0601", "", ""]}))
    scheme = load_compiled("chs-drg-1.1")
    rows = group_canonical(table, scheme, explain="all").to_pylist()
    assert rows[0]["explanation"].startswith("主要诊断 I21.000x005 急性前壁尖部心肌梗死 → MDCF")
    assert f"→ {rows[0]['drg']} " in rows[0]["explanation"] and "MCC：I50.900" in rows[0]["explanation"]
    assert rows[1]["explanation"].startswith("U05 主要诊断为灰码") and "I21.001 急性前壁心肌梗死" in rows[1]["explanation"]
    assert rows[2]["explanation"] == "V02 年龄缺失"
    problems = group_canonical(table, scheme, explain="problems").column("explanation").to_pylist()
    assert problems[0] is None and problems[1:] == [rows[1]["explanation"], rows[2]["explanation"]]
