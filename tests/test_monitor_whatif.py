"""What-if for coders: every answer agrees with re-grouping the modified case through the kernel."""

from __future__ import annotations

import json
from functools import lru_cache

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import drgkit
from drgkit.cli import app
from drgkit.monitor.whatif import whatif
from drgkit.schemes.tables import load_dicts

SCHEME = "chs-drg-1.1"


@lru_cache(maxsize=1)
def pools() -> tuple[list[str], list[str], list[str]]:
    """Real codes: principal diagnoses of common MDCs, CC/MCC codes, OR procedures of surgical ADRGs."""
    pdx = sorted({r["dx"] for r in load_dicts(SCHEME, "mdc_dx") if r["mdc"] in ("MDCE", "MDCF", "MDCG", "MDCI")})
    cc = sorted(r["code"] for r in load_dicts(SCHEME, "cc"))
    px = sorted({r["code"] for r in load_dicts(SCHEME, "adrg_codes") if r["list"] == "px" and r["adrg"][:1] in "EFGI"})
    return pdx[::7], cc[::11], px[::13]


@st.composite
def cases(draw):
    pdx, cc, px = pools()
    dx = [draw(st.sampled_from(pdx))] + draw(
        st.lists(st.sampled_from(cc + pdx[:50]), min_size=1, max_size=4, unique=True)
    )
    procs = draw(st.lists(st.sampled_from(px), max_size=2, unique=True))
    return {"dx": dx, "px": procs, "age": draw(st.integers(18, 90)), "sex": draw(st.sampled_from([1, 2]))}


def kernel(rows: list[dict], scheme: str = SCHEME) -> list[dict]:
    """Group modified cases with the batch kernel (not the reference interpreter whatif uses)."""
    n = len(rows)
    table = pa.table(
        {
            "case_id": [str(i) for i in range(n)],
            "gender": [str(r["sex"]) for r in rows],
            "age": [str(r["age"]) for r in rows],
            "dx": pa.array([r["dx"] for r in rows], pa.list_(pa.string())),
            "px": pa.array([r["px"] for r in rows], pa.list_(pa.string())),
        }
    )
    return drgkit.group(table, scheme=scheme).select(["status", "drg", "adrg", "cc_level", "cc_code"]).to_pylist()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_whatif_agrees_with_regrouping(case):
    w = whatif(case["dx"], case["px"], age=case["age"], sex=case["sex"], scheme=SCHEME)
    base = {k: case[k] for k in ("age", "sex")}
    variants = [dict(base, dx=case["dx"], px=case["px"])]
    answers = [w.now]
    for a in w.as_principal + w.drop_cc:
        variants.append(dict(base, dx=a["dx"], px=case["px"]))
        answers.append(a)
    for a in w.procedures:
        variants.append(dict(base, dx=case["dx"], px=a["px"]))
        answers.append(a)
    for a in w.alternatives:
        variants.append(dict(base, dx=a["dx"], px=a["px"]))
        answers.append(a)
    got = kernel(variants)
    for want, k in zip(answers, got):
        assert (want["status"], want["drg"], want["adrg"], want["cc_level"]) == (
            k["status"],
            k["drg"],
            k["adrg"],
            k["cc_level"],
        ), (want, k)
    # the CC level of the case is the highest level among the secondary diagnoses that count
    counting = {s["level"] for s in w.secondary if s["counts"]}
    expect = "mcc" if "mcc" in counting else ("cc" if "cc" in counting else "none")
    if w.now["status"] != "invalid":
        assert w.now["cc_level"] == expect
    # dropping a CC/MCC that does not count leaves the CC level alone (the group may still change through
    # other rules: e.g. a second injury site makes a multiple-trauma case, MDC Z)
    for a in w.drop_cc:
        s = next(s for s in w.secondary if s["pos"] == a["pos"])
        if not s["counts"] and w.now["status"] != "invalid":
            assert a["cc_level"] == w.now["cc_level"]


def test_exclusion_table_cancels_a_cc():
    # a secondary diagnosis in the principal's own exclusion table does not count
    cc_rows = load_dicts(SCHEME, "cc")
    excl = load_dicts(SCHEME, "cc_exclusion")
    by_table: dict[str, list[str]] = {}
    for r in excl:
        by_table.setdefault(r["exclusion_table"], []).append(r["pdx"])
    row = next(
        r
        for r in cc_rows
        if r["level"] == "MCC"
        and r["exclusion_table"] in by_table
        and any(p != r["code"] for p in by_table[r["exclusion_table"]])
    )
    pdx = next(p for p in by_table[row["exclusion_table"]] if p != row["code"])
    w = whatif([pdx, row["code"]], age=60, sex=1, scheme=SCHEME)
    sec = w.secondary[0]
    assert sec["level"] == "mcc" and sec["excluded"] and not sec["counts"]
    assert w.now["cc_code"] != row["code"]


def test_real_case_and_cli():
    w = whatif("J18.900|I50.900|E11.900", age=75, sex=2, scheme=SCHEME)
    assert w.now["drg"] == "ES31" and w.now["cc_code"] == "I50.900"
    assert [s["level"] for s in w.secondary] == ["mcc", "none"]
    drop = {a["code"]: a["drg"] for a in w.drop_cc}
    assert drop == {"I50.900": "ES35"}  # without the MCC: 不伴并发症或合并症
    assert {a["code"]: a["adrg"] for a in w.as_principal}["I50.900"] == "FR2"
    w = whatif("I21.000x005|E11.900", "36.0601", age=65, sex=1, scheme=SCHEME, table="suzhou-2023", level="level3")
    assert w.deciding_procedure == "36.0601" and w.now["adrg"] == "FM1" and w.now["standard_payment"] > 0
    assert "36.0601" in w.text()
    result = CliRunner().invoke(
        app, ["whatif", "--dx", "J18.900|I50.900", "--age", "75", "--sex", "2", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["now"]["drg"] == "ES31" and d["drop_cc"][0]["drg"] == "ES35"


# --- combinations: drop all CC/MCC, principal swap, added codes, ranking, one entry per group -------------------

TWO_MCC = "J18.900|I50.900|J96.000|E11.900"  # pneumonia with heart failure and respiratory failure (both MCC)


def group_one(dx: list[str], px: list[str] | None = None, age: int = 75, sex: int = 2, scheme: str = SCHEME) -> dict:
    return kernel([{"dx": dx, "px": px or [], "age": age, "sex": sex}], scheme)[0]


def by_kind(w, kind: str) -> list[dict]:
    """Every alternative of ``kind``, whether it heads its group's entry or is listed under ``same_group``."""
    out = []
    for a in w.alternatives:
        for x in [a] + a["same_group"]:
            if x["kind"] == kind:
                out.append(dict(x, drg=a["drg"], status=a["status"]))
    return out


def test_two_mccs_show_the_group_without_complication():
    w = whatif(TWO_MCC, age=75, sex=2, scheme=SCHEME)
    assert w.now["cc_level"] == "mcc"
    assert [s["level"] for s in w.secondary] == ["mcc", "mcc", "none"]
    # dropping one MCC at a time leaves the other: the group does not change
    singles = by_kind(w, "drop_cc")
    assert [a["changes"][0]["code"] for a in singles] == ["I50.900", "J96.000"]
    assert all(a["drg"] == w.now["drg"] for a in singles)
    # dropping both gives the group without complication, as the grouper gives it for the same codes
    [both] = by_kind(w, "drop_all_cc")
    assert both["dx"] == ["J18.900", "E11.900"]
    assert sorted(c["code"] for c in both["changes"]) == ["I50.900", "J96.000"]
    want = group_one(["J18.900", "E11.900"])
    assert both["drg"] == want["drg"] and want["cc_level"] == "none"
    assert both["drg"] != w.now["drg"] and both["drg"][:3] == w.now["drg"][:3] and both["drg"].endswith("5")
    assert "删除全部并发症 I50.900、J96.000" in w.text()


def test_adding_an_mcc_moves_an_uncomplicated_case_to_its_mcc_group():
    w = whatif("J18.900|E11.900", age=75, sex=2, scheme=SCHEME, add_dx=["I50.900", "J96.000"], add_px="96.7201")
    assert w.now["cc_level"] == "none"
    added = {tuple(c["code"] for c in a["changes"]): a for a in by_kind(w, "add_dx")}
    assert set(added) == {("I50.900",), ("J96.000",)}
    a = added[("I50.900",)]
    assert a["dx"] == ["J18.900", "E11.900", "I50.900"] and a["px"] == []
    want = group_one(a["dx"])
    assert a["drg"] == want["drg"] and want["cc_level"] == "mcc" and a["drg"] != w.now["drg"]
    assert a["drg"][:3] == w.now["drg"][:3]  # same ADRG, the MCC split
    # both MCCs give the same group: one entry, the other listed under it
    entry = next(e for e in w.alternatives if e["drg"] == a["drg"])
    assert entry["kind"] == "add_dx" and [x["kind"] for x in entry["same_group"]] == ["add_dx"]
    [px] = by_kind(w, "add_px")
    assert px["px"] == ["96.7201"] and px["drg"] == group_one(px["dx"], px["px"])["drg"]
    [together] = by_kind(w, "add_all")
    assert together["dx"] == ["J18.900", "E11.900", "I50.900", "J96.000"] and together["px"] == ["96.7201"]
    assert together["drg"] == group_one(together["dx"], together["px"])["drg"]
    # a code already in the case is not "added"
    w = whatif("J18.900|E11.900", age=75, sex=2, scheme=SCHEME, add_dx="E11.900")
    assert by_kind(w, "add_dx") == []


def test_principal_swap_gives_the_group_of_the_swapped_case():
    w = whatif(TWO_MCC, age=75, sex=2, scheme=SCHEME)
    swaps = by_kind(w, "as_principal")
    assert [a["changes"][0]["code"] for a in swaps] == ["I50.900", "J96.000", "E11.900"]
    for a in swaps:
        code = a["changes"][0]["code"]
        assert a["changes"][0]["was"] == "J18.900"
        assert a["dx"][0] == code and a["dx"][1] == "J18.900" and sorted(a["dx"]) == sorted(TWO_MCC.split("|"))
        assert a["drg"] == group_one(a["dx"])["drg"]


def _differential(case: dict, scheme: str = SCHEME, **kw) -> None:
    w = whatif(case["dx"], case["px"], age=case["age"], sex=case["sex"], scheme=scheme, **kw)
    rows, want = [], []
    for a in w.alternatives:
        for x in [a] + a["same_group"]:
            rows.append({"dx": x["dx"], "px": x["px"], "age": case["age"], "sex": case["sex"]})
            want.append((a["status"], a["drg"]))
    got = kernel(rows, scheme)
    assert [(g["status"], g["drg"]) for g in got] == want
    # one entry per resulting group; only the entry with the current group is unchanged, and it is last
    keys = [(a["status"], a["drg"]) for a in w.alternatives]
    assert len(keys) == len(set(keys))
    changed = [a["changed"] for a in w.alternatives]
    assert changed == sorted(changed, reverse=True)
    for a in w.alternatives:
        assert a["changed"] == ((a["status"], a["drg"]) != (w.now["status"], w.now["drg"]))
        assert a["condition"] == "only if documented"


DIFFERENTIAL = [
    ({"dx": TWO_MCC.split("|"), "px": [], "age": 75, "sex": 2}, {"add_dx": ["I10.x00"]}),
    ({"dx": ["J18.900", "E11.900"], "px": [], "age": 75, "sex": 2}, {"add_dx": ["I50.900"], "add_px": ["96.7201"]}),
    ({"dx": ["I21.000x005", "E11.900", "I50.900"], "px": ["36.0601"], "age": 65, "sex": 1}, {"add_px": ["37.2200"]}),
    ({"dx": ["I21.000", "E11.900"], "px": ["36.0601"], "age": 65, "sex": 1}, {}),  # grey principal
    ({"dx": ["S72.000", "J96.000"], "px": ["79.3000"], "age": 80, "sex": 2}, {"add_dx": ["N39.000"]}),
    ({"dx": ["I63.900", "J18.900", "I50.900", "N18.500"], "px": [], "age": 70, "sex": 1}, {}),
]


def test_every_alternative_is_the_group_the_grouper_gives():
    for case, kw in DIFFERENTIAL:
        _differential(case, **kw)
    _differential(DIFFERENTIAL[0][0], scheme="suzhou-2023")
    _differential(DIFFERENTIAL[0][0], scheme="chs-drg-2.0", add_dx=["N17.900"])


def test_ranked_by_payment_change_with_a_table():
    w = whatif(
        TWO_MCC, age=75, sex=2, scheme="suzhou-2023", table="suzhou-2023", level="level3", add_dx=["I10.x00", "N17.900"]
    )
    assert w.ranked_by == "payment"
    moved = [a for a in w.alternatives if a["changed"]]
    assert len(moved) >= 3
    deltas = [a["delta"]["payment"] for a in moved]
    assert None not in deltas
    assert [abs(d) for d in deltas] == sorted((abs(d) for d in deltas), reverse=True)
    # each payment is what drgkit.price pays for the group the grouper gives for the same codes
    grouped = drgkit.group(
        pa.table(
            {
                "case_id": [str(i) for i in range(len(moved))],
                "gender": ["2"] * len(moved),
                "age": ["75"] * len(moved),
                "dx": pa.array([a["dx"] for a in moved], pa.list_(pa.string())),
                "px": pa.array([a["px"] for a in moved], pa.list_(pa.string())),
            }
        ),
        scheme="suzhou-2023",
    )
    paid = drgkit.price(grouped, "suzhou-2023", level="level3").column("standard_payment").to_pylist()
    for a, p in zip(moved, paid):
        assert a["payment"] == round(p, 2)
        assert a["delta"]["payment"] == round(a["payment"] - w.now["standard_payment"], 2)
    drop_all = next(a for a in moved if a["kind"] == "drop_all_cc")
    assert drop_all["delta"]["payment"] < 0
    # the CLI ranks the same way
    args = [
        "whatif",
        "--dx",
        TWO_MCC,
        "--age",
        "75",
        "--sex",
        "2",
        "--scheme",
        "suzhou-2023",
        "--table",
        "suzhou-2023",
        "--level",
        "level3",
        "--add-dx",
        "I10.x00",
        "--add-dx",
        "N17.900",
        "--json",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert [a["drg"] for a in d["alternatives"]] == [a["drg"] for a in w.alternatives]


def test_ranked_by_weight_without_a_table_when_the_scheme_has_weights():
    w = whatif(TWO_MCC, age=75, sex=2, scheme="chs-drg-2.0")
    assert w.ranked_by == "weight"
    moved = [a for a in w.alternatives if a["changed"]]
    deltas = [a["delta"]["weight"] for a in moved if a["delta"]["weight"] is not None]
    assert len(deltas) >= 2
    assert [abs(d) for d in deltas] == sorted((abs(d) for d in deltas), reverse=True)
    assert all(a["payment"] is None for a in w.alternatives)
    # no table, no weights: the order of the kinds
    w = whatif(TWO_MCC, age=75, sex=2, scheme=SCHEME, add_dx="N17.900")
    assert w.ranked_by == "order"
    kinds = [a["kind"] for a in w.alternatives if a["changed"]]
    assert kinds == sorted(
        kinds, key=["drop_cc", "drop_all_cc", "as_principal", "add_dx", "add_px", "add_all", "finer"].index
    )


def test_json_shape_and_the_documented_condition():
    result = CliRunner().invoke(
        app,
        [
            "whatif",
            "--dx",
            "J18.900|E11.900",
            "--age",
            "75",
            "--sex",
            "2",
            "--add-dx",
            "I50.900",
            "--add-px",
            "96.7201",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["condition"] == "only if documented"
    assert {"add_dx", "add_px", "add_all", "as_principal"} <= {a["kind"] for a in d["alternatives"]}
    for a in d["alternatives"]:
        assert {
            "kind",
            "changes",
            "status",
            "drg",
            "drg_name",
            "weight",
            "payment",
            "delta",
            "condition",
            "same_group",
            "dx",
            "px",
        } <= set(a)
        assert a["condition"] == "only if documented" and set(a["delta"]) == {"weight", "payment"}
        assert all(c["action"] in ("remove", "principal", "add", "replace") for c in a["changes"])


def test_text_is_plain_chinese_and_fits_80_columns_without_cutting_a_code():
    from rich.cells import cell_len

    for dx, px, kw in (
        (TWO_MCC, "", {"scheme": "suzhou-2023", "table": "suzhou-2023", "level": "level3"}),
        ("J18.900|E11.900", "", {"add_dx": ["I50.900"], "add_px": ["96.7201"]}),
        ("I21.000|E11.900", "36.0601", {"table": "suzhou-2023", "level": "level3"}),
    ):
        w = whatif(dx, px, age=75, sex=2, **kw)
        text = w.text(width=80)
        lines = text.splitlines()
        assert all(cell_len(line) <= 80 for line in lines), text
        assert text.count("仅当病案中有记录时成立") == 1  # once, as a header note
        assert lines[0].startswith("注：") and lines[1].startswith("  ")
        tokens = {
            tok
            for line in lines
            for tok in line.replace("（", " ")
            .replace("）", " ")
            .replace("：", " ")
            .replace("、", " ")
            .replace("，", " ")
            .replace("；", " ")
            .split()
        }
        for a in w.alternatives:
            for x in [a] + a["same_group"]:
                for c in x["changes"]:
                    assert c["code"] in tokens, (c["code"], text)  # every code whole on one line
            assert a["drg"] in tokens
            if a["payment"] is not None:
                assert f"{a['payment']:,.0f}\u00a0元" in text.replace("\n", "")
    w = whatif(TWO_MCC, age=75, sex=2, scheme=SCHEME)
    text = w.text()
    assert "其他诊断：" in text and "MCC 严重并发症，计入" in text and "入组规则 ES3：主要诊断在本组诊断表内" in text
    assert "分组不变：删除并发症 I50.900；删除并发症 J96.000。" in text
