"""Adding an atom is one registry entry (plus a kernel opcode only when no existing one fits).

A made-up atom, ``stay_over(n)`` (length of stay above n days), is declared in the registry alone — no edit to
the compiler, the linearizer, the references or the kernel — and a copied scheme that writes it in a DRG split
compiles and groups by it: in the numba kernel, the spec-shaped reference and the jump-program walker alike.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from drgkit.grouping.batch import encode, run_kernel
from drgkit.grouping.reference import Reference
from drgkit.grouping.spec_reference import Case, SpecReference
from drgkit.io import prepare
from drgkit.paths import grouper_dir
from drgkit.schemes import atoms
from drgkit.schemes import program as P
from drgkit.schemes.compile import compile_scheme
from drgkit.schemes.expr import ExprError

STAY_OVER = atoms.Atom(
    "stay_over",
    r"stay_over\((?P<n>\d+)\)",
    (("n", atoms.NUMBER),),
    (P.OP_NUM_GT,),
    lambda v, n: v.los is not None and v.los > n,
    "the stay is longer than n days",
    "住院天数超过 n 天",
    "stay_over(30)",
    encode=lambda n: (P.OP_NUM_GT, P.F_LOS, n),  # an existing opcode: the kernel already compares numbers
)


@pytest.fixture()
def scheme_with_new_atom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(atoms.ATOMS, "stay_over", STAY_OVER)
    folder = tmp_path / "stay-scheme"
    shutil.copytree(grouper_dir() / "chs-drg-1.1", folder)
    manifest = folder / "scheme.toml"
    text = manifest.read_text(encoding="utf-8").replace('id = "chs-drg-1.1"', 'id = "stay-scheme"')
    manifest.write_text(re.sub(r"^sha256 = .*\n", "", text, flags=re.M), encoding="utf-8")
    drg = folder / "drg.csv"
    old = "ES31,呼吸系统感染/炎症，伴严重并发症或合并症,ES3,ES3,1,mcc,"
    assert old in drg.read_text(encoding="utf-8")
    # ES31 (respiratory infection with MCC) now also needs a stay of more than 20 days
    drg.write_text(drg.read_text(encoding="utf-8").replace(old, old + "stay_over(20)"), encoding="utf-8")
    return folder


def test_an_unknown_atom_is_refused_by_name() -> None:
    with pytest.raises(ExprError, match="stay_over"):
        atoms.parse_atom("stay_over(20)")


def test_a_registry_entry_alone_adds_an_atom(scheme_with_new_atom: Path) -> None:
    compiled = compile_scheme(scheme_with_new_atom)
    assert "stay_over(20)" in compiled.atom_text
    cases = [(30, "ES31"), (21, "ES31"), (20, "ES33"), (3, "ES33")]  # MCC I50.900; ES33 takes MCC or CC
    table = pa.table(
        {
            "case_id": [str(i) for i in range(len(cases))],
            "gender": [1] * len(cases),
            "age": [70] * len(cases),
            "los": [los for los, _ in cases],
            "dx": [["J18.900", "I50.900"]] * len(cases),
            "px": [[] for _ in cases],
        }
    )
    enc = encode(prepare(table), compiled)
    out = run_kernel(enc, compiled)
    kernel = [compiled.drg_codes[d] for d in out.drg.tolist()]
    assert kernel == [want for _, want in cases]

    spec = SpecReference(scheme_with_new_atom)
    walker = Reference(compiled)
    for i, (los, want) in enumerate(cases):
        case = Case(dx=["J18.900", "I50.900"], px=[], gender=1, age=70, los=los)
        assert spec.group(case).drg == want
        got = walker.group(enc.dx_ids[enc.dx_off[i] : enc.dx_off[i + 1]], enc.px_ids[0:0], enc.num[i])
        assert compiled.drg_codes[got.drg] == want
