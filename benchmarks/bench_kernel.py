"""Kernel throughput after encoding, and the speed-up over the reference interpreter (the naive baseline).

    python benchmarks/bench_kernel.py [--rows 2000000] [--scheme chs-drg-1.1] [--ref-rows 20000] [--repeat 3]
                                      [--input synth|realistic]

Prints abstracts/s for 1 thread and for all threads (per core), the reference interpreter's rate measured in
the same run, and their ratio. Numbers are for comparing runs on one machine; see docs/performance.md.
The 1-thread and all-thread timings alternate ``--repeat`` times and the best of each is kept: on a shared
machine another job holding a core for a few seconds would otherwise decide the per-core figure.
``--input realistic``: the wide export of ``benchmarks/realistic.py`` (every row a fresh combination of 1–16
diagnoses and 0–8 procedures drawn across the dictionaries) instead of ``drgkit synth``'s scheme-shaped cases.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
from common import best_of

from drgkit.demo import generate
from drgkit.grouping.batch import encode, run_kernel
from drgkit.grouping.reference import Reference
from drgkit.io import canonicalize, prepare
from drgkit.schemes.compile import load_compiled


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--scheme", default="chs-drg-1.1")
    ap.add_argument("--ref-rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3, help="alternating timings of 1 thread and all threads")
    ap.add_argument("--input", choices=("synth", "realistic"), default="synth")
    args = ap.parse_args()
    scheme = load_compiled(args.scheme)
    t = time.perf_counter()
    if args.input == "realistic":
        from realistic import generate as realistic

        raw = realistic(args.rows, seed=7)
    else:
        raw = generate(args.rows, scheme=args.scheme, seed=7)
    enc = encode(prepare(canonicalize(raw)), scheme)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"numba threads {numba.config.NUMBA_NUM_THREADS}; scheme {scheme.id}; "
        f"{args.rows:,} {args.input} abstracts prepared+encoded in {time.perf_counter() - t:.1f} s"
    )
    run_kernel(enc, scheme)  # compile / load the cache
    n_threads = numba.config.NUMBA_NUM_THREADS
    one = allc = float("inf")
    for _ in range(args.repeat):
        one = min(one, best_of(lambda: run_kernel(enc, scheme, threads=1), repeat=1))
        allc = min(allc, best_of(lambda: run_kernel(enc, scheme, threads=n_threads), repeat=1))
    rate1 = args.rows / one
    rate_all = args.rows / allc
    print(f"kernel, 1 thread : {rate1 / 1e6:8.2f} M abstracts/s")
    print(
        f"kernel, {n_threads} threads: {rate_all / 1e6:8.2f} M abstracts/s  "
        f"({rate_all / n_threads / 1e6:.2f} M/s per core, parallel speed-up {rate_all / rate1:.2f}x)"
    )
    ref = Reference(scheme)
    k = min(args.ref_rows, args.rows)
    t = time.perf_counter()
    for i in range(k):
        ref.group(
            enc.dx_ids[enc.dx_off[i] : enc.dx_off[i + 1]], enc.px_ids[enc.px_off[i] : enc.px_off[i + 1]], enc.num[i]
        )
    ref_rate = k / (time.perf_counter() - t)
    print(f"reference interpreter (pure Python, with trace): {ref_rate:,.0f} abstracts/s")
    print(
        f"speed-up kernel (1 thread) vs reference: {rate1 / ref_rate:,.0f}x; "
        f"kernel (all threads) vs reference: {rate_all / ref_rate:,.0f}x"
    )


if __name__ == "__main__":
    main()
