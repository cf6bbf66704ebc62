"""Kernel ≡ reference interpreter on many random cases (the suite runs a smaller number).

    python benchmarks/differential.py [--rows 1000000] [--schemes chs-drg-1.1,chs-drg-2.0,...]

Cases are synthetic abstracts (with the generator's dirty rows) plus a scrambled copy in which procedures and
secondary diagnoses are shuffled across cases, so rules meet unrelated codes. Prints the number compared and
any mismatch; exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pyarrow as pa

from drgkit.demo import generate
from drgkit.grouping.batch import encode, run_kernel
from drgkit.grouping.reference import Reference
from drgkit.io import canonicalize, prepare
from drgkit.schemes.compile import load_compiled


def scrambled(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    perm = pa.array(rng.permutation(table.num_rows))
    return table.set_column(table.column_names.index("px"), "px", table.column("px").take(perm))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--schemes", default="chs-drg-1.1,chs-drg-2.0,zhejiang-2022,foshan-2022,wuxi-2022,changzhou-2022")
    args = ap.parse_args()
    schemes = args.schemes.split(",")
    per = args.rows // len(schemes)
    total = bad = 0
    t0 = time.perf_counter()
    for k, sid in enumerate(schemes):
        scheme = load_compiled(sid)
        raw = generate(per // 2, scheme=sid, seed=100 + k, dirty=0.05)
        table = canonicalize(pa.concat_tables([raw, scrambled(raw, k)]))
        enc = encode(prepare(table), scheme)
        out = run_kernel(enc, scheme)
        ref = Reference(scheme)
        fields = ("status", "drg", "adrg", "rule", "reason", "cc_level", "cc_pos")
        for i in range(enc.n):
            r = ref.group(
                enc.dx_ids[enc.dx_off[i] : enc.dx_off[i + 1]], enc.px_ids[enc.px_off[i] : enc.px_off[i + 1]], enc.num[i]
            ).as_tuple()
            k_ = tuple(int(getattr(out, f)[i]) for f in fields)
            if r != k_:
                bad += 1
                if bad <= 10:
                    print(f"MISMATCH {sid} row {i}: kernel {k_} reference {r}")
        total += enc.n
        print(f"{sid}: {enc.n:,} cases compared, {time.perf_counter() - t0:.0f} s elapsed", flush=True)
    print(f"kernel == reference on {total - bad:,} of {total:,} cases")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
