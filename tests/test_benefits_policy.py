"""Benefit policies as data: the shipped examples stay inside the digest's national ranges and say they are
examples; a bad policy is one error line that names the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from drgkit.benefits import BenefitPolicyError, list_policies, load_benefit_policy, template_text
from drgkit.benefits.policy import policies_dir

GOOD = {
    "employee": {
        "deductible": {"level1": 1300, "level3": 1800},
        "fund_share": {"level1": 0.95, "level3": 0.75},
        "annual_ceiling": 450000,
        "critical_illness": {"threshold": 20000, "tiers": [[0, 0.6], [100000, 0.7]]},
        "age_rule": {"min_age": 65, "deductible_factor": 0.8},
    },
    "assistance": {"shares": {"特困": 0.9}},
}

# national ranges of the benefits digest (inpatient), [SEED-TRAINING] and [GENERAL]
RANGES = {
    "employee": {"deductible": (1300, 1800), "fund_share": (0.75, 0.95), "annual_ceiling": (400000, 500000)},
    "resident": {"deductible": (300, 600), "fund_share": (0.60, 0.85), "annual_ceiling": (200000, 300000)},
}


def test_every_shipped_policy_loads_is_an_example_and_stays_inside_the_national_ranges() -> None:
    names = [name for name, _ in list_policies()]
    assert names[0] == "example-national" and len(names) >= 2
    for name in names:
        p = load_benefit_policy(name)
        assert p.example and "示例" in p.title and p.name == name
        for ins, ranges in RANGES.items():
            b = p.insurance[ins]
            for key in ("deductible", "fund_share"):
                lo, hi = ranges[key]
                values = getattr(b, key)
                assert set(values) == {"level1", "level2", "level3"}
                assert all(lo <= v <= hi for v in values.values()), (name, ins, key, values)
                # lower deductibles and higher shares at lower levels (分级诊疗)
                order = [values[lv] for lv in ("level1", "level2", "level3")]
                assert order == sorted(order, reverse=(key == "fund_share")), (name, ins, key)
            lo, hi = ranges["annual_ceiling"]
            assert lo <= b.annual_ceiling <= hi
            assert 0.05 <= b.class_b_self_pay <= 0.20  # "commonly 5–20 %"
            # no numbers in the digest for these: the examples leave them out
            assert b.critical_illness is None
        assert p.assistance is None
    age = load_benefit_policy("example-national-age65").insurance["employee"].age_rule
    assert (age.min_age, age.deductible_factor, age.fund_share_add, age.fund_share_max) == (65, 0.8, 0.05, 0.95)


def test_the_readme_gives_the_provenance_of_every_shipped_file() -> None:
    readme = (policies_dir() / "README.md").read_text(encoding="utf-8")
    for path in policies_dir().glob("*.toml"):
        assert path.name in readme, path.name
    for tag in ("[SEED-TRAINING]", "[GENERAL]", "[IN-RANGE]"):
        assert tag in readme


def test_the_template_loads_and_names_every_section(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(template_text(), encoding="utf-8")
    p = load_benefit_policy(path)
    assert p.name == "my-policy" and set(p.insurance) == {"employee", "resident"}
    for key in ("age_rule", "critical_illness", "assistance", "cost_mix", "repeat_deductible", "class_b_self_pay"):
        assert key in template_text()


def _with(change) -> dict:
    data = copy.deepcopy(GOOD)
    change(data)
    return data


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["employee"]["fund_share"].update(level3=1.2),
            "employee.fund_share.level3 must be between 0 and 1",
        ),
        (lambda d: d["employee"]["deductible"].update(level3="1800"), "employee.deductible.level3 must be a number"),
        (lambda d: d["employee"]["deductible"].update(level3=-1), "employee.deductible.level3 must be ≥ 0"),
        (
            lambda d: d["employee"]["deductible"].update(level4=1),
            "employee.deductible: unknown hospital level 'level4'",
        ),
        (lambda d: d["employee"]["fund_share"].pop("level1"), "employee.fund_share has no level1"),
        (lambda d: d["employee"].pop("annual_ceiling"), "employee.annual_ceiling is missing"),
        (lambda d: d["employee"].update(annual_ceiling=0), "employee.annual_ceiling must be > 0"),
        (lambda d: d["employee"].update(deductable=1), "unknown key 'employee.deductable'"),
        (lambda d: d["employee"].update(repeat_deductible=[1.0, 1.5]), "employee.repeat_deductible[1] must be between"),
        (lambda d: d["employee"].update(repeat_deductible=[]), "employee.repeat_deductible must list factors"),
        (
            lambda d: d["employee"]["critical_illness"].update(tiers=[[0, 0.6], [0, 0.7]]),
            "employee.critical_illness.tiers[1] from must increase",
        ),
        (
            lambda d: d["employee"]["critical_illness"].update(tiers=[[100, 0.6]]),
            "employee.critical_illness.tiers[0] from must be 0",
        ),
        (
            lambda d: d["employee"]["critical_illness"].update(tiers=[[0, 60]]),
            "employee.critical_illness.tiers[0] share must be between 0 and 1",
        ),
        (
            lambda d: d["employee"]["critical_illness"].pop("threshold"),
            "employee.critical_illness.threshold is missing",
        ),
        (lambda d: d["employee"]["age_rule"].pop("min_age"), "employee.age_rule.min_age is missing"),
        (lambda d: d["employee"]["age_rule"].update(fund_share_max=95), "employee.age_rule.fund_share_max must be"),
        (lambda d: d["assistance"]["shares"].update(低保=2), "assistance.shares.低保 must be between 0 and 1"),
        (lambda d: d.update(cost_mix={"class_b_share": -0.1}), "cost_mix.class_b_share must be between 0 and 1"),
        (lambda d: d.update(retiree=1), "unknown key 'retiree'"),
        (lambda d: d.pop("employee"), "no insurance type"),
        (lambda d: d.update(example="yes"), "example must be true or false"),
    ],
)
def test_a_bad_policy_is_one_line_naming_the_key(change, message: str) -> None:
    with pytest.raises(BenefitPolicyError) as exc:
        load_benefit_policy(_with(change))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[employee]\nfund_share = { level3 = 1.5 }\ndeductible = { level3 = 1 }\nannual_ceiling = 1\n", encoding="utf-8"
    )
    with pytest.raises(BenefitPolicyError, match=r"bad\.toml: employee\.fund_share\.level3 must be between 0 and 1"):
        load_benefit_policy(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[employee\n", encoding="utf-8")
    with pytest.raises(BenefitPolicyError, match=r"broken\.toml: not valid TOML"):
        load_benefit_policy(broken)
    with pytest.raises(
        BenefitPolicyError,
        match=r"no-such: no such benefit policy file or shipped policy "
        r"\(shipped: example-national",
    ):
        load_benefit_policy("no-such")
