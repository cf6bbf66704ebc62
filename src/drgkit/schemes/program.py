"""The compiled form of a scheme: a rule program in flat integer arrays.

Both interpreters (the numba kernel and the pure-Python reference) read exactly these arrays.

* Codes are integer ids into the scheme's code universe (``dx_codes`` / ``px_codes``); -1 = unknown code.
* A code list (an MDC's diagnosis list, a rule's ``px`` list ...) is a list id. ``dx_list_ptr/dx_list_ids``
  is a CSR map *code id → sorted list ids containing it*, so a membership test touches one short run.
* An expression is DNF: ``expr_ptr`` → conjunctions, ``conj_ptr`` → atoms, ``atoms[k] = (op, a, b)``.
* ``mdc_tab``, ``rule_tab``, ``split_tab`` hold the evaluation order (see the column constants).
* ``steps`` is that order linearized into a tiny machine: each step tests one expression and, on true or
  false, goes to the next step, jumps, or returns a row of ``returns`` (status, drg, adrg, rule, reason).
  Both interpreters run this machine, so the kernel has a single expression-evaluation site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# --- atom opcodes -------------------------------------------------------------------------------------
OP_TRUE, OP_FALSE = 0, 1
OP_PDX_IN, OP_PDX_NOT_IN, OP_ANY_DX_IN, OP_SDX_IN = 2, 3, 4, 5
OP_MAIN_PX_IN, OP_ANY_PX_IN, OP_SEC_PX_IN = 6, 7, 8
OP_MAIN_PX_OR, OP_ANY_PX_OR, OP_NO_PX_OR, OP_MAIN_PX_NOT_OR = 9, 10, 11, 12
OP_PX_TABLES = 13  # a = px-table spec index
OP_NUM_EQ, OP_NUM_LT, OP_NUM_LE, OP_NUM_GT, OP_NUM_GE = 14, 15, 16, 17, 18  # a = field, b = value
OP_NUM_IN_MASK = 19  # a = field, b = bit mask of allowed values 0..30
OP_WEIGHT_GE, OP_WEIGHT_LT = 20, 21  # birth weight known, non-zero, and compared with b
OP_MCC, OP_CC, OP_MCC_OR_CC, OP_MCC_ANY_DX, OP_MCC_OR_CC_ANY_DX = 22, 23, 24, 25, 26
OP_BODY_SITES_GE = 27  # a = dx list, b = minimum number of distinct body sites
OP_MAIN_PX_OR_IN = 28  # main procedure is an OR procedure or in list a


# --- numeric record fields (columns of the per-case ``num`` matrix) ----------------------------------------
F_GENDER, F_AGE, F_AGE_DAYS, F_WEIGHT, F_LOS, F_LEAVING, F_ICU, F_DEPT = range(8)
N_FIELDS = 8
FIELD_NAMES = ("gender", "age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours", "dept")

# --- table columns -------------------------------------------------------------------------------------
(
    M_ENTRY,
    M_ELSE_QY,
    M_ELSE_QY_DRG,
    M_FIRST_QY,
    M_FIRST_QY_DRG,
    M_QY_ON,
    M_QY_POS,
    M_QY_TRIGGER,
    M_QY_DRG,
    M_RULE_START,
    M_RULE_END,
) = range(11)
R_ENTRY, R_ADRG, R_NEXT_RULE, R_SPLIT_START, R_SPLIT_END, R_ADRG_DRG = range(6)
S_EXPR, S_DRG = range(2)
# step machine: steps[pc] = (expr, on_true_kind, on_true_arg, on_false_kind, on_false_arg, label_kind, label)
# The guard (kind, list) is an optimization for the kernel: when every conjunction of the expression needs the
# principal diagnosis (G_PDX) or the main procedure (G_MAIN_PX) in one list, a failed membership test decides
# the step without evaluating the expression. The reference interpreter ignores guards.
T_EXPR, T_TRUE_KIND, T_TRUE_ARG, T_FALSE_KIND, T_FALSE_ARG, T_LABEL_KIND, T_LABEL, T_GUARD, T_GUARD_LIST = range(9)
# G_PDX_MDC: the guard list is an MDC's principal-diagnosis list, tested with one bit of ``dx_mdc_bits``.
G_NONE, G_PDX, G_MAIN_PX, G_PDX_MDC = 0, 1, 2, 3
A_NEXT, A_JUMP, A_RETURN = 0, 1, 2
L_MDC, L_ELSE_QY, L_FIRST_QY, L_QY, L_RULE, L_SPLIT, L_DEFAULT, L_END = range(8)
LABEL_KINDS = ("mdc", "else_qy", "first_qy", "qy", "rule", "split", "adrg", "end")

# --- outcomes ------------------------------------------------------------------------------------------
ST_OK, ST_UNGROUPABLE, ST_AMBIGUOUS, ST_INVALID = 0, 1, 2, 3
STATUS_NAMES = ("ok", "ungroupable", "ambiguous", "invalid")

# reason codes: (code, English, Chinese)
R_NONE = 0
R_GENDER, R_AGE, R_AGE_DAYS, R_WEIGHT, R_NO_DX, R_INPUT = 10, 11, 12, 13, 14, 15
R_PDX_UNKNOWN, R_PDX_NO_MDC, R_NO_ADRG, R_MDC_CONDITION, R_PDX_GREY = 20, 21, 22, 23, 24
R_QY_OR_PROC, R_QY_ENTRY = 30, 31
REASONS = {
    R_NONE: ("", "", ""),
    R_GENDER: ("V01", "gender missing or not male/female", "性别缺失或无效"),
    R_AGE: ("V02", "age missing", "年龄缺失"),
    R_AGE_DAYS: ("V03", "age 0 without age in days", "年龄为0岁但缺少天龄"),
    R_WEIGHT: ("V04", "newborn (age_days <= 28) without birth weight", "新生儿缺少出生体重"),
    R_NO_DX: ("V05", "no principal diagnosis", "缺少主要诊断"),
    R_INPUT: ("V06", "unreadable field value", "字段值无法识别"),
    R_PDX_UNKNOWN: (
        "U01",
        "principal diagnosis is not a code of the scheme's dictionary",
        "主要诊断编码不在医保版字典中",
    ),
    R_PDX_NO_MDC: ("U02", "principal diagnosis enters no MDC", "主要诊断不属于任何MDC"),
    R_NO_ADRG: (
        "U03",
        "entered the principal diagnosis's MDC but no ADRG rule matched",
        "进入主要诊断所属MDC但未匹配任何ADRG",
    ),
    R_MDC_CONDITION: (
        "U04",
        "the principal diagnosis's MDC requires another sex or age",
        "主要诊断所属MDC的性别或年龄条件不符",
    ),
    R_PDX_GREY: (
        "U05",
        "principal diagnosis is a grey code (灰码), not valid for settlement; code a finer code (细目)",
        "主要诊断为灰码，不得用于结算，请编码到细目",
    ),
    R_QY_OR_PROC: ("Q01", "OR procedure unrelated to the principal diagnosis", "手术与主要诊断不相关（歧义组）"),
    R_QY_ENTRY: ("Q02", "record conflicts with the MDC entry (sex or newborn rule)", "病案与MDC入组条件冲突（歧义组）"),
}

CC_NONE, CC_CC, CC_MCC = 0, 1, 2
CC_NAMES = ("none", "cc", "mcc")

VALIDITY_FULL, VALIDITY_GENDER_DX = 0, 1
CC_MODE_SECONDARY, CC_MODE_ANY_DX = 0, 1

# slots of ``CompiledScheme.params`` (one int64 array, so the kernel takes one argument for the scheme's switches)
PARAM_VALIDITY = 0  # VALIDITY_FULL or VALIDITY_GENDER_DX: which record check runs
PARAM_CC_MODE = 1  # CC_MODE_SECONDARY or CC_MODE_ANY_DX: which diagnoses the reported CC level judges
PARAM_RETRY = 2  # 1: an ungroupable case is retried with each later procedure as the main one (zhejiang-2022)
PARAM_SKIP_MASK = 3  # bit mask of MDCs a case may skip when its principal diagnosis is not on the MDC's list
N_PARAMS = 4


@dataclass
class CompiledScheme:
    """A scheme compiled to arrays, plus the labels needed to print results and explanations."""

    def __repr__(self) -> str:  # the arrays run to megabytes: a REPL or a traceback shows the identity only
        return f"CompiledScheme(id={self.id!r}, checksum={self.checksum!r}, drgs={len(self.drg_codes)})"

    id: str
    name: str
    checksum: str
    icd: str  # ICD edition of the codes (``chs-v2``): names the grey lists it was built with
    # code universe
    dx_codes: list[str]
    px_codes: list[str]
    dx_names: list[str]
    px_names: list[str]
    dx_known: np.ndarray  # uint8: 1 when the code is in the scheme's ICD dictionary
    px_known: np.ndarray
    dx_grey: np.ndarray  # uint8: 1 when the code is a grey code (灰码) of the edition, not for settlement
    px_grey: np.ndarray
    dx_prefixes: list[tuple[str, int]]  # (prefix, synthetic code id) for unknown codes that share a prefix
    # list membership
    dx_list_ptr: np.ndarray
    dx_list_ids: np.ndarray
    px_list_ptr: np.ndarray
    px_list_ids: np.ndarray
    list_labels: list[str]  # list id → "MDCZ.dx", "AC1.px1", "drg:BR17/BR2.lit1"
    # per-code properties
    dx_mcc_tab: np.ndarray  # int32 exclusion table of the code as an MCC, -1 = not an MCC
    dx_cc_tab: np.ndarray  # int32 exclusion table of the code as a CC, -1 = not a CC
    dx_excl: np.ndarray  # int32 exclusion table of the code as principal diagnosis, -1 = none
    dx_site: np.ndarray  # int32 multiple-trauma body site id, -1 = none
    px_is_or: np.ndarray  # uint8 OR procedure (有效手术室操作)
    dx_mdc_bits: np.ndarray  # uint32 bit m set when the code is on the list of the m-th MDC (in order)
    # rule program
    atoms: np.ndarray  # int32 (n, 3)
    atom_text: list[str]
    # per atom: its registry name and compiled operands (``schemes.atoms``)
    atom_calls: list[tuple[str, tuple[Any, ...]]]
    conj_ptr: np.ndarray
    expr_ptr: np.ndarray
    pxtab_lists: np.ndarray  # int32 (n, 4) list id of tables t1..t4 (-1 absent)
    pxtab_mask_ptr: np.ndarray
    pxtab_masks: np.ndarray
    mdc_tab: np.ndarray  # int32 (n_mdc, 11) in evaluation order
    rule_tab: np.ndarray  # int32 (n_rules, 6) in evaluation order
    split_tab: np.ndarray  # int32 (n_splits, 2)
    steps: np.ndarray  # int32 (n_steps, 9) the linearized program
    returns: np.ndarray  # int32 (n_returns, 5) status, drg, adrg, rule, reason
    mdc_entry_pc: np.ndarray  # int32 (n_mdc + 1) entry step of each MDC, then the end step
    expr_guards: np.ndarray  # int32 (n_exprs, 2): per expression, its guard (G_PDX | G_MAIN_PX, list) or
    # (G_NONE, -1) — before MDC lists become MDC bits in ``steps``; the kernel's packed form reads it
    params: np.ndarray  # int64 (N_PARAMS,): the scheme's switches, slots PARAM_VALIDITY … PARAM_SKIP_MASK
    # labels
    mdc_codes: list[str]
    mdc_names: list[str]
    rule_ids: list[str]
    adrg_codes: list[str]  # adrg id → code ('QY' and '00' included)
    adrg_names: list[str]
    drg_codes: list[str]  # drg id → code (ADRG codes, xQY and the fail code included)
    drg_names: list[str]
    drg_weights: np.ndarray  # float64 reference weight (NaN = none)
    drg_mdc: list[str]  # drg id → 'MDCx' (or '0000')
    fail_drg: int  # drg id of the FAIL result
    qy_adrg: int
    fail_adrg: int
    dept_literals: list[str]  # dept_eq(...) texts; a case's dept field is the index here (-1 other)
    notes: list[str] = field(default_factory=list)
