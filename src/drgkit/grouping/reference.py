"""The reference interpreter: the same compiled program as the kernel, in plain Python, with a trace.

It is deliberately naive (one case at a time, no shortcuts) so it can be read against the scheme README.
``drgkit explain`` prints its trace; the test suite checks that it equals the numba kernel.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..schemes import program as P
from ..schemes.program import CompiledScheme

EMPTY = -2


@dataclass
class Step:
    """One evaluated item: an MDC entry, a QY check, an ADRG rule or a DRG split."""

    kind: str            # "check", "mdc", "else_qy", "first_qy", "qy", "rule", "split", "retry"
    label: str           # MDC code, rule id, DRG code
    matched: bool
    atoms: list[tuple[str, bool]] = field(default_factory=list)  # atoms of the decisive conjunction


@dataclass
class Result:
    status: int
    drg: int
    adrg: int
    rule: int
    reason: int
    cc_level: int
    cc_pos: int
    trace: list[Step] = field(default_factory=list)

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int]:
        return (self.status, self.drg, self.adrg, self.rule, self.reason, self.cc_level, self.cc_pos)


class Reference:
    """Evaluate cases against a compiled scheme, recording why each rule matched or not."""

    def __init__(self, scheme: CompiledScheme):
        self.s = scheme

    # ---- primitives ----
    def in_list(self, code: int, lst: int, domain: str) -> bool:
        if code < 0:
            return False
        ptr, ids = (self.s.dx_list_ptr, self.s.dx_list_ids) if domain == "dx" else (self.s.px_list_ptr, self.s.px_list_ids)
        return lst in ids[ptr[code]:ptr[code + 1]].tolist()

    def complications(self, dx: list[int]) -> tuple[bool, bool, bool, bool, int, int, int, int]:
        s = self.s
        t = int(s.dx_excl[dx[0]]) if dx and dx[0] >= 0 else -1
        found = {"sec_mcc": -1, "sec_cc": -1, "any_mcc": -1, "any_cc": -1}
        for i, c in enumerate(dx):
            if c < 0:
                continue
            for level, tab in (("mcc", s.dx_mcc_tab), ("cc", s.dx_cc_tab)):
                table = int(tab[c])
                if table >= 0 and not (t >= 0 and table == t):
                    if i > 0 and found[f"sec_{level}"] < 0:
                        found[f"sec_{level}"] = i
                    if found[f"any_{level}"] < 0:
                        found[f"any_{level}"] = i
        if len(dx) < 2:
            found["any_mcc"] = found["any_cc"] = -1
        f = found
        return (f["sec_mcc"] >= 0, f["sec_cc"] >= 0, f["any_mcc"] >= 0, f["any_cc"] >= 0,
                f["sec_mcc"], f["sec_cc"], f["any_mcc"], f["any_cc"])

    def atom(self, op: int, a: int, b: int, dx: list[int], px: list[int], num: list[int], cc: tuple) -> bool:
        s = self.s
        is_or = lambda c: c >= 0 and s.px_is_or[c] == 1  # noqa: E731
        if op == P.OP_TRUE:
            return True
        if op == P.OP_FALSE:
            return False
        if op == P.OP_PDX_IN:
            return bool(dx) and self.in_list(dx[0], a, "dx")
        if op == P.OP_PDX_NOT_IN:
            return not (bool(dx) and self.in_list(dx[0], a, "dx"))
        if op == P.OP_ANY_DX_IN:
            return any(self.in_list(c, a, "dx") for c in dx)
        if op == P.OP_SDX_IN:
            return any(self.in_list(c, a, "dx") for c in dx[1:])
        if op == P.OP_MAIN_PX_IN:
            return bool(px) and self.in_list(px[0], a, "px")
        if op == P.OP_ANY_PX_IN:
            return any(self.in_list(c, a, "px") for c in px)
        if op == P.OP_SEC_PX_IN:
            return any(self.in_list(c, a, "px") for c in px[1:])
        if op == P.OP_MAIN_PX_OR:
            return bool(px) and is_or(px[0])
        if op == P.OP_MAIN_PX_OR_IN:
            return bool(px) and (is_or(px[0]) or self.in_list(px[0], a, "px"))
        if op == P.OP_ANY_PX_OR:
            return any(is_or(c) for c in px)
        if op == P.OP_NO_PX_OR:
            return not any(is_or(c) for c in px)
        if op == P.OP_MAIN_PX_NOT_OR:
            return not px or not is_or(px[0])
        if op == P.OP_PX_TABLES:
            tables = set()
            for c in px:
                for t in range(4):
                    lst = int(s.pxtab_lists[a, t])
                    if lst >= 0 and self.in_list(c, lst, "px"):
                        tables.add(t)
                        break
            masks = s.pxtab_masks[s.pxtab_mask_ptr[a]:s.pxtab_mask_ptr[a + 1]]
            return any(all((int(m) >> t) & 1 == 0 or t in tables for t in range(4)) for m in masks)
        if P.OP_NUM_EQ <= op <= P.OP_NUM_IN_MASK:
            v = num[a]
            if v < 0:
                return False
            return {P.OP_NUM_EQ: v == b, P.OP_NUM_LT: v < b, P.OP_NUM_LE: v <= b, P.OP_NUM_GT: v > b,
                    P.OP_NUM_GE: v >= b, P.OP_NUM_IN_MASK: v < 31 and (b >> v) & 1 == 1}[op]
        if op in (P.OP_WEIGHT_GE, P.OP_WEIGHT_LT):
            w = num[P.F_WEIGHT]
            return w > 0 and (w >= b if op == P.OP_WEIGHT_GE else w < b)
        if op == P.OP_MCC:
            return cc[0]
        if op == P.OP_CC:
            return cc[1]
        if op == P.OP_MCC_OR_CC:
            return cc[0] or cc[1]
        if op == P.OP_MCC_ANY_DX:
            return cc[2]
        if op == P.OP_MCC_OR_CC_ANY_DX:
            return cc[2] or cc[3]
        if op == P.OP_BODY_SITES_GE:
            sites = {int(s.dx_site[c]) for c in dx if c >= 0 and s.dx_site[c] >= 0 and self.in_list(c, a, "dx")}
            return len(sites) >= b
        raise ValueError(f"unknown opcode {op}")

    def expr(self, e: int, dx, px, num, cc) -> tuple[bool, list[tuple[str, bool]]]:
        """Value of expression e and the atoms of the conjunction that decided it."""
        s = self.s
        last: list[tuple[str, bool]] = []
        for j in range(s.expr_ptr[e], s.expr_ptr[e + 1]):
            seen = []
            ok = True
            for k in range(s.conj_ptr[j], s.conj_ptr[j + 1]):
                v = self.atom(int(s.atoms[k, 0]), int(s.atoms[k, 1]), int(s.atoms[k, 2]), dx, px, num, cc)
                seen.append((s.atom_text[k], v))
                if not v:
                    ok = False
                    break
            if ok:
                return True, seen
            last = last or seen
        return False, last

    def validity(self, dx: list[int], num: list[int]) -> int:
        g = num[P.F_GENDER]
        if g not in (1, 2):
            return P.R_GENDER
        if not dx or dx[0] == EMPTY:
            return P.R_NO_DX
        if self.s.params[0] == P.VALIDITY_FULL:
            if num[P.F_AGE] < 0:
                return P.R_AGE
            if num[P.F_AGE] == 0:
                if num[P.F_AGE_DAYS] < 0:
                    return P.R_AGE_DAYS
                if num[P.F_AGE_DAYS] <= 28 and num[P.F_WEIGHT] < 0:
                    return P.R_WEIGHT
        return 0

    def core(self, dx, px, num, cc, trace: list[Step]) -> tuple[int, int, int, int, int]:
        """Run the step machine (MDC entries, QY checks, rules, splits in order); record each test."""
        s = self.s
        pc = 0
        self.entered = False
        while True:
            e, t_kind, t_arg, f_kind, f_arg, label_kind, label, guard = (int(v) for v in s.steps[pc][:8])
            value, why = self.expr(e, dx, px, num, cc)
            if value and label_kind == P.L_MDC and guard == P.G_PDX_MDC:
                self.entered = True  # entered through the principal diagnosis's MDC list
            if label_kind != P.L_END:
                trace.append(Step(P.LABEL_KINDS[label_kind], self.label(label_kind, label), value, why))
            kind, arg = (t_kind, t_arg) if value else (f_kind, f_arg)
            if kind == P.A_RETURN:
                return tuple(int(v) for v in s.returns[arg])  # type: ignore[return-value]
            pc = pc + 1 if kind == P.A_NEXT else arg

    def label(self, kind: int, idx: int) -> str:
        s = self.s
        if kind in (P.L_MDC, P.L_ELSE_QY, P.L_FIRST_QY, P.L_QY):
            return s.mdc_codes[idx]
        if kind == P.L_RULE:
            return s.rule_ids[idx]
        return s.drg_codes[idx]

    def group(self, dx: list[int], px: list[int], num: list[int]) -> Result:
        """Group one case given code ids and the numeric fields (``program.FIELD_NAMES`` order)."""
        dx, px, num = [int(c) for c in dx], [int(c) for c in px], [int(v) for v in num]
        c = self.complications(dx)
        cc = c[:4]
        if self.s.params[1] == P.CC_MODE_ANY_DX:
            level, pos = (2, c[6]) if c[2] else ((1, c[7]) if c[3] else (0, -1))
        else:
            level, pos = (2, c[4]) if c[0] else ((1, c[5]) if c[1] else (0, -1))
        trace: list[Step] = []
        reason = self.validity(dx, num)
        if reason:
            trace.append(Step("check", P.REASONS[reason][0], False, []))
            return Result(P.ST_INVALID, 0, -1, -1, reason, level, pos, trace)
        st, drg, adrg, rule, why = self.core(dx, px, num, cc, trace)
        entered = self.entered
        if st == P.ST_UNGROUPABLE and self.s.params[2] == 1 and len(px) >= 2:
            for j in range(1, len(px)):
                trace.append(Step("retry", self.s.px_codes[px[j]] if px[j] >= 0 else "?", True, []))
                res = self.core(dx, px[j:j + 1], num, cc, trace)
                if res[0] != P.ST_UNGROUPABLE:
                    return Result(*res, level, pos, trace)
        if st == P.ST_UNGROUPABLE and not entered:
            on_mdc_list = dx[0] >= 0 and int(self.s.dx_mdc_bits[dx[0]]) != 0
            why = P.R_MDC_CONDITION if on_mdc_list else P.R_PDX_NO_MDC
        return Result(st, drg, adrg, rule, why, level, pos, trace)
