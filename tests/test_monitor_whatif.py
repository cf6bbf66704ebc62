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
    px = sorted({r["code"] for r in load_dicts(SCHEME, "adrg_codes") if r["list"] == "px"
                 and r["adrg"][:1] in "EFGI"})
    return pdx[::7], cc[::11], px[::13]


@st.composite
def cases(draw):
    pdx, cc, px = pools()
    dx = [draw(st.sampled_from(pdx))] + draw(st.lists(st.sampled_from(cc + pdx[:50]), min_size=1, max_size=4,
                                                         unique=True))
    procs = draw(st.lists(st.sampled_from(px), max_size=2, unique=True))
    return {"dx": dx, "px": procs, "age": draw(st.integers(18, 90)), "sex": draw(st.sampled_from([1, 2]))}


def kernel(rows: list[dict]) -> list[dict]:
    """Group modified cases with the batch kernel (not the reference interpreter whatif uses)."""
    n = len(rows)
    table = pa.table({
        "case_id": [str(i) for i in range(n)],
        "gender": [str(r["sex"]) for r in rows],
        "age": [str(r["age"]) for r in rows],
        "dx": pa.array([r["dx"] for r in rows], pa.list_(pa.string())),
        "px": pa.array([r["px"] for r in rows], pa.list_(pa.string())),
    })
    return drgkit.group(table, scheme=SCHEME).select(["status", "drg", "adrg", "cc_level", "cc_code"]).to_pylist()


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
    got = kernel(variants)
    for want, k in zip(answers, got):
        assert (want["status"], want["drg"], want["adrg"], want["cc_level"]) == \
            (k["status"], k["drg"], k["adrg"], k["cc_level"]), (want, k)
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
    row = next(r for r in cc_rows if r["level"] == "MCC" and r["exclusion_table"] in by_table
               and any(p != r["code"] for p in by_table[r["exclusion_table"]]))
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
    assert drop == {"I50.900": "ES35"}                       # without the MCC: 不伴并发症或合并症
    assert {a["code"]: a["adrg"] for a in w.as_principal}["I50.900"] == "FR2"
    w = whatif("I21.000x005|E11.900", "36.0601", age=65, sex=1, scheme=SCHEME, table="suzhou-2023", level="level3")
    assert w.deciding_procedure == "36.0601" and w.now["adrg"] == "FM1" and w.now["standard_payment"] > 0
    assert "36.0601" in w.text()
    result = CliRunner().invoke(app, ["whatif", "--dx", "J18.900|I50.900", "--age", "75", "--sex", "2", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["now"]["drg"] == "ES31" and d["drop_cc"][0]["drg"] == "ES35"
