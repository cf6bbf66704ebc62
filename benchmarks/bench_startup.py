"""Start-up of the command line, measured as whole processes: `drgkit group` on a 3-row file (CSV and Parquet)
and `drgkit explain`, against baselines timed in the same run.

    python benchmarks/bench_startup.py [--runs 9] [--scheme chs-drg-1.1]

Every command runs as its own process (``python -c "from drgkit.cli import app; app()" ARGS``, what the
``drgkit`` console script runs), the commands one after another in each round, so a machine that speeds up or
slows down during the run shifts them all alike. Baselines: ``python -c pass`` (the interpreter),
``python -c "import pyarrow"`` (the floor any Arrow tool pays) and ``drgkit --help``. Caches are warm (one
untimed round first: the compiled scheme cache and numba's cache are written by then), as a user's second run
finds them. Prints each command's median and fastest wall time and its median ratio to the baselines, paired
round by round. The target (issue 20): `group` on a small file and `explain` at most 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic  # (benchmarks/realistic.py: the realistic export, here 3 rows of it)

CLI = [sys.executable, "-c", "from drgkit.cli import app; app()"]


def commands(folder: Path, scheme: str) -> dict[str, list[str]]:
    parquet, csv = realistic.write(3, folder / "three")
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import pyarrow'": [sys.executable, "-c", "import pyarrow"],
        "drgkit --help": [*CLI, "--help"],
        "drgkit group 3 rows CSV": [*CLI, "group", str(csv), "-o", str(folder / "out-csv.parquet"), "-s", scheme],
        "drgkit group 3 rows Parquet": [
            *CLI,
            "group",
            str(parquet),
            "-o",
            str(folder / "out-pq.parquet"),
            "-s",
            scheme,
        ],
        "drgkit explain": [
            *CLI,
            "explain",
            "--dx",
            "I21.000|E11.900|I10.x00",
            "--px",
            "36.0601",
            "--age",
            "65",
            "--sex",
            "1",
            "-s",
            scheme,
        ],
    }


def run(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9, help="timed rounds (each runs every command once)")
    parser.add_argument("--scheme", default="chs-drg-1.1")
    args = parser.parse_args()
    env_path = os.environ.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="drgkit-startup-") as tmp:
        cmds = commands(Path(tmp), args.scheme)
        for argv in cmds.values():  # warm: caches written, files in the page cache
            run(argv)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, argv in cmds.items():
                times[name].append(run(argv))
    baselines = ["python -c pass", "python -c 'import pyarrow'", "drgkit --help"]
    print(f"{sys.executable} (PYTHONPATH={env_path or '-'}), {args.runs} rounds, scheme {args.scheme}")
    print(f"{'command':<30} {'median s':>9} {'best s':>8}   median ratio to: pass / import pyarrow / --help")
    for name, seconds in times.items():
        shown = " / ".join(
            "-" if base == name else f"{statistics.median(a / b for a, b in zip(seconds, times[base])):.2f}"
            for base in baselines
        )
        print(f"{name:<30} {statistics.median(seconds):9.3f} {min(seconds):8.3f}   {shown}")


if __name__ == "__main__":
    main()
