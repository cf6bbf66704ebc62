"""Per-stay benefit settlement at scale (target: 10M stays in under a minute), against baselines measured in
the same run on the same data.

    python benchmarks/bench_benefits.py [--rows 10000000] [--persons 2000000] [--policy example-national]

Builds ``rows`` stays of ``persons`` people over two years (string person ids 人员编号, dates, insurance type,
hospital level, total cost, a 全自费 amount on a third of the stays, age), then times:

* ``drgkit.benefits(table, policy)`` on the in-memory Arrow table (read the columns through the vocabulary,
  sort once, the numba kernel, the output columns);
* baseline 1: a pyarrow sort of the same table by (person, discharge date) — ``sort_indices`` + ``take``;
* baseline 2: writing the table to Parquet and reading it back (what any file-to-file command pays);
* the command end to end: ``drgkit benefits in.parquet -o out.parquet`` (read, settle, write).

Peak memory is the process's peak resident set size after each step (``ru_maxrss``); the first step is the
data itself.  A warm-up call on 1,000 rows compiles (or loads the cached) kernel first.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import drgkit


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_stays(n: int, persons: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    person = rng.integers(0, persons, n)
    ids = pc.binary_join_element_wise("P", pc.utf8_lpad(pa.array(person).cast(pa.string()), 8, "0"), "")
    day = rng.integers(0, 731, n)
    discharge = (np.datetime64("2023-01-01") + day.astype("timedelta64[D]")).astype("datetime64[D]")
    cost = np.round(rng.lognormal(9.2, 1.0, n), 2)
    full = np.where(rng.random(n) < 1 / 3, np.round(cost * rng.uniform(0, 0.2, n), 2), np.nan)
    insurance = pa.array(np.array(["职工", "居民"])[(person % 5 < 2).astype(np.int8)])
    level = pa.array(np.array(["一级", "二级", "三级"])[rng.choice(3, n, p=[0.2, 0.35, 0.45])])
    return pa.table(
        {
            "结算ID": pc.binary_join_element_wise("S", pa.array(np.arange(n)).cast(pa.string()), ""),
            "人员编号": ids,
            "出院日期": pa.array(discharge, pa.date32()),
            "险种类型": insurance,
            "医院等级": level,
            "医疗费总额": cost,
            "全自费金额": pa.array(full, mask=np.isnan(full)),
            "年龄": rng.integers(0, 95, n),
        }
    )


def timed(label: str, n: int, fn) -> float:
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    print(f"  {label:<46} {seconds:7.2f} s  {n / seconds:>12,.0f} stays/s  peak RSS {peak_mb():,.0f} MB", flush=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--persons", type=int, default=2_000_000)
    ap.add_argument("--policy", default="example-national")
    args = ap.parse_args()
    n = args.rows
    t = time.perf_counter()
    stays = make_stays(n, args.persons)
    print(
        f"{n:,} stays of {args.persons:,} persons built in {time.perf_counter() - t:.1f} s "
        f"({stays.nbytes / 2**20:,.0f} MB in Arrow); peak RSS {peak_mb():,.0f} MB",
        flush=True,
    )
    drgkit.benefits(stays.slice(0, 1000), args.policy)  # compile / load the cached kernel

    result = {}
    settle_s = timed(
        "drgkit.benefits (in memory)", n, lambda: result.setdefault("r", drgkit.benefits(stays, args.policy))
    )
    out = result.pop("r")
    settled = out.num_rows - out.column("fund_payment").null_count
    split = pc.add(
        pc.add(out.column("fund_payment"), out.column("critical_illness_payment")),
        pc.add(out.column("assistance_payment"), out.column("patient_payment")),
    )
    worst = pc.max(pc.abs(pc.subtract(split, pc.round(out.column("医疗费总额"), 2)))).as_py()
    del out, split
    sort_s = timed(
        "baseline: pyarrow sort by (person, date) + take",
        n,
        lambda: stays.take(pc.sort_indices(stays, [("人员编号", "ascending"), ("出院日期", "ascending")])),
    )
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "stays.parquet", Path(tmp) / "settled.parquet"
        io_s = timed(
            "baseline: Parquet write + read",
            n,
            lambda: (pq.write_table(stays, src, compression="zstd"), pq.read_table(src)),
        )
        cmd = [sys.executable, "-m", "drgkit.cli", "benefits", str(src), "-o", str(dst), "--policy", args.policy, "-q"]
        cli_s = timed("drgkit benefits in.parquet -o out.parquet", n, lambda: subprocess.run(cmd, check=True))
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"settled {settled:,} of {n:,}; largest |split − total_cost| {worst:.2e} yuan")
    print(
        f"settlement {settle_s:.2f} s = {settle_s / sort_s:.2f} × the pyarrow sort, "
        f"{settle_s / io_s:.2f} × a Parquet write + read; command end to end {cli_s:.1f} s "
        f"(peak RSS of the command {child:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
