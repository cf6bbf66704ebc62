"""The numba kernel equals the spec-shaped reference on random cases built from real scheme codes.

The reference (:mod:`drgkit.grouping.spec_reference`) reads the scheme's tables, not the compiled program, so
these tests catch a compiler, linearizer or kernel bug alike. Cases are drawn from each scheme's own tables (MDC
principal-diagnosis lists, CC/MCC codes, OR procedures, ADRG and DRG code lists) plus unknown and empty codes,
with ages around the newborn and city split boundaries, missing and zero birth weights, any gender code, LOS,
discharge type, department (including 'ICU') and ICU hours.  Both get the same prepared batch (the kernel its
code ids, the reference its code strings); every output field (status, drg, adrg, rule, reason, cc_level,
cc_pos) must be equal. The jump-program walker (:mod:`drgkit.grouping.reference`, a kernel-debugging aid) is
checked against the kernel too.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgkit.grouping import kernel_program
from drgkit.grouping.batch import encode, run_kernel
from drgkit.grouping.differential import compare, compare_walker, pools, random_cases, to_table
from drgkit.io import prepare
from drgkit.schemes.compile import compile_scheme, load_compiled
from drgkit.schemes.tables import list_schemes

SCHEMES = ["chs-drg-1.1", "chs-drg-2.0", "zhejiang-2022", "foshan-2022", "wuxi-2022", "changzhou-2022"]
ALL_SCHEMES = [s.id for s in list_schemes()]


def test_random_cases_cover_every_outcome() -> None:
    compiled = load_compiled("chs-drg-2.0")
    out = run_kernel(encode(prepare(random_cases("chs-drg-2.0", 3000, seed=0)), compiled), compiled)
    assert set(np.unique(out.status).tolist()) == {0, 1, 2, 3}
    assert len(np.unique(out.drg)) > 200
    assert set(np.unique(out.cc_level).tolist()) == {0, 1, 2}


@pytest.mark.parametrize("scheme", ["chs-drg-2.0", "zhejiang-2022"])
def test_serial_kernel_equals_parallel_kernel(scheme: str) -> None:
    """`drgkit group` runs one serial kernel per batch on small machines; the API runs the parallel one."""
    compiled = load_compiled(scheme)
    enc = encode(prepare(random_cases(scheme, 20_000, seed=7)), compiled)
    serial, parallel = run_kernel(enc, compiled, threads=1), run_kernel(enc, compiled)
    assert (serial.status == 1).any() and (serial.status == 0).any()
    for name in ("status", "drg", "adrg", "rule", "reason", "cc_level", "cc_pos"):
        assert np.array_equal(getattr(serial, name), getattr(parallel, name)), name


@pytest.mark.parametrize("scheme", ["chs-drg-2.0", "zhejiang-2022", "foshan-2022"])
def test_kernel_without_list_bits_equals_reference(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists beyond the case word's bits are tested atom by atom: with no list bits at all, every list atom
    takes that path, and the kernel must still equal the reference."""
    monkeypatch.setattr(kernel_program, "LIST_BITS", 0)
    compiled = compile_scheme(scheme)
    kprog = kernel_program.packed(compiled)
    assert not kprog.dx_word.any() and kprog.atoms.size > 0
    bad = compare(scheme, random_cases(scheme, 4000, seed=11), limit=10, compiled=compiled)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_kernel_equals_reference_numpy_random(scheme: str) -> None:
    n = int(os.environ.get("DRGKIT_DIFF_CASES", "20000"))
    bad = compare(scheme, random_cases(scheme, n, seed=SCHEMES.index(scheme) + 100), limit=10)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_kernel_equals_reference_every_scheme(scheme: str) -> None:
    """All 29 schemes: random cases from the tables, and synthetic abstracts with procedures shuffled across
    cases (``benchmarks/differential.py`` runs a million of these)."""
    from drgkit.demo import generate
    from drgkit.io import canonicalize

    seed = ALL_SCHEMES.index(scheme)
    bad = compare(scheme, random_cases(scheme, 3000, seed=200 + seed), limit=10)
    synthetic = generate(1000, scheme=scheme, seed=300 + seed, dirty=0.05)
    perm = pa.array(np.random.default_rng(seed).permutation(synthetic.num_rows))
    scrambled = synthetic.set_column(synthetic.column_names.index("px"), "px", synthetic.column("px").take(perm))
    bad += compare(scheme, canonicalize(pa.concat_tables([synthetic, scrambled])), limit=10)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("scheme", ["chs-drg-2.0", "zhejiang-2022"])
def test_walker_equals_kernel(scheme: str) -> None:
    """The jump-program walker (the kernel-debugging aid) runs the compiled program as the kernel does."""
    bad = compare_walker(scheme, random_cases(scheme, 3000, seed=400), limit=10)
    assert not bad, "\n".join(bad)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_kernel_equals_reference_million(scheme: str) -> None:
    total = 1_000_000 // len(SCHEMES) + 1
    for start in range(0, total, 50_000):
        bad = compare(scheme, random_cases(scheme, min(50_000, total - start), seed=10_000 + start), limit=10)
        assert not bad, "\n".join(bad)


# --------------------------------------------------------------------------- hypothesis


BOUNDARY_AGES = (1, 6, 7, 13, 14, 15, 16, 17, 18, 60, 65)


def case_strategy(scheme: str) -> st.SearchStrategy[dict]:
    """One case as a dict of small integers (cheap for hypothesis to draw and shrink), mapped to codes."""
    p = pools(scheme)
    raw = st.fixed_dictionaries(
        {
            "newborn": st.integers(0, 4),  # 0: an MDCP principal diagnosis at age 0
            "blank": st.integers(0, 40),  # 0: a blank principal slot before the codes
            "pdx": st.integers(0, len(p.pdx) - 1),
            "nb": st.integers(0, max(len(p.newborn_dx) - 1, 0)),
            "sdx": st.lists(st.integers(-1, len(p.sdx) - 1), max_size=8),  # -1: repeat the principal one
            "px": st.lists(st.integers(0, len(p.px) - 1), max_size=6),
            "gender": st.sampled_from([0, 1, 2, None]),
            "age": st.integers(-len(BOUNDARY_AGES) - 1, 120),  # -1 missing, below: a split boundary age
            "age_days": st.integers(-1, 400),
            "birth_weight": st.integers(-1, 6000),
            "los": st.integers(-1, 150),
            "leaving_type": st.integers(-1, 9),
            "dept": st.integers(0, len(p.depts) - 1),
            "icu_hours": st.integers(-1, 400),
        }
    )

    def build(r: dict) -> dict:
        newborn = r["newborn"] == 0 and bool(p.newborn_dx)
        principal = p.newborn_dx[r["nb"]] if newborn else p.pdx[r["pdx"]]
        dx = [principal] + [principal if i < 0 else p.sdx[i] for i in r["sdx"]]
        if r["blank"] == 0:
            dx = ["", *dx]
        age = 0 if newborn else (None if r["age"] == -1 else BOUNDARY_AGES[-r["age"] - 2] if r["age"] < 0 else r["age"])
        days = None if r["age_days"] < 0 else (r["age_days"] if age == 0 else (age or 0) * 365 + r["age_days"])
        if newborn and days is not None:
            days %= 40
        optional = {k: (None if r[k] < 0 else r[k]) for k in ("birth_weight", "los", "leaving_type", "icu_hours")}
        return {
            "gender": r["gender"],
            "age": age,
            "age_days": days,
            "dept": p.depts[r["dept"]] or None,
            "dx": dx,
            "px": [p.px[i] for i in r["px"]],
            **optional,
        }

    return raw.map(build)


def _hypothesis_test(scheme: str):
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(case_strategy(scheme), min_size=50, max_size=50))
    def check(cases: list[dict]) -> None:
        bad = compare(scheme, to_table(cases), limit=5)
        assert not bad, "\n".join(bad)

    return check


@pytest.mark.parametrize("scheme", SCHEMES)
def test_kernel_equals_reference_hypothesis(scheme: str) -> None:
    pools(scheme)  # load tables outside the timed examples
    _hypothesis_test(scheme)()
