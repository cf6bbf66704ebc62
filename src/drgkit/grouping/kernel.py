"""The numba grouping kernel: one interpreter of the compiled rule program for every scheme.

It reads only flat arrays: the packed program of :mod:`drgkit.grouping.kernel_program` and per-code tables.
Cases arrive as CSR code-id arrays plus a ``(n, 8)`` matrix of numeric fields. ``group_batch`` runs cases in
parallel with ``prange``.

A case is addressed by index ranges into the batch arrays (``dx[d0:d1]``, ``px[p0:p1]``, row ``i`` of
``num``), never by array slices: each slice is a new array view whose reference count numba updates with
atomic instructions, and that alone cost more than grouping the case.
The pure-Python twin in :mod:`drgkit.grouping.reference` follows the same steps and is tested equal.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..schemes import program as P
from . import kernel_program as KP

# numba sees module-level ints as compile-time constants
OP_PDX_IN, OP_PDX_NOT_IN, OP_ANY_DX_IN, OP_SDX_IN = P.OP_PDX_IN, P.OP_PDX_NOT_IN, P.OP_ANY_DX_IN, P.OP_SDX_IN
OP_MAIN_PX_IN, OP_ANY_PX_IN, OP_SEC_PX_IN = P.OP_MAIN_PX_IN, P.OP_ANY_PX_IN, P.OP_SEC_PX_IN
OP_PX_TABLES, OP_MAIN_PX_OR_IN = P.OP_PX_TABLES, P.OP_MAIN_PX_OR_IN
OP_NUM_EQ, OP_NUM_LT, OP_NUM_LE, OP_NUM_GT, OP_NUM_GE = P.OP_NUM_EQ, P.OP_NUM_LT, P.OP_NUM_LE, P.OP_NUM_GT, P.OP_NUM_GE
OP_NUM_IN_MASK, OP_WEIGHT_GE, OP_WEIGHT_LT = P.OP_NUM_IN_MASK, P.OP_WEIGHT_GE, P.OP_WEIGHT_LT
OP_BODY_SITES_GE = P.OP_BODY_SITES_GE
F_GENDER, F_AGE, F_AGE_DAYS, F_WEIGHT = P.F_GENDER, P.F_AGE, P.F_AGE_DAYS, P.F_WEIGHT
ST_OK, ST_UNGROUPABLE, ST_AMBIGUOUS, ST_INVALID = P.ST_OK, P.ST_UNGROUPABLE, P.ST_AMBIGUOUS, P.ST_INVALID
R_GENDER, R_AGE, R_AGE_DAYS, R_WEIGHT, R_NO_DX = P.R_GENDER, P.R_AGE, P.R_AGE_DAYS, P.R_WEIGHT, P.R_NO_DX
A_NEXT, A_RETURN = P.A_NEXT, P.A_RETURN
G_PDX, G_MAIN_PX, G_PDX_MDC = P.G_PDX, P.G_MAIN_PX, P.G_PDX_MDC
L_MDC, R_MDC_CONDITION, R_PDX_NO_MDC = P.L_MDC, P.R_MDC_CONDITION, P.R_PDX_NO_MDC
VALIDITY_FULL, CC_MODE_ANY_DX = P.VALIDITY_FULL, P.CC_MODE_ANY_DX
PARAM_VALIDITY, PARAM_CC_MODE, PARAM_RETRY, PARAM_SKIP_MASK = (
    P.PARAM_VALIDITY,
    P.PARAM_CC_MODE,
    P.PARAM_RETRY,
    P.PARAM_SKIP_MASK,
)
B_SEC_MCC, B_SEC_CC, B_SEC_MCC_OR_CC = KP.B_SEC_MCC, KP.B_SEC_CC, KP.B_SEC_MCC_OR_CC
B_ANY_MCC, B_ANY_MCC_OR_CC = KP.B_ANY_MCC, KP.B_ANY_MCC_OR_CC
N_CC_STATES = KP.N_CC_STATES
CC_STATE_BITS = N_CC_STATES - 1
K_LABEL_KIND, K_LABEL, K_GUARD, K_GUARD_ARG, K_CONJ0, K_CONJ1 = (
    KP.K_LABEL_KIND,
    KP.K_LABEL,
    KP.K_GUARD,
    KP.K_GUARD_ARG,
    KP.K_CONJ0,
    KP.K_CONJ1,
)
K_TRUE_KIND, K_TRUE_ARG, K_FALSE_KIND, K_STOP, K_CHAIN, K_WORD = (
    KP.K_TRUE_KIND,
    KP.K_TRUE_ARG,
    KP.K_FALSE_KIND,
    KP.K_STOP,
    KP.K_CHAIN,
    KP.K_WORD,
)
K_WNEXT, K_WAFTER, K_GUARD_ONLY, MDC_TAKEN = KP.K_WNEXT, KP.K_WAFTER, KP.K_GUARD_ONLY, KP.MDC_TAKEN
KW, CW, AW, NW = KP.KW, KP.CW, KP.AW, KP.NW
# the index of a power of two without a loop (a data-dependent loop mispredicts): de Bruijn multiply, table
DEBRUIJN_MUL = 0x03F79D71B4CB0A89
DEBRUIJN = np.zeros(64, np.int64)
for _i in range(64):
    DEBRUIJN[((1 << _i) * DEBRUIJN_MUL % (1 << 64)) >> 58] = _i
# Every index in the loop is cast to unsigned: numba then leaves out the negative-index wraparound it adds to
# every signed index (≈ 25 % fewer instructions per case, counted by benchmarks/count_kernel.py).
U = np.uint64
LOW32 = np.int64(0xFFFFFFFF)
NO_CODE = -2  # an empty principal-diagnosis slot (the record has no principal diagnosis)


@njit(cache=True)
def _in(code, lst, ptr, ids):
    if code < 0:
        return False
    for k in range(ptr[U(code)], ptr[U(code + 1)]):
        v = ids[U(k)]
        if v == lst:
            return True
        if v > lst:
            return False
    return False


@njit(cache=True)
def _atom(op, a, b, dx, d0, d1, px, p0, p1, dx_ptr, dx_ids, px_ptr, px_ids, site, is_or, pxtab_lists, mask_ptr, masks):
    """The rarely visited atoms; the frequent ones are evaluated in place by ``group_range``.

    CC levels and OR-procedure tests never get here: they are always bits of the case word.
    """
    if op == OP_PDX_NOT_IN:
        return not (d1 > d0 and _in(dx[d0], a, dx_ptr, dx_ids))
    if op == OP_SEC_PX_IN:
        for i in range(p0 + 1, p1):
            if _in(px[i], a, px_ptr, px_ids):
                return True
        return False
    if op == OP_MAIN_PX_OR_IN:
        return p1 > p0 and px[p0] >= 0 and (is_or[px[p0]] == 1 or _in(px[p0], a, px_ptr, px_ids))
    if op == OP_PX_TABLES:
        flags = 0
        for i in range(p0, p1):
            for t in range(4):
                lst = pxtab_lists[a, t]
                if lst >= 0 and _in(px[i], lst, px_ptr, px_ids):
                    flags |= 1 << t
                    break  # a code in two tables counts for the first one only
        for k in range(mask_ptr[a], mask_ptr[a + 1]):
            if flags & masks[k] == masks[k]:
                return True
        return False
    if op == OP_BODY_SITES_GE:
        seen = 0
        for i in range(d0, d1):
            c = dx[i]
            if c >= 0 and site[c] >= 0 and _in(c, a, dx_ptr, dx_ids):
                seen |= 1 << site[c]
        count = 0
        while seen:
            seen &= seen - 1
            count += 1
        return count >= b
    return False


@njit(cache=True, nogil=True)
def group_range(
    start,
    end,
    dx_off,
    dx,
    px_off,
    px,
    num,
    prog,
    conj,
    atoms,
    chain,
    dx_tab,
    pdx_tab,
    px_tab,
    pos_masks,
    num_tab,
    mdc_pre,
    returns,
    entry_pc,
    dcand,
    pcand,
    dx_ptr,
    dx_ids,
    px_ptr,
    px_ids,
    site,
    is_or,
    pxtab_lists,
    mask_ptr,
    masks,
    params,
    status,
    drg,
    adrg,
    rule,
    reason,
    cc_level,
    cc_pos,
):
    """Group cases ``start..end`` serially.

    One function body on purpose: numba updates the reference counts of the arrays handed to every inlined
    helper (atomic instructions, per case), and its pruning pass cannot remove them across the loops of the
    step machine; so only the scalar-argument helper ``_in`` and the rare atoms (``_atom``) are calls.
    For each case: the CC/MCC flags and the case word (see :mod:`drgkit.grouping.kernel_program`), the
    record check, then the step machine — run once with all procedures and, for zhejiang-2022's retry
    rule, again with each later procedure alone while the case stays ungroupable.
    """
    skip = params[PARAM_SKIP_MASK]
    full = params[PARAM_VALIDITY] == VALIDITY_FULL
    any_dx_mode = params[PARAM_CC_MODE] == CC_MODE_ANY_DX
    retry = params[PARAM_RETRY] == 1
    n_mdc = entry_pc.shape[0] - 1
    pos_pdx, pos_sdx, pos_main, pos_other = pos_masks[0], pos_masks[1], pos_masks[2], pos_masks[3]
    for i in range(start, end):
        d0, d1, p0, p1 = dx_off[U(i)], dx_off[U(i + 1)], px_off[U(i)], px_off[U(i + 1)]
        pdx = dx[U(d0)] if d1 > d0 else -1

        # ---- complications: first MCC / CC position among the secondary diagnoses and among all diagnoses
        # (CHS-DRG 2.0); a code's CC entry packs its exclusion tables as MCC and as CC, each + 1 (0: none) ----
        wdx = np.int64(0)
        t1 = np.int32(0)  # exclusion table of the principal diagnosis + 1 (0: none)
        pdx_bits = np.uint32(0)  # the MDC lists it is on
        dstart = dend = np.int32(0)  # its candidate steps
        pdx_mcc = pdx_cc = False
        if pdx >= 0:
            pb = 4 * pdx
            t1, pdx_bits = pdx_tab[U(pb)], np.uint32(pdx_tab[U(pb + 1)])
            dstart, dend = pdx_tab[U(pb + 2)], pdx_tab[U(pb + 3)]
            wdx = dx_tab[U(2 * pdx)] & pos_pdx
            x = dx_tab[U(2 * pdx + 1)]
            m1, k1 = x & LOW32, x >> 32
            pdx_mcc = m1 != 0 and m1 != t1
            pdx_cc = k1 != 0 and k1 != t1
        smcc = scc = -1
        for q in range(1, d1 - d0):
            c = dx[U(d0 + q)]
            if c < 0:
                continue
            wdx |= dx_tab[U(2 * c)] & pos_sdx
            x = dx_tab[U(2 * c + 1)]
            if x != 0:
                m1, k1 = x & LOW32, x >> 32
                if smcc < 0 and m1 != 0 and m1 != t1:
                    smcc = q
                if scc < 0 and k1 != 0 and k1 != t1:
                    scc = q
        # 2.0 judges the principal diagnosis too, but only when there is a second diagnosis
        amcc = 0 if pdx_mcc and d1 - d0 >= 2 else smcc
        acc = 0 if pdx_cc and d1 - d0 >= 2 else scc
        mp, cp = (amcc, acc) if any_dx_mode else (smcc, scc)
        cc_level[U(i)] = 2 if mp >= 0 else (1 if cp >= 0 else 0)
        cc_pos[U(i)] = mp if mp >= 0 else cp

        # ---- record check ----
        why = 0
        g = num[U(i), F_GENDER]
        if g != 1 and g != 2:
            why = R_GENDER
        elif d1 == d0 or pdx == NO_CODE:
            why = R_NO_DX
        elif full:
            age = num[U(i), F_AGE]
            if age < 0:
                why = R_AGE
            elif age == 0:
                days = num[U(i), F_AGE_DAYS]
                if days < 0:
                    why = R_AGE_DAYS
                elif days <= 28 and num[U(i), F_WEIGHT] < 0:
                    why = R_WEIGHT
        if why != 0:
            status[U(i)] = ST_INVALID
            drg[U(i)] = 0
            adrg[U(i)] = -1
            rule[U(i)] = -1
            reason[U(i)] = why
            continue

        sm, sc, am, ac = np.int64(smcc >= 0), np.int64(scc >= 0), np.int64(amcc >= 0), np.int64(acc >= 0)
        wdx |= (
            (sm << B_SEC_MCC)
            | (sc << B_SEC_CC)
            | ((sm | sc) << B_SEC_MCC_OR_CC)
            | (am << B_ANY_MCC)
            | ((am | ac) << B_ANY_MCC_OR_CC)
        )
        for k in range(0, num_tab.shape[0], NW):  # the numbers MDC entries test, as ranges (no branches)
            v = num[U(i), U(num_tab[U(k)])]
            wdx |= np.int64((v >= num_tab[U(k + 1)]) & (v <= num_tab[U(k + 2)])) << num_tab[U(k + 3)]
        # MDCs worth visiting: those that cannot be skipped, and those whose list holds the principal diagnosis
        visit = (np.int64(pdx_bits) & skip) | ~skip  # ~skip sets every bit from n_mdc up
        attempts = p1 - p0 if retry and p1 - p0 >= 2 else 1
        first_r = -1
        first_entered = False
        final = -1
        for attempt in range(attempts):
            q0, q1 = (p0, p1) if attempt == 0 else (p0 + attempt, p0 + attempt + 1)
            mpx = px[U(q0)] if q1 > q0 else -1
            w = wdx
            # candidate steps of the principal diagnosis and of the main procedure (pointers only move
            # forward, as the program only jumps forward)
            dpos = dstart
            ppos = pend = np.int64(0)
            if mpx >= 0:
                w |= px_tab[U(2 * mpx)] & pos_main
                x = px_tab[U(2 * mpx + 1)]
                ppos, pend = x & LOW32, x >> 32
            for q in range(q0 + 1, q1):
                c = px[U(q)]
                if c >= 0:
                    w |= px_tab[U(2 * c)] & pos_other
            cstate = w & CC_STATE_BITS
            vis = visit
            for k in range(0, mdc_pre.shape[0], 3):  # MDCs every case visits: drop those the word rules out
                vis &= ~(np.int64(w & mdc_pre[U(k + 1)] != mdc_pre[U(k + 2)]) << mdc_pre[U(k)])
            pc = 0
            entered = False
            r = -1
            while r < 0:
                # each pass evaluates one step; MDC jumps and skips fall through to the step they land on
                b = pc * KW
                if prog[U(b + K_LABEL_KIND)] == L_MDC:  # go to the first MDC that may take the case
                    m = prog[U(b + K_LABEL)]
                    while True:
                        low = vis & (np.int64(-1) << m)
                        low &= -low  # the lowest MDC at or after m to visit (bit n_mdc is always set)
                        m = DEBRUIJN[U(((low * DEBRUIJN_MUL) >> 58) & 63)]
                        pc = entry_pc[U(m)]
                        b = pc * KW
                        n_clauses = prog[U(b + K_WORD)]
                        if m == n_mdc or n_clauses == 0:
                            break  # evaluate that entry (or the end step) below
                        # the entry, then its else-QY clause if any, decided by the case word
                        hit = pc if n_clauses == MDC_TAKEN else -1
                        for u in range(n_clauses if hit < 0 else 0):
                            ub = b + u * KW
                            if (
                                prog[U(ub + K_GUARD)] == G_PDX_MDC
                                and (pdx_bits >> np.uint32(prog[U(ub + K_GUARD_ARG)])) & np.uint32(1) == 0
                            ):
                                continue
                            for j in range(prog[U(ub + K_CONJ0)], prog[U(ub + K_CONJ1)]):
                                if w & conj[U(j * CW)] == conj[U(j * CW + 1)]:
                                    hit = pc + u
                                    break
                            if hit >= 0:
                                break
                        if hit < 0:
                            m += 1
                            continue
                        if hit == pc and prog[U(b + K_GUARD)] == G_PDX_MDC:
                            entered = True
                        hb = hit * KW
                        kind = prog[U(hb + K_TRUE_KIND)]
                        if kind == A_RETURN:
                            r = prog[U(hb + K_TRUE_ARG)]
                        else:
                            pc = hit + 1 if kind == A_NEXT else prog[U(hb + K_TRUE_ARG)]
                            b = pc * KW
                        break
                    if r >= 0:
                        break
                nxt = prog[U(b + K_STOP)]
                known = False  # the step's guard is already known true (it is a candidate of the case's code)
                if nxt != pc:  # a rule on a skip chain: go to the first candidate or true word step, or the end
                    while dpos < dend and dcand[U(dpos)] < pc:
                        dpos += 1
                    while ppos < pend and pcand[U(ppos)] < pc:
                        ppos += 1
                    stop = nxt
                    if dpos < dend and dcand[U(dpos)] < nxt:
                        nxt = dcand[U(dpos)]
                    if ppos < pend and pcand[U(ppos)] < nxt:
                        nxt = pcand[U(ppos)]
                    known = nxt != stop
                    ws = prog[U(b + K_WNEXT)]
                    while ws < nxt:  # the word steps on the way: land on the first one the case word makes true
                        wb = ws * KW
                        j, j1 = prog[U(wb + K_CONJ0)], prog[U(wb + K_CONJ1)]
                        while j < j1 and w & conj[U(j * CW)] != conj[U(j * CW + 1)]:
                            j += 1
                        if j < j1:
                            nxt = ws
                            known = False
                        else:
                            ws = prog[U(wb + K_WAFTER)]
                    pc = nxt
                    b = pc * KW
                    if known:
                        if prog[U(b + K_GUARD_ONLY)] == 1:  # true once its guard is: take the true branch
                            kind = prog[U(b + K_TRUE_KIND)]
                            if kind == A_RETURN:
                                r = prog[U(b + K_TRUE_ARG)]
                            else:
                                pc = pc + 1 if kind == A_NEXT else prog[U(b + K_TRUE_ARG)]
                            continue
                    elif prog[U(b + K_LABEL_KIND)] == L_MDC:
                        continue  # the chain ends at the next MDC: choose it by the MDC bits, above
                row = prog[U(b + K_CHAIN)]
                if row >= 0:  # a run of CC splits: one lookup by the CC state (the word's low bits)
                    v = chain[U(row * N_CC_STATES + cstate)]
                    if v >= 0:
                        r = v
                    else:
                        pc = -v - 1
                    continue
                guard = prog[U(b + K_GUARD)]
                j0, j1 = prog[U(b + K_CONJ0)], prog[U(b + K_CONJ1)]
                if guard == G_PDX_MDC:
                    if (pdx_bits >> np.uint32(prog[U(b + K_GUARD_ARG)])) & np.uint32(1) == 0:
                        j1 = j0
                elif known:
                    pass
                elif guard == G_PDX:
                    if not _in(pdx, prog[U(b + K_GUARD_ARG)], dx_ptr, dx_ids):
                        j1 = j0
                elif guard == G_MAIN_PX:
                    if not _in(mpx, prog[U(b + K_GUARD_ARG)], px_ptr, px_ids):
                        j1 = j0
                value = False
                for j in range(j0, j1):
                    if w & conj[U(j * CW)] != conj[U(j * CW + 1)]:
                        continue
                    ok = True
                    # the atoms the case word cannot answer
                    for k in range(conj[U(j * CW + 2)], conj[U(j * CW + 3)]):
                        op, a, bv = atoms[U(k * AW)], atoms[U(k * AW + 1)], atoms[U(k * AW + 2)]
                        if op == OP_PDX_IN:
                            hit = _in(pdx, a, dx_ptr, dx_ids)
                        elif op == OP_MAIN_PX_IN:
                            hit = _in(mpx, a, px_ptr, px_ids)
                        elif op >= OP_NUM_EQ and op <= OP_NUM_IN_MASK:
                            v = num[U(i), U(a)]
                            if v < 0:
                                hit = False
                            elif op == OP_NUM_EQ:
                                hit = v == bv
                            elif op == OP_NUM_LT:
                                hit = v < bv
                            elif op == OP_NUM_LE:
                                hit = v <= bv
                            elif op == OP_NUM_GT:
                                hit = v > bv
                            elif op == OP_NUM_GE:
                                hit = v >= bv
                            else:
                                hit = v < 31 and (bv >> v) & 1 == 1
                        elif op == OP_WEIGHT_GE or op == OP_WEIGHT_LT:
                            bw = num[U(i), F_WEIGHT]  # unknown or zero weight fails every weight band
                            hit = bw > 0 and (bw >= bv if op == OP_WEIGHT_GE else bw < bv)
                        elif op == OP_ANY_PX_IN:
                            hit = False
                            for q in range(q0, q1):
                                if _in(px[U(q)], a, px_ptr, px_ids):
                                    hit = True
                                    break
                        elif op == OP_ANY_DX_IN or op == OP_SDX_IN:
                            hit = False
                            for q in range(d0 + 1 if op == OP_SDX_IN else d0, d1):
                                if _in(dx[U(q)], a, dx_ptr, dx_ids):
                                    hit = True
                                    break
                        else:
                            hit = _atom(
                                op,
                                a,
                                bv,
                                dx,
                                d0,
                                d1,
                                px,
                                q0,
                                q1,
                                dx_ptr,
                                dx_ids,
                                px_ptr,
                                px_ids,
                                site,
                                is_or,
                                pxtab_lists,
                                mask_ptr,
                                masks,
                            )
                        if not hit:
                            ok = False
                            break
                    if ok:
                        value = True
                        break
                if value and guard == G_PDX_MDC and prog[U(b + K_LABEL_KIND)] == L_MDC:
                    entered = True
                col = K_TRUE_KIND if value else K_FALSE_KIND
                kind = prog[U(b + col)]
                if kind == A_RETURN:
                    r = prog[U(b + col + 1)]
                else:
                    pc = pc + 1 if kind == A_NEXT else prog[U(b + col + 1)]
            if attempt == 0:
                first_r = r
                first_entered = entered
            if returns[U(r), 0] != ST_UNGROUPABLE:
                final = r
                break
        if final < 0:  # ungroupable: tell "no rule matched" from "no MDC would take the case"
            final = first_r
            why = returns[final, 4]
            if not first_entered:
                why = R_MDC_CONDITION if pdx_bits != 0 else R_PDX_NO_MDC
        else:
            why = returns[final, 4]
        status[U(i)] = returns[U(final), 0]
        drg[U(i)] = returns[U(final), 1]
        adrg[U(i)] = returns[U(final), 2]
        rule[U(i)] = returns[U(final), 3]
        reason[U(i)] = why


@njit(cache=True, parallel=True, nogil=True)
def group_batch(*args):
    """Group every case of a batch: chunks of cases run in parallel (``prange``), each chunk serially.

    ``args`` are ``group_range``'s arguments after ``start, end``.
    """
    n = args[4].shape[0]  # rows of ``num``
    chunk = 4096
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        group_range(c * chunk, min(n, (c + 1) * chunk), *args)
