"""The year-end settlement arithmetic of a global budget: 结余留用 (a hospital keeps part of its surplus),
超支分担 (the fund bears part of an overspend, in bands), the reserve cap on what the fund bears, and cents
apportioned so hospitals' amounts add up to the total. Vectorized: hospitals, or draws × hospitals."""

from __future__ import annotations

import math

import numpy as np

from .scenario import Sharing


def apportion_cents(exact: np.ndarray, total_cents: int | None) -> np.ndarray:
    """Integer cents per hospital: round half up, or largest remainder summing to ``total_cents``."""
    cents = exact * 100.0
    if total_cents is None:
        return np.floor(cents + 0.5).astype(np.int64)
    base = np.floor(cents).astype(np.int64)
    rest = int(total_cents - base.sum())
    if rest:
        frac = cents - base
        order = np.argsort(-frac, kind="stable") if rest > 0 else np.argsort(frac, kind="stable")
        k = abs(rest)
        idx = np.resize(order, k)  # wraps when |rest| > hospitals (float noise only)
        np.add.at(base, idx, 1 if rest > 0 else -1)
    return base


def share(payable: np.ndarray, claim: np.ndarray, sh: Sharing) -> np.ndarray:
    """Amount added (≥ 0, overspend shared) or removed (≤ 0, surplus not kept) from the fund payable.

    Works on any shape (hospitals, or draws × hospitals).
    """
    d = payable - claim
    surplus = np.maximum(d, 0.0)
    cap = sh.surplus_cap * claim if math.isfinite(sh.surplus_cap) else np.full_like(claim, np.inf)
    kept = np.minimum(surplus, cap) * sh.surplus_share + np.maximum(surplus - cap, 0.0) * sh.surplus_share_above
    # surplus hospitals are paid C + kept = P − (D − kept)
    over = np.maximum(-d, 0.0)
    shared = np.zeros_like(over)
    lo = np.zeros_like(claim)
    for bound, s in sh.overspend_bands:
        hi = bound * claim if math.isfinite(bound) else np.full_like(claim, np.inf)
        shared += np.clip(over - lo, 0.0, None).clip(max=hi - lo) * s
        lo = hi
    return np.where(d >= 0, kept - surplus, shared)


def cap_reserve(adjust: np.ndarray, budget: float, sh: Sharing) -> np.ndarray:
    """Scale the overspend shares down pro rata when they exceed reserve_share × budget (last axis = hospitals)."""
    if math.isnan(sh.reserve_share):
        return adjust
    pos = np.maximum(adjust, 0.0)
    tot = pos.sum(axis=-1, keepdims=True)
    cap = sh.reserve_share * budget
    scale = np.where(tot > cap, cap / np.where(tot > 0, tot, 1.0), 1.0)
    return np.where(adjust > 0, adjust * scale, adjust)
