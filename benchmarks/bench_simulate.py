"""Global-budget simulator: 1,000 Monte Carlo draws over 1,000,000 cases and 200 hospitals (target < 60 s).

    python benchmarks/bench_simulate.py [--rows 1000000] [--hospitals 200] [--draws 1000] [--cache /tmp/h.parquet]

Generates, groups and prices a synthetic history (Suzhou 2023 scheme and table; cached in --cache when given),
then times: the deterministic settlement of one binding scenario (pricing with drgkit.price, floating rate,
cent apportionment, sharing) and the Monte Carlo draws (numba; compile excluded by a warm-up run).
"""

from __future__ import annotations

import argparse
import os
import time

import polars as pl

import drgkit
from drgkit.demo import generate
from drgkit.simulate import load, run_config
from drgkit.simulate.draws import monte_carlo


def history(rows: int, hospitals: int, cache: str | None) -> pl.DataFrame:
    if cache and os.path.exists(cache):
        return pl.read_parquet(cache)
    raw = generate(rows, scheme="suzhou-2023", seed=0, dirty=0.0, hospitals=hospitals)
    df = pl.from_arrow(drgkit.price(drgkit.group(raw, scheme="suzhou-2023"), "suzhou-2023")).select(
        "hospital", "hospital_level", "drg", "status", "total_cost", "los", "fund_payment"
    )
    if cache:
        df.write_parquet(cache)
    return df


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--hospitals", type=int, default=200)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    t = time.perf_counter()
    hist = history(args.rows, args.hospitals, args.cache)
    print(
        f"history: {hist.height:,} cases, {hist['hospital'].n_unique()} hospitals "
        f"({time.perf_counter() - t:.1f} s to generate/group/price or read)"
    )
    cfg = load(
        {
            "history": {"table": "suzhou-2023"},
            "settlement": {"budget_growth": 0.03},
            "scenario": [{"name": "volume +5%", "volume_growth": 0.05, "hospital_cc_mcc_shift": {"H001": 0.05}}],
        }
    )
    t = time.perf_counter()
    (res,) = run_config(cfg, hist)
    settle = time.perf_counter() - t
    print(
        f"settlement (price + floating rate + sharing): {settle:.2f} s; rate {res.rate:,.2f}; "
        f"Σ fund payable {res.hospitals['fund_payable_cents'].sum() / 100:,.2f} = budget {res.budget:,.2f}"
    )
    monte_carlo(res, cfg.settlement, 2, 0)  # compile / load the numba cache
    t = time.perf_counter()
    d = monte_carlo(res, cfg.settlement, args.draws, 0)
    mc = time.perf_counter() - t
    print(f"{args.draws} draws: {mc:.2f} s; rate p5/p50/p95 " + " / ".join(f"{x:,.2f}" for x in d["rate_q"]))
    print(f"total settlement + draws: {settle + mc:.2f} s (target < 60 s)")


if __name__ == "__main__":
    main()
