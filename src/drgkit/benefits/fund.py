"""How long the pooled fund (统筹基金) lasts: income against spending year by year, with Monte Carlo bands on the
growth rates, the indicators a bureau watches and warnings when a year crosses a threshold (``docs/fund.md``).

Indicators (the benefits digest, §3):

* 当期结余 (current balance) = income − spending; 当期结余率 (balance rate) = balance ÷ income;
* 累计结余 (accumulated reserve) = last year's reserve + balance;
* 累计结余可支付月数 (months of spending the reserve covers) = reserve ÷ (spending ÷ 12); in principle 6–9 months,
  above 15 结余过多 (too much), below 3 结余不足 (too little) [POLICY-2009-67] — parameters with these defaults.

Projection (the base year's values, each growth rate applied once a year, compounded):

* income = active employees × contribution base (wage) × (employer rate × employer share to the pool + employee
  rate × employee share to the pool) + insured residents × (premium + subsidy) + other income. Retirees do not
  contribute to the employees' insurance, so ageing (retirees growing faster than active employees) slows income;
* spending = inpatient × Π(1 + volume growth)(1 + price growth) + outpatient (the same) + other × Π(1 + growth);
  the inpatient amount may be the sum of ``fund_payment`` of a settlement (``drgkit benefits`` / ``drgkit pay``),
  and ``inpatient_scale`` multiplies it (a benefit change the settlement does not carry yet).

The keys are listed with their meaning in ``tables/fund/example-employees.toml`` and ``docs/fund.md``. Every value
comes from the file: drgkit ships no region's insured counts, wages or spending — the shipped files under
``tables/fund/`` are examples built from the digest's national ranges plus values labelled [ASSUMPTION].
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DrgkitError


class FundError(DrgkitError, ValueError):
    """A fund file or value that cannot be used; the message names the file and the key."""


#: defaults of the months-of-reserve thresholds [POLICY-2009-67, as commonly cited]
THRESHOLDS: dict[str, Any] = {"too_little": 3.0, "target": (6.0, 9.0), "too_much": 15.0}
#: the shipped example `drgkit fund forecast --example` runs
EXAMPLE = "example-employees"
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
_THRESHOLD_KEYS = ("too_little", "target", "too_much", "min_balance_rate", "max_growth_gap")
_TOP_KEYS = (
    "name",
    "title",
    "example",
    "base_year",
    "years",
    "reserve",
    "thresholds",
    "income",
    "spending",
    "uncertainty",
    "scenario",
)
#: what a scenario may change: the policy and the economy, not the yardstick (thresholds) or the horizon —
#: scenarios side by side must share the years and the thresholds they are judged by
_SCENARIO_KEYS = ("name", "description", "reserve", "income", "spending", "uncertainty")
BASELINE = "baseline"


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
    min_balance_rate: float | None = None
    max_growth_gap: float | None = None
    draws: int = 0
    seed: int = 0
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)
    sd: dict[str, float] = field(default_factory=dict)
    scenario: str = BASELINE
    description: str = ""
    example: bool = False


# ---------------------------------------------------------------------------------------------- reading


def _num(where: str, key: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise FundError(f"{where}: {key} must be a number, got {value!r}")
    v = float(value)
    if not lo <= v <= hi:
        bound = f"≥ {lo:g}" if math.isinf(hi) else f"between {lo:g} and {hi:g}"
        raise FundError(f"{where}: {key} must be {bound}, got {v:g}")
    return v


def _int(where: str, key: str, value: Any, lo: float, hi: float) -> int:
    v = _num(where, key, value, lo, hi)
    if v != int(v):
        raise FundError(f"{where}: {key} must be a whole number, got {v:g}")
    return int(v)


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


@lru_cache(maxsize=8)
def _settled_fund_payment(path: Path, mtime: float) -> float | None:
    """The sum of ``fund_payment`` of a settlement file (None without that column); cached because every
    scenario that keeps the baseline's settlement would read it again (``mtime`` keys a changed file)."""
    import pyarrow.compute as pc

    from ..io.results import as_arrow

    table = as_arrow(path)
    if "fund_payment" not in table.column_names:
        return None
    return float(pc.sum(table.column("fund_payment")).as_py() or 0.0)


def _inpatient_from(where: str, path: Path) -> float:
    """The pooled fund's inpatient spending in a settlement file: the sum of its ``fund_payment``."""
    if not path.is_file():
        raise FundError(f"{where}: spending.inpatient_from: no such file {path}")
    total = _settled_fund_payment(path.resolve(), path.stat().st_mtime)
    if total is None:
        raise FundError(
            f"{where}: spending.inpatient_from: {path} has no fund_payment column (settle it with "
            f"`drgkit benefits`, or price it with `drgkit pay --benefits`)"
        )
    return total


def parse_fund(data: dict, where: str = "fund", folder: Path | None = None) -> tuple[Fund, list[Fund]]:
    """The baseline :class:`Fund` and one per ``[[scenario]]`` (the baseline with the scenario's overrides)."""
    data = _table(where, "the file", data)
    _known(where, "", data, _TOP_KEYS)
    scenarios = data.get("scenario", [])
    if not isinstance(scenarios, list):
        raise FundError(f"{where}: scenario must be a list of [[scenario]] tables")
    base = _fund(data, where, folder, BASELINE)
    out = []
    names = {BASELINE}
    for i, s in enumerate(scenarios):
        s = _table(where, f"scenario[{i}]", s)
        name = s.get("name")
        if not isinstance(name, str) or not name.strip():
            raise FundError(f"{where}: scenario[{i}].name is missing")
        if name in names:
            raise FundError(f"{where}: scenario[{i}].name {name!r} is used twice")
        for key in s:
            if key not in _SCENARIO_KEYS:
                raise FundError(
                    f"{where}: scenario '{name}': {key} cannot change in a scenario (scenarios share the base "
                    f"year, horizon and thresholds; they may change: {', '.join(_SCENARIO_KEYS[2:])})"
                )
        names.add(name)
        over = {k: v for k, v in s.items() if k not in ("name", "description")}
        merged = copy.deepcopy({k: v for k, v in data.items() if k != "scenario"})
        # a scenario's inpatient spending replaces the baseline's, whichever way each gives it
        sp_over = over.get("spending")
        if isinstance(sp_over, dict) and isinstance(merged.get("spending"), dict):
            for given, other in (("inpatient", "inpatient_from"), ("inpatient_from", "inpatient")):
                if given in sp_over and other not in sp_over:
                    merged["spending"].pop(other, None)
        merged = _merge(merged, over)
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
    base_year = _int(where, "base_year", data["base_year"], 1900, 2200)
    years = _int(where, "years", data["years"], 1, 100)
    reserve = _num(where, "reserve", data["reserve"])
    inc = _table(where, "income", data["income"])
    _known(where, "income", inc, _INCOME_KEYS)
    income = {
        k: _num(where, f"income.{k}", inc.get(k, 0.0), lo=0.0, hi=1.0 if k.endswith(("_rate", "_pool")) else math.inf)
        for k in _INCOME_KEYS
        if k != "growth"
    }
    if income["active"]:
        if not income["wage"]:
            raise FundError(f"{where}: income.wage is missing (active employees contribute on it)")
        # no default: which part of a contribution reaches the pool (the rest: 个人账户, personal accounts) is
        # local policy, and a silent 0 or 1 would change the income by the whole employee or employer part
        for key in ("employer_to_pool", "employee_to_pool"):
            if key not in inc:
                raise FundError(
                    f"{where}: income.{key} is missing: the share of the "
                    f"{key.split('_')[0]}'s contribution that goes to the pooled fund (the rest goes to personal "
                    f"accounts), 0–1"
                )
    if income["residents"] and not (income["premium"] or income["subsidy"]):
        raise FundError(f"{where}: income.premium / income.subsidy are missing (insured residents pay them)")
    if not (income["active"] or income["residents"] or income["other"]):
        raise FundError(f"{where}: income: no active employees, residents or other income")
    sp = _table(where, "spending", data["spending"])
    _known(where, "spending", sp, _SPENDING_KEYS)
    spending = {k: _num(where, f"spending.{k}", sp.get(k, 0.0), lo=0.0) for k in ("inpatient", "outpatient", "other")}
    if "inpatient_from" in sp:
        if "inpatient" in sp:
            raise FundError(f"{where}: spending: give inpatient or inpatient_from, not both")
        path = Path(str(sp["inpatient_from"]))
        if not path.is_absolute() and folder is not None:
            path = folder / path  # relative to the fund file, so a folder of inputs moves as one
        spending["inpatient"] = _inpatient_from(where, path)
    spending["inpatient"] *= _num(where, "spending.inpatient_scale", sp.get("inpatient_scale", 1.0), lo=0.0)
    if not any(spending.values()):
        raise FundError(f"{where}: spending: no inpatient, outpatient or other spending")
    th = _table(where, "thresholds", data.get("thresholds", {}))
    _known(where, "thresholds", th, _THRESHOLD_KEYS)
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
    # the digest names 结余率 and the growth of income against spending as indicators a bureau sets, with no
    # number: these two warnings are off unless the file sets them
    min_rate = th.get("min_balance_rate")
    gap = th.get("max_growth_gap")
    un = _table(where, "uncertainty", data.get("uncertainty", {}))
    _known(where, "uncertainty", un, ("draws", "seed", "percentiles", "sd"))
    sd_table = _table(where, "uncertainty.sd", un.get("sd", {}))
    _known(where, "uncertainty.sd", sd_table, INCOME_GROWTH + SPENDING_GROWTH)
    percentiles = un.get("percentiles", [5, 50, 95])
    if not isinstance(percentiles, list) or len(percentiles) < 2:
        raise FundError(f"{where}: uncertainty.percentiles must list at least two percentiles, got {percentiles!r}")
    pcts = tuple(_num(where, f"uncertainty.percentiles[{i}]", p, 0, 100) for i, p in enumerate(percentiles))
    if list(pcts) != sorted(set(pcts)):
        raise FundError(f"{where}: uncertainty.percentiles must rise without repeats, got {percentiles!r}")
    example = data.get("example", False)
    if not isinstance(example, bool):
        raise FundError(f"{where}: example must be true or false, got {example!r}")
    return Fund(
        name=str(data.get("title") or data.get("name") or "") or "fund",
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
        min_balance_rate=None if min_rate is None else _num(where, "thresholds.min_balance_rate", min_rate, -1, 1),
        max_growth_gap=None if gap is None else _num(where, "thresholds.max_growth_gap", gap, 0, 1),
        draws=_int(where, "uncertainty.draws", un.get("draws", 0), 0, 1_000_000),
        seed=_int(where, "uncertainty.seed", un.get("seed", 0), 0, 2**63 - 1),
        percentiles=pcts,
        sd={k: _num(where, f"uncertainty.sd.{k}", v, lo=0.0, hi=1.0) for k, v in sd_table.items()},
        scenario=name,
        description=description,
        example=example,
    )


def examples_dir() -> Path:
    """The shipped example funds (``tables/fund/`` in a checkout, ``drgkit/_data/tables/fund`` installed)."""
    from ..paths import tables_dir

    return tables_dir() / "fund"


def list_examples() -> list[str]:
    """The names of the shipped example funds (``example-employees`` first)."""
    return sorted((p.stem for p in examples_dir().glob("*.toml")), key=lambda s: (s != EXAMPLE, s))


def load_fund(source: str | Path | dict) -> tuple[Fund, list[Fund]]:
    """The baseline and the scenarios of a fund TOML file, a shipped example's name, or a dict."""
    from ..tomlutil import read_toml

    if isinstance(source, dict):
        return parse_fund(source)
    path = Path(source)
    where = str(path)
    if not path.exists():
        shipped = examples_dir() / f"{source}.toml"
        if path.suffix or not shipped.is_file():
            raise FundError(f"{path}: no such fund file or shipped example (shipped: {', '.join(list_examples())})")
        path, where = shipped, str(source)
    return parse_fund(read_toml(path, FundError), where, path.parent)


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
            # a shock may not take a count, a wage or a spending below zero (the file's own rates stop at −0.99)
            g = np.maximum(g, -0.99)
            factor = factor * np.cumprod(1.0 + g, axis=1)
        return base * factor

    gi, gs = f.income_growth, f.spending_growth
    inc = f.income
    active = level(inc["active"], [("active", gi)])
    retired = level(inc["retired"], [("retired", gi)])
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
        retired_share = np.where(active + retired > 0, retired / (active + retired), np.nan)
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
        "retired": retired,
        "retired_share": retired_share,
    }


def project(f: Fund) -> Projection:
    """The central path and, with ``f.draws``, Monte Carlo paths: each growth rate named in ``f.sd`` plus
    sd × N(0, 1), drawn independently for every year of every draw from ``f.seed``. Every scenario of a file
    draws the same shocks (the same seed and rates), so the gap between two scenarios' bands is the scenario's,
    not sampling noise."""
    central = {k: v[0] for k, v in _paths(f, None, 1).items()}
    out = Projection(fund=f, years=np.arange(f.base_year + 1, f.base_year + 1 + f.years), central=central)
    if f.draws and f.sd:
        rng = np.random.default_rng(f.seed)
        # sorted: the stream each rate gets does not depend on the order the file lists them
        shocks = {name: rng.standard_normal((f.draws, f.years)) * sd for name, sd in sorted(f.sd.items())}
        out.draws = _paths(f, shocks, f.draws)
    return out


#: warning codes, most serious first (the words are ``fund.warn.<code>`` of ui_words.csv)
WARNINGS = (
    "exhausted",
    "too_little",
    "below_target",
    "above_target",
    "too_much",
    "deficit",
    "low_balance_rate",
    "growth_gap",
)


def warnings_of(f: Fund, year: dict[str, float]) -> list[str]:
    """The thresholds one year's central values cross, as codes (see :data:`WARNINGS`). The months' codes
    exclude each other: an exhausted reserve is not also "too little", too much is not also above target."""
    months, reserve = year["months"], year["reserve"]
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
    if year["balance"] < 0:
        out.append("deficit")
    if f.min_balance_rate is not None and year["balance_rate"] < f.min_balance_rate:
        out.append("low_balance_rate")
    gap = year["spending_growth"] - year["income_growth"]
    if f.max_growth_gap is not None and gap > f.max_growth_gap:
        out.append("growth_gap")
    return out


_FRAME = (
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
    "active",
    "retired",
    "retired_share",
)


def frame(projections: list[Projection]):
    """One row per scenario × year: the indicators of the central path, the draws' percentiles of the months
    and the reserve, the share of draws whose reserve is exhausted by then, and the warnings."""
    import polars as pl

    rows = []
    for p in projections:
        f = p.fund
        for t, year in enumerate(p.years.tolist()):
            c = {k: float(v[t]) for k, v in p.central.items()}
            row = {"scenario": f.scenario, "year": year, **{k: c[k] for k in _FRAME}}
            row["warnings"] = ";".join(warnings_of(f, c))
            if p.draws:
                for q in f.percentiles:
                    row[f"months_p{q:g}"] = float(np.percentile(p.draws["months"][:, t], q))
                for q in f.percentiles:
                    row[f"reserve_p{q:g}"] = float(np.percentile(p.draws["reserve"][:, t], q))
                exhausted = (p.draws["reserve"][:, : t + 1] < 0).any(axis=1)
                row["p_exhausted"] = float(exhausted.mean())
            rows.append(row)
    return pl.DataFrame(rows)


def forecast(source: str | Path | dict, draws: int | None = None, seed: int | None = None):
    """Project the baseline and every scenario of a fund file (a path, a shipped example's name or a dict):
    (one row per scenario × year, the projections). ``draws`` / ``seed`` override the file's."""
    from dataclasses import replace

    base, scenarios = load_fund(source)
    funds = [base, *scenarios]
    if draws is not None:
        funds = [replace(f, draws=draws) for f in funds]
    if seed is not None:
        funds = [replace(f, seed=seed) for f in funds]
    projections = [project(f) for f in funds]
    return frame(projections), projections


__all__ = [
    "BASELINE",
    "EXAMPLE",
    "THRESHOLDS",
    "WARNINGS",
    "Fund",
    "FundError",
    "Projection",
    "examples_dir",
    "forecast",
    "frame",
    "list_examples",
    "load_fund",
    "parse_fund",
    "project",
    "warnings_of",
]
