"""DIP: build a catalogue from N synthetic cases and group N cases into it (target: seconds, not minutes).

    python benchmarks/bench_dip.py [--rows 5000000] [--repeat 1]

History and current cases are synthetic (drgkit.demo.generate, different seeds), generated in 1M chunks and
canonicalized once (reading is not timed). Prints the build time, the group time, the settle time and the
catalogue size.
"""

from __future__ import annotations

import argparse
import time

import pyarrow as pa
from common import best_of

from drgkit import dip
from drgkit.demo import generate
from drgkit.io import canonicalize


def synth(rows: int, seed: int) -> pa.Table:
    chunk = 1_000_000
    parts = [generate(min(chunk, rows - i), seed=seed * 1000 + i // chunk, dirty=0.01) for i in range(0, rows, chunk)]
    return canonicalize(pa.concat_tables(parts, promote_options="permissive"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    t = time.perf_counter()
    history, cases = synth(args.rows, 1), synth(args.rows, 2)
    print(f"generated 2 × {args.rows:,} cases in {time.perf_counter() - t:.1f} s (not timed below)")
    holder = {}
    b = best_of(lambda: holder.__setitem__("cat", dip.build(history, threshold=15)), args.repeat)
    cat = holder["cat"]
    kinds = dict(cat.groups["kind"].value_counts().iter_rows())
    print(
        f"build  {args.rows:>10,} cases: {b:6.2f} s  ({args.rows / b:,.0f} cases/s) → {kinds}, "
        f"{cat.aux.height} aux coefficients, core share {cat.info['core_case_share']:.3f}"
    )
    g = best_of(lambda: holder.__setitem__("out", dip.group(cases, cat)), args.repeat)
    print(f"group  {args.rows:>10,} cases: {g:6.2f} s  ({args.rows / g:,.0f} cases/s)")
    out = holder["out"]
    s = best_of(lambda: dip.settle(out, cat, budget=1e10, fund_ratio=0.6), args.repeat)
    print(f"settle {args.rows:>10,} cases: {s:6.2f} s")


if __name__ == "__main__":
    main()
