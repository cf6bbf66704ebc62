"""Payment policy: every parameter of DRG (and DIP) case pricing, as data (a TOML file).

Defaults follow ``dip-and-drg-payment-spec.md`` (the project's spec digest); each carries its provenance:

* high-ratio multiple ``k`` by RW band: pattern A of spec §4.3 (RW ≤ 1: 3, ≤ 2: 2.5, ≤ 5: 2, > 5: 1.5), the
  pattern of the worked example §6.2 [CITY: 菏泽, 佛山2026 via a third-party calculator];
* low ratio 0.4 (the commonest value seen, spec §4.3; used in §6.2), paid by item (actual cost);
* high-ratio payment ``a·S + β·(cost − k·S)`` with a = 1, β = 1 (spec §4.3, the commonest form);
* patients pay 30 % of cost by item (spec §6.2 example, [ASSUMPTION]); fund = payment − patient payment (§4.6);
  with ``benefits`` (a benefit policy, :mod:`drgkit.benefits`) the patient's payment is instead what that policy
  leaves the person to pay for the stay, by person and year (rows it cannot settle keep the flat share);
* groups flagged 按项目 / 单议 / 不稳定 are paid by item (spec §4.3; [CITY] practice, not national);
* ungrouped (0000) and ambiguous (QY) cases are left unpriced unless a cost share is set (spec §4.3 lists
  0.7–0.9 × cost as city practice).

Policy TOML (every key optional)::

    low_ratio = 0.4
    low_payment = "by_item"          # by_item | standard | cost_share (low_cost_share × cost)
    low_cost_share = 1.0
    high_bands = [[1, 3.0], [2, 2.5], [5, 2.0], [inf, 1.5]]   # [upper RW bound (inclusive), k]
    high_payment = "excess"          # excess (a·S + β·(cost − k·S)) | by_item | standard
    high_a = 1.0
    high_beta = 1.0
    comparator = "standard"          # standard | standard_without_coefficient
    use_table_thresholds = true      # a table's own 低倍/高倍临界值 (Jilin) win over the ratios
    by_item_flags = ["fee_for_service", "case_by_case", "unstable_group"]
    special_cost_share = 1.0         # special cases are paid special_cost_share × cost
    ungrouped_cost_share = nan       # 0000 / ungroupable; nan = unpriced
    ambiguous_cost_share = nan       # QY / ambiguous; nan = unpriced
    los_min_days = nan               # LOS ≤ this (e.g. 2) is paid by item; nan = no rule
    los_max_days = nan               # LOS ≥ this (e.g. 60) is paid by item
    standard_source = "published"    # published (printed standard where there is one) | computed
    basic_group_coefficient = "auto" # auto | table | a number (1.0 = no level coefficient)
    base_rate = nan                  # rate for tables that publish weights only (yuan per RW)
    point_value = nan                # yuan per point, for point tables (Yinchuan; DIP)
    patient_share = 0.3              # share of total cost the patient pays by item
    benefits = ""                    # a benefit policy (TOML path or shipped name: example-national): the
                                     # patient pays by person and year under it instead of patient_share
    default_insurance = "employee"
    [base_rates]                     # per level / insurance, overriding the table: "level3" or "level3/employee"
    [patient_shares]                 # per insurance type: employee = 0.25, resident = 0.4
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import DrgkitError
from ..tomlutil import read_toml, toml_value


class PolicyError(DrgkitError, ValueError):
    """A policy file or value that cannot be used; the message names the key."""


INF = math.inf
NAN = math.nan

_CHOICES = {
    "low_payment": ("by_item", "standard", "cost_share"),
    "high_payment": ("excess", "by_item", "standard"),
    "comparator": ("standard", "standard_without_coefficient"),
    "standard_source": ("published", "computed"),
}
KNOWN_FLAGS = (
    "basic_group",
    "tcm_advantage",
    "unstable_group",
    "stable_group",
    "not_covered",
    "tiered_care",
    "case_by_case",
    "same_rate",
    "volume_control",
    "fee_for_service",
)


@dataclass(frozen=True)
class Policy:
    low_ratio: float = 0.4
    low_payment: str = "by_item"
    low_cost_share: float = 1.0
    high_bands: tuple[tuple[float, float], ...] = ((1.0, 3.0), (2.0, 2.5), (5.0, 2.0), (INF, 1.5))
    high_payment: str = "excess"
    high_a: float = 1.0
    high_beta: float = 1.0
    comparator: str = "standard"
    use_table_thresholds: bool = True
    by_item_flags: tuple[str, ...] = ("fee_for_service", "case_by_case", "unstable_group")
    special_cost_share: float = 1.0
    ungrouped_cost_share: float = NAN
    ambiguous_cost_share: float = NAN
    los_min_days: float = NAN
    los_max_days: float = NAN
    standard_source: str = "published"
    basic_group_coefficient: Any = "auto"
    base_rate: float = NAN
    point_value: float = NAN
    patient_share: float = 0.3
    default_insurance: str = "employee"
    base_rates: dict = field(default_factory=dict)
    patient_shares: dict = field(default_factory=dict)
    benefits: str = ""

    def __post_init__(self) -> None:
        validate(self)

    def assumptions(self, lang: str = "en") -> list[str]:
        """The settings pricing leans on most, each marked ``(default)`` when no policy set it — so a priced
        run says it assumed a 30 % patient share and the default outlier bands instead of hiding it."""
        from ..lang import say

        mark = say("pay.default", lang)
        defaults = set(self.defaults())
        shown = ("patient_share", "low_ratio", "low_payment", "high_bands", "high_payment", "comparator")
        out = [f"benefits {self.benefits}"] if self.benefits else []
        for name in shown:
            if name == "patient_share" and self.benefits:
                continue
            value = getattr(self, name)
            if name == "high_bands":
                value = ", ".join(f"RW≤{b:g}: {k:g}×" for b, k in value)
            out.append(f"{name} {value}" + (mark if name in defaults else ""))
        return out

    def as_dict(self) -> dict[str, Any]:
        """Every setting by name (inf / nan kept as floats: JSON writers spell them Infinity / NaN)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def defaults(self) -> list[str]:
        """Names of the settings still at drgkit's default (no table or policy gave them)."""
        default = Policy()
        same = lambda a, b: a == b or (isinstance(a, float) and isinstance(b, float) and a != a and b != b)  # noqa
        return [f.name for f in fields(self) if same(getattr(self, f.name), getattr(default, f.name))]

    def with_base_rate(self, rate: float | None) -> Policy:
        """This policy with one base rate (point value for point tables) for every level and insurance type —
        the ``--base-rate`` of the command line, which wins over the table's and the policy's own rates."""
        if rate is None:
            return self
        try:
            value = float(rate)
        except (TypeError, ValueError):
            value = math.nan
        if not (value > 0 and math.isfinite(value)):
            raise PolicyError(f"base rate must be a number > 0 (yuan per RW), got {rate!r}")
        return replace(self, base_rate=value, base_rates={"": value})

    def replace(self, **changes: Any) -> Policy:
        return replace(self, **changes)

    def high_k(self, rw):
        """Vectorized high-ratio multiple for an array of RW (band upper bounds inclusive)."""
        import numpy as np

        rw = np.asarray(rw, dtype=np.float64)
        bounds = np.array([b for b, _ in self.high_bands])
        ks = np.array([k for _, k in self.high_bands] + [self.high_bands[-1][1]])
        return ks[np.searchsorted(bounds, rw, side="left")]

    def to_toml(self) -> str:
        lines = []
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, dict):
                continue
            lines.append(f"{f.name} = {toml_value(v)}")
        for name in ("base_rates", "patient_shares"):
            lines.append(f"\n[{name}]")
            for k, v in getattr(self, name).items():
                lines.append(f'"{k}" = {toml_value(v)}')
        return "\n".join(lines) + "\n"


def _num(name: str, v: Any, *, lo: float = 0.0, allow_nan: bool = False, allow_inf: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PolicyError(f"policy: {name} must be a number, got {v!r}")
    v = float(v)
    if math.isnan(v):
        if allow_nan:
            return v
        raise PolicyError(f"policy: {name} must be a number, got nan")
    if math.isinf(v) and not allow_inf:
        raise PolicyError(f"policy: {name} must be finite, got {v}")
    if v < lo:
        raise PolicyError(f"policy: {name} must be ≥ {lo}, got {v}")
    return v


def validate(p: Policy) -> None:
    for name, choices in _CHOICES.items():
        if getattr(p, name) not in choices:
            raise PolicyError(f"policy: {name} must be one of {', '.join(choices)}, got {getattr(p, name)!r}")
    for name in ("low_ratio", "low_cost_share", "high_a", "high_beta", "special_cost_share"):
        _num(name, getattr(p, name))
    for name in (
        "ungrouped_cost_share",
        "ambiguous_cost_share",
        "los_min_days",
        "los_max_days",
        "base_rate",
        "point_value",
    ):
        _num(name, getattr(p, name), allow_nan=True)
    if not 0 <= _num("patient_share", p.patient_share) <= 1:
        raise PolicyError(f"policy: patient_share must be between 0 and 1, got {p.patient_share}")
    for ins, share in p.patient_shares.items():
        if ins not in ("employee", "resident"):
            raise PolicyError(f"policy: patient_shares: unknown insurance type {ins!r} (employee, resident)")
        if not 0 <= _num(f"patient_shares.{ins}", share) <= 1:
            raise PolicyError(f"policy: patient_shares.{ins} must be between 0 and 1, got {share}")
    if not p.high_bands:
        raise PolicyError("policy: high_bands must list at least one [upper RW bound, k] band")
    last = -INF
    for i, band in enumerate(p.high_bands):
        if len(band) != 2:
            raise PolicyError(f"policy: high_bands[{i}] must be [upper RW bound, k], got {list(band)!r}")
        bound = _num(f"high_bands[{i}] bound", band[0], allow_inf=True)
        k = _num(f"high_bands[{i}] k", band[1])
        if bound <= last:
            raise PolicyError(f"policy: high_bands[{i}]: bounds must increase, got {bound} after {last}")
        if k <= p.low_ratio:
            raise PolicyError(f"policy: high_bands[{i}]: k = {k} must exceed low_ratio = {p.low_ratio}")
        last = bound
    for flag in p.by_item_flags:
        if flag not in KNOWN_FLAGS:
            raise PolicyError(f"policy: by_item_flags: unknown flag {flag!r} (known: {', '.join(KNOWN_FLAGS)})")
    b = p.basic_group_coefficient
    if not (b in ("auto", "table") or (not isinstance(b, (bool, str)) and _num("basic_group_coefficient", b) > 0)):
        raise PolicyError(f"policy: basic_group_coefficient must be auto, table or a positive number, got {b!r}")
    if not isinstance(p.benefits, str):
        raise PolicyError(f"policy: benefits must be a benefit policy file or name, got {p.benefits!r}")
    if p.default_insurance not in ("employee", "resident"):
        raise PolicyError(f"policy: default_insurance must be employee or resident, got {p.default_insurance!r}")
    from .tables import INSURANCE, LEVELS

    for key, rate in p.base_rates.items():
        # a typo (Level3, level3/employe) would otherwise be silently ignored and the table's rate used
        parts = str(key).split("/") if key else []
        wrong = [part for part in parts if part and part not in LEVELS and part not in INSURANCE]
        if wrong or len(parts) > 2:
            raise PolicyError(
                f"policy: base_rates key {key!r}: {wrong[0] if wrong else key!r} is not a level "
                f"({', '.join(LEVELS)}) or an insurance type ({', '.join(INSURANCE)}); write "
                f'"level3", "employee" or "level3/employee"'
            )
        if _num(f"base_rates.{key}", rate) <= 0:
            raise PolicyError(f"policy: base_rates.{key} must be positive, got {rate}")


def load_policy(source: Policy | str | Path | dict | None = None) -> Policy:
    """A Policy from a TOML file, a dict of overrides, or the defaults (``None``); a Policy as it is."""
    if source is None:
        return Policy()
    if isinstance(source, Policy):
        return source
    if isinstance(source, dict):
        data = dict(source)
        where = "policy"
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such policy file")
        data = read_toml(path, PolicyError)
        where = str(path)
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(data) - known)
    if unknown and {"employee", "resident"} & set(unknown):  # a benefit policy given where a payment one goes
        raise PolicyError(
            f"{where}: a benefit policy ([employee] / [resident]), not a payment policy: give it as --benefits "
            f'{source}, or name it in a payment policy with benefits = "…"'
        )
    if unknown:
        raise PolicyError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")
    benefits = data.get("benefits")
    if isinstance(benefits, str) and not isinstance(source, dict) and benefits.lower().endswith(".toml"):
        beside = Path(source).parent / benefits  # a benefit policy file named in a policy file: beside it
        if not Path(benefits).is_absolute() and beside.exists():
            data["benefits"] = str(beside)
    if "high_bands" in data:
        data["high_bands"] = tuple(tuple(b) if isinstance(b, (list, tuple)) else (b,) for b in data["high_bands"])
    if "by_item_flags" in data:
        data["by_item_flags"] = tuple(data["by_item_flags"])
    try:
        return Policy(**data)
    except PolicyError as exc:
        raise PolicyError(f"{where}: {str(exc).removeprefix('policy: ')}") from None
