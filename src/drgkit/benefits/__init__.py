"""Patient cost-sharing (待遇): benefit policies as data and per-stay settlement with annual accumulators.
See ``docs/benefits.md``.

``drgkit.benefits(stays, "example-national")`` (or ``drgkit.benefits.settle``) → the stays with the split of
each total cost into fund, critical-illness, assistance and patient payments, and the person's year-to-date
accumulators. ``drgkit.benefits.compare(stays, A, B)``: the change in fund and patient payments from policy A
to B per insurance type and hospital level (policy what-if).
"""

from __future__ import annotations

import sys
import types

from .policy import (
    AgeRule,
    Assistance,
    BenefitPolicy,
    BenefitPolicyError,
    CriticalIllness,
    InsuranceBenefits,
    list_policies,
    load_benefit_policy,
    template_text,
)
from .settle import OUTPUT_COLUMNS, SPLIT, BenefitInputError, patient_payments, settle
from .whatif import compare

__all__ = [
    "OUTPUT_COLUMNS",
    "SPLIT",
    "AgeRule",
    "Assistance",
    "BenefitInputError",
    "BenefitPolicy",
    "BenefitPolicyError",
    "CriticalIllness",
    "InsuranceBenefits",
    "compare",
    "list_policies",
    "load_benefit_policy",
    "patient_payments",
    "settle",
    "template_text",
]


class _CallableModule(types.ModuleType):
    """Lets ``drgkit.benefits(stays, policy)`` call :func:`settle` while ``drgkit.benefits.*`` stays a package."""

    def __call__(self, data, policy, **kwargs):
        return settle(data, policy, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
