"""Optional code repairs that change which code is used: 国临版 → 医保版 conversion and letter-case fixes.

Both are off by default (the official groupers do neither) and work on distinct unknown codes only:
a code the scheme already knows is never touched. Every repair is reported in the row's warnings.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from ..arrowutil import notes_per_row
from ..schemes.program import CompiledScheme
from ..schemes.tables import icd_table
from .normalize import rebuild_lists, suggest_case_fix


@lru_cache(maxsize=8)
def code_map(scheme_id: str, domain: str) -> dict[str, str]:
    """Non-identity rows of the scheme's 国临版 → 医保版 map (``map_dx`` / ``map_px``)."""
    _, rows = icd_table(scheme_id, f"map_{domain}")
    return {r[0]: r[1] for r in rows if r[0] != r[1]}


def repair_lists(
    lists: pa.Array, scheme: CompiledScheme, domain: str, *, convert: bool, fix_case: bool
) -> tuple[pa.Array, pa.Array | None]:
    """Repaired list<string> column and per-row notes (null where nothing changed)."""
    if not (convert or fix_case) or len(lists) == 0:
        return lists, None
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    values = pc.list_flatten(lists)
    uniq = pc.unique(values).drop_null()
    known = set(scheme.dx_codes if domain == "dx" else scheme.px_codes)
    replace: dict[str, str] = {}
    for code in uniq.to_pylist():  # distinct codes only, typically a few thousand
        if code in known or not code:
            continue
        candidate = code
        if fix_case:
            candidate = suggest_case_fix([code]).get(code, code)
        if convert and candidate not in known:
            candidate = code_map(scheme.id, domain).get(candidate, candidate)
        if candidate != code and candidate in known:
            replace[code] = candidate
    if not replace:
        return lists, None
    src = pa.array(list(replace), pa.string())
    dst = pa.array(list(replace.values()), pa.string())
    idx = pc.index_in(values, value_set=src)
    hit = pc.fill_null(pc.is_valid(idx), False)
    new_values = pc.if_else(hit, pc.take(dst, pc.fill_null(idx, 0)), values)
    repaired = rebuild_lists(lists, new_values)
    mask = hit.to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)[mask]
    fixed = pc.filter(values, hit)
    texts = pc.binary_join_element_wise(pc.take(dst, pc.index_in(fixed, value_set=src)), fixed, " ← ")
    return repaired, notes_per_row(len(lists), rows, texts)
