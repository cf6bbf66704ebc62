"""Pricing cost relative to grouping the same batch (target: pricing adds < 20 % to grouping time).

    python benchmarks/bench_payment.py [--rows 1000000] [--scheme suzhou-2023] [--table suzhou-2023]

Groups a synthetic batch with drgkit.group, prices it with drgkit.price (levels from the data's
hospital_level column), best of 3 each, and prints both times and their ratio.
"""

from __future__ import annotations

import argparse

from common import best_of

import drgkit
from drgkit.demo import generate
from drgkit.io import canonicalize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--scheme", default="suzhou-2023")
    ap.add_argument("--table", default="suzhou-2023")
    args = ap.parse_args()
    cases = canonicalize(generate(args.rows, scheme=args.scheme, seed=0))
    grouped = drgkit.group(cases, scheme=args.scheme)
    drgkit.price(grouped.slice(0, 1000), args.table)
    g = best_of(lambda: drgkit.group(cases, scheme=args.scheme))
    p = best_of(lambda: drgkit.price(grouped, args.table))
    print(
        f"{args.rows:,} rows: group {g:.3f} s, price {p:.3f} s ({100 * p / g:.1f} % of grouping), "
        f"{args.rows / p:,.0f} rows/s priced"
    )


if __name__ == "__main__":
    main()
