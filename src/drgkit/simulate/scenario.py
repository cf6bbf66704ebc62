"""Scenario files (TOML) for the global-budget simulator, validated field by field.

Every local or assumed number is a parameter whose default carries its provenance from the spec digest
``dip-and-drg-payment-spec.md`` (see ``docs/simulate.md``). A bad file raises :class:`ScenarioError` with one
message naming the field (``scenario[2].budget``, ``sharing.overspend_bands[0]``, ``history.path`` …).

Layout::

    [history]
    path = "history.parquet"       # grouped cases (parquet/csv/arrow), relative to this file
    table = "suzhou-2023"          # payment table id or CSV path (DRG weights or DIP/DRG points)
    hospital_column = "hospital"
    level_column = "hospital_level"

    [settlement]
    method = "drg_rate"            # drg_rate | drg_points | dip
    budget = 1.0e9                 # fund budget (yuan); or
    budget_growth = 0.05           # growth over the history's fund spending (spec §3.1 "by growth rate")
    binding = true                 # true: the rate / point value floats to exhaust the budget
    budget_basis = "auto"          # fund (Σ payment − co-pay = budget, §4.5/4.6) | fund_ratio (Σ payment × ratio, §3.2)
    fund_ratio = nan               # 医保支付比例 for fund_ratio; nan = from the history (1 − co-pay / cost)
    comparator = "provisional"     # outliers judged at the provisional rate (§2.4 note) | final (fixed point)
    prepay_ratio = 0.9             # monthly pre-payment ratio (§3.3 example 90 %)
    volume_shock_sd = 0.05         # Monte Carlo: SD of each hospital's log volume shock [ASSUMPTION]
    seed = 0
    percentiles = [5, 50, 95]

    [sharing]                      # 结余留用 / 超支分担, spec §4.7 [ASSUMPTION]
    surplus_cap = inf              # surplus up to surplus_cap × claims is kept at surplus_share
    surplus_share = 1.0
    surplus_share_above = 0.0
    overspend_bands = [[0.10, 0.5]]  # steps [upper bound as share of claims, share the fund bears]
    reserve_share = nan            # area cap on shared overspend, share of the budget (调剂金, e.g. 0.05, §3.4)

    [policy]                       # drgkit.payment policy keys (outlier thresholds, co-pay …)

    [[scenario]]
    name = "baseline"

    [[scenario]]
    name = "upcoding"
    cc_mcc_shift = 0.05            # CC/MCC share +5 points in every ADRG that splits
    rate_change = 0.0              # provisional rate × (1 + change)
    base_rate = 9000               # provisional rate (reference level); point_value for point methods
    level_coefficients = { level3 = 1.25 }
    weights = { ES31 = 1.2 }
    volume_growth = 0.03
    hospital_volume_growth = { H001 = 0.10 }
    drg_volume_growth = { GB15 = -0.2 }
    hospital_cc_mcc_shift = { H002 = 0.10 }
    budget = 1.1e9 / budget_growth / binding     # per-scenario overrides
    [scenario.policy]              # policy overrides, e.g. low_ratio = 0.3, high_bands = [[1, 3], [inf, 2]]
    [scenario.sharing]             # sharing overrides
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import DrgkitError
from ..tomlutil import read_toml

METHODS = ("drg_rate", "drg_points", "dip")
BASES = ("auto", "fund", "fund_ratio")
COMPARATORS = ("provisional", "final")


class ScenarioError(DrgkitError, ValueError):
    """A scenario file or value that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Sharing:
    surplus_cap: float = math.inf
    surplus_share: float = 1.0
    surplus_share_above: float = 0.0
    overspend_bands: tuple[tuple[float, float], ...] = ((0.10, 0.5),)
    reserve_share: float = math.nan


@dataclass(frozen=True)
class Settlement:
    method: str = "drg_rate"
    budget: float = math.nan
    budget_growth: float = math.nan
    binding: bool = True
    budget_basis: str = "auto"
    fund_ratio: float = math.nan
    comparator: str = "provisional"
    prepay_ratio: float = 0.9
    volume_shock_sd: float = 0.05
    seed: int = 0
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)

    @property
    def basis(self) -> str:
        if self.budget_basis != "auto":
            return self.budget_basis
        return "fund_ratio" if self.method == "dip" else "fund"


@dataclass(frozen=True)
class History:
    path: str = ""
    table: str = ""
    hospital_column: str = "hospital"
    level_column: str = "hospital_level"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    budget: float | None = None
    budget_growth: float | None = None
    binding: bool | None = None
    base_rate: float | None = None
    point_value: float | None = None
    rate_change: float = 0.0
    level_coefficients: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    volume_growth: float = 0.0
    hospital_volume_growth: dict = field(default_factory=dict)
    drg_volume_growth: dict = field(default_factory=dict)
    cc_mcc_shift: float = 0.0
    hospital_cc_mcc_shift: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    sharing: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    history: History
    settlement: Settlement
    sharing: Sharing
    policy: dict
    scenarios: tuple[Scenario, ...]
    base_dir: Path = Path(".")

    def history_path(self) -> Path | None:
        if not self.history.path:
            return None
        p = Path(self.history.path)
        return p if p.is_absolute() else self.base_dir / p

    def sharing_for(self, s: Scenario) -> Sharing:
        return _sharing(dict(s.sharing), f"scenario '{s.name}'.sharing", self.sharing) if s.sharing else self.sharing


# ---------------------------------------------------------------------------------------------------- checks


def _num(
    where: str,
    v: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    allow_inf: bool = False,
    allow_nan: bool = False,
    strict_lo: bool = False,
) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError(f"{where} must be a number, got {v!r}")
    v = float(v)
    if math.isnan(v):
        if allow_nan:
            return v
        raise ScenarioError(f"{where} must be a number, got nan")
    if math.isinf(v) and not allow_inf:
        raise ScenarioError(f"{where} must be finite, got {v}")
    if lo is not None and (v < lo or (strict_lo and v == lo)):
        raise ScenarioError(f"{where} must be {'>' if strict_lo else '≥'} {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise ScenarioError(f"{where} must be ≤ {hi:g}, got {v:g}")
    return v


def _choice(where: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ScenarioError(f"{where} must be one of {', '.join(choices)}, got {v!r}")
    return v


def _bool(where: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ScenarioError(f"{where} must be true or false, got {v!r}")
    return v


def _str(where: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ScenarioError(f"{where} must be a string, got {v!r}")
    return v


def _table(where: str, v: Any) -> dict:
    if not isinstance(v, dict):
        raise ScenarioError(f"{where} must be a table (key = value pairs), got {v!r}")
    return v


def _keys(where: str, data: dict, cls) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ScenarioError(f"{name}: unknown key (known in {where or 'the top level'}: {', '.join(sorted(known))})")


def _num_map(where: str, v: Any, **kw) -> dict:
    out: dict[str, Any] = {}
    for k, x in _table(where, v).items():
        out[str(k)] = _num(f"{where}.{k}", x, **kw)
    return out


def _sharing(data: dict, where: str, base: Sharing | None = None) -> Sharing:
    data = dict(_table(where, data))
    _keys(where, data, Sharing)
    out: dict[str, Any] = {}
    for k in ("surplus_share", "surplus_share_above"):
        if k in data:
            out[k] = _num(f"{where}.{k}", data[k], lo=0, hi=1)
    if "surplus_cap" in data:
        out["surplus_cap"] = _num(f"{where}.surplus_cap", data["surplus_cap"], lo=0, allow_inf=True)
    if "reserve_share" in data:
        out["reserve_share"] = _num(f"{where}.reserve_share", data["reserve_share"], lo=0, allow_nan=True)
    if "overspend_bands" in data:
        bands = data["overspend_bands"]
        if not isinstance(bands, list):
            raise ScenarioError(f"{where}.overspend_bands must be a list of [upper bound, share] steps")
        steps, last = [], 0.0
        for i, b in enumerate(bands):
            w = f"{where}.overspend_bands[{i}]"
            if not isinstance(b, list) or len(b) != 2:
                raise ScenarioError(f"{w} must be [upper bound as a share of claims, share the fund bears], got {b!r}")
            bound = _num(f"{w} bound", b[0], lo=0, allow_inf=True, strict_lo=True)
            share = _num(f"{w} share", b[1], lo=0, hi=1)
            if bound <= last:
                raise ScenarioError(f"{w}: bounds must increase, got {bound:g} after {last:g}")
            steps.append((bound, share))
            last = bound
        out["overspend_bands"] = tuple(steps)
    return replace(base or Sharing(), **out)


def _settlement(data: dict) -> Settlement:
    data = dict(_table("settlement", data))
    _keys("settlement", data, Settlement)
    out: dict[str, Any] = {}
    if "method" in data:
        out["method"] = _choice("settlement.method", data["method"], METHODS)
    if "budget" in data:
        out["budget"] = _num("settlement.budget", data["budget"], lo=0, strict_lo=True)
    if "budget_growth" in data:
        out["budget_growth"] = _num("settlement.budget_growth", data["budget_growth"], lo=-1, strict_lo=True)
    if "budget" in out and "budget_growth" in out:
        raise ScenarioError("settlement.budget_growth: give a budget or a budget_growth, not both")
    if "binding" in data:
        out["binding"] = _bool("settlement.binding", data["binding"])
    if "budget_basis" in data:
        out["budget_basis"] = _choice("settlement.budget_basis", data["budget_basis"], BASES)
    if "fund_ratio" in data:
        out["fund_ratio"] = _num(
            "settlement.fund_ratio", data["fund_ratio"], lo=0, hi=1, allow_nan=True, strict_lo=True
        )
    if "comparator" in data:
        out["comparator"] = _choice("settlement.comparator", data["comparator"], COMPARATORS)
    if "prepay_ratio" in data:
        out["prepay_ratio"] = _num("settlement.prepay_ratio", data["prepay_ratio"], lo=0, hi=1)
    if "volume_shock_sd" in data:
        out["volume_shock_sd"] = _num("settlement.volume_shock_sd", data["volume_shock_sd"], lo=0, hi=2)
    if "seed" in data:
        if isinstance(data["seed"], bool) or not isinstance(data["seed"], int) or data["seed"] < 0:
            raise ScenarioError(f"settlement.seed must be a non-negative integer, got {data['seed']!r}")
        out["seed"] = data["seed"]
    if "percentiles" in data:
        p = data["percentiles"]
        if not isinstance(p, list) or not p:
            raise ScenarioError("settlement.percentiles must be a non-empty list of numbers in [0, 100]")
        out["percentiles"] = tuple(_num(f"settlement.percentiles[{i}]", x, lo=0, hi=100) for i, x in enumerate(p))
    return Settlement(**out)


def _history(data: dict) -> History:
    data = dict(_table("history", data))
    _keys("history", data, History)
    return History(**{k: _str(f"history.{k}", v) for k, v in data.items()})


def _scenario(i: int, data: Any, names: set[str]) -> Scenario:
    where = f"scenario[{i}]"
    data = dict(_table(where, data))
    if "name" not in data:
        raise ScenarioError(f"{where}.name: missing (every scenario needs a name)")
    name = _str(f"{where}.name", data["name"]).strip()
    if not name:
        raise ScenarioError(f"{where}.name: empty")
    if name in names:
        raise ScenarioError(f"{where}.name: duplicate scenario name '{name}'")
    names.add(name)
    where = f"scenario '{name}'"
    _keys(where, data, Scenario)
    out: dict[str, Any] = {"name": name}
    if "description" in data:
        out["description"] = _str(f"{where}.description", data["description"])
    if "budget" in data:
        out["budget"] = _num(f"{where}.budget", data["budget"], lo=0, strict_lo=True)
    if "budget_growth" in data:
        out["budget_growth"] = _num(f"{where}.budget_growth", data["budget_growth"], lo=-1, strict_lo=True)
    if "budget" in out and "budget_growth" in out:
        raise ScenarioError(f"{where}.budget_growth: give a budget or a budget_growth, not both")
    if "binding" in data:
        out["binding"] = _bool(f"{where}.binding", data["binding"])
    for k in ("base_rate", "point_value"):
        if k in data:
            out[k] = _num(f"{where}.{k}", data[k], lo=0, strict_lo=True)
    if "base_rate" in out and "point_value" in out:
        raise ScenarioError(f"{where}.point_value: give base_rate or point_value, not both")
    if "rate_change" in data:
        out["rate_change"] = _num(f"{where}.rate_change", data["rate_change"], lo=-1, strict_lo=True)
    if "volume_growth" in data:
        out["volume_growth"] = _num(f"{where}.volume_growth", data["volume_growth"], lo=-1)
    for k in ("hospital_volume_growth", "drg_volume_growth"):
        if k in data:
            out[k] = _num_map(f"{where}.{k}", data[k], lo=-1)
    if "level_coefficients" in data:
        out["level_coefficients"] = _num_map(
            f"{where}.level_coefficients", data["level_coefficients"], lo=0, strict_lo=True
        )
    if "weights" in data:
        out["weights"] = _num_map(f"{where}.weights", data["weights"], lo=0)
    if "cc_mcc_shift" in data:
        out["cc_mcc_shift"] = _num(f"{where}.cc_mcc_shift", data["cc_mcc_shift"], lo=0, hi=1)
    if "hospital_cc_mcc_shift" in data:
        out["hospital_cc_mcc_shift"] = _num_map(
            f"{where}.hospital_cc_mcc_shift", data["hospital_cc_mcc_shift"], lo=0, hi=1
        )
    if "policy" in data:
        out["policy"] = dict(_table(f"{where}.policy", data["policy"]))
    if "sharing" in data:
        sh = dict(_table(f"{where}.sharing", data["sharing"]))
        _sharing(sh, f"{where}.sharing")  # validate now
        out["sharing"] = sh
    return Scenario(**out)


def parse(data: dict, base_dir: Path = Path(".")) -> Config:
    """A :class:`Config` from the parsed TOML (a dict)."""
    data = dict(_table("scenario file", data))
    top = {"history", "settlement", "sharing", "policy", "scenario"}
    unknown = sorted(set(data) - top)
    if unknown:
        raise ScenarioError(f"{unknown[0]}: unknown key (known at the top level: {', '.join(sorted(top))})")
    scen = data.get("scenario", [{"name": "baseline"}])
    if isinstance(scen, dict):
        scen = [scen]
    if not isinstance(scen, list) or not scen:
        raise ScenarioError("scenario: give at least one [[scenario]] with a name")
    names: set[str] = set()
    policy = dict(_table("policy", data.get("policy", {})))
    cfg = Config(
        history=_history(data.get("history", {})),
        settlement=_settlement(data.get("settlement", {})),
        sharing=_sharing(data.get("sharing", {}), "sharing"),
        policy=policy,
        scenarios=tuple(_scenario(i, s, names) for i, s in enumerate(scen)),
        base_dir=base_dir,
    )
    _check_policies(cfg)
    return cfg


def _check_policies(cfg: Config) -> None:
    from ..payment.policy import PolicyError, load_policy

    try:
        load_policy(dict(cfg.policy))
    except PolicyError as exc:
        raise ScenarioError(f"policy.{str(exc).removeprefix('policy: ')}") from None
    for s in cfg.scenarios:
        try:
            load_policy({**cfg.policy, **s.policy})
        except PolicyError as exc:
            raise ScenarioError(f"scenario '{s.name}'.policy.{str(exc).removeprefix('policy: ')}") from None


def load(source: str | Path | dict | Config) -> Config:
    """A :class:`Config` from a TOML path, a dict (same layout) or a Config."""
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        return parse(source)
    path = Path(source)
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file")
    data = read_toml(path, ScenarioError)
    try:
        return parse(data, path.parent)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None
