"""Small batches are grouped by the jump-program walker instead of the numba kernel (``grouping.batch.SMALL_BATCH``:
a small file never loads the kernel). The walker is then part of every small run's result, so it is held to the
kernel on whole outputs: every column of ``group_canonical`` — status, reason, warnings, groups, complication
level and code, the one-sentence explanations — equal either way, on every scheme; and a table's result does not
depend on how it is cut into batches.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from drgkit.canonical import Options, group_canonical
from drgkit.demo import generate
from drgkit.grouping import batch
from drgkit.io import canonicalize
from drgkit.schemes.compile import load_compiled
from test_differential import ALL_SCHEMES, random_cases


def _cases(scheme: str, n: int, seed: int) -> pa.Table:
    """Random cases from the scheme's own codes (edges: unknown, blank, newborn, boundary ages; numbers as the
    text a file holds) followed by synthetic abstracts with dirty rows (unreadable fields, grey and lower-case
    codes)."""
    random = random_cases(scheme, n, seed)
    random = pa.table(
        {
            k: c.cast(pa.string()) if pa.types.is_integer(c.type) else c
            for k, c in zip(random.column_names, random.columns)
        }
    )
    synthetic = canonicalize(generate(n, scheme=scheme, seed=seed, dirty=0.1))
    synthetic = synthetic.append_column("icu_hours", pa.nulls(synthetic.num_rows, pa.string()))
    return pa.concat_tables([random, synthetic.select(random.column_names)])


def _group(table: pa.Table, scheme: str, walker: bool, monkeypatch: pytest.MonkeyPatch, **kwargs) -> pa.Table:
    with monkeypatch.context() as m:
        m.setattr(batch, "SMALL_BATCH", 1 << 40 if walker else -1)
        m.setattr(batch, "_kernel_loaded", False)
        if walker:  # the kernel must not run at all
            m.setattr(batch, "run_kernel", _no_kernel)
        return group_canonical(table, load_compiled(scheme), **kwargs)


def _no_kernel(*args, **kwargs):
    raise AssertionError("the kernel ran on a small batch")


def _differences(a: pa.Table, b: pa.Table) -> list[str]:
    assert a.column_names == b.column_names
    bad = []
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if not x.equals(y):
            rows = np.flatnonzero(~np.asarray(pc.fill_null(pc.equal(x, y), False)))
            both_null = np.asarray(x.is_null()) & np.asarray(y.is_null())
            rows = [int(r) for r in rows if not both_null[r]]
            bad.append(
                f"{name}: rows {rows[:5]}: {[x[r].as_py() for r in rows[:3]]} != {[y[r].as_py() for r in rows[:3]]}"
            )
    return bad


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_walker_and_kernel_give_the_same_output(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _cases(scheme, 150, seed=sum(map(ord, scheme)))
    for kwargs in ({}, {"explain": "all", "options": Options(fix_case=True, convert_codes=True)}):
        walked = _group(table, scheme, True, monkeypatch, **kwargs)
        kernel = _group(table, scheme, False, monkeypatch, **kwargs)
        assert walked.num_rows == table.num_rows
        bad = _differences(walked, kernel)
        assert not bad, f"{scheme} {kwargs}:\n" + "\n".join(bad)


@pytest.mark.parametrize("scheme", ["chs-drg-1.1", "chs-drg-2.0", "zhejiang-2022"])
def test_result_does_not_depend_on_batch_size(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same cases cut into batches of any size — all walked, all through the kernel, or mixed (a large
    batch loads the kernel, later small ones then take it) — give the same table as one batch."""
    table = _cases(scheme, 600, seed=11)
    compiled = load_compiled(scheme)
    whole = group_canonical(table, compiled).combine_chunks()
    for size, rows in ((1, 120), (37, None), (batch.SMALL_BATCH, None), (batch.SMALL_BATCH + 1, None)):
        cut = table.slice(0, rows)
        with monkeypatch.context() as m:
            m.setattr(batch, "_kernel_loaded", False)
            parts = [group_canonical(cut.slice(at, size), compiled) for at in range(0, cut.num_rows, size)]
        bad = _differences(pa.concat_tables(parts).combine_chunks(), whole.slice(0, rows))
        assert not bad, f"{scheme}, batches of {size}:\n" + "\n".join(bad)


def test_small_batch_takes_the_walker_until_the_kernel_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = load_compiled("chs-drg-1.1")
    table = _cases("chs-drg-1.1", 5, seed=3)
    monkeypatch.setattr(batch, "_kernel_loaded", False)
    calls = []
    real = batch.run_kernel
    monkeypatch.setattr(batch, "run_kernel", lambda *a, **k: calls.append(1) or real(*a, **k))
    group_canonical(table, compiled)
    assert not calls  # walked
    monkeypatch.setattr(batch, "_kernel_loaded", True)
    group_canonical(table, compiled)
    assert calls  # once the kernel is loaded, it runs every batch
