"""The kernel's packed program: case-word bits, residual conjunctions, CC split chains, word-decided MDCs.

A tiny hand-written program (one MDC, one rule, three CC splits) is built directly, so each rule of
``drgkit.grouping.kernel_program`` is checked against what it must produce, not against the kernel.
"""

from __future__ import annotations

import numpy as np

from drgkit.grouping import kernel_program as K
from drgkit.schemes import program as P

L_MDC_DX, L_RULE_PX, L_ANY_DX = 0, 1, 2  # list ids: the MDC's diagnoses, the rule's procedures, a dx list
R_MCC, R_CC, R_NONE, R_FAIL = 0, 1, 2, 3  # return rows

# expressions (DNF of (op, a, b) atoms)
EXPRS = [
    [[(P.OP_PDX_IN, L_MDC_DX, 0)]],  # 0 MDC entry
    [
        [(P.OP_MAIN_PX_IN, L_RULE_PX, 0), (P.OP_ANY_DX_IN, L_ANY_DX, 0)],  # 1 rule: two ways in
        [(P.OP_MAIN_PX_IN, L_RULE_PX, 0), (P.OP_NUM_GE, P.F_AGE, 65)],
    ],
    [[(P.OP_MCC, 0, 0)]],  # 2 split x1
    [[(P.OP_MCC_OR_CC, 0, 0)]],  # 3 split x3
    [[]],  # 4 always (x5)
    [
        [(P.OP_MAIN_PX_OR, 0, 0), (P.OP_MAIN_PX_NOT_OR, 0, 0)],  # 5 never true: x and not x
        [(P.OP_FALSE, 0, 0)],
        [(P.OP_TRUE, 0, 0), (P.OP_NO_PX_OR, 0, 0)],
    ],
]
GUARDS = [(P.G_PDX, L_MDC_DX), (P.G_MAIN_PX, L_RULE_PX), (P.G_NONE, -1), (P.G_NONE, -1), (P.G_NONE, -1), (P.G_NONE, -1)]


def step(expr: int, true: tuple[int, int], false: tuple[int, int], kind: int, label: int, guard: tuple[int, int]):
    return [expr, *true, *false, kind, label, *guard]


# step 0 MDC entry (guard: MDC bit 0), 1 rule, 2-4 splits, 5 end
STEPS = np.array(
    [
        step(0, (P.A_NEXT, 0), (P.A_JUMP, 5), P.L_MDC, 0, (P.G_PDX_MDC, 0)),
        step(1, (P.A_NEXT, 0), (P.A_JUMP, 5), P.L_RULE, 0, GUARDS[1]),
        step(2, (P.A_RETURN, R_MCC), (P.A_NEXT, 0), P.L_SPLIT, 1, GUARDS[2]),
        step(3, (P.A_RETURN, R_CC), (P.A_NEXT, 0), P.L_SPLIT, 2, GUARDS[3]),
        step(4, (P.A_RETURN, R_NONE), (P.A_NEXT, 0), P.L_DEFAULT, 3, GUARDS[4]),
        step(4, (P.A_RETURN, R_FAIL), (P.A_NEXT, 0), P.L_END, 0, GUARDS[4]),
    ],
    np.int32,
)
# codes: dx 0 on the MDC list and on L_ANY_DX, dx 1 on nothing; px 0 on the rule list and an OR procedure
DX_PTR, DX_IDS = np.array([0, 2, 2], np.int32), np.array([L_MDC_DX, L_ANY_DX], np.int32)
PX_PTR, PX_IDS = np.array([0, 1, 1], np.int32), np.array([L_RULE_PX], np.int32)
PX_IS_OR = np.array([1, 0], np.uint8)
DX_MCC, DX_CC = np.array([7, -1], np.int32), np.array([-1, 0], np.int32)  # dx 0 an MCC, dx 1 a CC
DX_EXCL, DX_MDC_BITS = np.array([2, -1], np.int32), np.array([1, 0], np.uint32)  # dx 0 on the MDC list


def build() -> K.KernelProgram:
    return K.build(
        EXPRS,
        GUARDS,
        STEPS,
        np.array([0, 5], np.int32),
        0,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        DX_MCC,
        DX_CC,
        DX_EXCL,
        DX_MDC_BITS,
    )


def conjunctions(kp: K.KernelProgram, pc: int) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    row = kp.prog.reshape(-1, K.KW)[pc]
    conj = kp.conj.reshape(-1, K.CW)
    atoms = kp.atoms.reshape(-1, K.AW)
    return [
        (int(conj[j, 0]), int(conj[j, 1]), [tuple(int(v) for v in a) for a in atoms[conj[j, 2] : conj[j, 3]]])
        for j in range(row[K.K_CONJ0], row[K.K_CONJ1])
    ]


def test_guard_atom_is_dropped_and_lists_become_bits() -> None:
    kp = build()
    ((mask, want, generic),) = conjunctions(kp, 0)
    assert (mask, want, generic) == (0, 0, [])  # the MDC bit guard decides the entry alone
    first, second = conjunctions(kp, 1)
    any_dx_bit = int(kp.dx_word[0])  # dx 0 carries exactly the bit of L_ANY_DX
    assert bin(any_dx_bit).count("1") == 1 and any_dx_bit >> K.N_FIXED
    assert first == (any_dx_bit, any_dx_bit, [])
    assert second == (0, 0, [(P.OP_NUM_GE, P.F_AGE, 65)])  # numbers stay generic
    assert kp.dx_word[1] == 0


def test_impossible_conjunctions_are_left_out_and_negations_want_zero() -> None:
    kp = build()
    # expression 5 is only used by no step; rebuild a step on it to read its conjunctions
    steps = STEPS.copy()
    steps[5, P.T_EXPR] = 5
    kp = K.build(
        EXPRS,
        GUARDS,
        steps,
        np.array([0, 5], np.int32),
        0,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        DX_MCC,
        DX_CC,
        DX_EXCL,
        DX_MDC_BITS,
    )
    assert conjunctions(kp, 5) == [(1 << K.B_ANY_OR, 0, [])]


def test_positions_filter_the_bits() -> None:
    kp = build()
    principal, secondary, main, other = (int(m) for m in kp.pos_masks)
    bit = int(kp.dx_word[0])
    assert bit & secondary and bit & principal  # any_dx_in counts every position
    or_bits = (1 << K.B_MAIN_OR) | (1 << K.B_ANY_OR)
    assert int(kp.px_word[0]) & or_bits == or_bits and int(kp.px_word[1]) == 0
    assert main & (1 << K.B_MAIN_OR) and not other & (1 << K.B_MAIN_OR) and other & (1 << K.B_ANY_OR)


def test_cc_splits_resolve_in_one_lookup() -> None:
    kp = build()
    prog = kp.prog.reshape(-1, K.KW)
    chain = kp.chain.reshape(-1, K.N_CC_STATES)
    assert prog[0, K.K_CHAIN] == -1 and prog[1, K.K_CHAIN] == -1 and prog[5, K.K_CHAIN] == -1
    row = chain[prog[2, K.K_CHAIN]]
    mcc, cc, either = 1 << K.B_SEC_MCC, 1 << K.B_SEC_CC, 1 << K.B_SEC_MCC_OR_CC
    assert row[mcc | either] == R_MCC
    assert row[cc | either] == R_CC
    assert row[0] == R_NONE
    assert row[1 << K.B_ANY_MCC] == R_NONE  # the other CC mode's bits do not count here
    assert chain[prog[3, K.K_CHAIN]][mcc | either] == R_CC  # entered later, the x1 split is not seen


def test_mdc_entry_decided_by_word() -> None:
    prog = build().prog.reshape(-1, K.KW)
    assert prog[0, K.K_WORD] == 1  # pdx on the MDC list decides it
    steps = STEPS.copy()
    steps[0, P.T_EXPR] = 1  # an entry with a generic atom is evaluated as a step
    # (skippable MDC: its number stays a generic atom, see the next test)
    kp = K.build(
        EXPRS,
        GUARDS,
        steps,
        np.array([0, 5], np.int32),
        1,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        DX_MCC,
        DX_CC,
        DX_EXCL,
        DX_MDC_BITS,
    )
    assert kp.prog.reshape(-1, K.KW)[0, K.K_WORD] == 0


def test_skippable_mdc_with_nothing_more_to_test_is_taken_on_every_visit() -> None:
    """A case visits a skippable MDC only when its principal diagnosis is on the MDC's list; an entry that
    tests nothing more is then true, and the kernel takes it without testing (MDC_TAKEN)."""

    def word(skip_mask: int, exprs: list = EXPRS) -> int:
        kp = K.build(
            exprs,
            GUARDS,
            STEPS,
            np.array([0, 5], np.int32),
            skip_mask,
            3,
            DX_PTR,
            DX_IDS,
            PX_PTR,
            PX_IDS,
            PX_IS_OR,
            DX_MCC,
            DX_CC,
            DX_EXCL,
            DX_MDC_BITS,
        )
        return int(kp.prog.reshape(-1, K.KW)[0, K.K_WORD])

    assert word(skip_mask=1) == K.MDC_TAKEN
    assert word(skip_mask=0) == 1  # every case visits it: the MDC bit is still tested
    with_more = [[[(P.OP_PDX_IN, L_MDC_DX, 0), (P.OP_MAIN_PX_OR, 0, 0)]], *EXPRS[1:]]
    assert word(skip_mask=1, exprs=with_more) == 1  # and so is anything else the entry asks for
    steps = STEPS.copy()
    steps[0, P.T_GUARD], steps[0, P.T_GUARD_LIST], steps[0, P.T_EXPR] = P.G_NONE, -1, 4  # an entry always true
    kp = K.build(
        EXPRS,
        GUARDS,
        steps,
        np.array([0, 5], np.int32),
        0,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        DX_MCC,
        DX_CC,
        DX_EXCL,
        DX_MDC_BITS,
    )
    assert kp.prog.reshape(-1, K.KW)[0, K.K_WORD] == K.MDC_TAKEN


def test_mdc_every_case_visits_with_one_mask_test_is_decided_with_the_visit_mask() -> None:
    """An MDC no case can skip, whose entry is one mask test (CHS-DRG 1.1's pre-MDC: main procedure is an OR
    procedure), is tested while the MDCs to visit are chosen; a visit then means the case is taken."""
    exprs = [[[(P.OP_MAIN_PX_OR, 0, 0)]], *EXPRS[1:]]
    guards = [(P.G_NONE, -1), *GUARDS[1:]]
    steps = STEPS.copy()
    steps[0, P.T_GUARD], steps[0, P.T_GUARD_LIST] = P.G_NONE, -1

    def build_with(skip_mask: int) -> K.KernelProgram:
        return K.build(
            exprs,
            guards,
            steps,
            np.array([0, 5], np.int32),
            skip_mask,
            3,
            DX_PTR,
            DX_IDS,
            PX_PTR,
            PX_IDS,
            PX_IS_OR,
            DX_MCC,
            DX_CC,
            DX_EXCL,
            DX_MDC_BITS,
        )

    kp = build_with(skip_mask=0)
    or_bit = 1 << K.B_MAIN_OR
    assert kp.mdc_pre.tolist() == [0, or_bit, or_bit]  # MDC 0: clear its bit unless word & mask == want
    assert kp.prog.reshape(-1, K.KW)[0, K.K_WORD] == K.MDC_TAKEN
    skippable = build_with(skip_mask=1)  # skippable: left to the MDC choice
    assert skippable.mdc_pre.size == 0 and skippable.prog.reshape(-1, K.KW)[0, K.K_WORD] == 1


def test_numbers_of_unskippable_mdc_entries_become_ranges() -> None:
    """Every case evaluates the entry of an MDC it cannot skip: its comparisons become word bits (ranges)."""
    exprs = [list(EXPRS[0]), *EXPRS[1:]]
    exprs[0] = [[(P.OP_PDX_IN, L_MDC_DX, 0), (P.OP_NUM_EQ, P.F_AGE, 0), (P.OP_NUM_LE, P.F_AGE_DAYS, 28)]]

    def entry(skip_mask: int) -> tuple[K.KernelProgram, list]:
        kp = K.build(
            exprs,
            GUARDS,
            STEPS,
            np.array([0, 5], np.int32),
            skip_mask,
            3,
            DX_PTR,
            DX_IDS,
            PX_PTR,
            PX_IDS,
            PX_IS_OR,
            DX_MCC,
            DX_CC,
            DX_EXCL,
            DX_MDC_BITS,
        )
        return kp, conjunctions(kp, 0)

    kp, [(mask, want, generic)] = entry(skip_mask=0)
    rows = kp.num_tab.reshape(-1, K.NW).tolist()
    assert sorted(r[:3] for r in rows) == [[P.F_AGE, 0, 0], [P.F_AGE_DAYS, 0, 28]]  # unknown (-1) is out of range
    bits = sum(1 << r[3] for r in rows)
    assert (mask, want, generic) == (bits, bits, [])
    kp, [(mask, want, generic)] = entry(skip_mask=1)  # skippable: numbers stay generic atoms
    assert kp.num_tab.size == 0 and mask == 0
    assert sorted(generic) == [(P.OP_NUM_EQ, P.F_AGE, 0), (P.OP_NUM_LE, P.F_AGE_DAYS, 28)]


def test_cc_entries_pack_both_exclusion_tables() -> None:
    """A diagnosis's CC entry holds its exclusion table as MCC and as CC, each + 1, so 0 reads "none"."""
    kp = build()
    cc = kp.dx_tab[1::2]
    assert int(cc[0]) == 7 + 1 and int(cc[1]) == (0 + 1) << 32
    both = K.build(
        EXPRS,
        GUARDS,
        STEPS,
        np.array([0, 5], np.int32),
        0,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        np.array([3, -1], np.int32),
        np.array([4, -1], np.int32),
        DX_EXCL,
        DX_MDC_BITS,
    )
    assert int(both.dx_tab[1]) == (3 + 1) | (4 + 1) << 32 and int(both.dx_tab[3]) == 0
    assert np.array_equal(kp.dx_word, kp.dx_tab[0::2])


def test_common_bits_of_an_mdc_entry_filter_the_mdcs_to_visit() -> None:
    """What every conjunction of an MDC's clauses requires of the word rules the MDC out when missing; an
    entry with more than that stays tested on a visit."""
    assert K._common_bits(np.array([0b011, 0b101]), np.array([0b001, 0b001])) == (0b001, 0b001)
    assert K._common_bits(np.array([0b011, 0b011]), np.array([0b001, 0b010])) is None  # bit 0: 1 or 0
    assert K._common_bits(np.array([0b1]), np.array([0b0])) == (0b1, 0b0)  # a negation counts too
    mask, want = K._common_bits(np.array([], np.int64), np.array([], np.int64))  # nothing can be true
    assert mask & want != want
    or_bit = 1 << K.B_MAIN_OR
    exprs = [[[(P.OP_MAIN_PX_OR, 0, 0), (P.OP_ANY_DX_IN, L_ANY_DX, 0)], [(P.OP_MAIN_PX_OR, 0, 0)]], *EXPRS[1:]]
    steps = STEPS.copy()
    steps[0, P.T_GUARD], steps[0, P.T_GUARD_LIST] = P.G_NONE, -1
    kp = K.build(
        exprs,
        [(P.G_NONE, -1), *GUARDS[1:]],
        steps,
        np.array([0, 5], np.int32),
        0,
        3,
        DX_PTR,
        DX_IDS,
        PX_PTR,
        PX_IDS,
        PX_IS_OR,
        DX_MCC,
        DX_CC,
        DX_EXCL,
        DX_MDC_BITS,
    )
    assert kp.mdc_pre.tolist() == [0, or_bit, or_bit]
    assert kp.prog.reshape(-1, K.KW)[0, K.K_WORD] == 1  # two ways in: still tested when visited


def test_kernel_arguments_are_named_in_the_kernels_order() -> None:
    """run_kernel passes the batch, the scheme's KernelTables and the Outcome arrays by position: their field
    names, in order, must be group_range's parameter names (a swapped pair of int32 arrays would run silently)."""
    import inspect
    from dataclasses import fields

    from drgkit.grouping import kernel
    from drgkit.grouping.batch import Outcome

    params = list(inspect.signature(kernel.group_range.py_func).parameters)
    batch = ["dx_off", "dx", "px_off", "px", "num"]  # Encoded's dx_off, dx_ids, px_off, px_ids, num
    assert params == ["start", "end", *batch, *K.KernelTables._fields, *(f.name for f in fields(Outcome))]


def test_params_slots_are_named_and_filled() -> None:
    from drgkit.schemes.compile import load_compiled

    zj, chs = load_compiled("zhejiang-2022"), load_compiled("chs-drg-2.0")
    assert zj.params.shape == (P.N_PARAMS,)
    assert zj.params[P.PARAM_RETRY] == 1 and chs.params[P.PARAM_RETRY] == 0  # only zhejiang retries 0000
    assert chs.params[P.PARAM_CC_MODE] == P.CC_MODE_ANY_DX  # 2.0's splits judge every diagnosis
