"""One scenario's settled result (the engine makes it, the Monte Carlo draws and the report read it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ..io.results import LeftOut
from .scenario import Sharing


@dataclass
class ScenarioResult:
    name: str
    method: str
    budget: float
    binding: bool
    factor: float  # rate factor f (× every table rate)
    rate: float  # f × reference rate (rate_or_point_value)
    reference_rate: float
    hospitals: pl.DataFrame  # one row per hospital
    cases: pl.DataFrame  # per-case pieces (h, w, A, Cp, pat, cost, cell keys)
    basis: str
    fund_ratio: float
    sharing: Sharing
    iterations: int = 1
    draws: dict = field(default_factory=dict)
    #: how patients' payments were found: a benefit policy by person and year, or the flat share, with the
    #: number of cases each and why (drgkit.payment.price.patient_basis_summary)
    patient_basis: dict = field(default_factory=dict)
    #: rows of the history that are no stays (totals rows, blank rows: drgkit.io.results.LeftOut), left out
    left_out: LeftOut = field(default_factory=LeftOut)
