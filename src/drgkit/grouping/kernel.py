"""The numba grouping kernel: one interpreter of the compiled rule program for every scheme.

It reads only flat arrays (see :mod:`drgkit.schemes.program`); cases arrive as CSR code-id arrays plus a
``(n, 8)`` matrix of numeric fields. ``group_batch`` runs cases in parallel with ``prange``.
The pure-Python twin in :mod:`drgkit.grouping.reference` follows the same steps and is tested equal.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..schemes import program as P

# numba sees module-level ints as compile-time constants
OP_TRUE, OP_FALSE = P.OP_TRUE, P.OP_FALSE
OP_PDX_IN, OP_PDX_NOT_IN, OP_ANY_DX_IN, OP_SDX_IN = P.OP_PDX_IN, P.OP_PDX_NOT_IN, P.OP_ANY_DX_IN, P.OP_SDX_IN
OP_MAIN_PX_IN, OP_ANY_PX_IN, OP_SEC_PX_IN = P.OP_MAIN_PX_IN, P.OP_ANY_PX_IN, P.OP_SEC_PX_IN
OP_MAIN_PX_OR, OP_ANY_PX_OR, OP_NO_PX_OR = P.OP_MAIN_PX_OR, P.OP_ANY_PX_OR, P.OP_NO_PX_OR
OP_MAIN_PX_NOT_OR, OP_PX_TABLES, OP_MAIN_PX_OR_IN = P.OP_MAIN_PX_NOT_OR, P.OP_PX_TABLES, P.OP_MAIN_PX_OR_IN
OP_NUM_EQ, OP_NUM_LT, OP_NUM_LE, OP_NUM_GT, OP_NUM_GE = P.OP_NUM_EQ, P.OP_NUM_LT, P.OP_NUM_LE, P.OP_NUM_GT, P.OP_NUM_GE
OP_NUM_IN_MASK, OP_WEIGHT_GE, OP_WEIGHT_LT = P.OP_NUM_IN_MASK, P.OP_WEIGHT_GE, P.OP_WEIGHT_LT
OP_MCC, OP_CC, OP_MCC_OR_CC = P.OP_MCC, P.OP_CC, P.OP_MCC_OR_CC
OP_MCC_ANY_DX, OP_MCC_OR_CC_ANY_DX, OP_BODY_SITES_GE = P.OP_MCC_ANY_DX, P.OP_MCC_OR_CC_ANY_DX, P.OP_BODY_SITES_GE
F_GENDER, F_AGE, F_AGE_DAYS, F_WEIGHT = P.F_GENDER, P.F_AGE, P.F_AGE_DAYS, P.F_WEIGHT
ST_OK, ST_UNGROUPABLE, ST_AMBIGUOUS, ST_INVALID = P.ST_OK, P.ST_UNGROUPABLE, P.ST_AMBIGUOUS, P.ST_INVALID
R_GENDER, R_AGE, R_AGE_DAYS, R_WEIGHT, R_NO_DX = P.R_GENDER, P.R_AGE, P.R_AGE_DAYS, P.R_WEIGHT, P.R_NO_DX
A_NEXT, A_RETURN = P.A_NEXT, P.A_RETURN
G_PDX, G_MAIN_PX, G_PDX_MDC = P.G_PDX, P.G_MAIN_PX, P.G_PDX_MDC
L_MDC, R_MDC_CONDITION, R_PDX_NO_MDC = P.L_MDC, P.R_MDC_CONDITION, P.R_PDX_NO_MDC
VALIDITY_FULL, CC_MODE_ANY_DX = P.VALIDITY_FULL, P.CC_MODE_ANY_DX
NO_CODE = -2  # an empty principal-diagnosis slot (the record has no principal diagnosis)


@njit(cache=True, inline="always")
def _in(code, lst, ptr, ids):
    if code < 0:
        return False
    for k in range(ptr[code], ptr[code + 1]):
        v = ids[k]
        if v == lst:
            return True
        if v > lst:
            return False
    return False


@njit(cache=True, inline="always")
def complications(dx, mcc_tab, cc_tab, excl):
    """(mcc, cc) over secondary diagnoses, (mcc, cc) over all diagnoses (CHS-DRG 2.0), and positions."""
    n = dx.shape[0]
    t = excl[dx[0]] if n > 0 and dx[0] >= 0 else -1
    sec_mcc = sec_cc = any_mcc = any_cc = False
    sec_mcc_pos = sec_cc_pos = any_mcc_pos = any_cc_pos = -1
    for i in range(n):
        c = dx[i]
        if c < 0:
            continue
        m = mcc_tab[c]
        if m >= 0 and not (t >= 0 and m == t):
            if i > 0 and not sec_mcc:
                sec_mcc = True
                sec_mcc_pos = i
            if not any_mcc:
                any_mcc = True
                any_mcc_pos = i
        k = cc_tab[c]
        if k >= 0 and not (t >= 0 and k == t):
            if i > 0 and not sec_cc:
                sec_cc = True
                sec_cc_pos = i
            if not any_cc:
                any_cc = True
                any_cc_pos = i
    if n < 2:  # 2.0 judges the principal diagnosis too, but only when there is a second diagnosis
        any_mcc = any_cc = False
        any_mcc_pos = any_cc_pos = -1
    return sec_mcc, sec_cc, any_mcc, any_cc, sec_mcc_pos, sec_cc_pos, any_mcc_pos, any_cc_pos


@njit(cache=True)
def _atom(op, a, b, dx, px, num, cc, dx_ptr, dx_ids, px_ptr, px_ids, site, is_or, pxtab_lists, mask_ptr, masks):
    ndx = dx.shape[0]
    npx = px.shape[0]
    # pdx_in, main_px_in and the mcc / mcc_or_cc tests are evaluated in place by run_steps
    if op == OP_TRUE:
        return True
    if op == OP_FALSE:
        return False
    if op == OP_PDX_NOT_IN:
        return not (ndx > 0 and _in(dx[0], a, dx_ptr, dx_ids))
    if op == OP_ANY_DX_IN or op == OP_SDX_IN:
        for i in range(1 if op == OP_SDX_IN else 0, ndx):
            if _in(dx[i], a, dx_ptr, dx_ids):
                return True
        return False
    if op == OP_ANY_PX_IN or op == OP_SEC_PX_IN:
        for i in range(1 if op == OP_SEC_PX_IN else 0, npx):
            if _in(px[i], a, px_ptr, px_ids):
                return True
        return False
    if op == OP_MAIN_PX_OR:
        return npx > 0 and px[0] >= 0 and is_or[px[0]] == 1
    if op == OP_MAIN_PX_OR_IN:
        return npx > 0 and px[0] >= 0 and (is_or[px[0]] == 1 or _in(px[0], a, px_ptr, px_ids))
    if op == OP_ANY_PX_OR or op == OP_NO_PX_OR:
        found = False
        for i in range(npx):
            if px[i] >= 0 and is_or[px[i]] == 1:
                found = True
                break
        return found if op == OP_ANY_PX_OR else not found
    if op == OP_MAIN_PX_NOT_OR:
        return npx == 0 or px[0] < 0 or is_or[px[0]] == 0
    if op == OP_PX_TABLES:
        flags = 0
        for i in range(npx):
            for t in range(4):
                lst = pxtab_lists[a, t]
                if lst >= 0 and _in(px[i], lst, px_ptr, px_ids):
                    flags |= 1 << t
                    break  # a code in two tables counts for the first one only
        for k in range(mask_ptr[a], mask_ptr[a + 1]):
            if flags & masks[k] == masks[k]:
                return True
        return False
    if op >= OP_NUM_EQ and op <= OP_NUM_IN_MASK:
        v = num[a]
        if v < 0:
            return False
        if op == OP_NUM_EQ:
            return v == b
        if op == OP_NUM_LT:
            return v < b
        if op == OP_NUM_LE:
            return v <= b
        if op == OP_NUM_GT:
            return v > b
        if op == OP_NUM_GE:
            return v >= b
        return v < 31 and (b >> v) & 1 == 1
    if op == OP_WEIGHT_GE or op == OP_WEIGHT_LT:
        w = num[F_WEIGHT]
        if w <= 0:  # unknown or zero weight fails every weight band
            return False
        return w >= b if op == OP_WEIGHT_GE else w < b
    if op == OP_CC:
        return cc[1]
    if op == OP_BODY_SITES_GE:
        seen = 0
        for i in range(ndx):
            c = dx[i]
            if c >= 0 and site[c] >= 0 and _in(c, a, dx_ptr, dx_ids):
                seen |= 1 << site[c]
        count = 0
        while seen:
            seen &= seen - 1
            count += 1
        return count >= b
    return False


@njit(cache=True, inline="always")
def run_steps(dx, px, num, cc, steps, mdc_bits, entry_pc, skip, atoms, conj_ptr, expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, site, is_or,
              pxtab_lists, mask_ptr, masks):
    """Run the step machine for one case.

    Returns the index of the ``returns`` row reached and whether an MDC was entered through its
    principal-diagnosis list (to tell "no rule matched" from "the MDC's sex/age condition failed").
    """
    pc = 0
    entered = False
    ndx = dx.shape[0]
    npx = px.shape[0]
    pdx_bits = mdc_bits[dx[0]] if ndx > 0 and dx[0] >= 0 else np.uint32(0)
    # MDCs worth visiting: those that cannot be skipped, and those whose list holds the principal diagnosis
    visit = (np.int64(pdx_bits) & skip) | ~skip
    n_mdc = entry_pc.shape[0] - 1
    while True:
        if steps[pc, 5] == L_MDC:
            m = steps[pc, 6]
            if (visit >> m) & 1 == 0:
                m += 1
                while m < n_mdc and (visit >> m) & 1 == 0:
                    m += 1
                pc = entry_pc[m]
                continue
        e = steps[pc, 0]
        value = False
        guard = steps[pc, 7]
        if guard == G_PDX_MDC:
            if (pdx_bits >> np.uint32(steps[pc, 8])) & np.uint32(1) == 0:
                e = -1
        elif guard == G_PDX:
            if ndx == 0 or not _in(dx[0], steps[pc, 8], dx_ptr, dx_ids):
                e = -1
        elif guard == G_MAIN_PX:
            if npx == 0 or not _in(px[0], steps[pc, 8], px_ptr, px_ids):
                e = -1
        for j in range(expr_ptr[e], expr_ptr[e + 1] if e >= 0 else 0):
            ok = True
            for k in range(conj_ptr[j], conj_ptr[j + 1]):
                op = atoms[k, 0]
                # the frequent atoms are evaluated in place; the rest go through _atom (kept out of line so
                # the kernel compiles in seconds, not minutes)
                if op == OP_PDX_IN:
                    hit = ndx > 0 and _in(dx[0], atoms[k, 1], dx_ptr, dx_ids)
                elif op == OP_MAIN_PX_IN:
                    hit = npx > 0 and _in(px[0], atoms[k, 1], px_ptr, px_ids)
                elif op == OP_MCC:
                    hit = cc[0]
                elif op == OP_MCC_OR_CC:
                    hit = cc[0] or cc[1]
                elif op == OP_MCC_ANY_DX:
                    hit = cc[2]
                elif op == OP_MCC_OR_CC_ANY_DX:
                    hit = cc[2] or cc[3]
                else:
                    hit = _atom(op, atoms[k, 1], atoms[k, 2], dx, px, num, cc, dx_ptr, dx_ids, px_ptr, px_ids, site,
                                is_or, pxtab_lists, mask_ptr, masks)
                if not hit:
                    ok = False
                    break
            if ok:
                value = True
                break
        if value and guard == G_PDX_MDC and steps[pc, 5] == L_MDC:
            entered = True
        col = 1 if value else 3
        kind = steps[pc, col]
        if kind == A_RETURN:
            return steps[pc, col + 1], entered
        pc = pc + 1 if kind == A_NEXT else steps[pc, col + 1]


@njit(cache=True)
def retry_each_procedure(dx, px, num, steps, returns, mdc_bits, entry_pc, skip, atoms, conj_ptr, expr_ptr, dx_ptr,
                         dx_ids, px_ptr, px_ids, mcc_tab, cc_tab, excl, site, is_or, pxtab_lists, mask_ptr, masks):
    """zhejiang-2022: regroup an ungroupable case with each later procedure alone; -1 if none groups.

    Kept out of the main loop (a second pass), so the common path has no call in it.
    """
    c = complications(dx, mcc_tab, cc_tab, excl)
    cc = (c[0], c[1], c[2], c[3])
    for j in range(1, px.shape[0]):
        r, entered = run_steps(dx, px[j:j + 1], num, cc, steps, mdc_bits, entry_pc, skip, atoms, conj_ptr, expr_ptr,
                               dx_ptr, dx_ids, px_ptr, px_ids, site, is_or, pxtab_lists, mask_ptr, masks)
        if returns[r, 0] != ST_UNGROUPABLE:
            return r
    return -1


@njit(cache=True, inline="always")
def validity(dx, num, full):
    """Reason code of the record check (0 = passes)."""
    g = num[F_GENDER]
    if g != 1 and g != 2:
        return R_GENDER
    if dx.shape[0] == 0 or dx[0] == NO_CODE:
        return R_NO_DX
    if full:
        age = num[F_AGE]
        if age < 0:
            return R_AGE
        if age == 0:
            days = num[F_AGE_DAYS]
            if days < 0:
                return R_AGE_DAYS
            if days <= 28 and num[F_WEIGHT] < 0:
                return R_WEIGHT
    return 0


@njit(cache=True, inline="always")
def group_one(dx, px, num, steps, returns, mdc_bits, entry_pc, atoms, conj_ptr, expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids,
              mcc_tab, cc_tab, excl, site, is_or, pxtab_lists, mask_ptr, masks, params):
    """Group one case. Returns (status, drg, adrg, rule, reason, cc_level, cc_position)."""
    skip = params[3]
    c = complications(dx, mcc_tab, cc_tab, excl)
    cc = (c[0], c[1], c[2], c[3])
    if params[1] == CC_MODE_ANY_DX:
        level = 2 if c[2] else (1 if c[3] else 0)
        pos = c[6] if c[2] else c[7]
    else:
        level = 2 if c[0] else (1 if c[1] else 0)
        pos = c[4] if c[0] else c[5]
    reason = validity(dx, num, params[0] == VALIDITY_FULL)
    if reason != 0:
        return ST_INVALID, 0, -1, -1, reason, level, pos
    r, entered = run_steps(dx, px, num, cc, steps, mdc_bits, entry_pc, skip, atoms, conj_ptr, expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, site,
                  is_or, pxtab_lists, mask_ptr, masks)
    why = returns[r, 4]
    if returns[r, 0] == ST_UNGROUPABLE and not entered:
        why = R_MDC_CONDITION if dx[0] >= 0 and mdc_bits[dx[0]] != 0 else R_PDX_NO_MDC
    return returns[r, 0], returns[r, 1], returns[r, 2], returns[r, 3], why, level, pos


@njit(cache=True)
def group_range(start, end, dx_off, dx_ids_all, px_off, px_ids_all, num, steps, returns, mdc_bits, entry_pc, atoms, conj_ptr,
                expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, mcc_tab, cc_tab, excl, site, is_or, pxtab_lists, mask_ptr,
                masks, params, status, drg, adrg, rule, reason, cc_level, cc_pos):
    """Group cases ``start..end`` serially (everything below is inlined into this loop)."""
    for i in range(start, end):
        st, d, a, r, why, lvl, pos = group_one(
            dx_ids_all[dx_off[i]:dx_off[i + 1]], px_ids_all[px_off[i]:px_off[i + 1]], num[i], steps, returns,
            mdc_bits, entry_pc, atoms, conj_ptr, expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, mcc_tab, cc_tab, excl, site, is_or,
            pxtab_lists, mask_ptr, masks, params)
        status[i] = st
        drg[i] = d
        adrg[i] = a
        rule[i] = r
        reason[i] = why
        cc_level[i] = lvl
        cc_pos[i] = pos
    if params[2] == 1:
        for i in range(start, end):
            if status[i] == ST_UNGROUPABLE and px_off[i + 1] - px_off[i] >= 2:
                r = retry_each_procedure(dx_ids_all[dx_off[i]:dx_off[i + 1]], px_ids_all[px_off[i]:px_off[i + 1]],
                                         num[i], steps, returns, mdc_bits, entry_pc, params[3], atoms, conj_ptr,
                                         expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, mcc_tab, cc_tab, excl, site, is_or,
                                         pxtab_lists, mask_ptr, masks)
                if r >= 0:
                    status[i] = returns[r, 0]
                    drg[i] = returns[r, 1]
                    adrg[i] = returns[r, 2]
                    rule[i] = returns[r, 3]
                    reason[i] = returns[r, 4]


@njit(cache=True, parallel=True, nogil=True)
def group_batch(dx_off, dx_ids_all, px_off, px_ids_all, num, steps, returns, mdc_bits, entry_pc, atoms, conj_ptr, expr_ptr,
                dx_ptr, dx_ids, px_ptr, px_ids, mcc_tab, cc_tab, excl, site, is_or, pxtab_lists, mask_ptr,
                masks, params, status, drg, adrg, rule, reason, cc_level, cc_pos):
    """Group every case of a batch: chunks of cases run in parallel (``prange``), each chunk serially."""
    n = num.shape[0]
    chunk = 4096
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        group_range(c * chunk, min(n, (c + 1) * chunk), dx_off, dx_ids_all, px_off, px_ids_all, num, steps,
                    returns, mdc_bits, entry_pc, atoms, conj_ptr, expr_ptr, dx_ptr, dx_ids, px_ptr, px_ids, mcc_tab, cc_tab,
                    excl, site, is_or, pxtab_lists, mask_ptr, masks, params, status, drg, adrg, rule, reason,
                    cc_level, cc_pos)
