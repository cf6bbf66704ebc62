"""drgkit audit and validate on a large synthetic year (target: audit of 5M cases well under a minute).

    python benchmarks/bench_audit.py [--rows 5000000]

Builds a planted year (drgkit.monitor.plant), groups and prices it, then times audit() (flags, hospital /
department / doctor signals, quarters; no file output) and validate() (all edits), best of 2 each.
"""

from __future__ import annotations

import argparse
import time

import polars as pl
from common import best_of

import drgkit
from drgkit.monitor.audit import audit
from drgkit.monitor.edits import validate
from drgkit.monitor.plant import planted_year


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--table", default="suzhou-2023")
    args = ap.parse_args()
    t = time.perf_counter()
    year = planted_year(args.rows, seed=0, split_pairs=args.rows // 100, far_pairs=args.rows // 100)
    priced = drgkit.price(drgkit.group(year), args.table)
    print(f"built {priced.num_rows:,} grouped, priced cases in {time.perf_counter() - t:.1f} s")
    frame = pl.from_arrow(priced)
    a = best_of(lambda: audit(frame), repeat=2)
    res = audit(frame)
    planted = pl.Series(year["planted"].to_pylist())
    split = res.cases.filter(planted == "split")["flags"].list.contains("split_admission").mean()
    far = res.cases.filter(planted == "far")["flags"].list.contains("split_admission").mean()
    print(f"audit    {a:6.2f} s  ({priced.num_rows / a:,.0f} cases/s)  split recall {split:.4f}  far FPR {far:.4f}")
    v = best_of(lambda: validate(year), repeat=2)
    print(f"validate {v:6.2f} s  ({year.num_rows / v:,.0f} cases/s)")


if __name__ == "__main__":
    main()
