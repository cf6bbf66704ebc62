"""The reference interpreter, shaped like the spec: ``docs/schemes.md`` §1–§5 as nested loops over the tables.

It reads a scheme's tables — ``mdc``, ``adrg``, ``drg``, their code lists, ``cc``, ``cc_exclusion``,
``or_procedures`` — not the compiled program, and groups one case at a time with code strings::

    record check (§1)                                    → invalid
    for each MDC in the scheme's order (§2):
        entry false → its else-QY clause (§4) may give xQY; else the next MDC
        first-QY clause (§4) → xQY
        for each ADRG rule of the MDC in order (QY trigger at qy_position, §4):
            rule false → the next rule
            for each DRG split of the rule in order: the first that holds gives the DRG
            no split holds → the ADRG code, or the next rule (``no_split_result``, §5)
    no MDC gave a result                                 → ungroupable (0000)
    zhejiang-2022: a 0000 is retried with each later procedure alone (§5)

What an atom means comes from the registry (:mod:`drgkit.schemes.atoms`), the CC/MCC rule and the record check
from :mod:`drgkit.schemes.semantics`; nothing is shared with the compiler's linearizer, guards, skip chains or
the kernel's packed program, so the kernel ≡ this reader tests (``tests/test_differential.py``,
``benchmarks/differential.py``) catch a compiler bug as well as a kernel bug. It records every test it makes:
that record is the trace ``drgkit explain`` prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schemes import program as P
from ..schemes.atoms import (
    DEPT,
    DX_LIST,
    PREFIX,
    PX_LIST,
    PX_TABLES,
    QY_TRIGGERS,
    SPLIT_ATOMS,
    VIEW_FIELDS,
    parse_atom,
    resolve,
)
from ..schemes.expr import ExprError, parse_dnf, parse_mdc_entry
from ..schemes.manifest import cc_judges_every_diagnosis, qy_drg_code
from ..schemes.semantics import Complications, complications, record_check
from ..schemes.tables import load_dicts, load_table, scheme_info
from .trace import Result, Step

if TYPE_CHECKING:
    from ..schemes.program import CompiledScheme

#: An expression bound to a scheme: conjunctions of (atom text, meaning, resolved operands).
Bound = list[list[tuple[str, Callable[..., bool], tuple[Any, ...]]]]


@dataclass
class Case:
    """One discharge abstract: codes as text (principal diagnosis / main procedure first; ``""`` a blank slot),
    numbers as ints (None unknown; gender 1 male, 2 female), the department as text."""

    dx: Sequence[str]
    px: Sequence[str] = ()
    gender: int | None = None
    age: int | None = None
    age_days: int | None = None
    birth_weight: int | None = None
    los: int | None = None
    leaving_type: int | None = None
    icu_hours: int | None = None
    dept: str | None = None


@dataclass
class Outcome:
    """A case grouped by the spec reference: labels as text, status and reason as ``program`` codes."""

    status: int
    drg: str
    adrg: str | None  # "QY" for an ambiguous group, "00" when ungroupable, None when invalid
    rule: str | None
    reason: int
    cc_level: int
    cc_pos: int
    trace: list[Step] = field(default_factory=list)

    def as_tuple(self) -> tuple[int, str, str | None, str | None, int, int, int]:
        return (self.status, self.drg, self.adrg, self.rule, self.reason, self.cc_level, self.cc_pos)


class Prefix:
    """The codes that start with a prefix (operand of ``any_dx_prefix``)."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.startswith(self.prefix)


class _View:
    """A case as the atoms' meanings read it (:class:`drgkit.schemes.atoms.CaseView`)."""

    __slots__ = VIEW_FIELDS

    def __init__(
        self, case: Case, px: Sequence[str], or_px: frozenset[str], site: Callable[[str], Any], cc: Complications
    ):
        self.dx, self.px, self.or_px, self.site, self.cc = case.dx, px, or_px, site, cc
        self.gender, self.age, self.age_days = case.gender, case.age, case.age_days
        self.birth_weight, self.los, self.leaving_type = case.birth_weight, case.los, case.leaving_type
        self.icu_hours, self.dept = case.icu_hours, case.dept


@dataclass
class _Rule:
    rule_id: str
    adrg: str
    entry: Bound
    splits: list[tuple[str, Bound]]  # (DRG, split expression) in order
    next_rule: bool  # no split holds: try the next rule (else: the ADRG code is the DRG)


@dataclass
class _Mdc:
    code: str
    entry: Bound
    via_pdx: bool  # the entry asks for the principal diagnosis on an MDC's list
    else_qy: tuple[str, Bound] | None
    first_qy: tuple[str, Bound] | None
    qy_on: bool
    qy_position: int
    qy_trigger: Bound | None
    rules: list[_Rule]


class SpecReference:
    """A scheme's tables as the nested loops of ``docs/schemes.md`` (see the module docstring)."""

    def __init__(self, scheme: str | Path):
        info = scheme_info(scheme)
        self.id = info.id
        self.checksum = info.checksum
        self.manifest = info.manifest

        def rows(name: str) -> tuple[dict[str, int], tuple[tuple[str, ...], ...]]:
            header, body = load_table(scheme, name)
            return {c: i for i, c in enumerate(header)}, body

        # code lists by (domain, key): "MDC:MDCF" (diagnoses from mdc_dx, procedures from mdc_px), "AB1.px"
        # (adrg_codes), "drg:AB11/AB1.lit1" (drg_codes); in table order. A rule's or split's list holds the same
        # codes in either domain.
        self.lists: dict[tuple[str, str], list[str]] = defaultdict(list)
        col, mdc_dx = rows("mdc_dx")
        m_, d_, b_ = col["mdc"], col["dx"], col["body_site"]
        for r in mdc_dx:
            self.lists[("dx", f"MDC:{r[m_]}")].append(r[d_])
        self.sites = {r[d_]: r[b_] for r in mdc_dx if r[b_]}
        col, mdc_px = rows("mdc_px")
        for r in mdc_px:
            self.lists[("px", f"MDC:{r[col['mdc']]}")].append(r[col["px"]])
        col, body = rows("adrg_codes")
        rid, lst, code = col["rule_id"], col["list"], col["code"]
        for r in body:
            self.lists[("", f"{r[rid]}.{r[lst]}")].append(r[code])
        col, body = rows("drg_codes")
        drg, rid, lst, code = col["drg"], col["rule_id"], col["list"], col["code"]
        for r in body:
            self.lists[("", f"drg:{r[drg]}/{r[rid]}.{r[lst]}")].append(r[code])
        col, body = rows("or_procedures")
        self.or_px = frozenset(r[col["code"]] for r in body)
        col, body = rows("cc")
        cc: dict[str, list[int]] = {}
        for r in body:  # a code's exclusion table as MCC and as CC (-1: not one); a later row replaces
            cc.setdefault(r[col["code"]], [-1, -1])[0 if r[col["level"]] == "MCC" else 1] = int(
                r[col["exclusion_table"]]
            )
        self.cc_tables = {c: (v[0], v[1]) for c, v in cc.items()}
        col, body = rows("cc_exclusion")
        self.excl = {r[col["pdx"]]: int(r[col["exclusion_table"]]) for r in body}
        self.mdc_rows = sorted(load_dicts(scheme, "mdc"), key=lambda r: int(r["eval_order"]))
        self.rule_rows = sorted(load_dicts(scheme, "adrg"), key=lambda r: int(r["eval_order"]))
        self.split_rows = sorted(load_dicts(scheme, "drg"), key=lambda r: int(r["eval_order"]))
        self._sets: dict[tuple[str, str], frozenset[str]] = {}
        # the reported CC level judges every diagnosis when the scheme's splits do (CHS-DRG 2.0)
        self.any_dx_mode = cc_judges_every_diagnosis(s["split"] for s in self.split_rows)
        settings = scheme_info(scheme).settings
        self.full_check = settings.full_record_check
        self.retry = settings.retry_0000_with_each_other_proc
        self.fail = settings.fail_drg

        self.mdc_codes = [m["mdc"] for m in self.mdc_rows]
        self.on_mdc_list = frozenset(c for m in self.mdc_codes for c in self.lists.get(("dx", f"MDC:{m}"), ()))
        rules: dict[str, list[dict[str, str]]] = defaultdict(list)
        for rule in self.rule_rows:
            rules[rule["mdc"]].append(rule)
        splits: dict[str, list[dict[str, str]]] = defaultdict(list)
        for split in self.split_rows:
            splits[split["rule_id"]].append(split)
        self.mdcs = [self._mdc(m, rules.get(m["mdc"], []), splits) for m in self.mdc_rows]
        self.rule_by_id = {r.rule_id: r for m in self.mdcs for r in m.rules}

    # ---- reading the tables ----
    def list_key(self, name: str, domain: str, ctx: tuple[str, ...]) -> tuple[str, str]:
        """The list an atom names in its row's context: a bare name (``dx``, ``px1``) is the list of the row's
        own MDC / rule / DRG; ``OWNER.name`` another's (``MDCN.dx``; an MDC's list of the atom's domain)."""
        if "." in name:
            owner, lst = name.split(".", 1)
            if owner.startswith("MDC") and lst not in ("dx", "px"):
                raise ExprError(f"{self.id}: unknown MDC list '{name}'")
            return domain, (f"MDC:{owner}" if owner.startswith("MDC") else f"{owner}.{lst}")
        if ctx[0] == "mdc":
            return domain, f"MDC:{ctx[1]}"
        if ctx[0] == "rule":
            return domain, f"{ctx[1]}.{name}"
        return domain, f"drg:{ctx[1]}/{ctx[2]}.{name}"

    def codes(self, name: str, domain: str, ctx: tuple[str, ...]) -> frozenset[str]:
        """The codes of a list named in context (empty when no table row defines it: it matches nothing)."""
        key = self.list_key(name, domain, ctx)
        if not key[1].startswith("MDC:"):
            key = ("", key[1])  # a rule's or a split's list: the same codes in either domain
        if key not in self._sets:
            self._sets[key] = frozenset(self.lists.get(key, ()))
        return self._sets[key]

    def _operand(self, kind: str, value: Any, ctx: tuple[str, ...]) -> Any:
        if kind == DX_LIST:
            return self.codes(value, "dx", ctx)
        if kind == PX_LIST:
            return self.codes(value, "px", ctx)
        if kind == PREFIX:
            return Prefix(value)
        if kind == PX_TABLES:  # the tables the expression names, t1..t4
            tables = tuple(
                self.codes(f"px_t{k + 1}", "px", ctx) if any(m >> k & 1 for m in value) else None for k in range(4)
            )
            return tables, value
        if kind == DEPT:
            return value
        return value

    def bind(self, dnf: list[list[str]], ctx: tuple[str, ...]) -> Bound:
        """An expression (DNF of atom texts) with each atom's meaning and operands resolved in context."""
        out: Bound = []
        for conj in dnf:
            bound = []
            for text in conj:
                try:
                    parsed = parse_atom(text)
                except ExprError:
                    raise ExprError(f"{self.id}: unknown atom '{text.strip()}' in context {ctx}") from None
                bound.append(
                    (
                        parsed.text,
                        parsed.atom.meaning,
                        resolve(parsed, lambda kind, value: self._operand(kind, value, ctx)),
                    )
                )
            out.append(bound)
        return out

    def _via_pdx(self, dnf: list[list[str]], ctx: tuple[str, ...]) -> bool:
        """Every conjunction asks for the principal diagnosis on one same MDC list (``pdx_in(dx)``)."""
        common: set[tuple[str, str]] | None = None
        for conj in dnf:
            keys = set()
            for text in conj:
                p = parse_atom(text)
                if p.name == "pdx_in":
                    key = self.list_key(p.args[0], "dx", ctx)
                    if key[1].startswith("MDC:") and key[1][4:] in self.mdc_codes:
                        keys.add(key)
            common = keys if common is None else common & keys
        return bool(common)

    def _mdc(self, m: dict[str, str], rules: list[dict[str, str]], splits: dict[str, list[dict[str, str]]]) -> _Mdc:
        code = m["mdc"]
        ctx = ("mdc", code)
        entry = parse_mdc_entry(m["entry_expr"])
        trigger = m["qy_trigger"]
        qy_on = m["qy_enabled"] == "1"
        if qy_on and not trigger:
            raise ExprError(f"{self.id}: {code} has QY enabled but no trigger")
        out_rules = []
        for r in rules:
            rule_splits = []
            for s in splits.get(r["rule_id"], []):
                if s["split"] not in SPLIT_ATOMS:
                    raise ExprError(f"{self.id}: unknown split '{s['split']}' of {s['drg']}")
                dnf = [SPLIT_ATOMS[s["split"]] + conj for conj in parse_dnf(s["extra"])]
                rule_splits.append((s["drg"], self.bind(dnf, ("drg", s["drg"], r["rule_id"]))))
            if r["no_split_result"] not in ("adrg_code", "next_rule"):
                raise ExprError(f"{self.id}: unknown no_split_result '{r['no_split_result']}'")
            entry_expr = self.bind(parse_dnf(r["entry_expr"]), ("rule", r["rule_id"]))
            out_rules.append(
                _Rule(r["rule_id"], r["adrg"], entry_expr, rule_splits, r["no_split_result"] == "next_rule")
            )
        return _Mdc(
            code=code,
            entry=self.bind(entry.entry, ctx),
            via_pdx=self._via_pdx(entry.entry, ctx),
            else_qy=(entry.else_qy[0], self.bind(entry.else_qy[1], ctx)) if entry.else_qy else None,
            first_qy=(entry.first_qy[0], self.bind(entry.first_qy[1], ctx)) if entry.first_qy else None,
            qy_on=qy_on,
            qy_position=int(m["qy_position"]) if m["qy_position"].strip() else -1,
            qy_trigger=self.bind([[QY_TRIGGERS[trigger]]], ctx) if trigger else None,
            rules=out_rules,
        )

    # ---- grouping ----
    def complications(self, dx: Sequence[str]) -> Complications:
        """The CC/MCC rule (§3) over the diagnoses, principal first."""
        none = (-1, -1)
        return complications(dx, lambda c: self.cc_tables.get(c, none), lambda c: self.excl.get(c, -1))

    def holds(self, expr: Bound, v: _View, trace: list[Step] | None, kind: str, label: str) -> bool:
        """An expression's value; the trace records the atoms of the conjunction that decided it (the one that
        held, else the first one up to the atom that failed)."""
        first: list[tuple[str, bool]] | None = None
        for conj in expr:
            seen: list[tuple[str, bool]] = []
            ok = True
            for text, meaning, args in conj:
                value = meaning(v, *args)
                seen.append((text, value))
                if not value:
                    ok = False
                    break
            if ok:
                if trace is not None:
                    trace.append(Step(kind, label, True, seen))
                return True
            if first is None:
                first = seen
        if trace is not None:
            trace.append(Step(kind, label, False, first or []))
        return False

    def run(self, v: _View, trace: list[Step] | None) -> tuple[tuple[int, str, str | None, str | None, int], bool]:
        """MDC → ADRG rule → DRG split (§2, §4, §5): ``((status, drg, adrg, rule, reason), entered)``;
        ``entered``: an MDC whose entry asks for the principal diagnosis on its list took the case."""
        entered = False
        for m in self.mdcs:  # MDCs in the scheme's order
            if not self.holds(m.entry, v, trace, "mdc", m.code):
                if m.else_qy and self.holds(m.else_qy[1], v, trace, "else_qy", m.code):
                    return (P.ST_AMBIGUOUS, m.else_qy[0], "QY", None, P.R_QY_ENTRY), entered
                continue  # entering an MDC is not final either
            entered = entered or m.via_pdx
            if m.first_qy and self.holds(m.first_qy[1], v, trace, "first_qy", m.code):
                return (P.ST_AMBIGUOUS, m.first_qy[0], "QY", None, P.R_QY_ENTRY), entered
            for i in range(len(m.rules) + 1):  # ADRG rules in order; the first match wins
                if (
                    m.qy_on
                    and i == m.qy_position
                    and m.qy_trigger is not None
                    and self.holds(m.qy_trigger, v, trace, "qy", m.code)
                ):
                    return (P.ST_AMBIGUOUS, qy_drg_code(m.code), "QY", None, P.R_QY_OR_PROC), entered
                if i == len(m.rules):
                    break
                r = m.rules[i]
                if not self.holds(r.entry, v, trace, "rule", r.rule_id):
                    continue
                for drg, split in r.splits:  # DRG splits in order
                    if self.holds(split, v, trace, "split", drg):
                        return (P.ST_OK, drg, r.adrg, r.rule_id, P.R_NONE), entered
                if not r.next_rule:  # no split holds: the ADRG code is the DRG
                    if trace is not None:
                        trace.append(Step("adrg", r.adrg, True, []))
                    return (P.ST_OK, r.adrg, r.adrg, r.rule_id, P.R_NONE), entered
        return (P.ST_UNGROUPABLE, self.fail, "00", None, P.R_NO_ADRG), entered

    def split_holds(self, rule_id: str, drg: str, case: Case) -> bool:
        """Whether the split of rule ``rule_id`` that gives ``drg`` holds for the case."""
        v = self.view(case)
        return any(self.holds(expr, v, None, "split", d) for d, expr in self.rule_by_id[rule_id].splits if d == drg)

    def view(self, case: Case, px: Sequence[str] | None = None) -> _View:
        return _View(case, case.px if px is None else px, self.or_px, self.sites.get, self.complications(case.dx))

    def group(self, case: Case, trace: bool = True) -> Outcome:
        """Group one case (§1–§5); ``trace=False`` skips recording the trace (faster)."""
        steps: list[Step] | None = [] if trace else None
        v = self.view(case)
        level, pos = v.cc.level(self.any_dx_mode)
        reason = record_check(
            self.full_check,
            case.gender,
            case.age,
            case.age_days,
            case.birth_weight,
            len(case.dx) > 0 and case.dx[0] != "",
        )
        if reason:
            if steps is not None:
                steps.append(Step("check", P.REASONS[reason][0], False, []))
            return Outcome(P.ST_INVALID, self.fail, None, None, reason, level, pos, steps or [])
        (st, drg, adrg, rule, why), entered = self.run(v, steps)
        if st == P.ST_UNGROUPABLE and self.retry and len(case.px) >= 2:
            for code in case.px[1:]:  # zhejiang-2022: each later procedure alone
                if steps is not None:
                    steps.append(Step("retry", code, True, []))
                res, _ = self.run(self.view(case, [code]), steps)
                if res[0] != P.ST_UNGROUPABLE:
                    return Outcome(*res, level, pos, steps or [])
        if st == P.ST_UNGROUPABLE and not entered:
            why = P.R_MDC_CONDITION if case.dx and case.dx[0] in self.on_mdc_list else P.R_PDX_NO_MDC
        return Outcome(st, drg, adrg, rule, why, level, pos, steps or [])


def case_from_encoded(dx: Sequence[str | None], px: Sequence[str | None], num: Sequence[int], dept: str | None) -> Case:
    """A :class:`Case` from a prepared row: code strings (null = blank), the numeric fields in
    ``program.FIELD_NAMES`` order (-1 unknown; the department column is ignored) and the department text."""

    def n(i: int) -> int | None:
        value = int(num[i])
        return None if value < 0 else value

    return Case(
        dx=[c or "" for c in dx],
        px=[c or "" for c in px],
        gender=n(P.F_GENDER),
        age=n(P.F_AGE),
        age_days=n(P.F_AGE_DAYS),
        birth_weight=n(P.F_WEIGHT),
        los=n(P.F_LOS),
        leaving_type=n(P.F_LEAVING),
        icu_hours=n(P.F_ICU),
        dept=dept,
    )


def kernel_outcome(
    compiled: CompiledScheme, status: int, drg: int, adrg: int, rule: int, reason: int, cc_level: int, cc_pos: int
) -> tuple[int, str, str | None, str | None, int, int, int]:
    """A kernel result (ids into the compiled scheme's labels) in the spec reference's terms
    (:meth:`Outcome.as_tuple`), to compare the two."""
    return (
        int(status),
        compiled.drg_codes[drg],
        compiled.adrg_codes[adrg] if adrg >= 0 else None,
        compiled.rule_ids[rule] if rule >= 0 else None,
        int(reason),
        int(cc_level),
        int(cc_pos),
    )


def to_result(outcome: Outcome, compiled: CompiledScheme) -> Result:
    """An outcome as ids into the compiled scheme's labels (what :class:`drgkit.api.Explanation` reads)."""

    index = compiled.__dict__.setdefault("_label_index", {})
    if not index:
        index["drg"] = {c: i for i, c in reversed(list(enumerate(compiled.drg_codes)))}
        index["adrg"] = {c: i for i, c in reversed(list(enumerate(compiled.adrg_codes)))}
        index["rule"] = {c: i for i, c in reversed(list(enumerate(compiled.rule_ids)))}
    drg = compiled.fail_drg if outcome.status == P.ST_INVALID else index["drg"][outcome.drg]
    adrg = -1 if outcome.adrg is None else index["adrg"][outcome.adrg]
    rule = -1 if outcome.rule is None else index["rule"][outcome.rule]
    return Result(outcome.status, drg, adrg, rule, outcome.reason, outcome.cc_level, outcome.cc_pos, outcome.trace)
