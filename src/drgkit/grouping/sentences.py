"""Why each case got its group, in one Chinese sentence per row (``drgkit group --explain problems|all``).

Built from the batch's own results with Arrow takes — no per-row Python, no second grouping::

    ``主要诊断 I21.000x005 急性前壁尖部心肌梗死 → MDCF 循环系统疾病及功能障碍 → FM1 经皮冠状动脉支架植入 →
    FM19 …；MCC：I50.900``

a case that did not group gets its reason in Chinese, and for a grey principal (灰码) the finer codes to code.
``drgkit explain`` gives the full rule path of one case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..codes.grey import finer_codes, grey_flags
from ..schemes import program as P

if TYPE_CHECKING:
    from ..schemes.program import CompiledScheme
    from .batch import Encoded, Outcome

#: Finer codes named in a sentence (explain lists them all).
FINER_IN_SENTENCE = 3


def _labels(values: Sequence[str | None]) -> pa.Array:
    return pa.array([v or "" for v in values], pa.string())


def sentences(
    enc: Encoded,
    out: Outcome,
    scheme: CompiledScheme,
    which: str,
    status: np.ndarray,
    reason: np.ndarray,
    problems: pa.Array | None = None,
) -> pa.Array:
    """One sentence per row (null for rows not asked for): ``which`` is ``problems`` (rows not ``ok``) or ``all``;
    ``status`` / ``reason``: as reported (:func:`drgkit.grouping.batch.final_status`); ``problems``: the
    unreadable values per row (``PreparedCases.problems``), quoted after a V06 reason."""
    n = len(status)
    asked = np.ones(n, bool) if which == "all" else status != P.ST_OK
    rows = np.flatnonzero(asked)
    if rows.size == 0:
        return pa.nulls(n, pa.string())
    has_dx = np.diff(enc.dx_off) > 0
    first = np.where(has_dx, enc.dx_off[:-1], 0)
    pdx_id = np.where(has_dx, enc.dx_ids[np.minimum(first, max(len(enc.dx_ids) - 1, 0))] if len(enc.dx_ids) else -1, -1)
    pdx = pc.if_else(
        pa.array(has_dx),
        pc.take(enc.dx_flat, pa.array(first)) if len(enc.dx_flat) else pa.nulls(n, pa.string()),
        pa.scalar("", pa.string()),
    )
    dx_names = _labels(scheme.dx_names)
    pdx_name = pc.take(
        pa.concat_arrays([dx_names, pa.array([""])]), pa.array(np.where(pdx_id >= 0, pdx_id, len(dx_names)))
    )
    grouped = (status == P.ST_OK) | (status == P.ST_AMBIGUOUS)
    drg = pa.array(np.where(grouped, out.drg, scheme.fail_drg).astype(np.int32))
    mdc_code = pc.take(_labels(scheme.drg_mdc), drg)
    mdc_names = dict(zip(scheme.mdc_codes, scheme.mdc_names))
    mdc_name = pc.take(_labels([mdc_names.get(m, "") for m in scheme.drg_mdc]), drg)
    adrg = pa.array(
        np.where(status == P.ST_AMBIGUOUS, scheme.qy_adrg, np.where(grouped, out.adrg, scheme.fail_adrg)).astype(
            np.int32
        )
    )
    path = pc.binary_join_element_wise(
        "主要诊断 ",
        pdx,
        " ",
        pdx_name,
        " → ",
        mdc_code,
        " ",
        mdc_name,
        " → ",
        pc.take(_labels(scheme.adrg_codes), adrg),
        " ",
        pc.take(_labels(scheme.adrg_names), adrg),
        " → ",
        pc.take(_labels(scheme.drg_codes), drg),
        " ",
        pc.take(_labels(scheme.drg_names), drg),
        "",
    )
    has_cc = (out.cc_pos >= 0) & grouped
    if has_cc.any():
        cc_code = pc.take(enc.dx_flat, pa.array(np.where(has_cc, enc.dx_off[:-1] + out.cc_pos, 0), mask=~has_cc))
        level = pc.take(pa.array(["", "CC", "MCC"]), pa.array(out.cc_level.astype(np.int32)))
        cc = pc.binary_join_element_wise("；", level, "：", cc_code, "")
        path = pc.binary_join_element_wise(path, pc.fill_null(cc, ""), "")
    codes = sorted(P.REASONS)
    reason_zh = pc.take(
        _labels([f"{P.REASONS[c][0]} {P.REASONS[c][2]}".strip() for c in codes]),
        pa.array(np.searchsorted(codes, reason.astype(np.int32))),
    )
    # a grey principal: the finer codes to code instead (once per distinct grey code)
    grey = np.zeros(n, bool)
    flags = grey_flags(scheme, "dx")
    if len(flags):
        grey = (pdx_id >= 0) & flags[np.maximum(pdx_id, 0)]
    advice = pa.nulls(n, pa.string())
    if (grey & asked).any():
        ids = np.unique(pdx_id[grey & asked])
        text = {}
        for cid in ids:
            finer = finer_codes(scheme, "dx", scheme.dx_codes[cid])
            shown = "，".join(f"{c} {name}" for c, name in finer[:FINER_IN_SENTENCE])
            more = f" 等{len(finer)}个" if len(finer) > FINER_IN_SENTENCE else ""
            text[cid] = (
                f"；主要诊断 {scheme.dx_codes[cid]} 为灰码，可用细目：{shown}{more}"
                if finer
                else f"；主要诊断 {scheme.dx_codes[cid]} 为灰码"
            )
        lookup = np.full(len(flags), -1, np.int64)
        lookup[ids] = np.arange(len(ids))
        words = pa.array([text[c] for c in ids] + [None], pa.string())
        advice = pc.take(words, pa.array(np.where(grey & asked, lookup[np.maximum(pdx_id, 0)], len(ids))))
    unknown = asked & (pdx_id < 0) & has_dx
    if unknown.any():  # an unknown principal: say how it would become a dictionary code, if it can
        advice = pc.if_else(pa.array(unknown), _unknown_advice(pdx, unknown, scheme), advice)
    if problems is not None and problems.null_count < len(problems):
        quoted = pc.binary_join_element_wise("：", problems, "")
        advice = pc.if_else(pa.array(reason == P.R_INPUT), quoted, advice)
    not_grouped = pc.binary_join_element_wise(reason_zh, pc.fill_null(advice, ""), "")
    sentence = pc.if_else(pa.array(grouped), path, not_grouped)
    return pc.if_else(pa.array(asked), sentence, pa.scalar(None, pa.string()))


def _unknown_advice(pdx: pa.Array, rows: np.ndarray, scheme: CompiledScheme) -> pa.Array:
    """For principal codes the dictionary lacks (once per distinct code): the dictionary code it is in another
    letter case (``--fix-case``) or its 医保版 twin of a 国临版 code (``--convert-codes``), else where to look.
    One text per row of ``pdx`` where ``rows`` is set, null elsewhere; rows reach their text by integer ids."""
    where = np.flatnonzero(rows)
    encoded = pc.dictionary_encode(pc.take(pdx, pa.array(where)))
    texts = _unknown_texts(encoded.dictionary.to_pylist(), scheme)
    ids = np.full(len(rows), len(texts), np.int64)  # the last text is null: rows not asked about, null codes
    ids[where] = pc.fill_null(encoded.indices, len(texts)).to_numpy(zero_copy_only=False)
    return pc.take(pa.array([*texts, None], pa.string()), pa.array(ids))


def _unknown_texts(codes: list[str], scheme: CompiledScheme) -> list[str]:
    """The advice for each of ``codes`` (distinct principal codes the dictionary lacks), in their order."""
    from ..codes.normalize import suggest_case_fix
    from ..codes.repair import code_map

    known = dict(zip(scheme.dx_codes, scheme.dx_names))
    converted = code_map(scheme.id, "dx")
    case_fixes = suggest_case_fix(codes)
    texts = []
    for code in codes:
        fixed = case_fixes.get(code)
        if fixed in known:
            texts.append(f"；主要诊断 {code} 大小写不规范，字典编码为 {fixed} {known[fixed]}（--fix-case 可自动改正）")
        elif converted.get(code) in known:
            twin = converted[code]
            texts.append(f"；主要诊断 {code} 为国临版编码，医保版为 {twin} {known[twin]}（--convert-codes 可自动转换）")
        else:
            if "_sorted_dx" not in scheme.__dict__:  # the dictionary in code order, once per scheme
                scheme.__dict__["_sorted_dx"] = sorted(scheme.dx_codes)
            finer = _starting_with(scheme.__dict__["_sorted_dx"], code)
            if finer:  # a code cut short (L30.9): the dictionary codes under it
                shown = "，".join(f"{c} {known[c]}" for c in finer[:FINER_IN_SENTENCE])
                more = f" 等{len(finer)}个" if len(finer) > FINER_IN_SENTENCE else ""
                texts.append(f"；主要诊断 {code} 不是完整的医保版编码，字典中以它开头的有：{shown}{more}")
            else:
                texts.append(f"；主要诊断 {code} 不在 {scheme.id} 的医保版字典中，请核对编码")
    return texts


def _starting_with(codes: list[str], prefix: str) -> list[str]:
    """Codes (sorted) that begin with ``prefix``: one bisection, then a short walk."""
    import bisect

    if len(prefix) < 3:
        return []
    i = bisect.bisect_left(codes, prefix)
    out = []
    while i < len(codes) and codes[i].startswith(prefix):
        out.append(codes[i])
        i += 1
    return out
