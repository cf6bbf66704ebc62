"""Kernel ≡ spec-shaped reference on a million random cases over every shipped scheme (the suite runs fewer).

    python benchmarks/differential.py [--rows 1000000] [--schemes all|chs-drg-1.1,chs-drg-2.0,...]

Per scheme, half the cases are drawn from the scheme's own tables (:func:`drgkit.grouping.differential.random_cases`)
and half are synthetic abstracts (with the generator's dirty rows) in which procedures are shuffled across cases,
so rules meet unrelated codes. Both halves are grouped by the numba kernel and by the spec-shaped reference (which
reads the tables, not the compiled program). Prints cases compared, each grouper's rate (the kernel's is the
baseline the reference's ratio is given against) and every mismatch; exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pyarrow as pa

from drgkit.demo import generate
from drgkit.grouping.batch import encode, run_kernel
from drgkit.grouping.differential import compare, random_cases
from drgkit.io import canonicalize, prepare
from drgkit.schemes.compile import load_compiled
from drgkit.schemes.tables import list_schemes

CHUNK = 50_000  # cases per comparison call: bounds the reference's Python lists


def scrambled(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    perm = pa.array(rng.permutation(table.num_rows))
    return table.set_column(table.column_names.index("px"), "px", table.column("px").take(perm))


def cases(scheme: str, n: int, seed: int) -> list[pa.Table]:
    """``n`` cases in chunks: table-drawn random cases, then synthetic ones with shuffled procedures."""
    out: list[pa.Table] = []
    half = n // 2
    for start in range(0, half, CHUNK):
        out.append(random_cases(scheme, min(CHUNK, half - start), seed=seed * 1000 + start // CHUNK))
    rest = n - half
    for start in range(0, rest, CHUNK):
        raw = generate(min(CHUNK, rest - start) // 2 + 1, scheme=scheme, seed=seed * 1000 + 500 + start, dirty=0.05)
        out.append(canonicalize(pa.concat_tables([raw, scrambled(raw, seed + start)])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--schemes", default="all")
    args = ap.parse_args()
    schemes = [s.id for s in list_schemes()] if args.schemes == "all" else args.schemes.split(",")
    per = -(-args.rows // len(schemes))
    total = bad = 0
    t_kernel = t_total = 0.0
    t0 = time.perf_counter()
    for k, sid in enumerate(schemes):
        compiled = load_compiled(sid)
        n_scheme = 0
        for table in cases(sid, per, seed=k + 1):
            tk = time.perf_counter()
            run_kernel(encode(prepare(table), compiled), compiled, threads=1)
            t_kernel += time.perf_counter() - tk
            tc = time.perf_counter()
            found = compare(sid, table, compiled=compiled)
            t_total += time.perf_counter() - tc
            for line in found[: max(0, 10 - bad)]:
                print("MISMATCH", line)
            bad += len(found)
            n_scheme += table.num_rows
        total += n_scheme
        print(f"{sid}: {n_scheme:,} cases compared, {time.perf_counter() - t0:.0f} s elapsed", flush=True)
    print(
        f"kernel (prepare+encode+kernel, 1 thread): {total / t_kernel:,.0f} cases/s; "
        f"kernel + spec reference + comparison: {total / t_total:,.0f} cases/s "
        f"({t_total / t_kernel:.0f}× the kernel's time)"
    )
    print(f"kernel == spec reference on {total - bad:,} of {total:,} cases over {len(schemes)} schemes")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
