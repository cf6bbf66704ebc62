"""How long the pooled fund lasts: income against spending year by year, with Monte Carlo bands on the growth
rates, the indicators a bureau watches and warnings when a year crosses a threshold (``docs/benefits.md``).

Indicators (the benefits digest, §3):

* 当期结余 (balance) = income − spending; 当期结余率 (balance rate) = balance ÷ income;
* 累计结余 (reserve) = last year's reserve + balance;
* 累计结余可支付月数 (months) = reserve ÷ (spending ÷ 12); in principle 6–9 months, above 15 结余过多 (too much),
  below 3 结余不足 (too little) [POLICY-2009-67] — the thresholds are parameters with these defaults.

Projection (values of the base year, growth applied once per year):

* income = active employees × wage × (employer rate × employer share to the pool + employee rate × employee
  share to the pool) + insured residents × (premium + subsidy) + other income; retirees do not contribute;
* spending = inpatient × Π(1 + volume growth)(1 + price growth) + outpatient (the same) + other × Π(1 + growth);
  the inpatient amount may come from a settlement file (the sum of its ``fund_payment``).

Fund TOML::

    name = "某市职工医保统筹基金"
    base_year = 2024                 # the values below are this year's; the forecast starts the year after
    years = 5
    reserve = 1.2e9                  # 累计结余 at the end of the base year (yuan)
    [thresholds]                     # months of spending the reserve covers; defaults [POLICY-2009-67]
    too_little = 3
    target = [6, 9]
    too_much = 15
    [income]
    active = 500000                  # contributing employees
    retired = 150000                 # retirees (reported; they do not contribute)
    wage = 90000                     # average contribution base, yuan per year
    employer_rate = 0.07
    employee_rate = 0.02
    employer_to_pool = 1.0           # shares of each contribution that go to the pooled fund (the rest: 个人账户)
    employee_to_pool = 0.0
    residents = 0                    # insured residents
    premium = 350                    # individual contribution per resident per year
    subsidy = 850                    # fiscal subsidy per resident per year
    other = 0
    growth = { wage = 0.05, active = 0.01, retired = 0.04, residents = 0.0, premium = 0.0, subsidy = 0.0, other = 0.0 }
    [spending]
    inpatient = 2.5e9                # or inpatient_from = "settled.parquet" (× inpatient_scale)
    outpatient = 1.0e9
    other = 1.0e8
    growth = { inpatient_volume = 0.04, inpatient_price = 0.02, outpatient_volume = 0.04,
               outpatient_price = 0.02, other = 0.0 }
    [uncertainty]                    # Monte Carlo: each growth rate + sd × N(0, 1), every year of every draw
    draws = 1000
    seed = 0
    percentiles = [5, 50, 95]
    sd = { wage = 0.01, inpatient_volume = 0.01 }
    [[scenario]]                     # overrides of any value above, side by side with the file's own (baseline)
    name = "DRG reform"
    spending.growth.inpatient_price = 0.0

Every value the forecast needs is given by the file: drgkit ships no insured counts, wages or spending.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DrgkitError


class FundError(DrgkitError, ValueError):
    """A fund file or value that cannot be used; the message names the file and the key."""


#: defaults of the months-of-reserve thresholds [POLICY-2009-67]
THRESHOLDS = {"too_little": 3.0, "target": (6.0, 9.0), "too_much": 15.0}
INCOME_GROWTH = ("wage", "active", "retired", "residents", "premium", "subsidy", "other")
SPENDING_GROWTH = ("inpatient_volume", "inpatient_price", "outpatient_volume", "outpatient_price", "other")
_INCOME_KEYS = (
    "active",
    "retired",
    "wage",
    "employer_rate",
    "employee_rate",
    "employer_to_pool",
    "employee_to_pool",
    "residents",
    "premium",
    "subsidy",
    "other",
    "growth",
)
_SPENDING_KEYS = ("inpatient", "inpatient_from", "inpatient_scale", "outpatient", "other", "growth")
_TOP_KEYS = ("name", "base_year", "years", "reserve", "thresholds", "income", "spending", "uncertainty", "scenario")


@dataclass(frozen=True)
class Fund:
    """One pooled fund's base year, growth rates and thresholds (a scenario is another :class:`Fund`)."""

    name: str
    base_year: int
    years: int
    reserve: float
    income: dict[str, float]
    spending: dict[str, float]
    income_growth: dict[str, float]
    spending_growth: dict[str, float]
    too_little: float = 3.0
    target: tuple[float, float] = (6.0, 9.0)
    too_much: float = 15.0
    draws: int = 0
    seed: int = 0
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)
    sd: dict[str, float] = field(default_factory=dict)
    scenario: str = "baseline"
    description: str = ""


# ---------------------------------------------------------------------------------------------- reading


def _num(where: str, key: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise FundError(f"{where}: {key} must be a number, got {value!r}")
    v = float(value)
    if not lo <= v <= hi:
        bound = f"≥ {lo:g}" if math.isinf(hi) else f"between {lo:g} and {hi:g}"
        raise FundError(f"{where}: {key} must be {bound}, got {v:g}")
    return v


def _table(where: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise FundError(f"{where}: {key} must be a table, got {value!r}")
    return value


def _known(where: str, key: str, data: dict, known: tuple[str, ...]) -> None:
    for name in data:
        if name not in known:
            raise FundError(f"{where}: unknown key {(key + '.' if key else '') + name!r} (known: {', '.join(known)})")


def _growth(where: str, key: str, data: Any, names: tuple[str, ...]) -> dict[str, float]:
    table = _table(where, key, data)
    _known(where, key, table, names)
    return {n: _num(where, f"{key}.{n}", table.get(n, 0.0), lo=-0.99, hi=10.0) for n in names}


def _inpatient_from(where: str, path: Path) -> float:
    """The pooled fund's inpatient spending in a settlement file: the sum of its ``fund_payment``."""
    import pyarrow.compute as pc

    from ..io.results import as_arrow

    if not path.exists():
        raise FundError(f"{where}: spending.inpatient_from: no such file {path}")
    table = as_arrow(path)
    if "fund_payment" not in table.column_names:
        raise FundError(
            f"{where}: spending.inpatient_from: {path} has no fund_payment column (settle it with "
            f"`drgkit benefits`, or price it with `drgkit pay`)"
        )
    return float(pc.sum(table.column("fund_payment")).as_py() or 0.0)


def parse_fund(data: dict, where: str = "fund", folder: Path | None = None) -> tuple[Fund, list[Fund]]:
    """The baseline :class:`Fund` and one per ``[[scenario]]`` (the baseline with the scenario's overrides)."""
    _known(where, "", data, _TOP_KEYS)
    scenarios = data.get("scenario", [])
    if not isinstance(scenarios, list):
        raise FundError(f"{where}: scenario must be a list of [[scenario]] tables")
    base = _fund(data, where, folder, "baseline")
    out = []
    names = {"baseline"}
    for i, s in enumerate(scenarios):
        s = _table(where, f"scenario[{i}]", s)
        name = s.get("name")
        if not isinstance(name, str) or not name:
            raise FundError(f"{where}: scenario[{i}].name is missing")
        if name in names:
            raise FundError(f"{where}: scenario[{i}].name {name!r} is used twice")
        names.add(name)
        merged = _merge(
            copy.deepcopy({k: v for k, v in data.items() if k != "scenario"}),
            {k: v for k, v in s.items() if k not in ("name", "description")},
        )
        out.append(_fund(merged, f"{where}: scenario '{name}'", folder, name, str(s.get("description", ""))))
    return base, out


def _merge(base: dict, over: dict) -> dict:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = value
    return base


def _fund(data: dict, where: str, folder: Path | None, name: str, description: str = "") -> Fund:
    for key in ("base_year", "years", "reserve", "income", "spending"):
        if key not in data:
            raise FundError(f"{where}: {key} is missing")
    base_year = int(_num(where, "base_year", data["base_year"], 1900, 2200))
    years = int(_num(where, "years", data["years"], 1, 100))
    reserve = _num(where, "reserve", data["reserve"])
    inc = _table(where, "income", data["income"])
    _known(where, "income", inc, _INCOME_KEYS)
    income = {
        k: _num(where, f"income.{k}", inc.get(k, 0.0), lo=0.0, hi=1.0 if k.endswith(("_rate", "_pool")) else math.inf)
        for k in _INCOME_KEYS
        if k != "growth"
    }
    if income["active"] and not income["wage"]:
        raise FundError(f"{where}: income.wage is missing (active employees contribute on it)")
    if income["active"] and "employer_to_pool" not in inc and "employee_to_pool" not in inc:
        raise FundError(
            f"{where}: income.employer_to_pool / income.employee_to_pool are missing: the shares of "
            f"each contribution that go to the pooled fund (the rest goes to personal accounts)"
        )
    sp = _table(where, "spending", data["spending"])
    _known(where, "spending", sp, _SPENDING_KEYS)
    spending = {k: _num(where, f"spending.{k}", sp.get(k, 0.0), lo=0.0) for k in ("inpatient", "outpatient", "other")}
    if "inpatient_from" in sp:
        if "inpatient" in sp:
            raise FundError(f"{where}: spending: give inpatient or inpatient_from, not both")
        path = Path(str(sp["inpatient_from"]))
        if not path.is_absolute() and folder is not None:
            path = folder / path
        scale = _num(where, "spending.inpatient_scale", sp.get("inpatient_scale", 1.0), lo=0.0)
        spending["inpatient"] = _inpatient_from(where, path) * scale
    if not any(spending.values()):
        raise FundError(f"{where}: spending: no inpatient, outpatient or other spending")
    th = _table(where, "thresholds", data.get("thresholds", {}))
    _known(where, "thresholds", th, ("too_little", "target", "too_much"))
    target = th.get("target", list(THRESHOLDS["target"]))
    if not isinstance(target, list) or len(target) != 2:
        raise FundError(f"{where}: thresholds.target must be [low, high] months, got {target!r}")
    lo_t, hi_t = (_num(where, f"thresholds.target[{i}]", v, lo=0.0) for i, v in enumerate(target))
    too_little = _num(where, "thresholds.too_little", th.get("too_little", THRESHOLDS["too_little"]), lo=0.0)
    too_much = _num(where, "thresholds.too_much", th.get("too_much", THRESHOLDS["too_much"]), lo=0.0)
    if not too_little <= lo_t <= hi_t <= too_much:
        raise FundError(
            f"{where}: thresholds must satisfy too_little ≤ target low ≤ target high ≤ too_much, got "
            f"{too_little:g}, {lo_t:g}, {hi_t:g}, {too_much:g}"
        )
    un = _table(where, "uncertainty", data.get("uncertainty", {}))
    _known(where, "uncertainty", un, ("draws", "seed", "percentiles", "sd"))
    sd_table = _table(where, "uncertainty.sd", un.get("sd", {}))
    _known(where, "uncertainty.sd", sd_table, INCOME_GROWTH + SPENDING_GROWTH)
    percentiles = un.get("percentiles", [5, 50, 95])
    if not isinstance(percentiles, list) or not percentiles:
        raise FundError(f"{where}: uncertainty.percentiles must list percentiles, got {percentiles!r}")
    return Fund(
        name=str(data.get("name", "")) or "fund",
        base_year=base_year,
        years=years,
        reserve=reserve,
        income=income,
        spending=spending,
        income_growth=_growth(where, "income.growth", inc.get("growth", {}), INCOME_GROWTH),
        spending_growth=_growth(where, "spending.growth", sp.get("growth", {}), SPENDING_GROWTH),
        too_little=too_little,
        target=(lo_t, hi_t),
        too_much=too_much,
        draws=int(_num(where, "uncertainty.draws", un.get("draws", 0), 0, 1_000_000)),
        seed=int(_num(where, "uncertainty.seed", un.get("seed", 0), 0)),
        percentiles=tuple(_num(where, f"uncertainty.percentiles[{i}]", p, 0, 100) for i, p in enumerate(percentiles)),
        sd={k: _num(where, f"uncertainty.sd.{k}", v, lo=0.0, hi=1.0) for k, v in sd_table.items()},
        scenario=name,
        description=description,
    )


def load_fund(source: str | Path | dict) -> tuple[Fund, list[Fund]]:
    """The baseline and the scenarios of a fund TOML file (or a dict)."""
    from ..tomlutil import read_toml

    if isinstance(source, dict):
        return parse_fund(source)
    path = Path(source)
    if not path.exists():
        raise FundError(f"{path}: no such fund file")
    return parse_fund(read_toml(path, FundError), str(path), path.parent)


# -------------------------------------------------------------------------------------------- projection


@dataclass
class Projection:
    """One scenario's years: the central path (the file's growth rates) and, with draws, the draws' paths."""

    fund: Fund
    years: np.ndarray  # calendar years
    central: dict[str, np.ndarray]  # indicator → one value per year
    draws: dict[str, np.ndarray] = field(default_factory=dict)  # indicator → (draws, years)

    def exhausted_year(self) -> int | None:
        """The first year the central path's reserve is below zero (None if it never is)."""
        below = np.flatnonzero(self.central["reserve"] < 0)
        return int(self.years[below[0]]) if below.size else None


def _paths(f: Fund, shocks: dict[str, np.ndarray] | None, n: int) -> dict[str, np.ndarray]:
    """Every indicator, shape (n, years): growth compounded from the base year (plus ``shocks`` per year)."""
    h = f.years

    def level(base: float, rates: list[tuple[str, dict]]) -> np.ndarray:
        factor = np.ones((n, h))
        for name, table in rates:
            g = np.full((n, h), table[name]) + (shocks[name] if shocks is not None and name in shocks else 0.0)
            factor = factor * np.cumprod(1.0 + g, axis=1)
        return base * factor

    gi, gs = f.income_growth, f.spending_growth
    inc = f.income
    active = level(inc["active"], [("active", gi)])
    wage = level(inc["wage"], [("wage", gi)])
    pool_rate = inc["employer_rate"] * inc["employer_to_pool"] + inc["employee_rate"] * inc["employee_to_pool"]
    employee = active * wage * pool_rate
    residents = level(inc["residents"], [("residents", gi)])
    per_head = level(inc["premium"], [("premium", gi)]) + level(inc["subsidy"], [("subsidy", gi)])
    resident = residents * per_head
    other_in = level(inc["other"], [("other", gi)])
    income = employee + resident + other_in
    sp = f.spending
    inpatient = level(sp["inpatient"], [("inpatient_volume", gs), ("inpatient_price", gs)])
    outpatient = level(sp["outpatient"], [("outpatient_volume", gs), ("outpatient_price", gs)])
    other_out = level(sp["other"], [("other", gs)])
    spending = inpatient + outpatient + other_out
    balance = income - spending
    reserve = f.reserve + np.cumsum(balance, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        months = np.where(spending > 0, reserve / (spending / 12.0), np.inf)
        rate = np.where(income != 0, balance / income, np.nan)
    base_income = (
        inc["active"] * inc["wage"] * pool_rate + inc["residents"] * (inc["premium"] + inc["subsidy"]) + inc["other"]
    )
    base_spending = sp["inpatient"] + sp["outpatient"] + sp["other"]
    prev_in = np.concatenate([np.full((n, 1), base_income), income[:, :-1]], axis=1)
    prev_out = np.concatenate([np.full((n, 1), base_spending), spending[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        income_growth = np.where(prev_in > 0, income / prev_in - 1.0, np.nan)
        spending_growth = np.where(prev_out > 0, spending / prev_out - 1.0, np.nan)
    return {
        "income": income,
        "employee_income": employee,
        "resident_income": resident,
        "other_income": other_in,
        "spending": spending,
        "inpatient": inpatient,
        "outpatient": outpatient,
        "other_spending": other_out,
        "balance": balance,
        "balance_rate": rate,
        "reserve": reserve,
        "months": months,
        "income_growth": income_growth,
        "spending_growth": spending_growth,
        "active": active,
        "retired": level(inc["retired"], [("retired", gi)]),
    }


def project(f: Fund) -> Projection:
    """The central path and, with ``f.draws``, Monte Carlo paths (each growth rate + sd × N(0, 1) per year)."""
    central = {k: v[0] for k, v in _paths(f, None, 1).items()}
    out = Projection(fund=f, years=np.arange(f.base_year + 1, f.base_year + 1 + f.years), central=central)
    if f.draws and f.sd:
        rng = np.random.default_rng(f.seed)
        shocks = {name: rng.standard_normal((f.draws, f.years)) * sd for name, sd in sorted(f.sd.items())}
        out.draws = _paths(f, shocks, f.draws)
    return out


def warnings_of(f: Fund, months: float, reserve: float, balance: float) -> list[str]:
    """The threshold a year crosses, as codes: exhausted, too_little, below_target, above_target, too_much,
    deficit (the words are ``fund.warn.<code>`` of ui_words.csv)."""
    out = []
    if reserve < 0:
        out.append("exhausted")
    elif months < f.too_little:
        out.append("too_little")
    elif months < f.target[0]:
        out.append("below_target")
    elif months > f.too_much:
        out.append("too_much")
    elif months > f.target[1]:
        out.append("above_target")
    if balance < 0:
        out.append("deficit")
    return out


def frame(projections: list[Projection]):
    """One row per scenario × year: the indicators of the central path, the draws' percentiles of the months
    and the reserve, the share of draws whose reserve is exhausted by then, and the warnings."""
    import polars as pl

    rows = []
    for p in projections:
        f = p.fund
        for t, year in enumerate(p.years.tolist()):
            c = {k: float(v[t]) for k, v in p.central.items()}
            row = {
                "scenario": f.scenario,
                "year": year,
                **{
                    k: c[k]
                    for k in (
                        "income",
                        "employee_income",
                        "resident_income",
                        "other_income",
                        "spending",
                        "inpatient",
                        "outpatient",
                        "other_spending",
                        "balance",
                        "balance_rate",
                        "reserve",
                        "months",
                        "income_growth",
                        "spending_growth",
                    )
                },
                "warnings": ";".join(warnings_of(f, c["months"], c["reserve"], c["balance"])),
            }
            if p.draws:
                for q in f.percentiles:
                    row[f"months_p{q:g}"] = float(np.percentile(p.draws["months"][:, t], q))
                    row[f"reserve_p{q:g}"] = float(np.percentile(p.draws["reserve"][:, t], q))
                exhausted = (p.draws["reserve"][:, : t + 1] < 0).any(axis=1)
                row["p_exhausted"] = float(exhausted.mean())
            rows.append(row)
    return pl.DataFrame(rows)


def forecast(source: str | Path | dict) -> tuple[Any, list[Projection]]:
    """Project the baseline and every scenario of a fund file: (one row per scenario × year, the projections)."""
    base, scenarios = load_fund(source)
    projections = [project(f) for f in (base, *scenarios)]
    return frame(projections), projections


__all__ = [
    "THRESHOLDS",
    "Fund",
    "FundError",
    "Projection",
    "forecast",
    "frame",
    "load_fund",
    "parse_fund",
    "project",
    "warnings_of",
]
