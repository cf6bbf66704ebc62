"""The kernel's form of the rule program: packed step rows, case words and residual conjunctions.

The reference interpreter walks ``steps`` and the original atoms; the kernel walks this form, built from
the same program. Four things make it fast:

* **Packed rows.** Everything the kernel reads for a step sits in one 64-byte row of ``prog`` (flat int32,
  ``KW`` columns), and everything for a conjunction in one row of ``conj`` (flat int64): few arrays, fixed
  strides, one cache line per step.
* **Case words.** Before it walks the program, the kernel folds each case into one 64-bit word (int64,
  bit 63 unused): its CC flags, whether its main procedure / any procedure is an OR procedure
  (有效手术室操作), and one bit per code list that the rules test with ``pdx_in``, ``any_dx_in``,
  ``sdx_in``, ``main_px_in`` or ``any_px_in`` — OR-ed over the case's codes from per-code words, filtered
  by the code's position (principal / secondary diagnosis, main / other procedure). A conjunction then
  becomes ``(mask, want)``: it can only be true when ``word & mask == want``. The comparisons of the MDC
  entries every case evaluates get bits too (as ranges of a field). Atoms without a bit (other numbers,
  birth weight, body sites, procedure tables, lists beyond ``LIST_BITS``) stay *generic* and are
  evaluated one by one. Guard atoms are dropped from the conjunctions: the kernel tests the step's
  guard first, so a guarded expression is only evaluated when its guard atom is known true.
* **Fewer steps.** A run of DRG splits on the CC level is one table lookup (``chain``); an MDC entry
  decided by the case word costs no step (column ``K_WORD``), nor does one every visiting case passes
  (``MDC_TAKEN``); an MDC every case visits is dropped from the MDCs to visit, without a branch, when the
  case word lacks what all its conjunctions require (``mdc_pre``); rules a case cannot satisfy are jumped
  over along their chain of false branches (``_skip_chains``: rules guarded by a list the case's code is
  not on, and *word steps* whose conjunctions fail on the case word), and a candidate rule its guard alone
  decides takes its true branch at once (``K_GUARD_ONLY``).
* **One cache line per code.** What the kernel reads of a diagnosis (its word and CC entry), of a
  principal diagnosis (exclusion table, MDC bits, candidate range) and of a procedure (word, candidate
  range) sits in one row each (``dx_tab``, ``pdx_tab``, ``px_tab``).

The form is derived from a :class:`~drgkit.schemes.program.CompiledScheme` (the semantic program: steps,
atoms, lists, per-code facts) by :func:`packed`, which keeps it beside the compiled scheme in drgkit's cache;
:func:`kernel_tables` hands the kernel its arrays by name. The differential tests prove the kernel equal to
the spec-shaped reference.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..disk_cache import cached
from ..paths import cache_dir
from ..schemes import program as P
from ..schemes.program import CompiledScheme

# fixed bits
B_SEC_MCC, B_SEC_CC, B_SEC_MCC_OR_CC, B_ANY_MCC, B_ANY_MCC_OR_CC, B_MAIN_OR, B_ANY_OR = range(7)
N_FIXED = 7
N_CC_STATES = 1 << 5  # the five CC bits B_SEC_MCC .. B_ANY_MCC_OR_CC are the word's low bits
N_BITS = 63  # bit 63 stays clear: the word is a signed int64 (numba turns int64 op uint64 into float64)
LIST_BITS = N_BITS - N_FIXED  # bits for code lists; the tests lower it to exercise the generic atoms

# atom op → (fixed bit, negated)
_FIXED = {
    P.OP_MCC: (B_SEC_MCC, False),
    P.OP_CC: (B_SEC_CC, False),
    P.OP_MCC_OR_CC: (B_SEC_MCC_OR_CC, False),
    P.OP_MCC_ANY_DX: (B_ANY_MCC, False),
    P.OP_MCC_OR_CC_ANY_DX: (B_ANY_MCC_OR_CC, False),
    P.OP_MAIN_PX_OR: (B_MAIN_OR, False),
    P.OP_MAIN_PX_NOT_OR: (B_MAIN_OR, True),
    P.OP_ANY_PX_OR: (B_ANY_OR, False),
    P.OP_NO_PX_OR: (B_ANY_OR, True),
}
# list atom op → (list kind, negated); the kind says which code positions set the bit
_LISTS = {
    P.OP_PDX_IN: ("pdx", False),
    P.OP_PDX_NOT_IN: ("pdx", True),
    P.OP_ANY_DX_IN: ("any_dx", False),
    P.OP_SDX_IN: ("sdx", False),
    P.OP_MAIN_PX_IN: ("main_px", False),
    P.OP_ANY_PX_IN: ("any_px", False),
}
_DX_KINDS = ("pdx", "any_dx", "sdx")


# columns of a ``prog`` row (one per step)
(
    K_LABEL_KIND,
    K_LABEL,
    K_GUARD,
    K_GUARD_ARG,
    K_CONJ0,
    K_CONJ1,
    K_TRUE_KIND,
    K_TRUE_ARG,
    K_FALSE_KIND,
    K_FALSE_ARG,
    K_STOP,
    K_CHAIN,
    K_WORD,
    K_WNEXT,
    K_WAFTER,
    K_GUARD_ONLY,
) = range(16)
KW = 16  # row width: 64 bytes
CW = 4  # ``conj`` row: mask, want, first generic atom, end of generic atoms
AW = 3  # ``atoms`` row: op, a, b
NW = 4  # ``num_tab`` row: field, low, high, bit
MAX_NUM_BITS = 8
MDC_TAKEN = 3  # ``K_WORD`` of an MDC entry every visiting case passes
_HUGE = 1 << 40
# a numeric atom as the range its (known, >= 0) value must lie in; unknown values are -1 and fail every range
_RANGES: dict[int, Callable[[int], tuple[int, int]]] = {
    P.OP_NUM_EQ: lambda b: (b, b),
    P.OP_NUM_LT: lambda b: (0, b - 1),
    P.OP_NUM_LE: lambda b: (0, b),
    P.OP_NUM_GT: lambda b: (b + 1, _HUGE),
    P.OP_NUM_GE: lambda b: (b, _HUGE),
    P.OP_WEIGHT_GE: lambda b: (max(b, 1), _HUGE),
    P.OP_WEIGHT_LT: lambda b: (1, b - 1),
}


@dataclass
class KernelProgram:
    """Arrays the kernel reads (see the module docstring)."""

    prog: np.ndarray  # int32 (n_steps * KW): per step, the columns K_*
    conj: np.ndarray  # int64 (n_conj * CW): per residual conjunction, its mask, want and generic atoms
    atoms: np.ndarray  # int32 (n_atoms * AW): generic atoms (op, a, b)
    chain: np.ndarray  # int32 (rows * N_CC_STATES): per CC state, the return row (>= 0) or -(step + 1)
    dx_tab: np.ndarray  # int64 (n_dx * 2): per dx code, its word (bits of its lists, all diagnosis
    # kinds) and its CC entry (exclusion table as MCC + 1) | (as CC + 1) << 32
    pdx_tab: np.ndarray  # int32 (n_dx * 4): per dx code as principal diagnosis, its exclusion table + 1
    # (0: none), MDC bits, and its candidate steps (start, end in ``dx_cand``)
    px_tab: np.ndarray  # int64 (n_px * 2): per px code, its word (bits of its lists and its OR flags)
    # and its candidate steps as main procedure (start | end << 32 in ``px_cand``)
    pos_masks: np.ndarray  # int64 [principal dx, secondary dx, main px, other px]: bits each position may set
    num_tab: np.ndarray  # int64 (n * NW): numeric atoms with a bit, as ranges (field, low, high, bit)
    # rule skipping (see _skip_chains): the guarded steps a principal diagnosis / main procedure lets through
    dx_cand: np.ndarray  # int32
    px_cand: np.ndarray  # int32
    mdc_pre: np.ndarray  # int64 (n * 3): MDCs every case visits, with the word bits all their conjunctions
    # require (MDC, mask, want): tested while choosing the MDCs to visit

    @property
    def dx_word(self) -> np.ndarray:
        """Per dx code, the bits of its lists."""
        return self.dx_tab[0::2]

    @property
    def px_word(self) -> np.ndarray:
        """Per px code, the bits of its lists and its OR flags."""
        return self.px_tab[0::2]


class KernelTables(NamedTuple):
    """The scheme's arrays the kernel reads, named as ``kernel.group_range`` names its parameters and in
    its order (``tests/test_kernel_program.py`` checks the two agree), so no caller orders 24 arrays by hand."""

    prog: np.ndarray
    conj: np.ndarray
    atoms: np.ndarray
    chain: np.ndarray
    dx_tab: np.ndarray
    pdx_tab: np.ndarray
    px_tab: np.ndarray
    pos_masks: np.ndarray
    num_tab: np.ndarray
    mdc_pre: np.ndarray
    returns: np.ndarray
    entry_pc: np.ndarray
    dcand: np.ndarray
    pcand: np.ndarray
    dx_ptr: np.ndarray
    dx_ids: np.ndarray
    px_ptr: np.ndarray
    px_ids: np.ndarray
    site: np.ndarray
    is_or: np.ndarray
    pxtab_lists: np.ndarray
    mask_ptr: np.ndarray
    masks: np.ndarray
    params: np.ndarray


def kernel_tables(scheme: CompiledScheme) -> KernelTables:
    """The scheme's arrays the kernel reads, named and in its argument order."""
    k = packed(scheme)
    return KernelTables(
        prog=k.prog,
        conj=k.conj,
        atoms=k.atoms,
        chain=k.chain,
        dx_tab=k.dx_tab,
        pdx_tab=k.pdx_tab,
        px_tab=k.px_tab,
        pos_masks=k.pos_masks,
        num_tab=k.num_tab,
        mdc_pre=k.mdc_pre,
        returns=scheme.returns,
        entry_pc=scheme.mdc_entry_pc,
        dcand=k.dx_cand,
        pcand=k.px_cand,
        dx_ptr=scheme.dx_list_ptr,
        dx_ids=scheme.dx_list_ids,
        px_ptr=scheme.px_list_ptr,
        px_ids=scheme.px_list_ids,
        site=scheme.dx_site,
        is_or=scheme.px_is_or,
        pxtab_lists=scheme.pxtab_lists,
        mask_ptr=scheme.pxtab_mask_ptr,
        masks=scheme.pxtab_masks,
        params=scheme.params,
    )


@cache
def _digest() -> str:
    """This module and the opcodes it reads: a change to either builds the packed form anew.  Computed once per
    process, on first use (importing the module hashes no file)."""
    h = hashlib.sha256()
    for path in (Path(__file__), Path(P.__file__)):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def packed(scheme: CompiledScheme) -> KernelProgram:
    """The kernel's form of ``scheme``: built once per process (kept on the scheme object) and once per
    scheme version on disk (``<id>-<checksum>-kernel-<digest>.pkl`` beside the compiled scheme)."""
    memo = scheme.__dict__.get("_kernel_program")
    if memo is not None and memo[0] == LIST_BITS:
        return memo[1]  # type: ignore[no-any-return]
    path = cache_dir() / f"{scheme.id}-{scheme.checksum}-kernel-{_digest()}-{LIST_BITS}.pkl"
    kprog = cached(
        path,
        lambda: build_from(scheme),
        lambda k: isinstance(k, KernelProgram),
        # forms of earlier versions of this scheme's tables will not be asked for again
        lambda: (
            old
            for old in path.parent.glob(f"{scheme.id}-*-kernel-*.pkl")
            if not old.name.startswith(f"{scheme.id}-{scheme.checksum}-")
        ),
    )
    scheme.__dict__["_kernel_program"] = (LIST_BITS, kprog)
    return kprog


def build_from(scheme: CompiledScheme) -> KernelProgram:
    """Build the packed form from the compiled scheme's semantic program (no cache)."""
    atoms = [tuple(int(v) for v in row) for row in scheme.atoms.tolist()]
    conj_ptr, expr_ptr = scheme.conj_ptr.tolist(), scheme.expr_ptr.tolist()
    exprs = [
        [atoms[conj_ptr[c] : conj_ptr[c + 1]] for c in range(expr_ptr[e], expr_ptr[e + 1])]
        for e in range(len(expr_ptr) - 1)
    ]
    return build(
        exprs,  # type: ignore[arg-type]
        [(int(k), int(lst)) for k, lst in scheme.expr_guards.tolist()],
        scheme.steps,
        scheme.mdc_entry_pc,
        int(scheme.params[P.PARAM_SKIP_MASK]),
        len(scheme.list_labels),
        scheme.dx_list_ptr,
        scheme.dx_list_ids,
        scheme.px_list_ptr,
        scheme.px_list_ids,
        scheme.px_is_or,
        scheme.dx_mcc_tab,
        scheme.dx_cc_tab,
        scheme.dx_excl,
        scheme.dx_mdc_bits,
    )


def build(
    exprs: list[list[list[tuple[int, int, int]]]],
    guards: list[tuple[int, int]],
    steps: np.ndarray,
    entry_pc: np.ndarray,
    skip_mask: int,
    n_lists: int,
    dx_ptr: np.ndarray,
    dx_ids: np.ndarray,
    px_ptr: np.ndarray,
    px_ids: np.ndarray,
    px_is_or: np.ndarray,
    dx_mcc: np.ndarray,
    dx_cc: np.ndarray,
    dx_excl: np.ndarray,
    dx_mdc_bits: np.ndarray,
) -> KernelProgram:
    """The kernel program of a linearized scheme (``steps``).

    ``exprs`` holds every expression as DNF of ``(op, a, b)`` atoms; ``guards[e]`` is the guard of
    expression ``e`` as ``(G_PDX | G_MAIN_PX, list id)`` or ``(G_NONE, -1)``; lists on the unguarded
    ``steps`` (every case reaching them pays) get bits first; ``entry_pc`` gives each MDC's entry step and
    ``skip_mask`` the MDCs a case skips when its principal diagnosis is not on their list; list ids run over
    ``n_lists`` (both domains share them); ``dx_mcc`` / ``dx_cc`` give each dx code's exclusion table as an
    MCC / a CC (-1: it is none), ``dx_excl`` its exclusion table as principal diagnosis (-1: none) and
    ``dx_mdc_bits`` the MDC lists it is on (bit m: the m-th MDC).
    """
    hot = np.bincount(steps[steps[:, P.T_GUARD] == P.G_NONE, P.T_EXPR], minlength=len(exprs))
    guard_atom = {P.G_PDX: P.OP_PDX_IN, P.G_MAIN_PX: P.OP_MAIN_PX_IN}
    residual = []
    for e, dnf in enumerate(exprs):
        kind, lst = guards[e]
        drop = (guard_atom[kind], lst) if kind in guard_atom else None
        residual.append([[t for t in conj if drop is None or (t[0], t[1]) != drop] for conj in dnf])

    # list bits: lists on unguarded steps first, then by how often they occur
    weight: Counter[tuple[str, int]] = Counter()
    for e, dnf in enumerate(residual):
        for conj in dnf:
            for op, a, _b in conj:
                if op in _LISTS:
                    weight[(_LISTS[op][0], a)] += 1 + 1000 * hot[e]
    # numeric bits: only the comparisons of the MDC entry clauses that every case evaluates (MDCs it cannot
    # skip by its principal diagnosis, such as a newborn MDC open to any code), so that the word decides
    # them; each costs a comparison per case, which elsewhere does not pay
    entries = np.isin(steps[:, P.T_LABEL_KIND], (P.L_MDC, P.L_ELSE_QY))
    unskippable = np.array([not (skip_mask >> int(m)) & 1 for m in steps[:, P.T_LABEL]], bool)
    entry_exprs = steps[entries & unskippable, P.T_EXPR]
    numeric = sorted({t for e in set(entry_exprs.tolist()) for conj in residual[e] for t in conj if t[0] in _RANGES})[
        :MAX_NUM_BITS
    ]
    num_bit = {t: N_FIXED + i for i, t in enumerate(numeric)}
    first_list_bit = N_FIXED + len(numeric)
    keys = sorted(weight, key=lambda k: (-weight[k], k))[: min(LIST_BITS, N_BITS - first_list_bit)]
    bit_of = {k: first_list_bit + i for i, k in enumerate(keys)}

    def lookup(op: int, a: int, b: int) -> tuple[int, bool] | None:
        if op in _FIXED:
            return _FIXED[op]
        if (op, a, b) in num_bit:
            return num_bit[(op, a, b)], False
        if op in _LISTS and (_LISTS[op][0], a) in bit_of:
            return bit_of[(_LISTS[op][0], a)], _LISTS[op][1]
        return None

    # built as lists, frozen into arrays below
    expr_ptr_l: list[int] = [0]
    conj_mask_l: list[int] = []
    conj_want_l: list[int] = []
    conj_ptr_l: list[int] = [0]
    atoms: list[tuple[int, int, int]] = []
    for dnf in residual:
        for conj in dnf:
            mask = want = 0
            generic = []
            possible = True
            for op, a, b in conj:
                if op == P.OP_TRUE:
                    continue
                if op == P.OP_FALSE:
                    possible = False
                    break
                hit = lookup(op, a, b)
                if hit is None:
                    generic.append((op, a, b))
                    continue
                bit, negated = hit
                value = 0 if negated else 1
                if mask >> bit & 1 and (want >> bit & 1) != value:
                    possible = False  # x and not x
                    break
                mask |= 1 << bit
                want |= value << bit
            if not possible:
                continue  # a conjunction that can never be true is left out
            conj_mask_l.append(mask)
            conj_want_l.append(want)
            atoms.extend(generic)
            conj_ptr_l.append(len(atoms))
        expr_ptr_l.append(len(conj_mask_l))

    def words(ptr: np.ndarray, ids: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
        list_bits = np.zeros(n_lists, np.int64)
        for (kind, lst), bit in bit_of.items():
            if kind in kinds:
                list_bits[lst] |= np.int64(1) << np.int64(bit)
        word = np.zeros(len(ptr) - 1, np.int64)
        codes = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        np.bitwise_or.at(word, codes, list_bits[ids])
        return word

    def kind_mask(*kinds: str) -> int:
        return sum(1 << bit for (kind, _lst), bit in bit_of.items() if kind in kinds)

    # one 16-byte entry per diagnosis: a secondary diagnosis costs one cache line
    dx_tab = np.stack(
        [words(dx_ptr, dx_ids, _DX_KINDS), (dx_mcc.astype(np.int64) + 1) | (dx_cc.astype(np.int64) + 1) << 32], axis=1
    ).ravel()
    px_word = words(px_ptr, px_ids, ("main_px", "any_px"))
    px_word[px_is_or == 1] |= (1 << B_MAIN_OR) | (1 << B_ANY_OR)
    pos_masks = np.array(
        [
            kind_mask("pdx", "any_dx"),
            kind_mask("any_dx", "sdx"),
            kind_mask("main_px", "any_px") | (1 << B_MAIN_OR) | (1 << B_ANY_OR),
            kind_mask("any_px") | (1 << B_ANY_OR),
        ],
        np.int64,
    )
    expr_ptr, conj_ptr = np.array(expr_ptr_l, np.int32), np.array(conj_ptr_l, np.int32)
    conj_mask, conj_want = np.array(conj_mask_l, np.int64), np.array(conj_want_l, np.int64)
    # per expression: no generic atom left (the word decides it), and the word bits it reads
    word_only = np.array([conj_ptr[expr_ptr[e]] == conj_ptr[expr_ptr[e + 1]] for e in range(len(exprs))], bool)
    bits_read = np.array(
        [np.bitwise_or.reduce(conj_mask[expr_ptr[e] : expr_ptr[e + 1]], initial=0) for e in range(len(exprs))], np.int64
    )
    cc_only = word_only & (bits_read & ~np.int64(N_CC_STATES - 1) == 0)
    chain_row, chain_tab = _cc_chains(steps, expr_ptr, conj_mask, conj_want, cc_only)
    # per expression: a conjunction with nothing left to test (true once the step's guard holds)
    always = np.array(
        [
            any(conj_mask[j] == 0 and conj_ptr[j] == conj_ptr[j + 1] for j in range(expr_ptr[x], expr_ptr[x + 1]))
            for x in range(len(exprs))
        ],
        bool,
    )
    mdc_word, pre = _mdc_word(steps, entry_pc, word_only, always, skip_mask, expr_ptr, conj_mask, conj_want)
    word_step = (
        (steps[:, P.T_GUARD] == P.G_NONE) & (steps[:, P.T_LABEL_KIND] == P.L_RULE) & word_only[steps[:, P.T_EXPR]]
    )
    step_stop, word_next, word_after, dx_cand_ptr, dx_cand, px_cand_ptr, px_cand = _skip_chains(
        steps, word_step, dx_ptr, dx_ids, px_ptr, px_ids
    )

    n = len(steps)
    prog = np.zeros((n, KW), np.int32)
    expr_of = steps[:, P.T_EXPR]
    prog[:, K_LABEL_KIND] = steps[:, P.T_LABEL_KIND]
    prog[:, K_LABEL] = steps[:, P.T_LABEL]
    prog[:, K_GUARD] = steps[:, P.T_GUARD]
    prog[:, K_GUARD_ARG] = steps[:, P.T_GUARD_LIST]
    prog[:, K_CONJ0] = expr_ptr[expr_of]
    prog[:, K_CONJ1] = expr_ptr[expr_of + 1]
    prog[:, K_TRUE_KIND : K_FALSE_ARG + 1] = steps[:, P.T_TRUE_KIND : P.T_FALSE_ARG + 1]
    prog[:, K_STOP] = step_stop
    # what the kernel reads of a principal diagnosis / main procedure sits in one row (one cache line)
    pdx_tab = np.stack(
        [dx_excl.astype(np.int64) + 1, dx_mdc_bits.astype(np.int64), dx_cand_ptr[:-1], dx_cand_ptr[1:]], axis=1
    ).astype(np.int32)
    px_tab = np.stack([px_word, px_cand_ptr[:-1].astype(np.int64) | px_cand_ptr[1:].astype(np.int64) << 32], axis=1)
    prog[:, K_WNEXT] = word_next
    prog[:, K_WAFTER] = word_after
    prog[:, K_CHAIN] = chain_row
    prog[entry_pc[:-1], K_WORD] = mdc_word
    # a guarded rule with a conjunction the guard alone makes true (``pdx_in(L)``): true on every candidate
    prog[:, K_GUARD_ONLY] = np.isin(steps[:, P.T_GUARD], (P.G_PDX, P.G_MAIN_PX)) & always[expr_of]
    conj_tab = np.stack([conj_mask, conj_want, conj_ptr[:-1].astype(np.int64), conj_ptr[1:].astype(np.int64)], axis=1)
    num_tab = np.array([(a, *_RANGES[op](b), num_bit[(op, a, b)]) for op, a, b in numeric], np.int64).reshape(-1, NW)
    return KernelProgram(
        prog=prog.ravel(),
        conj=conj_tab.ravel(),
        atoms=np.array(atoms, np.int32).ravel(),
        chain=chain_tab.ravel(),
        dx_tab=dx_tab,
        pdx_tab=pdx_tab.ravel(),
        px_tab=px_tab.ravel(),
        pos_masks=pos_masks,
        num_tab=num_tab.ravel(),
        dx_cand=dx_cand,
        px_cand=px_cand,
        mdc_pre=np.array(pre, np.int64).reshape(-1, 3).ravel(),
    )


def _common_bits(masks: np.ndarray, wants: np.ndarray) -> tuple[int, int] | None:
    """The word bits every one of these conjunctions requires, with the value they require, as
    ``(mask, want)``; None when they share none. With no conjunction nothing can be true: an impossible
    pair (a wanted bit outside the mask)."""
    if len(masks) == 0:
        return 1, 2
    mask = int(np.bitwise_and.reduce(masks))
    for w in wants[1:]:
        mask &= ~(int(w) ^ int(wants[0]))
    return (mask, int(wants[0]) & mask) if mask else None


def _mdc_word(
    steps: np.ndarray,
    entry_pc: np.ndarray,
    word_only: np.ndarray,
    always: np.ndarray,
    skip_mask: int,
    expr_ptr: np.ndarray,
    conj_mask: np.ndarray,
    conj_want: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """How the kernel decides each MDC's entry (and else-QY clause): ``(K_WORD per MDC, mdc_pre rows)``.

    An MDC decided from the case word and MDC bits alone costs no step of its own: the kernel goes from the
    previous MDC straight into the body of the first MDC that takes the case. Required: the clauses have no
    generic atoms and no guard other than an MDC bit, and when both are false the program goes on to the next
    MDC's entry. ``K_WORD``: the number of clauses the kernel tests (1: the entry, 2: the entry and its else-QY
    clause), 0 when it is not decided so, ``MDC_TAKEN`` when a case that visits the MDC always enters it.
    An MDC every case visits (not skippable) gets an ``mdc_pre`` row ``(MDC, mask, want)``: what all its
    conjunctions require of the word, tested while the MDCs to visit are chosen (the MDC's bit is cleared
    when it fails, without a branch). It is ``MDC_TAKEN`` when its one clause needs nothing more: at all, or
    beyond the principal diagnosis being on the MDC's list (cases whose principal diagnosis is not skip the
    MDC), or beyond its ``mdc_pre`` test.
    """
    n_mdc = len(entry_pc) - 1
    out = np.zeros(n_mdc, np.uint8)
    pre = []

    def decided(pc: int) -> bool:
        return int(steps[pc, P.T_GUARD]) in (P.G_NONE, P.G_PDX_MDC) and bool(word_only[steps[pc, P.T_EXPR]])

    for m in range(n_mdc):
        pc = int(entry_pc[m])
        clauses = [pc]
        if steps[pc + 1, P.T_LABEL_KIND] == P.L_ELSE_QY:
            if steps[pc, P.T_FALSE_KIND] != P.A_NEXT:
                continue
            clauses.append(pc + 1)
        last = clauses[-1]
        false_to = last + 1 if steps[last, P.T_FALSE_KIND] == P.A_NEXT else int(steps[last, P.T_FALSE_ARG])
        if not (
            steps[last, P.T_FALSE_KIND] != P.A_RETURN and false_to == entry_pc[m + 1] and all(map(decided, clauses))
        ):
            continue
        out[m] = len(clauses)
        skippable = (skip_mask >> m) & 1
        unguarded = steps[pc, P.T_GUARD] == P.G_NONE
        own_bit = skippable and steps[pc, P.T_GUARD] == P.G_PDX_MDC and steps[pc, P.T_GUARD_LIST] == m
        if len(clauses) == 1 and always[steps[pc, P.T_EXPR]] and (own_bit or unguarded):
            out[m] = MDC_TAKEN
            continue
        if skippable:
            continue
        js = [j for c in clauses for j in range(expr_ptr[steps[c, P.T_EXPR]], expr_ptr[steps[c, P.T_EXPR] + 1])]
        need = _common_bits(conj_mask[js], conj_want[js])
        if need is not None:
            pre.append((m, *need))
            if len(js) == 1 and unguarded:
                out[m] = MDC_TAKEN
    return out, pre


def _cc_chains(
    steps: np.ndarray, expr_ptr: np.ndarray, conj_mask: np.ndarray, conj_want: np.ndarray, cc_only: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Resolve each run of DRG splits (细分组 by CC level) in one lookup.

    After an ADRG rule matches, its splits (``mcc`` → x1, ``mcc_or_cc`` → x3, else x5) are tested in
    order; each depends only on the case's CC state. For every split step, the outcome of walking from it
    under each of the 32 CC states is precomputed: the return row, or the first step of the walk that
    needs more than the CC state (encoded ``-(step + 1)``). ``cc_only[e]``: expression ``e`` reads only the
    CC bits of the word.
    """
    n = len(steps)

    def value(e: int, state: int) -> bool:
        return any(state & conj_mask[j] == conj_want[j] for j in range(expr_ptr[e], expr_ptr[e + 1]))

    splits = (steps[:, P.T_LABEL_KIND] == P.L_SPLIT) | (steps[:, P.T_LABEL_KIND] == P.L_DEFAULT)
    pure = splits & (steps[:, P.T_GUARD] == P.G_NONE) & cc_only[steps[:, P.T_EXPR]]
    chain_row = np.full(n, -1, np.int32)
    rows: list[list[int]] = []
    for pc in np.flatnonzero(pure):
        row: list[int] = []
        for state in range(N_CC_STATES):
            q = int(pc)
            while True:
                if not pure[q]:
                    row.append(-(q + 1))
                    break
                col = P.T_TRUE_KIND if value(int(steps[q, P.T_EXPR]), state) else P.T_FALSE_KIND
                kind, arg = int(steps[q, col]), int(steps[q, col + 1])
                if kind == P.A_RETURN:
                    row.append(arg)
                    break
                q = q + 1 if kind == P.A_NEXT else arg
        chain_row[pc] = len(rows)
        rows.append(row)
    return chain_row, np.array(rows, np.int32).reshape(-1, N_CC_STATES)


def _skip_chains(
    steps: np.ndarray,
    word_step: np.ndarray,
    dx_ptr: np.ndarray,
    dx_ids: np.ndarray,
    px_ptr: np.ndarray,
    px_ids: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Let the kernel jump over the rule steps a case cannot satisfy.

    A step guarded by "principal diagnosis (or main procedure) in list L" is false for every case whose code
    is not in L, and then goes to its false target; so is a *word step* (an unguarded rule that the case
    word decides) whose conjunctions all fail on the case's word. Following false targets from such a step
    gives a chain (the rules of one MDC, in order) that ends at the first other step, the *stop*. On that
    chain only the guarded steps whose guard list holds the case's principal diagnosis or main procedure can
    be true: the *candidates* of that code (CSR code id → sorted step numbers); the word steps are tested on
    the way. The kernel goes from a chain step straight to the first candidate or true word step before the
    stop, or to the stop. Returns ``(step_stop, word_next, word_after, dx_cand_ptr, dx_cand, px_cand_ptr,
    px_cand)``: ``step_stop[pc] == pc`` marks a step that is always run; ``word_next[pc]`` is the first word
    step of the chain from ``pc`` on (``pc`` itself when it is one, the stop when there is none),
    ``word_after[pc]`` the one after it. A step is only made skippable when every guarded step between it
    and its stop lies on its chain (jumping to a candidate off the chain would skip a step that must run).
    """
    n = len(steps)
    guard = steps[:, P.T_GUARD]
    guarded = (guard == P.G_PDX) | (guard == P.G_MAIN_PX)
    false_kind, false_arg = steps[:, P.T_FALSE_KIND], steps[:, P.T_FALSE_ARG]
    target = np.where(false_kind == P.A_NEXT, np.arange(n) + 1, false_arg)
    for col in (P.T_TRUE_KIND, P.T_FALSE_KIND):  # monotone candidate pointers need forward-only jumps
        jumps = steps[:, col] == P.A_JUMP
        if (steps[jumps, col + 1] <= np.flatnonzero(jumps)).any():
            guarded[:] = False
            word_step = np.zeros(n, bool)
    skippable = (guarded | word_step) & (false_kind != P.A_RETURN) & (target > np.arange(n))
    while True:
        stop = np.arange(n, dtype=np.int32)
        for back in range(n - 1, -1, -1):  # targets lie ahead: one backward sweep resolves the chains
            if skippable[back]:
                stop[back] = stop[target[back]]
        bad: list[int] = []
        for skip_pc in np.flatnonzero(skippable).tolist():
            chain: set[int] = set()
            q = skip_pc
            while q != stop[skip_pc]:
                chain.add(q)
                q = int(target[q])
            between = np.flatnonzero(guarded[skip_pc : stop[skip_pc]]) + skip_pc
            if any(int(b) not in chain for b in between):
                bad.append(skip_pc)
        if not bad:
            break
        skippable[bad] = False

    def candidates(kind: int, ptr: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_codes = len(ptr) - 1
        g_pcs = np.flatnonzero(guard == kind).astype(np.int64)
        g_lists = steps[g_pcs, P.T_GUARD_LIST].astype(np.int64)
        order = np.argsort(g_lists, kind="stable")
        g_pcs, g_lists = g_pcs[order], g_lists[order]
        codes = np.repeat(np.arange(n_codes, dtype=np.int64), np.diff(ptr))  # (code, list) pairs of the CSR
        lo = np.searchsorted(g_lists, ids, "left")
        hi = np.searchsorted(g_lists, ids, "right")
        cnt = hi - lo
        pair_code = np.repeat(codes, cnt)
        starts = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        pair_pc = g_pcs[starts]
        order = np.lexsort((pair_pc, pair_code))
        out_ptr = np.zeros(n_codes + 1, np.int32)
        np.cumsum(np.bincount(pair_code, minlength=n_codes), out=out_ptr[1:])
        return out_ptr, pair_pc[order].astype(np.int32)

    word_next, word_after = np.arange(n, dtype=np.int32), np.arange(n, dtype=np.int32)
    for pc in range(n - 1, -1, -1):
        if skippable[pc]:
            t = int(target[pc])
            word_after[pc] = word_next[t] if skippable[t] else t
            word_next[pc] = pc if word_step[pc] else word_after[pc]
    dx_cand_ptr, dx_cand = candidates(P.G_PDX, dx_ptr, dx_ids)
    px_cand_ptr, px_cand = candidates(P.G_MAIN_PX, px_ptr, px_ids)
    return stop, word_next, word_after, dx_cand_ptr, dx_cand, px_cand_ptr, px_cand
