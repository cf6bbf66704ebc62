"""Compile a scheme folder into a :class:`~drgkit.schemes.program.CompiledScheme` and cache it on disk.

Adding a scheme needs no code: any folder of the documented tables compiles. An atom outside the
vocabulary stops compilation with an :class:`~drgkit.schemes.expr.ExprError` (nothing is guessed).
The cache key is the scheme's checksum (a digest of its manifest and of the content of every file it is compiled
from) plus a digest
of the compiler's own source and of the grey-code lists it compiles in, so a table edit, a grey-list edit or
a compiler change never serves a stale program.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..codes.grey import grey_codes
from ..disk_cache import cached
from ..paths import cache_dir, icd_dir
from . import program as P
from .atoms import DEPT, DX_LIST, PREFIX, PX_LIST, PX_TABLES, QY_TRIGGERS, SPLIT_ATOMS, parse_atom, resolve
from .expr import ExprError, parse_dnf, parse_mdc_entry
from .manifest import Settings, cc_judges_every_diagnosis, qy_drg_code
from .tables import icd_table, load_table, scheme_info

_MDC_LISTS = ("dx", "px")


def _compiler_digest() -> str:
    """12 hex digits over the compiler's source and the grey lists it compiles in (read now, not cached)."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for path in (
        *(here / n for n in ("compile.py", "program.py", "expr.py", "tables.py", "atoms.py")),
        here.parent / "codes" / "grey.py",
        # the grey lists (灰码) of every edition are compiled in (dx_grey / px_grey) but are not in the
        # scheme's checksum: an edited list must not be served from a stale cache
        *sorted(icd_dir().glob("grey_*.csv")),
    ):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def _grey_array(edition: str, domain: str, codes: list[str]) -> np.ndarray:
    """uint8 per code id: 1 for a grey code of the edition (an edition without a list has none)."""
    grey = grey_codes(edition, domain)
    return np.fromiter((c in grey for c in codes), np.uint8, len(codes))


@cache
def _compiler_key() -> str:
    """:func:`_compiler_digest` computed once per process, on first use: importing the module hashes no file."""
    return _compiler_digest()


class _Builder:
    """Accumulates lists, atoms and expressions while the tables are walked."""

    def __init__(
        self,
        sid: str,
        codes: dict[str, list[str]],
        index: dict[str, dict[str, int]],
        members: dict[tuple[str, str], list[str]],
    ):
        self.sid = sid
        self.codes = codes  # domain → code universe (grows with codes only the tables use)
        self.index = index  # domain → code → id
        self.members = members  # (domain, list key) → codes, for every list a table defines
        self.lists: dict[tuple[str, str], int] = {}
        self.list_labels: list[str] = []
        self.list_codes: list[list[int]] = []
        self.list_domain: list[str] = []
        self.atoms: dict[tuple[int, int, int], int] = {}
        self.atom_text: list[str] = []
        # per atom occurrence of each expression: its text as the table writes it, registry name and compiled
        # operands (two spellings of one kernel row, ``newborn(28)`` and ``age_days<=28``, keep their own)
        self.expr_calls: list[list[list[tuple[str, str, tuple[Any, ...]]]]] = []
        self._last: tuple[str, str, tuple[Any, ...]] = ("", "", ())
        self.exprs: list[list[list[int]]] = []
        self.pxtabs: list[tuple[list[int], list[int]]] = []
        self.dept_literals: list[str] = []
        self.notes: list[str] = []

    # ---- code universe and lists ----
    def add_code(self, code: str, domain: str) -> int:
        idx = self.index[domain]
        if code not in idx:
            idx[code] = len(self.codes[domain])
            self.codes[domain].append(code)
        return idx[code]

    def list_id(self, domain: str, key: str) -> int:
        """Id of a list, created on first reference (only referenced lists take part in grouping)."""
        k = (domain, key)
        if k not in self.lists:
            if key.startswith("prefix:"):  # any_dx_prefix(P): every known code starting with P
                prefix = key[len("prefix:") :]
                self.members[k] = [c for c in self.codes[domain] if c.startswith(prefix)]
            codes = self.members.get(k)
            if codes is None:
                self.notes.append(f"list {key} ({domain}) is referenced but has no codes: it matches nothing")
                codes = []
            for code in codes:
                self.add_code(code, domain)
            idx = self.index[domain]
            self.lists[k] = len(self.list_labels)
            self.list_labels.append(key)
            self.list_domain.append(domain)
            self.list_codes.append([idx[c] for c in codes])
        return self.lists[k]

    # ---- atoms ----
    def atom(self, text: str, ctx: tuple[str, ...]) -> int:
        """Id of an atom (one per distinct kernel row ``(op, a, b)``), read with the registry."""
        try:
            parsed = parse_atom(text)
        except ExprError:
            raise ExprError(f"{self.sid}: unknown atom '{text.strip()}' in context {ctx}") from None
        values = resolve(parsed, lambda kind, value: self._operand(kind, value, ctx))
        key = parsed.atom.kernel_row(values)
        if key not in self.atoms:
            self.atoms[key] = len(self.atom_text)
            self.atom_text.append(parsed.text)
        self._last = (parsed.text, parsed.name, values)
        return self.atoms[key]

    def _resolve(self, name: str, domain: str, ctx: tuple[str, ...]) -> int:
        """A list named in context: ``dx`` is the list of the row's own MDC / rule / DRG, ``OWNER.name``
        another's (``MDCN.dx``, ``PR1.dx``)."""
        if "." in name:
            owner, lst = name.split(".", 1)
            key = f"MDC:{owner}" if owner.startswith("MDC") else f"{owner}.{lst}"
            if owner.startswith("MDC") and lst not in _MDC_LISTS:
                raise ExprError(f"{self.sid}: unknown MDC list '{name}'")
            return self.list_id(domain, key)
        if ctx[0] == "mdc":
            return self.list_id(domain, f"MDC:{ctx[1]}")
        if ctx[0] == "rule":
            return self.list_id(domain, f"{ctx[1]}.{name}")
        return self.list_id(domain, f"drg:{ctx[1]}/{ctx[2]}.{name}")

    def _operand(self, kind: str, value: Any, ctx: tuple[str, ...]) -> Any:
        """An operand in the compiled form: list ids, the px-table spec index, the department literal's index."""
        if kind == DX_LIST:
            return self._resolve(value, "dx", ctx)
        if kind == PX_LIST:
            return self._resolve(value, "px", ctx)
        if kind == PREFIX:  # every known code starting with the prefix (unknown ones get a synthetic id)
            return self.list_id("dx", f"prefix:{value}")
        if kind == PX_TABLES:
            lists = [
                self._resolve(f"px_t{k}", "px", ctx) if any(mk >> (k - 1) & 1 for mk in value) else -1
                for k in range(1, 5)
            ]
            self.pxtabs.append((lists, list(value)))
            return len(self.pxtabs) - 1
        if kind == DEPT:
            if value not in self.dept_literals:
                self.dept_literals.append(value)
            return self.dept_literals.index(value)
        return value

    def expr(self, dnf: list[list[str]], ctx: tuple[str, ...]) -> int:
        ids: list[list[int]] = []
        calls: list[list[Any]] = []
        for conj in dnf:
            ids.append([])
            calls.append([])
            for a in conj:
                ids[-1].append(self.atom(a, ctx))
                calls[-1].append(self._last)
        self.exprs.append(ids)
        self.expr_calls.append(calls)
        return len(self.exprs) - 1


def _int(text: str, default: int = -1) -> int:
    return int(text) if text.strip() else default


#: the scheme's rule tables the compiler reads (the ICD dictionaries are read by :func:`_code_universe`)
_TABLES = (
    "mdc",
    "mdc_dx",
    "mdc_px",
    "adrg",
    "adrg_codes",
    "drg",
    "drg_codes",
    "cc",
    "cc_exclusion",
    "or_procedures",
)

Rows = dict[str, list[dict[str, str]]]
Row = tuple[int, ...]


class _Labels:
    """DRG and ADRG codes and names by id: the fail DRG first, then the DRG table's; ADRG ``QY`` and ``00`` last."""

    def __init__(self, fail_drg: str):
        self.drg_codes: list[str] = [fail_drg]
        self.drg_names: list[str] = ["无法入组 (ungroupable)"]
        self.drg_weights: list[float] = [math.nan]
        self.drg_index: dict[str, int] = {}
        self.adrg_codes: list[str] = []
        self.adrg_names: list[str] = []
        self.adrg_index: dict[str, int] = {}
        self.qy_adrg = -1
        self.fail_adrg = -1

    def drg_id(self, code: str, name: str, weight: float = math.nan) -> int:
        """Id of a DRG code, added (with its name and weight) on first use."""
        if code not in self.drg_index:
            self.drg_index[code] = len(self.drg_codes)
            self.drg_codes.append(code)
            self.drg_names.append(name)
            self.drg_weights.append(weight)
        return self.drg_index[code]


class _Universe(NamedTuple):
    builder: _Builder
    dx_names: list[str]  # names of the dictionary's codes (codes only the tables use have none)
    px_names: list[str]
    n_dx_known: int  # the dictionary's codes come first
    n_px_known: int


class _Program(NamedTuple):
    mdc_rows: list[dict[str, str]]  # in evaluation order
    mdc_tab: list[Row]
    rule_tab: list[Row]
    split_tab: list[Row]
    rule_ids: list[str]


class _Steps(NamedTuple):
    atom_key: dict[int, tuple[int, int, int]]  # atom id → its kernel row
    list_guards: list[tuple[int, int]]  # per expression, before MDC lists become MDC bits
    mdc_list_bit: dict[int, int]  # list id of an MDC's dx list → the MDC's position
    steps: np.ndarray
    returns: np.ndarray
    mdc_entry_pc: np.ndarray
    skip_mask: int


class _CodeProperties(NamedTuple):
    dx_mcc: np.ndarray
    dx_cc: np.ndarray
    dx_excl: np.ndarray
    dx_site: np.ndarray
    px_is_or: np.ndarray


class _Flat(NamedTuple):
    atoms: np.ndarray
    atom_text: list[str]
    atom_calls: list[tuple[str, tuple[Any, ...]]]
    conj_ptr: np.ndarray
    expr_ptr: np.ndarray


class _PxTables(NamedTuple):
    lists: np.ndarray
    mask_ptr: np.ndarray
    masks: np.ndarray


def compile_scheme(scheme: str | Path) -> P.CompiledScheme:
    """Compile a scheme (id or folder path) from its tables, without the disk cache."""
    info = scheme_info(scheme)
    rows = _read_rows(scheme)
    universe = _code_universe(scheme, info.id, rows)
    b = universe.builder
    labels = _labels(info.settings.fail_drg, rows)
    program = _walk_mdcs(info.id, rows, b, labels)
    linear = _linear_program(info.id, b, program, labels)
    props = _code_properties(info.id, rows, b)
    dx_prefixes = _prefix_codes(b)
    dx_codes, px_codes = b.codes["dx"], b.codes["px"]
    n_dx = len(dx_codes)
    dx_ptr, dx_ids = _list_csr(b, "dx", n_dx)
    px_ptr, px_ids = _list_csr(b, "px", len(px_codes))
    flat = _flatten(b, linear.atom_key)
    pxtabs = _px_tables(b)
    uses_any_dx = cc_judges_every_diagnosis(r["split"] for r in rows["drg"])
    edition = info.settings.icd
    return P.CompiledScheme(
        id=info.id,
        name=info.name,
        checksum=info.checksum,
        icd=edition,
        dx_codes=dx_codes,
        px_codes=px_codes,
        dx_names=_padded_names(universe.dx_names, n_dx),
        px_names=_padded_names(universe.px_names, len(px_codes)),
        dx_known=_known(universe.n_dx_known, n_dx),
        px_known=_known(universe.n_px_known, len(px_codes)),
        dx_prefixes=dx_prefixes,
        dx_grey=_grey_array(edition, "dx", dx_codes),
        px_grey=_grey_array(edition, "px", px_codes),
        dx_list_ptr=dx_ptr,
        dx_list_ids=dx_ids,
        px_list_ptr=px_ptr,
        px_list_ids=px_ids,
        list_labels=b.list_labels,
        dx_mcc_tab=_padded(props.dx_mcc, n_dx),
        dx_cc_tab=_padded(props.dx_cc, n_dx),
        dx_excl=_padded(props.dx_excl, n_dx),
        dx_site=_padded(props.dx_site, n_dx),
        px_is_or=props.px_is_or,
        dx_mdc_bits=_mdc_bits(b, linear.mdc_list_bit, n_dx),
        atoms=flat.atoms,
        atom_text=flat.atom_text,
        atom_calls=flat.atom_calls,
        conj_ptr=flat.conj_ptr,
        expr_ptr=flat.expr_ptr,
        pxtab_lists=pxtabs.lists,
        pxtab_mask_ptr=pxtabs.mask_ptr,
        pxtab_masks=pxtabs.masks,
        mdc_tab=np.array(program.mdc_tab, np.int32).reshape(-1, 11),
        rule_tab=np.array(program.rule_tab, np.int32).reshape(-1, 6),
        split_tab=np.array(program.split_tab, np.int32).reshape(-1, 2),
        params=_params(info.settings, uses_any_dx, linear.skip_mask),
        steps=linear.steps,
        returns=linear.returns,
        mdc_entry_pc=linear.mdc_entry_pc,
        expr_guards=np.array(linear.list_guards, np.int32).reshape(-1, 2),
        mdc_codes=[m["mdc"] for m in program.mdc_rows],
        mdc_names=[m["name"] for m in program.mdc_rows],
        rule_ids=program.rule_ids,
        adrg_codes=labels.adrg_codes,
        adrg_names=labels.adrg_names,
        drg_codes=labels.drg_codes,
        drg_names=labels.drg_names,
        drg_weights=np.array(labels.drg_weights, np.float64),
        drg_mdc=[("MDC" + c[0]) if i != 0 else "0000" for i, c in enumerate(labels.drg_codes)],
        fail_drg=0,
        qy_adrg=labels.qy_adrg,
        fail_adrg=labels.fail_adrg,
        dept_literals=b.dept_literals,
        notes=b.notes,
    )


def _read_rows(scheme: str | Path) -> Rows:
    """The scheme's rule tables (:data:`_TABLES`), each as a list of {column: text} rows."""
    tables = {name: load_table(scheme, name) for name in _TABLES}
    return {name: [dict(zip(h, r)) for r in rs] for name, (h, rs) in tables.items()}


def _code_universe(scheme: str | Path, sid: str, rows: Rows) -> _Universe:
    """A builder over the ICD dictionary's codes, then the codes only the tables use, with every list they define."""
    _, icd_dx = icd_table(scheme, "icd_dx")
    _, icd_px = icd_table(scheme, "icd_px")
    dx_codes = [r[0] for r in icd_dx]
    px_codes = [r[0] for r in icd_px]
    dx_index = {c: i for i, c in enumerate(dx_codes)}
    px_index = {c: i for i, c in enumerate(px_codes)}
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    b = _Builder(sid, {"dx": dx_codes, "px": px_codes}, {"dx": dx_index, "px": px_index}, members)
    universe = _Universe(b, [r[1] for r in icd_dx], [r[1] for r in icd_px], len(dx_codes), len(px_codes))
    add = b.add_code
    for r in rows["mdc_dx"]:
        members[("dx", f"MDC:{r['mdc']}")].append(r["dx"])
        add(r["dx"], "dx")
    for r in rows["mdc_px"]:
        members[("px", f"MDC:{r['mdc']}")].append(r["px"])
        add(r["px"], "px")
    for r in rows["adrg_codes"]:
        for dom in ("dx", "px"):
            members[(dom, f"{r['rule_id']}.{r['list']}")].append(r["code"])
    for r in rows["drg_codes"]:
        for dom in ("dx", "px"):
            members[(dom, f"drg:{r['drg']}/{r['rule_id']}.{r['list']}")].append(r["code"])
    for r in rows["or_procedures"]:
        members[("px", "OR")].append(r["code"])
        add(r["code"], "px")
    for r in rows["cc"]:
        add(r["code"], "dx")
    for r in rows["cc_exclusion"]:
        add(r["pdx"], "dx")
    # codes of rule / split lists join the universe of the domain they are used in, when first referenced
    b.list_id("px", "OR")
    return universe


def _labels(fail_drg: str, rows: Rows) -> _Labels:
    """The DRG table's DRGs (with weights) and the ADRG table's ADRGs, then the ambiguous and the fail ADRG."""
    labels = _Labels(fail_drg)
    for r in rows["drg"]:
        w = r.get("weight", "")
        labels.drg_id(r["drg"], r["name"], float(w) if w else math.nan)
    for r in rows["adrg"]:
        if r["adrg"] not in labels.adrg_index:
            labels.adrg_index[r["adrg"]] = len(labels.adrg_codes)
            labels.adrg_codes.append(r["adrg"])
            labels.adrg_names.append(r["name"])
    labels.qy_adrg = len(labels.adrg_codes)
    labels.adrg_codes.append("QY")
    labels.adrg_names.append("歧义组 (ambiguous group)")
    labels.fail_adrg = len(labels.adrg_codes)
    labels.adrg_codes.append("00")
    labels.adrg_names.append("")
    return labels


def _walk_mdcs(sid: str, rows: Rows, b: _Builder, labels: _Labels) -> _Program:
    """The MDC, rule and split tables in evaluation order, their expressions compiled into ``b``."""
    mdc_rows = sorted(rows["mdc"], key=lambda r: int(r["eval_order"]))
    mdc_name = {r["mdc"]: r["name"] for r in mdc_rows}
    rules_by_mdc: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows["adrg"]:
        rules_by_mdc[r["mdc"]].append(r)
    splits_by_rule: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows["drg"]:
        splits_by_rule[r["rule_id"]].append(r)
    program = _Program(mdc_rows, [], [], [], [])
    for m in mdc_rows:
        head = _mdc_head(sid, m, mdc_name, b, labels)
        start = len(program.rule_tab)
        for r in sorted(rules_by_mdc.get(m["mdc"], []), key=lambda r: int(r["eval_order"])):
            program.rule_tab.append(_rule_row(sid, r, splits_by_rule.get(r["rule_id"], []), b, labels, program))
            program.rule_ids.append(r["rule_id"])
        program.mdc_tab.append((*head, start, len(program.rule_tab)))
    return program


def _mdc_head(sid: str, m: dict[str, str], mdc_name: dict[str, str], b: _Builder, labels: _Labels) -> Row:
    """An MDC row's entry, ``else_qy`` / ``first_qy`` clauses and QY check: ``mdc_tab`` up to its rule range."""
    code = m["mdc"]
    entry = parse_mdc_entry(m["entry_expr"])
    ctx = ("mdc", code)
    e_entry = b.expr(entry.entry, ctx)
    e_else, d_else, e_first, d_first = -1, -1, -1, -1
    if entry.else_qy:
        d_else = labels.drg_id(entry.else_qy[0], f"{mdc_name.get('MDC' + entry.else_qy[0][0], '')} 歧义组")
        e_else = b.expr(entry.else_qy[1], ctx)
    if entry.first_qy:
        d_first = labels.drg_id(entry.first_qy[0], f"{mdc_name.get('MDC' + entry.first_qy[0][0], '')} 歧义组")
        e_first = b.expr(entry.first_qy[1], ctx)
    qy_on = m["qy_enabled"] == "1"
    trigger = m["qy_trigger"]
    e_trig = b.expr([[QY_TRIGGERS[trigger]]], ctx) if trigger else -1
    if qy_on and e_trig < 0:
        raise ExprError(f"{sid}: {code} has QY enabled but no trigger")
    qy_drg = labels.drg_id(qy_drg_code(code), f"{m['name']} 歧义组")
    return (e_entry, e_else, d_else, e_first, d_first, int(qy_on), _int(m["qy_position"]), e_trig, qy_drg)


def _rule_row(
    sid: str, r: dict[str, str], splits: list[dict[str, str]], b: _Builder, labels: _Labels, program: _Program
) -> Row:
    """An ADRG rule's ``rule_tab`` row; its DRG splits are appended to ``program.split_tab`` in order."""
    e_rule = b.expr(parse_dnf(r["entry_expr"]), ("rule", r["rule_id"]))
    s_start = len(program.split_tab)
    for s in sorted(splits, key=lambda s: int(s["eval_order"])):
        if s["split"] not in SPLIT_ATOMS:
            raise ExprError(f"{sid}: unknown split '{s['split']}' of {s['drg']}")
        base = SPLIT_ATOMS[s["split"]]
        dnf = [base + conj for conj in parse_dnf(s["extra"])]
        program.split_tab.append((b.expr(dnf, ("drg", s["drg"], r["rule_id"])), labels.drg_index[s["drg"]]))
    if r["no_split_result"] not in ("adrg_code", "next_rule"):
        raise ExprError(f"{sid}: unknown no_split_result '{r['no_split_result']}'")
    adrg_as_drg = labels.drg_id(r["adrg"], r["name"])
    next_rule = int(r["no_split_result"] == "next_rule")
    return (e_rule, labels.adrg_index[r["adrg"]], next_rule, s_start, len(program.split_tab), adrg_as_drg)


def _linear_program(sid: str, b: _Builder, program: _Program, labels: _Labels) -> _Steps:
    """The expressions' guards and the program laid out as steps, with the MDCs a case may skip."""
    true_expr = b.expr([[]], ("mdc", ""))
    atom_key = {k: key for key, k in b.atoms.items()}
    list_guards = [_guard([[atom_key[k] for k in conj] for conj in e]) for e in b.exprs]
    mdc_list_bit = _mdc_list_bits(sid, b, program.mdc_rows)
    guards = [
        (P.G_PDX_MDC, mdc_list_bit[lst]) if kind == P.G_PDX and lst in mdc_list_bit else (kind, lst)
        for kind, lst in list_guards
    ]
    steps, returns = _linearize(
        program.mdc_tab, program.rule_tab, program.split_tab, true_expr, labels.qy_adrg, labels.fail_adrg, guards
    )
    mdc_entry_pc, skip_mask = _mdc_skips(steps, len(program.mdc_tab))
    return _Steps(atom_key, list_guards, mdc_list_bit, steps, returns, mdc_entry_pc, skip_mask)


def _mdc_list_bits(sid: str, b: _Builder, mdc_rows: list[dict[str, str]]) -> dict[int, int]:
    """List id of each MDC's principal-diagnosis list → the MDC's position (its bit); every MDC list gets one."""
    # the bit makes an MDC list's guard cost one load (dx_mdc_bits != 0 also tells whether a code is on any)
    for m in mdc_rows:
        if ("dx", f"MDC:{m['mdc']}") in b.members:
            b.list_id("dx", f"MDC:{m['mdc']}")
    mdc_order = {m["mdc"]: i for i, m in enumerate(mdc_rows)}
    if len(mdc_order) > 32:
        raise ExprError(f"{sid}: more than 32 MDCs")
    return {
        lid: mdc_order[key[4:]]
        for (dom, key), lid in b.lists.items()
        if dom == "dx" and key.startswith("MDC:") and key[4:] in mdc_order
    }


def _code_properties(sid: str, rows: Rows, b: _Builder) -> _CodeProperties:
    """CC / MCC and exclusion tables, body sites and OR flags, per code of the universe (no synthetic codes)."""
    dx_index, px_index = b.index["dx"], b.index["px"]
    n_dx, n_px = len(b.codes["dx"]), len(b.codes["px"])
    dx_mcc = np.full(n_dx, -1, np.int32)
    dx_cc = np.full(n_dx, -1, np.int32)
    for r in rows["cc"]:
        (dx_mcc if r["level"] == "MCC" else dx_cc)[dx_index[r["code"]]] = int(r["exclusion_table"])
    dx_excl = np.full(n_dx, -1, np.int32)
    for r in rows["cc_exclusion"]:
        dx_excl[dx_index[r["pdx"]]] = int(r["exclusion_table"])
    dx_site = np.full(n_dx, -1, np.int32)
    sites: dict[str, int] = {}
    for r in rows["mdc_dx"]:
        if r["body_site"]:
            dx_site[dx_index[r["dx"]]] = sites.setdefault(r["body_site"], len(sites))
    if len(sites) > 31:
        raise ExprError(f"{sid}: more than 31 body sites")
    px_is_or = np.zeros(n_px, np.uint8)
    for c in b.members[("px", "OR")]:
        px_is_or[px_index[c]] = 1
    return _CodeProperties(dx_mcc, dx_cc, dx_excl, dx_site, px_is_or)


def _prefix_codes(b: _Builder) -> list[tuple[str, int]]:
    """(prefix, id) of a synthetic dx code per prefix literal, put on its list: prefix tests see unknown codes."""
    dx_prefixes = []
    for key, lid in list(b.lists.items()):
        if key[0] == "dx" and key[1].startswith("prefix:"):
            sid_ = len(b.codes["dx"])
            b.codes["dx"].append(f"<{key[1]}>")
            dx_prefixes.append((key[1][len("prefix:") :], sid_))
            b.list_codes[lid].append(sid_)
    return dx_prefixes


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    """``values`` (int32) followed by -1 up to length ``n`` (the synthetic codes have no properties)."""
    return np.concatenate([values, np.full(n - len(values), -1, np.int32)])


def _padded_names(names: list[str], n: int) -> list[str]:
    """``names`` followed by blanks up to length ``n``: codes only the tables know have no name."""
    return names + [""] * (n - len(names))


def _known(n_known: int, n: int) -> np.ndarray:
    """uint8 per code id: 1 for the first ``n_known`` codes (the ICD dictionary's)."""
    known = np.zeros(n, np.uint8)
    known[:n_known] = 1
    return known


def _list_csr(b: _Builder, domain: str, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(pointer per code id, list ids): the lists each code of ``domain`` is on, CSR by code."""
    pairs = [(c, lid) for lid, codes in enumerate(b.list_codes) if b.list_domain[lid] == domain for c in codes]
    if not pairs:
        return np.zeros(n_codes + 1, np.int32), np.zeros(0, np.int32)
    arr = np.unique(np.array(pairs, dtype=np.int64), axis=0)
    ptr = np.zeros(n_codes + 1, np.int32)
    np.cumsum(np.bincount(arr[:, 0], minlength=n_codes), out=ptr[1:])
    return ptr, arr[:, 1].astype(np.int32)


def _mdc_bits(b: _Builder, mdc_list_bit: dict[int, int], n_dx: int) -> np.ndarray:
    """uint32 per dx code id: bit m set when the code is on the list of the m-th MDC."""
    bits = np.zeros(n_dx, np.uint32)
    for lid, bit in mdc_list_bit.items():
        bits[b.list_codes[lid]] |= np.uint32(1 << bit)
    return bits


def _flatten(b: _Builder, atom_key: dict[int, tuple[int, int, int]]) -> _Flat:
    """One (op, a, b) row per atom occurrence with its text and call, CSR by conjunction and by expression."""
    conj_ptr, expr_ptr = [0], [0]
    flat: list[Any] = []
    flat_text: list[str] = []
    flat_calls: list[Any] = []
    for e, calls in zip(b.exprs, b.expr_calls):
        for conj, conj_calls in zip(e, calls):
            flat.extend(atom_key[k] for k in conj)
            flat_text.extend(text for text, _name, _values in conj_calls)
            flat_calls.extend((name, values) for _text, name, values in conj_calls)
            conj_ptr.append(len(flat))
        expr_ptr.append(len(conj_ptr) - 1)
    atoms = np.array(flat, np.int32).reshape(-1, 3)
    return _Flat(atoms, flat_text, flat_calls, np.array(conj_ptr, np.int32), np.array(expr_ptr, np.int32))


def _px_tables(b: _Builder) -> _PxTables:
    """The px-table specs: list ids of tables t1..t4 (-1 absent) and their masks, CSR by spec."""
    lists = np.full((max(len(b.pxtabs), 1), 4), -1, np.int32)
    mask_ptr, masks = [0], []
    for k, (spec_lists, mk) in enumerate(b.pxtabs):
        lists[k] = spec_lists
        masks.extend(mk)
        mask_ptr.append(len(masks))
    return _PxTables(lists, np.array(mask_ptr, np.int32), np.array(masks or [0], np.int32))


def _params(settings: Settings, uses_any_dx: bool, skip_mask: int) -> np.ndarray:
    """The kernel's switches (``P.PARAM_*``) from the scheme's settings and program."""
    params = np.zeros(P.N_PARAMS, np.int64)
    params[P.PARAM_VALIDITY] = P.VALIDITY_FULL if settings.full_record_check else P.VALIDITY_GENDER_DX
    params[P.PARAM_CC_MODE] = P.CC_MODE_ANY_DX if uses_any_dx else P.CC_MODE_SECONDARY
    params[P.PARAM_RETRY] = int(settings.retry_0000_with_each_other_proc)
    params[P.PARAM_SKIP_MASK] = skip_mask
    return params


def _guard(expr: list[list[tuple[int, int, int]]]) -> tuple[int, int]:
    """(G_PDX, L) when every conjunction needs ``pdx_in(L)``; (G_MAIN_PX, L) likewise; else (G_NONE, -1)."""
    for op, kind in ((P.OP_PDX_IN, P.G_PDX), (P.OP_MAIN_PX_IN, P.G_MAIN_PX)):
        common = None
        for conj in expr:
            lists = {a for (o, a, _b) in conj if o == op}
            common = lists if common is None else common & lists
        if common:
            return kind, min(common)
    return P.G_NONE, -1


def _mdc_skips(steps: np.ndarray, n_mdc: int) -> tuple[np.ndarray, int]:
    """Entry step of each MDC (plus the end step) and the MDCs a case may skip outright.

    An MDC is skippable when its entry, and its ``else_qy`` clause if any, need the principal diagnosis on
    the MDC's own list (guard bit = the MDC's position): a case whose principal diagnosis lacks that bit
    would only evaluate them to false and move on to the next MDC.
    """
    entry_pc = np.zeros(n_mdc + 1, np.int32)
    skip = 0
    for pc in range(len(steps)):
        kind, label, guard, bit = (int(v) for v in steps[pc, P.T_LABEL_KIND : P.T_GUARD_LIST + 1])
        if kind == P.L_MDC:
            entry_pc[label] = pc
            ok = guard == P.G_PDX_MDC and bit == label
            nxt = steps[pc + 1]
            if ok and nxt[P.T_LABEL_KIND] == P.L_ELSE_QY and int(nxt[P.T_LABEL]) == label:
                ok = int(nxt[P.T_GUARD]) == P.G_PDX_MDC and int(nxt[P.T_GUARD_LIST]) == label
            if ok:
                skip |= 1 << label
        elif kind == P.L_END:
            entry_pc[n_mdc] = pc
    return entry_pc, skip


def _linearize(
    mdc_tab: list[tuple[Any, ...]],
    rule_tab: list[tuple[Any, ...]],
    split_tab: list[tuple[Any, ...]],
    true_expr: int,
    qy_adrg: int,
    fail_adrg: int,
    guards: list[tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """Lay the MDC → rule → split order out as steps with true/false actions (see ``program``)."""
    steps: list[list[int]] = []
    returns: list[tuple[int, ...]] = []
    patches: list[tuple[int, int, str]] = []  # (step, column, label of the target)
    targets: dict[str, int] = {}

    def ret(*row: int) -> int:
        returns.append(row)
        return len(returns) - 1

    def step(expr: int, true: tuple[int, int], false: tuple[int, int], label_kind: int, label: int) -> int:
        steps.append([expr, true[0], true[1], false[0], false[1], label_kind, label, *guards[expr]])
        return len(steps) - 1

    def jump_later(kind_col: int, target: str) -> tuple[int, int]:
        patches.append((len(steps), kind_col, target))
        return (P.A_JUMP, -1)

    nxt = (P.A_NEXT, 0)
    for m, row in enumerate(mdc_tab):
        (e_entry, e_else, d_else, e_first, d_first, qy_on, qy_pos, e_trig, qy_drg, r_start, r_end) = row
        if e_else >= 0:
            step(e_entry, jump_later(P.T_TRUE_KIND, f"body{m}"), nxt, P.L_MDC, m)
            step(
                e_else,
                (P.A_RETURN, ret(P.ST_AMBIGUOUS, d_else, qy_adrg, -1, P.R_QY_ENTRY)),
                jump_later(P.T_FALSE_KIND, f"mdc{m + 1}"),
                P.L_ELSE_QY,
                m,
            )
        else:
            step(e_entry, nxt, jump_later(P.T_FALSE_KIND, f"mdc{m + 1}"), P.L_MDC, m)
        targets[f"body{m}"] = len(steps)
        if e_first >= 0:
            step(e_first, (P.A_RETURN, ret(P.ST_AMBIGUOUS, d_first, qy_adrg, -1, P.R_QY_ENTRY)), nxt, P.L_FIRST_QY, m)
        qy = (P.A_RETURN, ret(P.ST_AMBIGUOUS, qy_drg, qy_adrg, -1, P.R_QY_OR_PROC)) if qy_on else None
        for r in range(r_start, r_end):
            targets[f"m{m}r{r}"] = len(steps)
            if qy and r - r_start == qy_pos:
                step(e_trig, qy, nxt, P.L_QY, m)
            e_rule, adrg, next_rule, s_start, s_end, adrg_drg = rule_tab[r]
            step(e_rule, nxt, jump_later(P.T_FALSE_KIND, f"m{m}r{r + 1}"), P.L_RULE, r)
            for k in range(s_start, s_end):
                e_split, drg = split_tab[k]
                step(e_split, (P.A_RETURN, ret(P.ST_OK, drg, adrg, r, 0)), nxt, P.L_SPLIT, drg)
            if not next_rule:
                step(true_expr, (P.A_RETURN, ret(P.ST_OK, adrg_drg, adrg, r, 0)), nxt, P.L_DEFAULT, adrg_drg)
        targets[f"m{m}r{r_end}"] = len(steps)  # past the last rule: the end-of-MDC QY check
        if qy and qy_pos == r_end - r_start:
            step(e_trig, qy, nxt, P.L_QY, m)
        targets[f"mdc{m + 1}"] = len(steps)
    step(true_expr, (P.A_RETURN, ret(P.ST_UNGROUPABLE, 0, fail_adrg, -1, P.R_NO_ADRG)), nxt, P.L_END, 0)
    for at, col, target in patches:
        steps[at][col + 1] = targets[target]
    return np.array(steps, np.int32), np.array(returns, np.int32)


@lru_cache(maxsize=8)
def load_compiled(scheme: str | Path) -> P.CompiledScheme:
    """Compiled scheme, from the disk cache when its key matches, else compiled and cached."""
    info = scheme_info(scheme)
    path = cache_dir() / f"{info.id}-{info.checksum}-{_compiler_key()}.pkl"

    def warn(exc: OSError) -> None:  # an unwritable cache costs a compile per run, not the run
        import warnings

        warnings.warn(
            f"drgkit: cannot write the scheme cache {path.parent} ({exc.strerror}); compiling in memory", stacklevel=3
        )

    return cached(
        path,
        lambda: compile_scheme(scheme),
        # a file of another scheme under this name (copied, renamed) is not this scheme
        lambda c: isinstance(c, P.CompiledScheme) and c.id == info.id and c.checksum == info.checksum,
        # programs of earlier versions of this scheme's tables (same compiler) will not be asked for again
        lambda: path.parent.glob(f"{info.id}-*-{_compiler_key()}.pkl"),
        on_write_error=warn,
    )
