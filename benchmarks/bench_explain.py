"""The one-sentence explanations of `drgkit group --explain`: what they add to grouping, against grouping
without them in the same run.

    python benchmarks/bench_explain.py [--rows 10000] [--repeat 5]

Prints the best time of each over --repeat alternating runs (in process, after one warm-up) and the ratio.
"""

from __future__ import annotations

import argparse
import time

from drgkit.api import group_canonical
from drgkit.demo import generate
from drgkit.io import canonicalize
from drgkit.schemes.compile import load_compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scheme", default="chs-drg-1.1")
    args = parser.parse_args()
    table = canonicalize(generate(args.rows, scheme=args.scheme, seed=1))
    scheme = load_compiled(args.scheme)
    group_canonical(table, scheme, explain="all")  # warm
    best = {"without": float("inf"), "--explain all": float("inf"), "--explain problems": float("inf")}
    for _ in range(args.repeat):
        for name, how in (("without", None), ("--explain all", "all"), ("--explain problems", "problems")):
            t = time.perf_counter()
            out = group_canonical(table, scheme, explain=how)
            best[name] = min(best[name], time.perf_counter() - t)
    assert out.num_rows == args.rows
    for name, seconds in best.items():
        print(f"{name:<20} {seconds * 1000:8.1f} ms for {args.rows:,} rows ({args.rows / seconds:,.0f} rows/s)")
    print(f"ratio --explain all / without: {best['--explain all'] / best['without']:.2f}")


if __name__ == "__main__":
    main()
