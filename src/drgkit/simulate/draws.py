"""Monte Carlo over case volumes (numba): percentiles of the rate / point value and of hospital revenue.

Cases are pooled into cells (hospital × DRG × case type × insurance type), each carrying its expected count
λ (Σ case weights) and per-case means of the settlement pieces (A, Cp, co-pay, cost). A draw gives every
hospital a volume shock ε_h ~ lognormal(−σ²/2, σ) (mean 1; σ = ``volume_shock_sd``) and every cell a Poisson
count N_c ~ Poisson(λ_c·ε_h) — a Poisson bootstrap of each hospital's cases at cell level plus a hospital-wide
shock. The budget is fixed, so the rate floats per draw exactly as in the deterministic settlement; sharing
applies per draw. Draw ``d`` reseeds with ``seed + d`` so results do not depend on thread scheduling.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit, prange

from .result import ScenarioResult
from .scenario import Settlement
from .sharing import cap_reserve, share


@njit(parallel=True, cache=True)
def _draw_kernel(cell_h, lam, a, cp, pat, cost, shocks, seed):  # pragma: no cover - compiled
    n_draws, n_h = shocks.shape
    out = np.zeros((5, n_draws, n_h))
    for d in prange(n_draws):
        np.random.seed(seed + d)
        for c in range(lam.shape[0]):
            h = cell_h[c]
            mu = lam[c] * shocks[d, h]
            if mu <= 0.0:
                continue
            k = np.random.poisson(mu)
            if k == 0:
                continue
            out[0, d, h] += k * a[c]
            out[1, d, h] += k * cp[c]
            out[2, d, h] += k * pat[c]
            out[3, d, h] += k * cost[c]
            out[4, d, h] += k
    return out


def cells(pieces: pl.DataFrame, hospitals: list[str]) -> pl.DataFrame:
    keys = ["hospital", "drg", "case_type"] + (["pay_insurance"] if "pay_insurance" in pieces.columns else [])
    w = pl.col("_w")
    c = (
        pieces.group_by(keys)
        .agg(
            w.sum().alias("lam"),
            (w * pl.col("_A")).sum().alias("sa"),
            (w * pl.col("_Cp")).sum().alias("scp"),
            (w * pl.col("_pat")).sum().alias("spat"),
            (w * pl.col("_cost")).sum().alias("scost"),
        )
        .filter(pl.col("lam") > 0)
    )
    idx = {h: i for i, h in enumerate(hospitals)}
    lam = pl.col("lam")
    return c.with_columns(
        h=pl.col("hospital").replace_strict(idx, return_dtype=pl.Int64),
        a=pl.col("sa") / lam,
        cp=pl.col("scp") / lam,
        pat=pl.col("spat") / lam,
        cost=pl.col("scost") / lam,
    ).sort("h", "drg")


def simulate_sums(c: pl.DataFrame, n_hospitals: int, draws: int, sd: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shocks = rng.lognormal(-0.5 * sd * sd, sd, size=(draws, n_hospitals)) if sd > 0 else np.ones((draws, n_hospitals))
    arr = {k: np.ascontiguousarray(c[k].to_numpy().astype(np.float64)) for k in ("lam", "a", "cp", "pat", "cost")}
    return _draw_kernel(
        np.ascontiguousarray(c["h"].to_numpy().astype(np.int64)),
        arr["lam"],
        arr["a"],
        arr["cp"],
        arr["pat"],
        arr["cost"],
        np.ascontiguousarray(shocks),
        int(seed),
    )


def monte_carlo(r: ScenarioResult, st: Settlement, draws: int, seed: int) -> dict:
    hospitals = r.hospitals["hospital"].to_list()
    c = cells(r.cases, hospitals)
    W, Cp, pat, cost, n = simulate_sums(c, len(hospitals), draws, st.volume_shock_sd, seed)
    rho = r.fund_ratio
    if r.binding:
        sa, scp, spat = W.sum(1), Cp.sum(1), pat.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (r.budget - (scp - spat)) / sa if r.basis == "fund" else (r.budget / rho - scp) / sa
    else:
        f = np.full(draws, r.factor)
    fc = f[:, None]
    if r.basis == "fund":
        payable, claim = fc * W + Cp - pat, cost - pat
    else:
        payable, claim = rho * (fc * W + Cp), rho * cost
    final = payable + cap_reserve(share(payable, claim, r.sharing), r.budget, r.sharing)
    revenue = final + pat
    margin = revenue - cost
    qs = tuple(st.percentiles)
    return {
        "n": draws,
        "percentiles": qs,
        "rate": f * r.reference_rate,
        "rate_q": np.nanpercentile(f * r.reference_rate, qs),
        "revenue_q": np.nanpercentile(revenue, qs, axis=0),
        "fund_q": np.nanpercentile(final, qs, axis=0),
        "margin_q": np.nanpercentile(margin, qs, axis=0),
        "cases_q": np.nanpercentile(n, qs, axis=0),
    }
