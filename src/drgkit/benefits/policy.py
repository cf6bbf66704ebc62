"""Benefit policy (待遇政策): what the patient and the funds pay for an inpatient stay, as data (a TOML file).

The mechanisms are those of the benefits digest (``docs/benefits.md``): per insurance type, a deductible per
admission by hospital level (lower, or none, for later admissions in the year; lower for the elderly in
some regions), a fund share of the in-policy cost above it by hospital level (a few points more for the
elderly), an annual ceiling on what the pooled fund pays one person, a class-B first self-pay share, and
above that critical-illness insurance (大病保险 / 大额医疗费用补助) paying tiered shares of the person's
in-policy out-of-pocket cost accumulated over the year above a threshold; then medical assistance (医疗救助)
pays a share of what eligible people still owe within the policy.  Every number is local policy: the
shipped policies (``tables/benefits/``) are examples built from the national ranges, labelled as examples.

Policy TOML (``tables/benefits/template.toml`` lists every key with its meaning)::

    name = "my-city-2025"
    title = "某市 2025 年住院待遇"
    example = false                      # true: printed as "an example, not a region's rule"

    [cost_mix]                           # only where the export has no 全自费 / 乙类 amounts
    full_self_pay_share = 0.0            # share of total cost outside the catalogues (全自费)
    class_b_share = 0.0                  # share of the rest that is class-B (乙类) items

    [employee]                           # and [resident]: the insurance types of io/vocab/insurance.csv
    deductible = { level1 = 1300, level2 = 1550, level3 = 1800 }   # yuan per admission
    fund_share = { level1 = 0.95, level2 = 0.85, level3 = 0.75 }   # of in-policy cost above the deductible
    annual_ceiling = 450000              # yuan the pooled fund pays one person in a year (inf: none)
    class_b_self_pay = 0.10              # share of class-B items the patient pays first
    repeat_deductible = [1.0, 0.5]       # deductible factor for the 1st, 2nd … admission of the year
                                         # (the last one repeats; [1.0] = the full deductible every time)
    [employee.age_rule]                  # optional
    min_age = 65
    deductible_factor = 0.8
    fund_share_add = 0.05
    fund_share_max = 0.95
    [employee.critical_illness]          # optional: 大额医疗费用补助 (employees) / 大病保险 (residents)
    threshold = 20000                    # yearly in-policy out-of-pocket cost above which it pays
    tiers = [[0, 0.6], [100000, 0.7]]    # [amount above the threshold from which a share applies, share]
    annual_ceiling = inf

    [assistance]                         # optional: 医疗救助, by the category in the assistance column
    shares = { "特困" = 0.9, "低保" = 0.7 }
    annual_ceiling = inf

Errors name the file and the key (``p.toml: employee.fund_share.level2 must be between 0 and 1, got 1.2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DrgkitError

INF = math.inf
#: the insurance types a policy may name (``io/vocab/insurance.csv`` reads 职工 / 居民 / 310 / 390 … as these)
INSURANCE = ("employee", "resident")


class BenefitPolicyError(DrgkitError, ValueError):
    """A benefit policy file or value that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class AgeRule:
    """Lower deductible and higher fund share from an age on (some regions: 65+, −20 %, +5 points up to 95 %)."""

    min_age: float
    deductible_factor: float = 1.0
    fund_share_add: float = 0.0
    fund_share_max: float = 1.0


@dataclass(frozen=True)
class CriticalIllness:
    """大病保险 / 大额医疗费用补助: tiered shares of the year's in-policy out-of-pocket cost above ``threshold``.

    ``tiers``: ``(from, share)`` pairs, ``from`` = amount above the threshold where the share starts (the first
    is 0, increasing); the last share applies without end."""

    threshold: float
    tiers: tuple[tuple[float, float], ...]
    annual_ceiling: float = INF


@dataclass(frozen=True)
class InsuranceBenefits:
    """The benefits of one insurance type."""

    deductible: dict[str, float]
    fund_share: dict[str, float]
    annual_ceiling: float
    class_b_self_pay: float = 0.0
    repeat_deductible: tuple[float, ...] = (1.0,)
    age_rule: AgeRule | None = None
    critical_illness: CriticalIllness | None = None

    def level_value(self, which: str, level: str) -> float | None:
        """The deductible / fund share of a level id, through its broader level (level3a → level3) when the
        policy does not name the finer one; ``None`` when the policy has neither."""
        from ..payment.tables import LEVEL_BROADER

        values = getattr(self, which)
        while level not in values and level in LEVEL_BROADER:
            level = LEVEL_BROADER[level]
        return values.get(level)


@dataclass(frozen=True)
class Assistance:
    """医疗救助: a share, by category, of the in-policy cost an eligible person still owes."""

    shares: dict[str, float]
    annual_ceiling: float = INF


@dataclass(frozen=True)
class BenefitPolicy:
    """A benefit policy: per insurance type, plus the cost mix used where the export lacks the amounts."""

    insurance: dict[str, InsuranceBenefits]
    name: str = ""
    title: str = ""
    example: bool = False
    note: str = ""
    full_self_pay_share: float = 0.0
    class_b_share: float = 0.0
    assistance: Assistance | None = None
    source: str = ""

    def levels(self) -> list[str]:
        """Every level id some insurance type names (deductible or fund share)."""
        seen: dict[str, None] = {}
        for benefits in self.insurance.values():
            for level in (*benefits.deductible, *benefits.fund_share):
                seen.setdefault(level, None)
        return list(seen)

    def as_dict(self) -> dict[str, Any]:
        """Every value by name (for a result's metadata)."""
        from dataclasses import asdict

        return asdict(self)


# ---------------------------------------------------------------------------------------------- validation


def _fail(where: str, key: str, message: str) -> BenefitPolicyError:
    return BenefitPolicyError(f"{where}: {key} {message}")


def _number(where: str, key: str, value: Any, *, lo: float = 0.0, hi: float = INF, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, key, f"must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise _fail(where, key, "must be a number, got nan")
    if math.isinf(v) and not allow_inf:
        raise _fail(where, key, f"must be finite, got {v}")
    if not lo <= v <= hi:
        bound = f"between {lo:g} and {hi:g}" if math.isfinite(hi) else f"≥ {lo:g}"
        raise _fail(where, key, f"must be {bound}, got {v:g}")
    return v


def _share(where: str, key: str, value: Any) -> float:
    return _number(where, key, value, lo=0.0, hi=1.0)


def _table(where: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, key, f"must be a table ([{key}] or {{ … }}), got {value!r}")
    return value


def _known(where: str, key: str, data: dict, known: tuple[str, ...]) -> None:
    for name in data:
        if name not in known:
            inside = f"{key}.{name}" if key else name
            raise BenefitPolicyError(
                f"{where}: unknown key {inside!r} (known{' in ' + key if key else ''}: {', '.join(known)})"
            )


def _levels(where: str, key: str, value: Any, check) -> dict[str, float]:
    from ..payment.tables import LEVELS

    data = _table(where, key, value)
    if not data:
        raise _fail(where, key, f"must name at least one hospital level ({', '.join(LEVELS[:3])} …)")
    out = {}
    for level, v in data.items():
        if level not in LEVELS:
            raise BenefitPolicyError(f"{where}: {key}: unknown hospital level {level!r} (levels: {', '.join(LEVELS)})")
        out[level] = check(where, f"{key}.{level}", v)
    return out


_INSURANCE_KEYS = (
    "deductible",
    "fund_share",
    "annual_ceiling",
    "class_b_self_pay",
    "repeat_deductible",
    "age_rule",
    "critical_illness",
)
_AGE_KEYS = ("min_age", "deductible_factor", "fund_share_add", "fund_share_max")
_CI_KEYS = ("threshold", "tiers", "annual_ceiling")


def _age_rule(where: str, key: str, value: Any) -> AgeRule:
    data = _table(where, key, value)
    _known(where, key, data, _AGE_KEYS)
    if "min_age" not in data:
        raise _fail(where, f"{key}.min_age", "is missing (the age from which the rule applies)")
    return AgeRule(
        min_age=_number(where, f"{key}.min_age", data["min_age"], hi=150),
        deductible_factor=_number(where, f"{key}.deductible_factor", data.get("deductible_factor", 1.0), hi=1.0),
        fund_share_add=_number(where, f"{key}.fund_share_add", data.get("fund_share_add", 0.0), lo=-1.0, hi=1.0),
        fund_share_max=_share(where, f"{key}.fund_share_max", data.get("fund_share_max", 1.0)),
    )


def _critical_illness(where: str, key: str, value: Any) -> CriticalIllness:
    data = _table(where, key, value)
    _known(where, key, data, _CI_KEYS)
    for name in ("threshold", "tiers"):
        if name not in data:
            raise _fail(where, f"{key}.{name}", "is missing")
    threshold = _number(where, f"{key}.threshold", data["threshold"])
    raw = data["tiers"]
    if not isinstance(raw, list) or not raw:
        raise _fail(where, f"{key}.tiers", f"must list [from, share] pairs, got {raw!r}")
    tiers = []
    last = -INF
    for i, tier in enumerate(raw):
        name = f"{key}.tiers[{i}]"
        if not isinstance(tier, list) or len(tier) != 2:
            raise _fail(where, name, f"must be [from, share], got {tier!r}")
        start = _number(where, f"{name} from", tier[0])
        if i == 0 and start != 0:
            raise _fail(where, f"{name} from", f"must be 0 (the first tier starts at the threshold), got {start:g}")
        if start <= last:
            raise _fail(where, f"{name} from", f"must increase, got {start:g} after {last:g}")
        tiers.append((start, _share(where, f"{name} share", tier[1])))
        last = start
    ceiling = _number(where, f"{key}.annual_ceiling", data.get("annual_ceiling", INF), allow_inf=True)
    return CriticalIllness(threshold=threshold, tiers=tuple(tiers), annual_ceiling=ceiling)


def _insurance(where: str, key: str, value: Any) -> InsuranceBenefits:
    data = _table(where, key, value)
    _known(where, key, data, _INSURANCE_KEYS)
    for name in ("deductible", "fund_share", "annual_ceiling"):
        if name not in data:
            raise _fail(where, f"{key}.{name}", "is missing")
    deductible = _levels(where, f"{key}.deductible", data["deductible"], _number)
    fund_share = _levels(where, f"{key}.fund_share", data["fund_share"], _share)
    for level in deductible:
        if level not in fund_share:
            raise _fail(where, f"{key}.fund_share", f"has no {level} (the deductible names it)")
    for level in fund_share:
        if level not in deductible:
            raise _fail(where, f"{key}.deductible", f"has no {level} (the fund share names it)")
    ceiling = _number(where, f"{key}.annual_ceiling", data["annual_ceiling"], allow_inf=True)
    if ceiling <= 0:
        raise _fail(where, f"{key}.annual_ceiling", f"must be > 0, got {ceiling:g}")
    repeat = data.get("repeat_deductible", [1.0])
    if not isinstance(repeat, list) or not repeat:
        raise _fail(
            where, f"{key}.repeat_deductible", f"must list factors for the 1st, 2nd … admission, got {repeat!r}"
        )
    factors = tuple(_number(where, f"{key}.repeat_deductible[{i}]", v, hi=1.0) for i, v in enumerate(repeat))
    return InsuranceBenefits(
        deductible=deductible,
        fund_share=fund_share,
        annual_ceiling=ceiling,
        class_b_self_pay=_share(where, f"{key}.class_b_self_pay", data.get("class_b_self_pay", 0.0)),
        repeat_deductible=factors,
        age_rule=_age_rule(where, f"{key}.age_rule", data["age_rule"]) if "age_rule" in data else None,
        critical_illness=(
            _critical_illness(where, f"{key}.critical_illness", data["critical_illness"])
            if "critical_illness" in data
            else None
        ),
    )


_TOP_KEYS = ("name", "title", "example", "note", "cost_mix", "assistance", *INSURANCE)


def parse_policy(data: dict, where: str = "policy") -> BenefitPolicy:
    """A :class:`BenefitPolicy` from parsed TOML; errors name ``where`` and the key."""
    _known(where, "", data, _TOP_KEYS)
    for name in ("name", "title", "note"):
        if name in data and not isinstance(data[name], str):
            raise _fail(where, name, f"must be text, got {data[name]!r}")
    if "example" in data and not isinstance(data["example"], bool):
        raise _fail(where, "example", f"must be true or false, got {data['example']!r}")
    insurance = {name: _insurance(where, name, data[name]) for name in INSURANCE if name in data}
    if not insurance:
        raise BenefitPolicyError(f"{where}: no insurance type: give an [employee] and/or a [resident] section")
    mix = _table(where, "cost_mix", data.get("cost_mix", {}))
    _known(where, "cost_mix", mix, ("full_self_pay_share", "class_b_share"))
    assistance = None
    if "assistance" in data:
        table = _table(where, "assistance", data["assistance"])
        _known(where, "assistance", table, ("shares", "annual_ceiling"))
        shares = _table(where, "assistance.shares", table.get("shares", {}))
        if not shares:
            raise _fail(where, "assistance.shares", 'must name at least one category ("特困" = 0.9 …)')
        assistance = Assistance(
            shares={str(k): _share(where, f"assistance.shares.{k}", v) for k, v in shares.items()},
            annual_ceiling=_number(
                where, "assistance.annual_ceiling", table.get("annual_ceiling", INF), allow_inf=True
            ),
        )
    return BenefitPolicy(
        insurance=insurance,
        name=data.get("name", ""),
        title=data.get("title", ""),
        example=data.get("example", False),
        note=data.get("note", ""),
        full_self_pay_share=_share(where, "cost_mix.full_self_pay_share", mix.get("full_self_pay_share", 0.0)),
        class_b_share=_share(where, "cost_mix.class_b_share", mix.get("class_b_share", 0.0)),
        assistance=assistance,
        source=where,
    )


# ------------------------------------------------------------------------------------------------ loading


def policies_dir() -> Path:
    """The shipped example policies (``tables/benefits/`` in a checkout, ``drgkit/_data/tables/benefits`` installed)."""
    from ..paths import tables_dir

    return tables_dir() / "benefits"


def list_policies() -> list[tuple[str, str]]:
    """(name, title) of every shipped policy (the template excluded)."""
    from ..tomlutil import read_toml

    out = []
    for path in sorted(policies_dir().glob("*.toml"), key=lambda p: (p.stem != "example-national", p.stem)):
        if path.stem == "template":
            continue
        out.append((path.stem, str(read_toml(path, BenefitPolicyError).get("title", ""))))
    return out


def template_text() -> str:
    """The policy template (every key, with its meaning and the national ranges)."""
    return (policies_dir() / "template.toml").read_text(encoding="utf-8")


def load_benefit_policy(source: BenefitPolicy | dict | str | Path) -> BenefitPolicy:
    """A policy from a TOML file, the name of a shipped policy (``example-national``), a dict, or as it is."""
    from ..tomlutil import read_toml

    if isinstance(source, BenefitPolicy):
        return source
    if isinstance(source, dict):
        return parse_policy(dict(source))
    path = Path(source)
    if not path.exists():
        shipped = policies_dir() / f"{source}.toml"
        if path.suffix or not shipped.is_file():
            names = ", ".join(name for name, _ in list_policies())
            raise BenefitPolicyError(
                f"{source}: no such benefit policy file or shipped policy (shipped: {names}; "
                f"`drgkit benefits --template` prints a template)"
            )
        path = shipped
    data = read_toml(path, BenefitPolicyError)
    policy = parse_policy(data, str(path) if path.parent != policies_dir() else path.stem)
    if not policy.name:
        from dataclasses import replace

        policy = replace(policy, name=path.stem)
    return policy


__all__ = [
    "INSURANCE",
    "AgeRule",
    "Assistance",
    "BenefitPolicy",
    "BenefitPolicyError",
    "CriticalIllness",
    "InsuranceBenefits",
    "list_policies",
    "load_benefit_policy",
    "parse_policy",
    "policies_dir",
    "template_text",
]
