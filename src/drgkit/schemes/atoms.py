"""The rule atoms: every condition a scheme table can write, declared once.

An entry of :data:`ATOMS` says, for one atom:

* its **text pattern** (a regular expression whose named groups are the operands; the atom's name is the
  text's leading word, so ``age<=17`` is the atom ``age`` and ``body_sites(dx) >= 2`` the atom ``body_sites``);
* its **operands**, each of a kind (:data:`DX_LIST`, :data:`NUMBER` …) that says how a reader resolves it: a
  list name in the row's context, a number, a comparison …;
* its **opcode(s)** and how its resolved operands become the kernel's ``(op, a, b)`` row (``encode``);
* its **meaning** in Python: a function of a case view and the resolved operands (see :class:`CaseView`);
* a one-line doc in English and in Chinese (the table in ``docs/schemes.md`` is generated from them).

Who reads it: the compiler (:mod:`drgkit.schemes.compile`: text → opcode and operands), the spec-shaped
reference (:mod:`drgkit.grouping.spec_reference`) and the jump-program walker (:mod:`drgkit.grouping.reference`)
(meanings), the explain phrases (:mod:`drgkit.schemes.words`, ``atom_words.csv`` keyed by atom name), the docs'
atom table and the demo generator (which atoms a rule's expression asks for).

Adding an atom is one entry here plus, when it needs a new opcode, its evaluation in the numba kernel
(``grouping/kernel.py``: ``_atom`` for a rare atom; a case-word bit in ``grouping/kernel_program`` if it is hot).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import program as P
from .expr import ExprError, parse_px_tables

# --- operand kinds: how a reader resolves an operand's text -------------------------------------------------
DX_LIST = "dx_list"  # a code list named in the row's context (``dx``, ``MDCN.dx``, ``PR1.dx``): diagnoses
PX_LIST = "px_list"  # the same, procedures
NUMBER = "number"  # an integer
CMP = "cmp"  # a comparison: == < <= > >=
INT_SET = "int_set"  # integers separated by ``;`` (``2;5``)
DEPT = "dept"  # a department literal (``ICU``)
PREFIX = "prefix"  # a code prefix (``P07.``)
PX_TABLES = "px_tables"  # an expression over procedure tables t1..t4 (``t1 or (t2 and t3)``)
KINDS = (DX_LIST, PX_LIST, NUMBER, CMP, INT_SET, DEPT, PREFIX, PX_TABLES)


#: What a case view holds (:class:`CaseView`): the readers' view classes take these as their slots.
VIEW_FIELDS = (
    "age",
    "age_days",
    "birth_weight",
    "cc",
    "dept",
    "dx",
    "gender",
    "icu_hours",
    "leaving_type",
    "los",
    "or_px",
    "px",
    "site",
)


class CaseView(Protocol):
    """What a meaning reads of a case. ``dx`` / ``px``: codes, principal diagnosis / main procedure first (a
    blank slot is a code on no list); numbers are None when unknown; ``cc``: the case's
    :class:`~drgkit.schemes.semantics.Complications`. A list operand is a container of codes (``code in L``).
    The spec reference's view holds code strings, the walker's code ids."""

    dx: Sequence[Any]
    px: Sequence[Any]
    or_px: Any  # container: the scheme's OR procedures (有效手术室操作)
    gender: int | None
    age: int | None
    age_days: int | None
    birth_weight: int | None
    los: int | None
    leaving_type: int | None
    icu_hours: int | None
    dept: Any
    cc: Any

    def site(self, code: Any) -> Any: ...  # the multiple-trauma body site of a diagnosis, None when it has none


@dataclass(frozen=True)
class Atom:
    """One atom of the rule vocabulary (see the module docstring)."""

    name: str
    pattern: str
    operands: tuple[tuple[str, str], ...]  # (group name, kind), in the order the meaning takes them
    opcodes: tuple[int, ...]  # the kernel opcodes it compiles to (the first unless ``encode``)
    meaning: Callable[..., bool]  # meaning(view, *resolved operands) -> bool
    en: str
    zh: str
    example: str
    encode: Callable[..., tuple[int, int, int]] | None = None  # compiled operands -> (op, a, b)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def kernel_row(self, values: Sequence[Any]) -> tuple[int, int, int]:
        """The kernel's ``(op, a, b)`` of this atom with its compiled operand values."""
        if self.encode is not None:
            return self.encode(*values)
        row = (self.opcodes[0], *values, 0, 0)
        return int(row[0]), int(row[1]), int(row[2])


@dataclass(frozen=True)
class Parsed:
    """An atom's text read with the registry: the atom and its operands (context-free values)."""

    text: str
    atom: Atom
    args: tuple[Any, ...]
    raw: dict[str, str]  # the operand texts by group name (for phrases)

    @property
    def name(self) -> str:
        return self.atom.name

    def arg(self, group: str) -> Any:
        """An operand by group name (``None`` when the atom has no such operand)."""
        for (g, _kind), value in zip(self.atom.operands, self.args):
            if g == group:
                return value
        return None


# --- meanings ----------------------------------------------------------------------------------------------
_OPS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_CMP_OPCODE = {"==": P.OP_NUM_EQ, "<": P.OP_NUM_LT, "<=": P.OP_NUM_LE, ">": P.OP_NUM_GT, ">=": P.OP_NUM_GE}


def _known(value: int | None) -> bool:
    return value is not None and value >= 0


def compare(value: int | None, op: str, n: int) -> bool:
    """A known (not None, not negative) value compared with ``n``; an unknown value fails every comparison."""
    return value is not None and value >= 0 and _OPS[op](value, n)


def _main_px(v: CaseView) -> Any:
    return v.px[0] if len(v.px) else None


def _px_tables(v: CaseView, spec: tuple[Sequence[Any], Sequence[int]]) -> bool:
    tables, masks = spec
    seen = 0
    for code in v.px:
        for k, table in enumerate(tables):
            if table is not None and code in table:
                seen |= 1 << k
                break  # a code on two of the expression's tables counts for the first one only
    return any(seen & m == m for m in masks)


def _body_sites(v: CaseView, lst: Any, n: int) -> bool:
    sites = {v.site(d) for d in v.dx if d in lst}
    sites.discard(None)
    return len(sites) >= n


def _leaving_mask(values: Sequence[int]) -> int:
    mask = 0
    for value in values:
        mask |= 1 << value
    return mask


def _weight_row(op: str, n: int) -> tuple[int, int, int]:
    return (P.OP_WEIGHT_GE if op == ">=" else P.OP_WEIGHT_LT), P.F_WEIGHT, n


def _number_atom(name: str, field_: int, attr: str, en: str, zh: str, example: str) -> Atom:
    return Atom(
        name,
        rf"{name}\s*(?P<op>==|<=|>=|<|>)\s*(?P<n>\d+)",
        (("op", CMP), ("n", NUMBER)),
        (P.OP_NUM_EQ, P.OP_NUM_LT, P.OP_NUM_LE, P.OP_NUM_GT, P.OP_NUM_GE),
        lambda v, op, n: compare(getattr(v, attr), op, n),
        en,
        zh,
        example,
        encode=lambda op, n: (_CMP_OPCODE[op], field_, n),
    )


_LIST = r"\((?P<list>[^()]*)\)"


def _entries() -> Iterator[Atom]:
    yield Atom("true", r"true", (), (P.OP_TRUE,), lambda v: True, "always holds", "恒成立", "true")
    yield Atom(
        "false",
        r"false",
        (),
        (P.OP_FALSE,),
        lambda v: False,
        "never holds (a split that never applies)",
        "恒不成立",
        "false",
    )
    yield Atom(
        "pdx_in",
        "pdx_in" + _LIST,
        (("list", DX_LIST),),
        (P.OP_PDX_IN,),
        lambda v, lst: len(v.dx) > 0 and v.dx[0] in lst,
        "the principal diagnosis is on list L",
        "主要诊断在表 L 内",
        "pdx_in(dx)",
    )
    yield Atom(
        "pdx_not_in",
        "pdx_not_in" + _LIST,
        (("list", DX_LIST),),
        (P.OP_PDX_NOT_IN,),
        lambda v, lst: not (len(v.dx) > 0 and v.dx[0] in lst),
        "the principal diagnosis is not on list L",
        "主要诊断不在表 L 内",
        "pdx_not_in(MDCN.dx)",
    )
    yield Atom(
        "any_dx_in",
        "any_dx_in" + _LIST,
        (("list", DX_LIST),),
        (P.OP_ANY_DX_IN,),
        lambda v, lst: any(d in lst for d in v.dx),
        "a diagnosis (principal or secondary) is on list L",
        "有诊断（主要或其他）在表 L 内",
        "any_dx_in(dx)",
    )
    yield Atom(
        "sdx_in",
        "sdx_in" + _LIST,
        (("list", DX_LIST),),
        (P.OP_SDX_IN,),
        lambda v, lst: any(d in lst for d in v.dx[1:]),
        "a secondary diagnosis is on list L",
        "有其他诊断在表 L 内",
        "sdx_in(dx1)",
    )
    yield Atom(
        "any_dx_prefix",
        r"any_dx_prefix\((?P<a>[^()]*)\)",
        (("a", PREFIX),),
        (P.OP_ANY_DX_IN,),
        lambda v, prefix: any(d in prefix for d in v.dx),
        "a diagnosis code starts with P",
        "有诊断编码以 P 开头",
        "any_dx_prefix(P07.)",
    )
    yield Atom(
        "main_px_in",
        "main_px_in" + _LIST,
        (("list", PX_LIST),),
        (P.OP_MAIN_PX_IN,),
        lambda v, lst: len(v.px) > 0 and v.px[0] in lst,
        "the main (first) procedure is on list L",
        "主要手术（第一个手术）在表 L 内",
        "main_px_in(px)",
    )
    yield Atom(
        "any_px_in",
        "any_px_in" + _LIST,
        (("list", PX_LIST),),
        (P.OP_ANY_PX_IN,),
        lambda v, lst: any(p in lst for p in v.px),
        "a procedure (any position) is on list L",
        "有手术（任一位置）在表 L 内",
        "any_px_in(px1)",
    )
    yield Atom(
        "sec_px_in",
        "sec_px_in" + _LIST,
        (("list", PX_LIST),),
        (P.OP_SEC_PX_IN,),
        lambda v, lst: any(p in lst for p in v.px[1:]),
        "a procedure after the main one is on list L",
        "主要手术以外有手术在表 L 内",
        "sec_px_in(px)",
    )
    yield Atom(
        "main_px_or_in",
        "main_px_or_in" + _LIST,
        (("list", PX_LIST),),
        (P.OP_MAIN_PX_OR_IN,),
        lambda v, lst: len(v.px) > 0 and (v.px[0] in v.or_px or v.px[0] in lst),
        "the main procedure is an OR procedure or on list L",
        "主要手术为手术室手术或在表 L 内",
        "main_px_or_in(px)",
    )
    yield Atom(
        "main_px_or",
        r"main_px_or",
        (),
        (P.OP_MAIN_PX_OR,),
        lambda v: len(v.px) > 0 and v.px[0] in v.or_px,
        "the main procedure is an OR procedure (有效手术室操作)",
        "主要手术为手术室手术",
        "main_px_or",
    )
    yield Atom(
        "main_px_not_or",
        r"main_px_not_or",
        (),
        (P.OP_MAIN_PX_NOT_OR,),
        lambda v: not (len(v.px) > 0 and v.px[0] in v.or_px),
        "there is no main procedure or it is not an OR procedure",
        "无手术或主要手术不是手术室手术",
        "main_px_not_or",
    )
    yield Atom(
        "any_px_or",
        r"any_px_or",
        (),
        (P.OP_ANY_PX_OR,),
        lambda v: any(p in v.or_px for p in v.px),
        "some procedure is an OR procedure",
        "有手术室手术",
        "any_px_or",
    )
    yield Atom(
        "no_px_or",
        r"no_px_or",
        (),
        (P.OP_NO_PX_OR,),
        lambda v: not any(p in v.or_px for p in v.px),
        "no procedure is an OR procedure",
        "没有手术室手术",
        "no_px_or",
    )
    yield Atom(
        "px_tables",
        r"px_tables\((?P<a>.*)\)",
        (("a", PX_TABLES),),
        (P.OP_PX_TABLES,),
        _px_tables,
        "the procedures fill the tables t1..t4 (手术表) as the and/or expression asks; a code on two of "
        "the expression's tables counts for the first only",
        "手术满足手术表 t1..t4 的组合（与/或）；同在两个表中的编码只计入前一个表",
        "px_tables(t1 or (t2 and t3))",
    )
    yield Atom(
        "body_sites",
        r"body_sites\((?P<list>\w+)\)\s*>=\s*(?P<n>\d+)",
        (("list", DX_LIST), ("n", NUMBER)),
        (P.OP_BODY_SITES_GE,),
        _body_sites,
        "the diagnoses on list L cover at least N body sites (multiple trauma)",
        "表 L 内的诊断涉及至少 N 个身体部位（多发伤）",
        "body_sites(dx) >= 2",
    )
    yield Atom(
        "mcc",
        r"mcc",
        (),
        (P.OP_MCC,),
        lambda v: v.cc.sec_mcc >= 0,
        "a secondary diagnosis counts as MCC (see §3)",
        "有其他诊断计为严重并发症或合并症（MCC）",
        "mcc",
    )
    yield Atom(
        "cc",
        r"cc",
        (),
        (P.OP_CC,),
        lambda v: v.cc.sec_cc >= 0,
        "a secondary diagnosis counts as CC",
        "有其他诊断计为并发症或合并症（CC）",
        "cc",
    )
    yield Atom(
        "mcc_or_cc",
        r"mcc_or_cc",
        (),
        (P.OP_MCC_OR_CC,),
        lambda v: v.cc.sec_mcc >= 0 or v.cc.sec_cc >= 0,
        "a secondary diagnosis counts as MCC or CC",
        "有其他诊断计为 MCC 或 CC",
        "mcc_or_cc",
    )
    yield Atom(
        "mcc_any_dx",
        r"mcc_any_dx",
        (),
        (P.OP_MCC_ANY_DX,),
        lambda v: v.cc.any_mcc >= 0,
        "a diagnosis, the principal included, counts as MCC (CHS-DRG 2.0)",
        "任一诊断（含主要诊断）计为 MCC（CHS-DRG 2.0）",
        "mcc_any_dx",
    )
    yield Atom(
        "mcc_or_cc_any_dx",
        r"mcc_or_cc_any_dx",
        (),
        (P.OP_MCC_OR_CC_ANY_DX,),
        lambda v: v.cc.any_mcc >= 0 or v.cc.any_cc >= 0,
        "a diagnosis, the principal included, counts as MCC or CC",
        "任一诊断（含主要诊断）计为 MCC 或 CC",
        "mcc_or_cc_any_dx",
    )
    yield Atom(
        "newborn",
        r"newborn\((?P<n>\d+)\)",
        (("n", NUMBER),),
        (P.OP_NUM_LE,),
        lambda v, n: compare(v.age_days, "<=", n),
        "age in days known and at most N",
        "天龄已知且不超过 N 天",
        "newborn(28)",
        encode=lambda n: (P.OP_NUM_LE, P.F_AGE_DAYS, n),
    )
    yield Atom(
        "gender_eq",
        r"gender_eq\((?P<n>\d+)\)",
        (("n", NUMBER),),
        (P.OP_NUM_EQ,),
        lambda v, n: compare(v.gender, "==", n),
        "the gender code is N (1 male, 2 female)",
        "性别代码为 N（1 男，2 女）",
        "gender_eq(2)",
        encode=lambda n: (P.OP_NUM_EQ, P.F_GENDER, n),
    )
    yield _number_atom(
        "age", P.F_AGE, "age", "age in years known and compared with N", "年龄（岁）已知且满足比较", "age<=17"
    )
    yield _number_atom(
        "age_days",
        P.F_AGE_DAYS,
        "age_days",
        "age in days known and compared with N",
        "天龄已知且满足比较",
        "age_days>28",
    )
    yield _number_atom(
        "los", P.F_LOS, "los", "length of stay (days) known and compared with N", "住院天数已知且满足比较", "los<5"
    )
    yield _number_atom(
        "icu_hours",
        P.F_ICU,
        "icu_hours",
        "ICU hours known and compared with N",
        "重症监护小时数已知且满足比较",
        "icu_hours>120",
    )
    yield Atom(
        "weight",
        r"weight\s*(?P<op>>=|<)\s*(?P<n>\d+)",
        (("op", CMP), ("n", NUMBER)),
        (P.OP_WEIGHT_GE, P.OP_WEIGHT_LT),
        lambda v, op, n: compare(v.birth_weight, op, n) and v.birth_weight > 0,
        "birth weight (g) known, non-zero, and >= N or < N",
        "出生体重（克）已知、非零，且 >= N 或 < N",
        "weight<1500",
        encode=_weight_row,
    )
    yield Atom(
        "leaving_type_in",
        r"leaving_type_in\((?P<a>\d+(?:;\d+)*)\)",
        (("a", INT_SET),),
        (P.OP_NUM_IN_MASK,),
        lambda v, values: v.leaving_type is not None and v.leaving_type in values,
        "the discharge type (离院方式) is one of the listed codes",
        "离院方式为所列代码之一",
        "leaving_type_in(2;5)",
        encode=lambda values: (P.OP_NUM_IN_MASK, P.F_LEAVING, _leaving_mask(values)),
    )
    yield Atom(
        "dept_eq",
        r"dept_eq\((?P<a>[^()]*)\)",
        (("a", DEPT),),
        (P.OP_NUM_EQ,),
        lambda v, dept: v.dept is not None and v.dept == dept,
        "the department is D",
        "科室为 D",
        "dept_eq(ICU)",
        encode=lambda index: (P.OP_NUM_EQ, P.F_DEPT, index),
    )


#: The registry: atom name → :class:`Atom`, in the order of the docs' table.
ATOMS: dict[str, Atom] = {a.name: a for a in _entries()}

#: The ``drg.split`` column's values as atoms (the split's ``extra`` predicates are and-ed to them).
SPLIT_ATOMS: dict[str, list[str]] = {
    "always": [],
    "extra_only": [],
    "mcc": ["mcc"],
    "cc": ["cc"],
    "mcc_or_cc": ["mcc_or_cc"],
    "mcc_any_dx": ["mcc_any_dx"],
    "mcc_or_cc_any_dx": ["mcc_or_cc_any_dx"],
    "never": ["false"],
}
#: The ``mdc.qy_trigger`` column's values as atoms (歧义组: an OR procedure no surgical rule matched).
QY_TRIGGERS: dict[str, str] = {"any_proc_valid_or": "any_px_or", "main_proc_valid_or": "main_px_or"}

_LEAD = re.compile(r"[A-Za-z_]\w*")


def _convert(kind: str, text: str) -> Any:
    if kind == NUMBER:
        return int(text)
    if kind == INT_SET:
        return tuple(int(v) for v in text.split(";"))
    if kind == PX_TABLES:
        return tuple(parse_px_tables(text))
    return text


def parse_atom(text: str) -> Parsed:
    """Read an atom's text with the registry; :class:`~drgkit.schemes.expr.ExprError` when no atom matches."""
    text = text.strip()
    lead = _LEAD.match(text)
    atom = ATOMS.get(lead.group(0)) if lead else None
    m = atom.regex.fullmatch(text) if atom is not None else None
    if atom is None or m is None:
        raise ExprError(f"unknown atom '{text}'")
    raw = {g: m.group(g) for g, _kind in atom.operands}
    return Parsed(text, atom, tuple(_convert(kind, raw[g]) for g, kind in atom.operands), raw)


def resolve(parsed: Parsed, resolver: Callable[[str, Any], Any]) -> tuple[Any, ...]:
    """The atom's operands resolved by a reader: ``resolver(kind, value)`` per operand."""
    return tuple(resolver(kind, value) for (_g, kind), value in zip(parsed.atom.operands, parsed.args))


def atoms_in(dnf: Sequence[Sequence[str]]) -> list[Parsed]:
    """Every atom of an expression (DNF of atom texts), read with the registry."""
    return [parse_atom(a) for conj in dnf for a in conj]


def markdown_table() -> str:
    """The atom table of ``docs/schemes.md`` (a test keeps the docs equal to it)."""
    names = {v: k for k, v in vars(P).items() if k.startswith("OP_") and isinstance(v, int)}
    lines = ["| atom (example) | holds when | 含义 | opcode |", "|---|---|---|---|"]
    for a in ATOMS.values():
        ops = ", ".join(f"`{names[o]}`" for o in a.opcodes)
        lines.append(f"| `{a.example}` | {a.en} | {a.zh} | {ops} |")
    return "\n".join(lines)
