"""The jump-program walker: the compiled step machine in plain Python, with a trace — a kernel-debugging aid.

It runs the same compiled program as the numba kernel (``steps``, ``returns``, the flat atoms), without the
kernel's packed form, guards or skip chains, so when the kernel disagrees with the spec-shaped reference
(:mod:`drgkit.grouping.spec_reference`, the reference) this walker tells a compiler or linearizer bug (the
walker disagrees too) from a kernel bug (it does not). Atom meanings come from the registry
(:mod:`drgkit.schemes.atoms`, through each atom's compiled operands), the CC/MCC rule and the record check from
:mod:`drgkit.schemes.semantics`. ``benchmarks/bench_kernel.py`` uses it as the naive baseline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..schemes import program as P
from ..schemes.atoms import ATOMS, DEPT, DX_LIST, PREFIX, PX_LIST, PX_TABLES, VIEW_FIELDS
from ..schemes.program import CompiledScheme
from ..schemes.semantics import Complications, complications, record_check
from .trace import Result, Step

EMPTY = -2

__all__ = ["EMPTY", "Reference", "Result", "Step"]


def _members(ptr: np.ndarray, ids: np.ndarray) -> dict[int, frozenset[int]]:
    """List id → the code ids on it, from the CSR map code → lists."""
    codes = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    out: dict[int, list[int]] = defaultdict(list)
    for code, lst in zip(codes.tolist(), ids.tolist()):
        out[lst].append(code)
    return {lst: frozenset(v) for lst, v in out.items()}


class _View:
    """A case of code ids as the atoms' meanings read it (:class:`drgkit.schemes.atoms.CaseView`)."""

    __slots__ = VIEW_FIELDS

    def __init__(
        self,
        dx: list[int],
        px: list[int],
        num: list[int],
        or_px: frozenset[int],
        site: Callable[[int], Any],
        cc: Complications,
    ):
        def known(i: int) -> int | None:
            return None if num[i] < 0 else num[i]

        self.dx, self.px, self.or_px, self.site, self.cc = dx, px, or_px, site, cc
        self.gender, self.age, self.age_days = known(P.F_GENDER), known(P.F_AGE), known(P.F_AGE_DAYS)
        self.birth_weight, self.los, self.leaving_type = known(P.F_WEIGHT), known(P.F_LOS), known(P.F_LEAVING)
        self.icu_hours, self.dept = known(P.F_ICU), known(P.F_DEPT)


class Reference:
    """Run the compiled step machine on cases of code ids, recording why each rule matched or not."""

    def __init__(self, scheme: CompiledScheme):
        self.s = s = scheme
        empty: frozenset[int] = frozenset()
        dx_lists, px_lists = _members(s.dx_list_ptr, s.dx_list_ids), _members(s.px_list_ptr, s.px_list_ids)

        def operand(kind: str, value: Any) -> Any:
            if kind in (DX_LIST, PREFIX):
                return dx_lists.get(value, empty)
            if kind == PX_LIST:
                return px_lists.get(value, empty)
            if kind == PX_TABLES:
                lo, hi = int(s.pxtab_mask_ptr[value]), int(s.pxtab_mask_ptr[value + 1])
                return (
                    tuple(px_lists.get(int(lst), empty) if lst >= 0 else None for lst in s.pxtab_lists[value]),
                    tuple(int(m) for m in s.pxtab_masks[lo:hi]),
                )
            if kind == DEPT:
                return int(value)
            return value

        bound: dict[tuple[str, tuple[Any, ...]], tuple[Callable[..., bool], tuple[Any, ...]]] = {}
        self.meanings = []
        for name, values in s.atom_calls:
            if (name, values) not in bound:
                atom = ATOMS[name]
                bound[(name, values)] = (
                    atom.meaning,
                    tuple(operand(kind, v) for (_g, kind), v in zip(atom.operands, values)),
                )
            self.meanings.append(bound[(name, values)])
        self.or_px = frozenset(np.flatnonzero(s.px_is_or).tolist())
        self.sites = {i: int(v) for i, v in enumerate(s.dx_site.tolist()) if v >= 0}
        self.full = int(s.params[P.PARAM_VALIDITY]) == P.VALIDITY_FULL
        self.any_dx = int(s.params[P.PARAM_CC_MODE]) == P.CC_MODE_ANY_DX

    # ---- primitives ----
    def complications(self, dx: Sequence[int]) -> Complications:
        s = self.s

        def tables(c: int) -> tuple[int, int]:
            return (int(s.dx_mcc_tab[c]), int(s.dx_cc_tab[c])) if c >= 0 else (-1, -1)

        return complications(dx, tables, lambda c: int(s.dx_excl[c]) if c >= 0 else -1)

    def expr(self, e: int, v: _View) -> tuple[bool, list[tuple[str, bool]]]:
        """Value of expression e and the atoms of the conjunction that decided it."""
        s = self.s
        last: list[tuple[str, bool]] = []
        for j in range(s.expr_ptr[e], s.expr_ptr[e + 1]):
            seen = []
            ok = True
            for k in range(s.conj_ptr[j], s.conj_ptr[j + 1]):
                meaning, args = self.meanings[k]
                value = meaning(v, *args)
                seen.append((s.atom_text[k], value))
                if not value:
                    ok = False
                    break
            if ok:
                return True, seen
            last = last or seen
        return False, last

    def core(self, v: _View, trace: list[Step]) -> tuple[int, int, int, int, int]:
        """Run the step machine (MDC entries, QY checks, rules, splits in order); record each test."""
        s = self.s
        pc = 0
        self.entered = False
        while True:
            e, t_kind, t_arg, f_kind, f_arg, label_kind, label, guard = (int(x) for x in s.steps[pc][:8])
            value, why = self.expr(e, v)
            if value and label_kind == P.L_MDC and guard == P.G_PDX_MDC:
                self.entered = True  # entered through the principal diagnosis's MDC list
            if label_kind != P.L_END:
                trace.append(Step(P.LABEL_KINDS[label_kind], self.label(label_kind, label), value, why))
            kind, arg = (t_kind, t_arg) if value else (f_kind, f_arg)
            if kind == P.A_RETURN:
                st, drg, adrg, rule, reason = (int(x) for x in s.returns[arg])
                return st, drg, adrg, rule, reason
            pc = pc + 1 if kind == P.A_NEXT else arg

    def label(self, kind: int, idx: int) -> str:
        s = self.s
        if kind in (P.L_MDC, P.L_ELSE_QY, P.L_FIRST_QY, P.L_QY):
            return s.mdc_codes[idx]
        if kind == P.L_RULE:
            return s.rule_ids[idx]
        return s.drg_codes[idx]

    def group(self, dx: Sequence[int], px: Sequence[int], num: Sequence[int]) -> Result:
        """Group one case given code ids and the numeric fields (``program.FIELD_NAMES`` order)."""
        dx_, px_, num_ = [int(c) for c in dx], [int(c) for c in px], [int(x) for x in num]
        cc = self.complications(dx_)
        level, pos = cc.level(self.any_dx)
        trace: list[Step] = []

        def known(i: int) -> int | None:
            return None if num_[i] < 0 else num_[i]

        reason = record_check(
            self.full,
            num_[P.F_GENDER],
            known(P.F_AGE),
            known(P.F_AGE_DAYS),
            known(P.F_WEIGHT),
            len(dx_) > 0 and dx_[0] != EMPTY,
        )
        if reason:
            trace.append(Step("check", P.REASONS[reason][0], False, []))
            return Result(P.ST_INVALID, 0, -1, -1, reason, level, pos, trace)
        v = _View(dx_, px_, num_, self.or_px, self.sites.get, cc)
        st, drg, adrg, rule, why = self.core(v, trace)
        entered = self.entered
        if st == P.ST_UNGROUPABLE and self.s.params[P.PARAM_RETRY] == 1 and len(px_) >= 2:
            for j in range(1, len(px_)):
                trace.append(Step("retry", self.s.px_codes[px_[j]] if px_[j] >= 0 else "?", True, []))
                res = self.core(_View(dx_, px_[j : j + 1], num_, self.or_px, self.sites.get, cc), trace)
                if res[0] != P.ST_UNGROUPABLE:
                    return Result(*res, level, pos, trace)
        if st == P.ST_UNGROUPABLE and not entered:
            on_mdc_list = dx_[0] >= 0 and int(self.s.dx_mdc_bits[dx_[0]]) != 0
            why = P.R_MDC_CONDITION if on_mdc_list else P.R_PDX_NO_MDC
        return Result(st, drg, adrg, rule, why, level, pos, trace)
