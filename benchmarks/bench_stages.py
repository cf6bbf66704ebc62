"""CPU seconds per million rows of each per-batch stage of `drgkit group`, on one thread.

    python benchmarks/bench_stages.py [--rows 1000000] [--batch 125000] [--repeat 3] [--workdir /tmp/drgkit-bench]
        [--input realistic|synth]

Stages as `drgkit group` runs them on a Parquet file: read (pyarrow, one thread, the columns `iter_case_batches`
reads dictionary-encoded read so), canonicalize (column mapping, dx/px code lists), prepare (typing, code
normalization, problems), encode (code ids), kernel (one numba thread), outcome (result columns). CPU time
(`time.thread_time`) rather than wall time: on a shared machine it is the steadier measure, and it is what two
batches in flight on two cores compete for. The best of --repeat passes is printed per stage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_end_to_end import make_input

from drgkit.grouping.batch import attach, encode, outcome_columns, run_kernel
from drgkit.io import prepare
from drgkit.io import read as R
from drgkit.schemes.compile import load_compiled

STAGES = ("read", "canonicalize", "prepare", "encode", "kernel", "outcome")


def one_pass(src: Path, batch: int, scheme) -> tuple[dict[str, float], int]:
    """CPU seconds per stage over the whole file, and the number of rows."""
    parquet = pq.ParquetFile(src, pre_buffer=False)
    plan = R._plan(parquet.schema_arrow.names, None, src)
    encoded = R._encoded_sources(parquet.schema_arrow, plan)
    if encoded:
        parquet = pq.ParquetFile(src, pre_buffer=False, read_dictionary=encoded)
    spent = dict.fromkeys(STAGES, 0.0)
    rows = 0
    pieces = parquet.iter_batches(batch_size=batch, use_threads=False)
    while True:
        t0 = time.thread_time()
        piece = next(pieces, None)
        if piece is None:
            break
        t1 = time.thread_time()
        table = R.apply_plan(pa.Table.from_batches([piece]), plan)
        t2 = time.thread_time()
        prep = prepare(table)
        t3 = time.thread_time()
        enc = encode(prep, scheme)
        t4 = time.thread_time()
        out = run_kernel(enc, scheme, 1)
        t5 = time.thread_time()
        attach(table, outcome_columns(prep, enc, out, scheme))
        t6 = time.thread_time()
        for stage, start, end in zip(STAGES, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
            spent[stage] += end - start
        rows += table.num_rows
    return spent, rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=125_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scheme", default="chs-drg-1.1")
    ap.add_argument("--workdir", default="/tmp/drgkit-bench")
    ap.add_argument("--input", choices=("realistic", "synth"), default="realistic")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = make_input(work, args.rows, args.input, "parquet")
    scheme = load_compiled(args.scheme)
    import numba

    numba.set_num_threads(1)
    best = dict.fromkeys(STAGES, float("inf"))
    for _ in range(args.repeat):
        spent, rows = one_pass(src, args.batch, scheme)
        for stage in STAGES:
            best[stage] = min(best[stage], spent[stage] / rows * 1e6)
    ours = sum(best[s] for s in ("canonicalize", "prepare", "encode", "outcome"))
    print(f"CPU s per 1M rows, {args.rows:,} rows in {args.batch:,}-row batches (best of {args.repeat}):")
    for stage in STAGES:
        print(f"  {stage:13s} {best[stage]:.3f}")
    print(f"  canonicalize + prepare + encode + outcome: {ours:.3f}")


if __name__ == "__main__":
    main()
