"""Grey codes (灰码): a grey principal diagnosis has its own reason (status as the official groupers give it),
grey secondary diagnoses and procedures are named in warnings, and explain / whatif list the finer codes
(细目) to code instead, with their groups."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import drgkit
from drgkit.codes.grey import finer_codes, grey_codes
from drgkit.monitor.whatif import whatif
from drgkit.paths import icd_dir
from drgkit.schemes.compile import load_compiled

INPUT = [
    "case_id",
    "gender",
    "age",
    "age_days",
    "birth_weight",
    "dept",
    "los",
    "leaving_type",
    "dx",
    "px",
    "total_cost",
]


# (grey principals that do not group and get U05, grey principals that group and are warned)
@pytest.mark.parametrize(
    "name, scheme, expected",
    [("chs-drg-1.1-dev.csv", "chs-drg-1.1", (13, 3)), ("chs-drg-2.0-dev.csv", "chs-drg-2.0", (19, 0))],
)
def test_every_grey_principal_of_the_dev_cases_is_named(name: str, scheme: str, expected: int) -> None:
    table = pacsv.read_csv(
        f"tests/data/{name}", convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in INPUT})
    )
    out = drgkit.group(table.select(INPUT), scheme=scheme, options=drgkit.Options(strict_gender=True))
    grey = grey_codes("chs-v2", "dx")
    named = warned = 0
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
            warned += 1
    assert named == expected[0] and warned == expected[1]


def test_grey_secondary_diagnoses_and_procedures_are_warned_in_any_position() -> None:
    t = pa.table(
        {
            "case_id": ["a", "b", "c"],
            "gender": ["1", "1", "1"],
            "age": ["70", "70", "70"],
            "dx": ["J18.900|Z51.100", "J96.000", "J96.000|I10.x00|E11.900"],
            "px": ["", "96.0400|96.7200", "96.7200"],
        }
    )
    rows = drgkit.group(t).to_pylist()
    assert "grey diagnosis code Z51.100 (灰码)" in rows[0]["warnings"]
    assert "grey procedure code 96.7200 (灰码)" in rows[1]["warnings"]
    assert {
        "grey diagnosis code I10.x00 (灰码): code a finer code",  # a main procedure and a middle dx too
        "grey procedure code 96.7200 (灰码): code a finer code",
    } <= set(rows[2]["warnings"].split("; "))
    assert "E11.900" not in rows[2]["warnings"]
    assert rows[0]["status"] == rows[1]["status"] == rows[2]["status"] == "ok"


def test_finer_codes_share_the_stem_and_are_not_grey() -> None:
    scheme = load_compiled("chs-drg-1.1")
    finer = finer_codes(scheme, "dx", "I21.000")
    assert [c for c, _ in finer] == ["I21.000x005", "I21.001", "I21.002", "I21.003", "I21.004"]
    assert all(name for _, name in finer)
    assert [c for c, _ in finer_codes(scheme, "px", "96.7200")] == ["96.7201"]
    grey = grey_codes("chs-v2", "dx")
    assert not any(c in grey for c, _ in finer_codes(scheme, "dx", "S32.800"))


def test_grey_flags_are_compiled_in_per_code_id() -> None:
    for sid in ("chs-drg-1.0", "chs-drg-1.1", "chs-drg-2.0", "beijing-2022"):
        scheme = load_compiled(sid)
        assert scheme.icd == "chs-v2" and scheme.dx_grey.dtype == np.uint8
        for domain in ("dx", "px"):
            codes = scheme.dx_codes if domain == "dx" else scheme.px_codes
            flags = scheme.dx_grey if domain == "dx" else scheme.px_grey
            assert len(flags) == len(codes)
            assert {c for c, f in zip(codes, flags) if f} == grey_codes("chs-v2", domain)
    assert grey_codes("chs-v1", "dx") == frozenset()  # an edition without a published list has none


def test_an_edited_grey_list_changes_the_compiled_cache_key(tmp_path, monkeypatch) -> None:
    from drgkit.schemes import compile as C

    key = C._compiler_key()  # the process's key, computed on first use over the real grey lists
    for f in ("grey_dx_chs_v2.csv", "grey_px_chs_v2.csv"):
        (tmp_path / f).write_bytes((icd_dir() / f).read_bytes())
    monkeypatch.setattr(C, "icd_dir", lambda: tmp_path)
    same = C._compiler_digest()
    assert same == key
    with open(tmp_path / "grey_px_chs_v2.csv", "a", encoding="utf-8") as fh:
        fh.write("96.7201,呼吸机治疗[大于等于96小时]\n")
    assert C._compiler_digest() != same


def test_a_site_unspecified_grey_procedure_offers_its_subcategory() -> None:
    scheme = load_compiled("chs-drg-1.1")
    finer = [c for c, _ in finer_codes(scheme, "px", "79.3000")]  # 骨折开放性复位术伴内固定, site unspecified
    assert len(finer) == 114 and finer[0].startswith("79.31") and any(c.startswith("79.35") for c in finer)
    assert [c for c, _ in finer_codes(scheme, "px", "96.7000")] == ["96.7101", "96.7201"]
    # a grey procedure with codes under its own stem does not borrow its 4th-digit neighbours
    assert all(c.startswith("99.10") for c, _ in finer_codes(scheme, "px", "99.1000"))
    assert finer_codes(scheme, "px", "81.5300") == []  # refined in another category (00.70-00.73): none offered
    e = drgkit.explain(dx="S72.000", px="81.5300", age=65, sex=1)
    assert "字典中其编码下没有细目" in e.text() and "no finer code under its stem" in e.text(lang="en")


def test_explain_lists_the_finer_codes_of_a_grey_principal() -> None:
    e = drgkit.explain(dx="I21.000|E11.900", age=65, sex=1)
    d = e.as_dict()
    assert d["reason"]["code"] == "U05" and d["status"] == "ungroupable" and d["reason"]["detail"] == "I21.000"
    assert d["diagnoses"][0]["grey"] and len(d["diagnoses"][0]["finer_codes"]) == 5
    text = e.text()
    assert "灰码：不能用于结算；可用细目" in text and "I21.001          急性前壁心肌梗死" in text
    assert "请编码到细目: I21.000" in text and "(细目): I21.000" in e.text(
        lang="en"
    )  # the reason names the code, as group's reason column does


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


def test_whatif_caps_the_finer_codes_and_says_how_many_more() -> None:
    w = whatif("S72.000", "79.3000|81.5300", age=65, sex=1)
    wide, none = w.finer
    assert (wide["code"], len(wide["alternatives"]), wide["more"]) == ("79.3000", 20, 94)
    assert all(a["status"] == "ok" and a["drg"] for a in wide["alternatives"])
    assert (none["code"], none["alternatives"], none["more"]) == ("81.5300", [], 0)
    text = w.text()
    assert "细目 finer codes instead (114)" in text and "… 94 more" in text
    assert "81.5300 (手术 px): no finer code 细目" in text


def test_group_explain_says_why_in_one_sentence_per_row(tmp_path) -> None:
    from drgkit.api import group_canonical
    from drgkit.io import canonicalize

    table = canonicalize(
        pa.table(
            {
                "case_id": ["a", "b", "c"],
                "gender": ["1", "1", "1"],
                "age": ["65", "65", None],
                "dx": ["I21.000x005|I50.900", "I21.000", "J18.900"],
                "px": ["36.0601", "", ""],
            }
        )
    )
    scheme = load_compiled("chs-drg-1.1")
    rows = group_canonical(table, scheme, explain="all").to_pylist()
    assert rows[0]["explanation"].startswith("主要诊断 I21.000x005 急性前壁尖部心肌梗死 → MDCF")
    assert f"→ {rows[0]['drg']} " in rows[0]["explanation"] and "MCC：I50.900" in rows[0]["explanation"]
    assert (
        rows[1]["explanation"].startswith("U05 主要诊断为灰码") and "I21.001 急性前壁心肌梗死" in rows[1]["explanation"]
    )
    assert rows[2]["explanation"] == "V02 年龄缺失"
    problems = group_canonical(table, scheme, explain="problems").column("explanation").to_pylist()
    assert problems[0] is None and problems[1:] == [rows[1]["explanation"], rows[2]["explanation"]]


def test_an_unknown_principal_is_explained_with_the_code_to_use() -> None:
    """U01: a code in the wrong letter case, a 4-character code cut short and an unreadable value each say what
    to do, in the batch explanation the workbook's 问题病例 sheet shows."""
    from drgkit.api import group_canonical
    from drgkit.io import canonicalize

    table = canonicalize(
        pa.table(
            {
                "case_id": ["a", "b", "c", "d"],
                "gender": ["1"] * 4,
                "age": ["65"] * 4,
                "los": ["5", "5", "abc", "5"],
                "dx": ["i20.102", "L30.9", "J18.900", "Q99.999x999"],
            }
        )
    )
    rows = group_canonical(table, load_compiled("chs-drg-1.1"), explain="problems").column("explanation").to_pylist()
    assert rows[0].startswith("U01") and "字典编码为 I20.102" in rows[0] and "--fix-case" in rows[0]
    assert "L30.9 不是完整的医保版编码" in rows[1] and "L30.900 皮炎" in rows[1]
    assert rows[2].startswith("V06") and "los: 'abc' is not a number" in rows[2]
    assert "Q99.999x999 不在 chs-drg-1.1 的医保版字典中" in rows[3]


def test_unknown_principal_advice_per_row_once_per_distinct_code() -> None:
    """The advice column over a few rows: one text per asked row (repeats share it), null for the rows not asked
    and for a null code — each branch: letter case, 国临版 twin, a code cut short, not in the dictionary."""
    from drgkit.grouping.sentences import _unknown_advice

    scheme = load_compiled("chs-drg-1.1")
    pdx = pa.array(["i20.102", "A01.000x002", None, "L30.9", "i20.102", "Q99.999x999", "A01.000x002"], pa.string())
    rows = np.array([True, True, True, True, True, True, False])
    out = _unknown_advice(pdx, rows, scheme)
    assert out.type == pa.string()
    assert out.to_pylist() == [
        "；主要诊断 i20.102 大小写不规范，字典编码为 I20.102 冠状动脉痉挛（--fix-case 可自动改正）",
        "；主要诊断 A01.000x002 为国临版编码，医保版为 A01.003 伤寒杆菌性脓毒症（--convert-codes 可自动转换）",
        None,
        "；主要诊断 L30.9 不是完整的医保版编码，字典中以它开头的有："
        "L30.900 皮炎，L30.901 泛发性湿疹，L30.902 湿疹 等6个",
        "；主要诊断 i20.102 大小写不规范，字典编码为 I20.102 冠状动脉痉挛（--fix-case 可自动改正）",
        "；主要诊断 Q99.999x999 不在 chs-drg-1.1 的医保版字典中，请核对编码",
        None,
    ]
