"""What reading real exports costs: the export corpus read one by one, and `drgkit group` on a large Parquet
file with this tree against a baseline commit of the project (both in the same run, alternating).

    python benchmarks/bench_reader.py [--rows 5000000] [--repeat 5] [--baseline ef11c0b]
        [--workdir /tmp/drgkit-bench]

(a) Every file of tests/data/exports (CSV in three encodings, Excel .xlsx/.xls, Parquet, three-table sets):
    time to open, plan and read it into canonical batches; prints per family and in total.
(b) `drgkit group` (a fresh process each) on an N-row `drgkit synth` Parquet file, this tree against the
    baseline commit checked out in a git worktree; the two alternate --repeat times; prints every run, the
    median of each and the ratio of medians (this tree / baseline).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORTS = ROOT / "tests" / "data" / "exports"


def read_corpus() -> None:
    from drgkit.io import open_cases

    manifest = EXPORTS / "manifest.csv"
    if not manifest.exists():
        print(f"(a) no export corpus at {EXPORTS}")
        return
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    total, cases = 0.0, 0
    for row in rows:
        keys = {k: v for k, v in row.items() if v}
        path = EXPORTS / keys["file"]
        extra = {k: EXPORTS / keys[k] for k in ("diagnoses", "procedures") if k in keys}
        t = time.perf_counter()
        source = open_cases(path, **extra)
        n = sum(b.num_rows for b in source.batches())
        total += time.perf_counter() - t
        cases += n
    print(
        f"(a) read {len(rows)} export files ({cases:,} rows) in {total * 1000:.0f} ms "
        f"({total / max(len(rows), 1) * 1000:.1f} ms per file)"
    )


def worktree(commit: str, workdir: Path) -> Path:
    tree = workdir / f"baseline-{commit}"
    if not tree.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit], check=True, capture_output=True
        )
    return tree


def run_group(src_dir: Path, data: Path, out: Path, cache: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src_dir), "DRGKIT_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "drgkit.cli", "group", str(data), "-o", str(out), "-q"], check=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", default="ef11c0b", help="commit to compare with")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/drgkit-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    read_corpus()
    data = args.workdir / f"synth-{args.rows}.parquet"
    if not data.exists():
        subprocess.run(
            [sys.executable, "-m", "drgkit.cli", "synth", "-n", str(args.rows), "-o", str(data), "-q"], check=True
        )
    base = worktree(args.baseline, args.workdir)
    trees = {"this tree": ROOT / "src", f"baseline {args.baseline}": base / "src"}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for name, src in trees.items():  # warm each tree's caches (scheme, numba) once
        run_group(src, data, args.workdir / "warm.parquet", args.workdir / f"cache-{name.split()[0]}")
    for i in range(args.repeat):
        for name, src in trees.items() if i % 2 == 0 else reversed(list(trees.items())):
            seconds = run_group(src, data, args.workdir / "out.parquet", args.workdir / f"cache-{name.split()[0]}")
            times[name].append(seconds)
            print(f"  run {i + 1} {name}: {seconds:.2f} s")
    medians = {name: statistics.median(v) for name, v in times.items()}
    for name, m in medians.items():
        print(f"(b) {name}: median {m:.2f} s over {args.repeat} runs ({args.rows / m:,.0f} rows/s)")
    this, baseline = medians.values()
    print(f"(b) ratio this tree / baseline: {this / baseline:.3f}")


if __name__ == "__main__":
    main()
