"""Kernel ≡ spec-shaped reference on random cases drawn from a scheme's own tables.

One generator and one comparer for the suite (``tests/test_differential.py``) and the million-case run
(``benchmarks/differential.py``): cases are drawn from the scheme's MDC principal-diagnosis lists, CC/MCC codes,
OR procedures, ADRG and DRG code lists plus unknown and empty codes, with ages around the newborn and city split
boundaries, missing and zero birth weights, any gender code, LOS, discharge type, department and ICU hours.
:func:`compare` groups them with the numba kernel and with :mod:`~drgkit.grouping.spec_reference` (which reads the
scheme tables, not the compiled program), so a compiler, linearizer or kernel bug shows as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

from ..io import prepare
from ..schemes.compile import load_compiled
from ..schemes.program import CompiledScheme
from ..schemes.tables import SchemeError, load_table
from .batch import encode, run_kernel
from .reference import Reference
from .spec_cache import spec_reference
from .spec_reference import case_from_encoded, kernel_outcome

#: the kernel's outcome fields compared case by case
FIELDS = ("status", "drg", "adrg", "rule", "reason", "cc_level", "cc_pos")

# unknown codes; P07.999x999 is unknown but starts with the prefix of CHS-DRG 2.0's any_dx_prefix(P07.)
UNKNOWN_DX = ["ZZZ.999", "I21.999x999", "i21.000x005", "K35.8", "I10", "P07.999x999"]
UNKNOWN_PX = ["99.9999", "00.0000x999", "36.06"]
DEPTS = ["ICU", "1301", "0801", "1601", "03", "新生儿科", ""]


@dataclass(frozen=True)
class Pools:
    pdx: tuple[str, ...]  # principal diagnoses: MDC lists (+ DRG dx lists, a few unknown codes)
    sdx: tuple[str, ...]  # secondaries: CC/MCC codes, MDC list codes, unknown codes
    px: tuple[str, ...]  # procedures: OR procedures, ADRG and DRG procedure lists, unknown codes
    newborn_dx: tuple[str, ...]  # MDCP principal diagnoses (newborn rules need age 0)
    depts: tuple[str, ...]


def _table(scheme: str, name: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    try:
        return load_table(scheme, name)
    except SchemeError:
        return (), ()


@cache
def pools(scheme: str) -> Pools:
    header, rows = _table(scheme, "mdc_dx")
    mdc_dx = sorted({r[header.index("dx")] for r in rows})
    newborn = sorted({r[header.index("dx")] for r in rows if r[header.index("mdc")] == "MDCP"})
    header, rows = _table(scheme, "cc")
    cc = sorted({r[header.index("code")] for r in rows})
    header, rows = _table(scheme, "or_procedures")
    or_px = sorted({r[header.index("code")] for r in rows})
    header, rows = _table(scheme, "adrg_codes")
    adrg_px = sorted({r[header.index("code")] for r in rows if r[header.index("list")].startswith("px")})
    adrg_dx = sorted({r[header.index("code")] for r in rows if not r[header.index("list")].startswith("px")})
    header, rows = _table(scheme, "drg_codes")
    drg_codes = {r[header.index("code")] for r in rows} if header else set()
    compiled = load_compiled(scheme)
    known_px = set(compiled.px_codes)
    drg_px = sorted(c for c in drg_codes if c in known_px)
    drg_dx = sorted(c for c in drg_codes if c not in known_px)
    depts = tuple(dict.fromkeys([*DEPTS, *compiled.dept_literals]))
    return Pools(
        pdx=tuple(mdc_dx + adrg_dx + drg_dx + UNKNOWN_DX),
        sdx=tuple(cc + mdc_dx[::3] + drg_dx + UNKNOWN_DX),
        px=tuple(or_px + adrg_px + drg_px + UNKNOWN_PX),
        newborn_dx=tuple(newborn),
        depts=depts,
    )


# --------------------------------------------------------------------------- running both groupers


def to_table(cases: list[dict[str, Any]]) -> pa.Table:
    """A canonical table (list<string> codes, integer fields with nulls)."""
    ints = ("gender", "age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours")
    cols = {"case_id": pa.array([str(i) for i in range(len(cases))], pa.string())}
    for name in ints:
        cols[name] = pa.array([c.get(name) for c in cases], pa.int64())
    cols["dept"] = pa.array([c.get("dept") for c in cases], pa.string())
    cols["dx"] = pa.array([c["dx"] for c in cases], pa.list_(pa.string()))
    cols["px"] = pa.array([c["px"] for c in cases], pa.list_(pa.string()))
    return pa.table(cols)


def compare(
    scheme: str, table: pa.Table, limit: int | None = None, compiled: CompiledScheme | None = None
) -> list[str]:
    """Group ``table`` with the kernel and the spec reference; describe every case where they differ."""
    compiled = compiled or load_compiled(scheme)
    prep = prepare(table)
    enc = encode(prep, compiled)
    out = run_kernel(enc, compiled)
    kernel = np.stack([getattr(out, f).astype(np.int64) for f in FIELDS], axis=1).tolist()
    spec = spec_reference(scheme)
    dx_off, px_off = enc.dx_off.tolist(), enc.px_off.tolist()
    dx, px, num = enc.dx_flat.to_pylist(), enc.px_flat.to_pylist(), enc.num.tolist()
    dept = prep.dept.to_pylist() if prep.dept is not None else [None] * enc.n
    bad = []
    for i in range(enc.n):
        case = case_from_encoded(
            dx[dx_off[i] : dx_off[i + 1]],
            px[px_off[i] : px_off[i + 1]],
            num[i],
            None if dept[i] is None else str(dept[i]),
        )
        want = spec.group(case, trace=False).as_tuple()
        got = kernel_outcome(compiled, *kernel[i])
        if got != want:
            row = {k: v[0] for k, v in table.slice(i, 1).to_pydict().items()}
            bad.append(f"{scheme} case {row}: kernel {dict(zip(FIELDS, got))} != reference {dict(zip(FIELDS, want))}")
            if limit is not None and len(bad) >= limit:
                break
    return bad


def compare_walker(scheme: str, table: pa.Table, limit: int | None = None) -> list[str]:
    """Group ``table`` with the kernel and the jump-program walker (both read the compiled program)."""
    compiled = load_compiled(scheme)
    enc = encode(prepare(table), compiled)
    out = run_kernel(enc, compiled)
    kernel = np.stack([getattr(out, f).astype(np.int64) for f in FIELDS], axis=1)
    ref = Reference(compiled)
    dx_ids, px_ids, num = enc.dx_ids.tolist(), enc.px_ids.tolist(), enc.num.tolist()
    bad = []
    for i in range(enc.n):
        want = ref.group(
            dx_ids[enc.dx_off[i] : enc.dx_off[i + 1]], px_ids[enc.px_off[i] : enc.px_off[i + 1]], num[i]
        ).as_tuple()
        got = tuple(int(v) for v in kernel[i])
        if got != want:
            bad.append(f"{scheme} case {i}: kernel {dict(zip(FIELDS, got))} != walker {dict(zip(FIELDS, want))}")
            if limit is not None and len(bad) >= limit:
                break
    return bad


# --------------------------------------------------------------------------- numpy-random cases


def random_cases(scheme: str, n: int, seed: int) -> pa.Table:
    """``n`` random cases, vectorized where it matters (codes drawn by index)."""
    p = pools(scheme)
    rng = np.random.default_rng(seed)
    pdx, sdx, pxs, nb = (np.array(x, dtype=object) for x in (p.pdx, p.sdx, p.px, p.newborn_dx))
    n_sdx = np.minimum(rng.poisson(2.5, n), 10)
    n_px = np.where(rng.random(n) < 0.4, 0, np.minimum(rng.poisson(1.5, n) + 1, 6))
    newborn_case = rng.random(n) < 0.12
    principal = np.where(
        newborn_case & (len(nb) > 0),
        nb[rng.integers(0, max(len(nb), 1), n)] if len(nb) else "",
        pdx[rng.integers(0, len(pdx), n)],
    )
    blank_principal = rng.random(n) < 0.01
    sec = sdx[rng.integers(0, len(sdx), n_sdx.sum())]
    same_as_pdx = rng.random(n_sdx.sum()) < 0.03  # a secondary repeating the principal diagnosis
    sec_parent = np.repeat(np.arange(n), n_sdx)
    sec = np.where(same_as_pdx, principal[sec_parent], sec)
    proc = pxs[rng.integers(0, len(pxs), n_px.sum())]
    sec_split = np.split(sec, np.cumsum(n_sdx)[:-1])
    px_split = np.split(proc, np.cumsum(n_px)[:-1])
    dx_lists = [
        ([""] if b else []) + [str(c)] + [str(x) for x in s] if not (b and len(s) == 0) else [str(c)]
        for c, b, s in zip(principal, blank_principal, sec_split)
    ]
    px_lists = [[str(x) for x in s] for s in px_split]

    age = rng.integers(0, 101, n)
    age = np.where(rng.random(n) < 0.25, 0, age)
    age = np.where(newborn_case, 0, age)
    boundary_ages = np.array([1, 6, 7, 13, 14, 15, 16, 17, 18, 60, 65])
    age = np.where(rng.random(n) < 0.1, boundary_ages[rng.integers(0, len(boundary_ages), n)], age)
    age_days = np.where(age == 0, rng.integers(0, 401, n), np.where(rng.random(n) < 0.5, age * 365, -1))
    age_days = np.where((age == 0) & (rng.random(n) < 0.4), rng.integers(0, 29, n), age_days)
    weight_choices = np.array([-1, 0, 499, 500, 999, 1000, 1499, 1500, 1999, 2000, 2499, 2500, 3000, 4000])
    weight = np.where(
        rng.random(n) < 0.6, weight_choices[rng.integers(0, len(weight_choices), n)], rng.integers(300, 5000, n)
    )
    gender = rng.choice(np.array([0, 1, 2, -1]), n, p=[0.04, 0.47, 0.47, 0.02])
    age = np.where(rng.random(n) < 0.02, -1, age)
    los = np.where(rng.random(n) < 0.05, -1, rng.integers(0, 121, n))
    leaving = rng.choice(np.array([-1, 1, 2, 3, 4, 5, 9]), n, p=[0.05, 0.55, 0.1, 0.1, 0.05, 0.1, 0.05])
    icu = np.where(rng.random(n) < 0.5, 0, rng.integers(0, 301, n))
    icu = np.where(rng.random(n) < 0.1, rng.choice(np.array([1, 119, 120, 121, -1]), n), icu)
    depts = np.array(p.depts, dtype=object)
    dept = depts[rng.integers(0, len(depts), n)]

    def col(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.int64(), mask=values < 0)

    return pa.table(
        {
            "case_id": pa.array(np.arange(n).astype(str)),
            "gender": col(gender),
            "age": col(age),
            "age_days": col(age_days),
            "birth_weight": col(weight),
            "dept": pa.array([None if d == "" else d for d in dept.tolist()], pa.string()),
            "los": col(los),
            "leaving_type": col(leaving),
            "icu_hours": col(icu),
            "dx": pa.array(dx_lists, pa.list_(pa.string())),
            "px": pa.array(px_lists, pa.list_(pa.string())),
        }
    )
