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
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..codes.grey import grey_codes
from ..disk_cache import cached
from ..paths import cache_dir, icd_dir
from . import program as P
from .atoms import DEPT, DX_LIST, PREFIX, PX_LIST, PX_TABLES, QY_TRIGGERS, SPLIT_ATOMS, parse_atom, resolve
from .expr import ExprError, parse_dnf, parse_mdc_entry
from .manifest import cc_judges_every_diagnosis, qy_drg_code
from .tables import icd_table, load_table, scheme_info

_MDC_LISTS = ("dx", "px")


def _compiler_digest() -> str:
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


# computed at import, so the key describes the code and grey lists in use (not files edited since)
_COMPILER_DIGEST = _compiler_digest()


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


def compile_scheme(scheme: str | Path) -> P.CompiledScheme:
    """Compile a scheme (id or folder path) from its tables, without the disk cache."""
    info = scheme_info(scheme)
    T = {
        name: load_table(scheme, name)
        for name in (
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
    }
    rows = {name: [dict(zip(h, r)) for r in rs] for name, (h, rs) in T.items()}
    _, icd_dx = icd_table(scheme, "icd_dx")
    _, icd_px = icd_table(scheme, "icd_px")

    # ---- code universe: dictionary codes first, then codes that only the tables use ----
    dx_codes = [r[0] for r in icd_dx]
    dx_names = [r[1] for r in icd_dx]
    px_codes = [r[0] for r in icd_px]
    px_names = [r[1] for r in icd_px]
    n_dx_known, n_px_known = len(dx_codes), len(px_codes)
    dx_index = {c: i for i, c in enumerate(dx_codes)}
    px_index = {c: i for i, c in enumerate(px_codes)}
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    b = _Builder(info.id, {"dx": dx_codes, "px": px_codes}, {"dx": dx_index, "px": px_index}, members)
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

    # ---- DRG and ADRG labels ----
    drg_codes: list[str] = [info.settings.fail_drg]
    drg_names: list[str] = ["无法入组 (ungroupable)"]
    drg_weights: list[float] = [math.nan]
    drg_index: dict[str, int] = {}

    def drg_id(code: str, name: str, weight: float = math.nan) -> int:
        if code not in drg_index:
            drg_index[code] = len(drg_codes)
            drg_codes.append(code)
            drg_names.append(name)
            drg_weights.append(weight)
        return drg_index[code]

    for r in rows["drg"]:
        w = r.get("weight", "")
        drg_id(r["drg"], r["name"], float(w) if w else math.nan)
    adrg_codes: list[str] = []
    adrg_names: list[str] = []
    adrg_index: dict[str, int] = {}
    for r in rows["adrg"]:
        if r["adrg"] not in adrg_index:
            adrg_index[r["adrg"]] = len(adrg_codes)
            adrg_codes.append(r["adrg"])
            adrg_names.append(r["name"])
    qy_adrg = len(adrg_codes)
    adrg_codes.append("QY")
    adrg_names.append("歧义组 (ambiguous group)")
    fail_adrg = len(adrg_codes)
    adrg_codes.append("00")
    adrg_names.append("")

    # ---- the program ----
    mdc_rows = sorted(rows["mdc"], key=lambda r: int(r["eval_order"]))
    mdc_name = {r["mdc"]: r["name"] for r in mdc_rows}
    rules_by_mdc: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows["adrg"]:
        rules_by_mdc[r["mdc"]].append(r)
    splits_by_rule: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows["drg"]:
        splits_by_rule[r["rule_id"]].append(r)

    mdc_tab: list[Any] = []
    rule_tab: list[Any] = []
    split_tab: list[Any] = []
    rule_ids: list[str] = []
    uses_any_dx = cc_judges_every_diagnosis(r["split"] for r in rows["drg"])
    for m in mdc_rows:
        code = m["mdc"]
        entry = parse_mdc_entry(m["entry_expr"])
        ctx = ("mdc", code)
        e_entry = b.expr(entry.entry, ctx)
        e_else, d_else, e_first, d_first = -1, -1, -1, -1
        if entry.else_qy:
            d_else = drg_id(entry.else_qy[0], f"{mdc_name.get('MDC' + entry.else_qy[0][0], '')} 歧义组")
            e_else = b.expr(entry.else_qy[1], ctx)
        if entry.first_qy:
            d_first = drg_id(entry.first_qy[0], f"{mdc_name.get('MDC' + entry.first_qy[0][0], '')} 歧义组")
            e_first = b.expr(entry.first_qy[1], ctx)
        qy_on = m["qy_enabled"] == "1"
        trigger = m["qy_trigger"]
        e_trig = b.expr([[QY_TRIGGERS[trigger]]], ctx) if trigger else -1
        if qy_on and e_trig < 0:
            raise ExprError(f"{info.id}: {code} has QY enabled but no trigger")
        qy_drg = drg_id(qy_drg_code(code), f"{m['name']} 歧义组")
        start = len(rule_tab)
        for r in sorted(rules_by_mdc.get(code, []), key=lambda r: int(r["eval_order"])):
            rctx = ("rule", r["rule_id"])
            e_rule = b.expr(parse_dnf(r["entry_expr"]), rctx)
            s_start = len(split_tab)
            for s in sorted(splits_by_rule.get(r["rule_id"], []), key=lambda s: int(s["eval_order"])):
                if s["split"] not in SPLIT_ATOMS:
                    raise ExprError(f"{info.id}: unknown split '{s['split']}' of {s['drg']}")
                base = SPLIT_ATOMS[s["split"]]
                dnf = [base + conj for conj in parse_dnf(s["extra"])]
                split_tab.append((b.expr(dnf, ("drg", s["drg"], r["rule_id"])), drg_index[s["drg"]]))
            if r["no_split_result"] not in ("adrg_code", "next_rule"):
                raise ExprError(f"{info.id}: unknown no_split_result '{r['no_split_result']}'")
            adrg_as_drg = drg_id(r["adrg"], r["name"])
            rule_tab.append(
                (
                    e_rule,
                    adrg_index[r["adrg"]],
                    int(r["no_split_result"] == "next_rule"),
                    s_start,
                    len(split_tab),
                    adrg_as_drg,
                )
            )
            rule_ids.append(r["rule_id"])
        mdc_tab.append(
            (
                e_entry,
                e_else,
                d_else,
                e_first,
                d_first,
                int(qy_on),
                _int(m["qy_position"]),
                e_trig,
                qy_drg,
                start,
                len(rule_tab),
            )
        )

    true_expr = b.expr([[]], ("mdc", ""))
    atom_key = {k: key for key, k in b.atoms.items()}
    guards = [_guard([[atom_key[k] for k in conj] for conj in e]) for e in b.exprs]
    # An MDC's principal-diagnosis list gets the bit of the MDC's position, so its guard costs one load;
    # every MDC list gets one (dx_mdc_bits != 0 also tells whether a code is on any MDC list)
    for m in mdc_rows:
        if ("dx", f"MDC:{m['mdc']}") in members:
            b.list_id("dx", f"MDC:{m['mdc']}")
    mdc_order = {m["mdc"]: i for i, m in enumerate(mdc_rows)}
    if len(mdc_order) > 32:
        raise ExprError(f"{info.id}: more than 32 MDCs")
    mdc_list_bit = {
        lid: mdc_order[key[4:]]
        for (dom, key), lid in b.lists.items()
        if dom == "dx" and key.startswith("MDC:") and key[4:] in mdc_order
    }
    list_guards = guards
    guards = [
        (P.G_PDX_MDC, mdc_list_bit[lst]) if kind == P.G_PDX and lst in mdc_list_bit else (kind, lst)
        for kind, lst in guards
    ]
    steps, returns = _linearize(mdc_tab, rule_tab, split_tab, true_expr, qy_adrg, fail_adrg, guards)
    mdc_entry_pc, skip_mask = _mdc_skips(steps, len(mdc_tab))

    # ---- per-code properties (over the final universe) ----
    n_dx, n_px = len(dx_codes), len(px_codes)
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
        raise ExprError(f"{info.id}: more than 31 body sites")
    px_is_or = np.zeros(n_px, np.uint8)
    for c in members[("px", "OR")]:
        px_is_or[px_index[c]] = 1

    # unknown codes that share a prefix literal get a synthetic id, so prefix tests see them
    dx_prefixes = []
    for key, lid in list(b.lists.items()):
        if key[0] == "dx" and key[1].startswith("prefix:"):
            sid_ = len(dx_codes)
            dx_codes.append(f"<{key[1]}>")
            dx_names.append("")
            dx_prefixes.append((key[1][len("prefix:") :], sid_))
            b.list_codes[lid].append(sid_)
    n_syn = len(dx_codes) - n_dx
    dx_mcc = np.concatenate([dx_mcc, np.full(n_syn, -1, np.int32)])
    dx_cc = np.concatenate([dx_cc, np.full(n_syn, -1, np.int32)])
    dx_excl = np.concatenate([dx_excl, np.full(n_syn, -1, np.int32)])
    dx_site = np.concatenate([dx_site, np.full(n_syn, -1, np.int32)])

    def csr(domain: str, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(c, lid) for lid, codes in enumerate(b.list_codes) if b.list_domain[lid] == domain for c in codes]
        if not pairs:
            return np.zeros(n_codes + 1, np.int32), np.zeros(0, np.int32)
        arr = np.unique(np.array(pairs, dtype=np.int64), axis=0)
        ptr = np.zeros(n_codes + 1, np.int32)
        np.cumsum(np.bincount(arr[:, 0], minlength=n_codes), out=ptr[1:])
        return ptr, arr[:, 1].astype(np.int32)

    dx_ptr, dx_ids = csr("dx", len(dx_codes))
    px_ptr, px_ids = csr("px", len(px_codes))
    dx_mdc_bits = np.zeros(len(dx_codes), np.uint32)
    for lid, bit in mdc_list_bit.items():
        dx_mdc_bits[b.list_codes[lid]] |= np.uint32(1 << bit)

    # ---- flatten expressions: one (op, a, b) row per atom occurrence, CSR by conjunction ----
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
    pxtab_lists = np.full((max(len(b.pxtabs), 1), 4), -1, np.int32)
    mask_ptr, masks = [0], []
    for k, (lists, mk) in enumerate(b.pxtabs):
        pxtab_lists[k] = lists
        masks.extend(mk)
        mask_ptr.append(len(masks))

    params = np.zeros(P.N_PARAMS, np.int64)
    params[P.PARAM_VALIDITY] = P.VALIDITY_FULL if info.settings.full_record_check else P.VALIDITY_GENDER_DX
    params[P.PARAM_CC_MODE] = P.CC_MODE_ANY_DX if uses_any_dx else P.CC_MODE_SECONDARY
    params[P.PARAM_RETRY] = int(info.settings.retry_0000_with_each_other_proc)
    params[P.PARAM_SKIP_MASK] = skip_mask

    dx_known = np.zeros(len(dx_codes), np.uint8)
    dx_known[:n_dx_known] = 1
    px_known = np.zeros(len(px_codes), np.uint8)
    px_known[:n_px_known] = 1
    # names for codes that only the tables know
    dx_names += [""] * (len(dx_codes) - len(dx_names))
    px_names += [""] * (len(px_codes) - len(px_names))
    edition = info.settings.icd

    return P.CompiledScheme(
        id=info.id,
        name=info.name,
        checksum=info.checksum,
        icd=edition,
        dx_codes=dx_codes,
        px_codes=px_codes,
        dx_names=dx_names,
        px_names=px_names,
        dx_known=dx_known,
        px_known=px_known,
        dx_prefixes=dx_prefixes,
        dx_grey=_grey_array(edition, "dx", dx_codes),
        px_grey=_grey_array(edition, "px", px_codes),
        dx_list_ptr=dx_ptr,
        dx_list_ids=dx_ids,
        px_list_ptr=px_ptr,
        px_list_ids=px_ids,
        list_labels=b.list_labels,
        dx_mcc_tab=dx_mcc,
        dx_cc_tab=dx_cc,
        dx_excl=dx_excl,
        dx_site=dx_site,
        px_is_or=px_is_or,
        dx_mdc_bits=dx_mdc_bits,
        atoms=atoms,
        atom_text=flat_text,
        atom_calls=flat_calls,
        conj_ptr=np.array(conj_ptr, np.int32),
        expr_ptr=np.array(expr_ptr, np.int32),
        pxtab_lists=pxtab_lists,
        pxtab_mask_ptr=np.array(mask_ptr, np.int32),
        pxtab_masks=np.array(masks or [0], np.int32),
        mdc_tab=np.array(mdc_tab, np.int32).reshape(-1, 11),
        rule_tab=np.array(rule_tab, np.int32).reshape(-1, 6),
        split_tab=np.array(split_tab, np.int32).reshape(-1, 2),
        params=params,
        steps=steps,
        returns=returns,
        mdc_entry_pc=mdc_entry_pc,
        expr_guards=np.array(list_guards, np.int32).reshape(-1, 2),
        mdc_codes=[m["mdc"] for m in mdc_rows],
        mdc_names=[m["name"] for m in mdc_rows],
        rule_ids=rule_ids,
        adrg_codes=adrg_codes,
        adrg_names=adrg_names,
        drg_codes=drg_codes,
        drg_names=drg_names,
        drg_weights=np.array(drg_weights, np.float64),
        drg_mdc=[("MDC" + c[0]) if i != 0 else "0000" for i, c in enumerate(drg_codes)],
        fail_drg=0,
        qy_adrg=qy_adrg,
        fail_adrg=fail_adrg,
        dept_literals=b.dept_literals,
        notes=b.notes,
    )


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
    path = cache_dir() / f"{info.id}-{info.checksum}-{_COMPILER_DIGEST}.pkl"

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
        lambda: path.parent.glob(f"{info.id}-*-{_COMPILER_DIGEST}.pkl"),
        on_write_error=warn,
    )
