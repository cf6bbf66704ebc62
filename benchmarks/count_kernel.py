"""Instructions, branches and mispredicted branches per case of the kernel, counted by valgrind (cachegrind).

    python benchmarks/count_kernel.py [--rows 50000] [--scheme chs-drg-1.1]

Timings on a shared machine vary by ±25 % from run to run; these counts do not, so a kernel change can be
judged in one run. The kernel (numba-compiled, one thread) groups the same synthetic batch 2 and 6 times in
two valgrind runs; the difference of the JIT code's counts, divided by 4 × rows, is the cost of one case.
Needs ``valgrind`` on the PATH; numba compiles once more for valgrind's CPU on the first run (minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import sys, numpy as np, pyarrow as pa
from drgkit.grouping.batch import Encoded, run_kernel
from drgkit.schemes.compile import load_compiled
z = np.load(sys.argv[1]); reps = int(sys.argv[3])
no_codes = pa.array([], pa.string())
enc = Encoded(z["dx_off"], z["dx"], z["px_off"], z["px"], z["num"], no_codes, no_codes)
scheme = load_compiled(sys.argv[2])
for _ in range(reps + 1):
    run_kernel(enc, scheme, threads=1)
"""


def jit_counts(out_file: str) -> list[int]:
    """Ir, Bc, Bcm, Bi, Bim of the code without symbols (the numba JIT code) in a cachegrind output."""
    text = subprocess.run(["cg_annotate", out_file], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        if line.rstrip().endswith("???:???"):
            return [int(x.replace(",", "")) for x in re.findall(r"([\d,]+)\s+\(", line)]
    raise SystemExit("no JIT code in the cachegrind output")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--scheme", default="chs-drg-1.1")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed")
    from drgkit.demo import generate
    from drgkit.grouping.batch import encode
    from drgkit.io import canonicalize, prepare
    from drgkit.schemes.compile import load_compiled

    enc = encode(prepare(canonicalize(generate(args.rows, scheme=args.scheme, seed=7))), load_compiled(args.scheme))
    with tempfile.TemporaryDirectory() as tmp:
        data, child = os.path.join(tmp, "cases.npz"), os.path.join(tmp, "child.py")
        np.savez(data, dx_off=enc.dx_off, dx=enc.dx_ids, px_off=enc.px_off, px=enc.px_ids, num=enc.num)
        with open(child, "w") as fh:
            fh.write(CHILD)
        # numba caches a compile per CPU model: compile once for valgrind's CPU outside the counted runs
        subprocess.run(
            ["valgrind", "--tool=none", sys.executable, child, data, args.scheme, "0"], capture_output=True, check=True
        )
        counts = []
        for reps in (2, 6):
            out = os.path.join(tmp, f"cg.{reps}")
            subprocess.run(
                [
                    "valgrind",
                    "--tool=cachegrind",
                    "--branch-sim=yes",
                    "--cache-sim=no",
                    f"--cachegrind-out-file={out}",
                    sys.executable,
                    child,
                    data,
                    args.scheme,
                    str(reps),
                ],
                capture_output=True,
                check=True,
            )
            counts.append(jit_counts(out))
    per = [(b - a) / (4 * args.rows) for a, b in zip(*counts)]
    print(
        f"{args.scheme}, {args.rows:,} synthetic cases, kernel on 1 thread, per case: "
        f"{per[0]:,.0f} instructions, {per[1]:.1f} conditional branches, {per[2]:.2f} mispredicted "
        f"(valgrind's simulated predictor)"
    )


if __name__ == "__main__":
    main()
