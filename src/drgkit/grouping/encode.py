"""Turn code strings into the scheme's integer code ids, vectorized with pyarrow (never per row).

Unique strings are looked up once (``dictionary_encode`` + ``index_in``); per-row work is a ``take``.
Id -1 is a code the scheme does not know; -2 an empty slot (e.g. a blank principal diagnosis).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowutil import null_or_empty
from ..schemes.program import CompiledScheme

UNKNOWN, EMPTY = -1, -2


def _value_set(scheme: CompiledScheme, domain: str) -> pa.Array:
    cache = scheme.__dict__.setdefault("_value_sets", {})
    if domain not in cache:
        cache[domain] = pa.array(scheme.dx_codes if domain == "dx" else scheme.px_codes, pa.string())
    return cache[domain]


def encode_unique(values: pa.Array, scheme: CompiledScheme, domain: str) -> np.ndarray:
    """Code ids of distinct code strings (-1 unknown, -2 empty or null)."""
    ids = pc.index_in(values, value_set=_value_set(scheme, domain))
    out: np.ndarray = pc.fill_null(ids, UNKNOWN).to_numpy(zero_copy_only=False).astype(np.int32)
    if values.type == pa.string():
        empty = null_or_empty(values)  # from the offsets, no string kernel
    else:
        empty = pc.fill_null(pc.equal(pc.utf8_length(values), 0), True).to_numpy(zero_copy_only=False)
    out[empty] = EMPTY
    if domain == "dx" and scheme.dx_prefixes:
        unknown = out == UNKNOWN
        for prefix, syn in scheme.dx_prefixes:
            hit = pc.fill_null(pc.starts_with(values, prefix), False).to_numpy(zero_copy_only=False)
            out[unknown & hit] = syn
    return out


def encode_lists(
    lists: pa.Array | pa.ChunkedArray,
    scheme: CompiledScheme,
    domain: str,
    distinct: tuple[np.ndarray, pa.Array] | None = None,
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """CSR ``(offsets int64[n+1], ids int32[m], codes[m])`` of a list<string> column; null lists are empty."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks() if lists.num_chunks != 1 else lists.chunk(0)
    if pa.types.is_large_list(lists.type):
        lists = lists.cast(pa.list_(pa.string()))
    lists = pc.fill_null(lists, pa.scalar([], lists.type)) if lists.null_count else lists
    offsets = lists.offsets.to_numpy().astype(np.int64)
    flat = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
    offsets -= offsets[0]
    if len(flat) == 0:
        return offsets, np.zeros(0, np.int32), flat
    if distinct is not None and len(distinct[0]) == len(flat):
        # prepare() already knows each value's distinct code: look the distinct codes up once
        return offsets, encode_unique(distinct[1], scheme, domain)[distinct[0]], flat
    enc = pc.dictionary_encode(flat)
    uniq_ids = encode_unique(enc.dictionary, scheme, domain)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    ids = (
        uniq_ids[idx]
        if not enc.indices.null_count
        else np.where(
            pc.is_null(enc.indices).to_numpy(zero_copy_only=False), EMPTY, uniq_ids[np.nan_to_num(idx).astype(np.int64)]
        )
    )
    return offsets, ids.astype(np.int32), flat


def encode_dept(dept: pa.Array | None, scheme: CompiledScheme, n: int) -> np.ndarray:
    """Index of the case's department among the scheme's ``dept_eq`` literals (-1 = none of them)."""
    if dept is None or not scheme.dept_literals:
        return np.full(n, -1, np.int32)
    ids = pc.index_in(pc.cast(dept, pa.string()), value_set=pa.array(scheme.dept_literals, pa.string()))
    dept_ids: np.ndarray = pc.fill_null(ids, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return dept_ids
