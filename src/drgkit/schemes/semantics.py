"""The record check and the CC/MCC rule (并发症/合并症 with exclusions): one definition each.

``docs/schemes.md`` §1 and §3 in code. The interpreters in Python (:mod:`drgkit.grouping.spec_reference`,
the jump-program walker :mod:`drgkit.grouping.reference`), the what-if report and the demo generator call
these functions; the numba kernel keeps its own array form of both (``grouping/kernel.py``), and the
differential tests prove the two equal on every output field (``cc_level``, ``cc_pos`` and the reason).

The functions work on any code representation: code strings (the spec reference) or code ids (the walker),
through the small lookups they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from . import program as P

#: Age in days up to which a child at age 0 is a newborn for the record check (a birth weight is required).
NEWBORN_DAYS = 28

C = TypeVar("C")


def excluded(table: Any, principal_table: Any) -> Any:
    """A complication of exclusion table ``table`` does not count when the principal diagnosis belongs to the
    same table (表7-N); -1 is "no table". Works on ints and on numpy arrays alike (element-wise)."""
    return (principal_table >= 0) & (table == principal_table)


class Complications(NamedTuple):
    """First position (in the diagnosis list, 0 = principal) of a diagnosis that counts as MCC / as CC,
    judged among the secondary diagnoses (``sec_*``) and among all diagnoses (``any_*``, CHS-DRG 2.0); -1 none.
    A code can be both an MCC and a CC (each with its own exclusion table); each level is judged on its own."""

    sec_mcc: int
    sec_cc: int
    any_mcc: int
    any_cc: int

    def level(self, any_dx: bool) -> tuple[int, int]:
        """``(cc_level, position)`` as reported (``program.CC_*``): the MCC level when an MCC counts, else CC,
        else none (-1); ``any_dx``: the scheme judges every diagnosis (its splits are ``*_any_dx``)."""
        mcc, cc = (self.any_mcc, self.any_cc) if any_dx else (self.sec_mcc, self.sec_cc)
        if mcc >= 0:
            return P.CC_MCC, mcc
        if cc >= 0:
            return P.CC_CC, cc
        return P.CC_NONE, -1


def complications(
    dx: Sequence[C], tables: Callable[[C], tuple[int, int]], principal_table: Callable[[C], int]
) -> Complications:
    """The CC/MCC rule (``docs/schemes.md`` §3) over one case's diagnoses, principal first.

    ``tables(code)`` gives the code's exclusion table as an MCC and as a CC (-1: it is not one);
    ``principal_table(code)`` the exclusion table of the code as principal diagnosis (-1: none). A secondary
    diagnosis at level MCC or CC counts unless :func:`excluded` by the principal diagnosis's table; the
    principal diagnosis itself is judged too for ``any_*`` (CHS-DRG 2.0), but only when there are at least
    two diagnoses.
    """
    t = principal_table(dx[0]) if len(dx) else -1
    sec_mcc = sec_cc = any_mcc = any_cc = -1
    for i, code in enumerate(dx):
        mcc_t, cc_t = tables(code)
        if mcc_t >= 0 and not excluded(mcc_t, t):
            if any_mcc < 0:
                any_mcc = i
            if i > 0 and sec_mcc < 0:
                sec_mcc = i
        if cc_t >= 0 and not excluded(cc_t, t):
            if any_cc < 0:
                any_cc = i
            if i > 0 and sec_cc < 0:
                sec_cc = i
    if len(dx) < 2:
        any_mcc = any_cc = -1
    return Complications(sec_mcc, sec_cc, any_mcc, any_cc)


def _unknown(value: int | None) -> bool:
    return value is None or value < 0


def record_check(
    full: bool, gender: int | None, age: int | None, age_days: int | None, birth_weight: int | None, has_principal: bool
) -> int:
    """The record check (``docs/schemes.md`` §1): the reason code (``program.R_*``) of an invalid record, 0 when
    it may be grouped. ``full``: the ``gender_age_newborn_dx`` check (every scheme but CHS-DRG 2.0, which checks
    gender and the principal diagnosis only). A number is unknown when it is None or negative."""
    if gender not in (1, 2):
        return P.R_GENDER
    if not has_principal:
        return P.R_NO_DX
    if full:
        if _unknown(age):
            return P.R_AGE
        if age == 0:
            if _unknown(age_days):
                return P.R_AGE_DAYS
            if age_days is not None and age_days <= NEWBORN_DAYS and _unknown(birth_weight):
                return P.R_WEIGHT
    return P.R_NONE


def needs_birth_weight(age: Any, age_days: Any) -> Any:
    """Whether the record check asks for a birth weight (a newborn: age 0, age in days known and at most
    :data:`NEWBORN_DAYS`); ints or numpy arrays (-1 = unknown)."""
    return (age == 0) & (age_days >= 0) & (age_days <= NEWBORN_DAYS)
