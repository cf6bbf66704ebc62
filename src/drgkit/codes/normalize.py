"""Clean-up of ICD code text that never changes which code was meant.

:func:`normalize_codes` fixes typing artefacts only: full-width characters typed with a Chinese input
method (``Ｉ２１．０００``), stray whitespace, a trailing dot and doubled dots.  It deliberately leaves
letter case alone: the official groupers, and the reference groupers the golden tests follow, treat
``i21.000`` as an unknown code, so silently upper-casing would group cases the reference rejects.
:func:`suggest_case_fix` proposes the canonical spelling for such codes instead, for reports.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Whitespace that NFKC does not turn into an ASCII space, plus ASCII whitespace (RE2's \s is ASCII only), and the
# invisible characters copy-paste carries into a code: control characters (SOH, ESC …) and the bidirectional
# marks (U+200E/F, U+202A–E such as the right-to-left override, U+2066–9).  Removing them is reported as a
# code note like any clean-up.
_WHITESPACE = (
    r"[\s\x00-\x1F\x7F-\x9F\x{00A0}\x{061C}\x{1680}\x{2000}-\x{200F}\x{2028}-\x{202F}\x{205F}"
    r"\x{2066}-\x{2069}\x{3000}\x{FEFF}]+"
)


def _normalize_distinct(values: pa.Array) -> pa.Array:
    """Normalize a flat string array value by value (nulls stay null)."""
    out = pc.utf8_normalize(values, form="NFKC")  # full-width letters, digits, dots → ASCII
    out = pc.replace_substring(out, "。", ".")  # the ideographic full stop typed in place of a dot
    out = pc.replace_substring_regex(out, _WHITESPACE, "")
    out = pc.replace_substring_regex(out, r"\.{2,}", ".")
    out = pc.replace_substring_regex(out, r"\.$", "")
    return out


# Text the steps above cannot change: printable ASCII (NFKC keeps it, no whitespace, no '。') without '..' or a
# trailing '.'.  Everything else *may* change and is normalized for real.
_MAY_CHANGE = r"[^\x21-\x7e]|\.\.|\.$"


def may_change(values: pa.Array) -> np.ndarray:
    """Boolean mask over a string array: False where normalization surely leaves the value as it is.

    One regex pass, far cheaper than NFKC and the replacements; nulls are False (they stay null).
    """
    hit = pc.match_substring_regex(_as_string(values), _MAY_CHANGE)
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool)


def normalize_distinct(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """:func:`normalize_codes` of a flat string array, running the costly steps only on the values
    :func:`may_change` flags (give it distinct codes); returns ``(normalized, changed numpy mask)``."""
    values = _as_string(values)
    suspect = may_change(values)
    changed = np.zeros(len(values), dtype=bool)
    if not suspect.any():
        return values, changed
    subset = values.filter(pa.array(suspect))
    normalized = _normalize_distinct(subset)
    changed[suspect] = pc.fill_null(pc.not_equal(normalized, subset), False).to_numpy(zero_copy_only=False)
    if not changed.any():
        return values, changed
    return pc.replace_with_mask(values, pa.array(suspect), normalized), changed


def _normalize_strings(values: pa.Array) -> pa.Array:
    """Normalize a flat string array, doing the Unicode work once per distinct code."""
    if len(values) < 1024:
        return _normalize_distinct(values)
    # Millions of rows carry a few thousand distinct codes; NFKC and regexes are the costly part.
    encoded = pc.dictionary_encode(values)
    return _normalize_distinct(encoded.dictionary).take(encoded.indices)


def _as_string(values: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    return values if values.type == pa.string() else values.cast(pa.string())


def normalize_codes(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Normalize code text; returns ``(normalized, changed_mask)``.

    ``arr`` is a string array (one code per element) or a list<string> array (codes per row).  The
    result has the same shape, typed ``string`` / ``list<string>``; ``changed_mask`` is a boolean
    array over the *codes* (the flattened values for a list input) telling which ones changed.

    Steps, all vectorized: Unicode NFKC (``Ｉ２１．０００`` → ``I21.000``), ideographic full stop
    ``。`` → ``.``, removal of all whitespace inside and around the code, ``..`` → ``.``, and removal of
    a trailing ``.``.  Case is kept (see the module docstring).
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        lists = arr.cast(pa.list_(pa.string()))
        values = pc.list_flatten(lists)  # skips null rows and honours slicing
        new_values = _normalize_strings(values)
        changed = pc.fill_null(pc.not_equal(new_values, values), False)
        rebuilt = rebuild_lists(lists, new_values)
        return rebuilt, changed
    values = _as_string(arr)
    new_values = _normalize_strings(values)
    return new_values, pc.fill_null(pc.not_equal(new_values, values), False)


def rebuild_lists(template: pa.Array, values: pa.Array) -> pa.ListArray:
    """A list array with ``template``'s row lengths and null rows, holding ``values`` (its flattened size)."""
    lengths = pc.fill_null(pc.list_value_length(template), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(template) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    mask = template.is_null() if template.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _canonical_case(code: str) -> str:
    """Upper-case letters except the lower-case extension 'x'; the first character keeps a capital."""
    parts: list[str] = []
    for part in code.split("+"):  # dagger/asterisk pairs such as A01.000x005+J17.0*
        if not part:
            parts.append(part)
            continue
        head, tail = part[0].upper(), part[1:]
        # After the chapter letter, the only letter in CHS ICD codes is the extension marker 'x'.
        parts.append(head + "".join("x" if ch in "xX" else ch.upper() for ch in tail))
    return "+".join(parts)


def suggest_case_fix(codes: Iterable[str]) -> dict[str, str]:
    """Map each code whose letter case is not canonical to its canonical spelling.

    Give it the *unique* unknown codes (e.g. from ``pc.unique``); the loop is per distinct code.
    ``r58.x00x006`` → ``R58.x00x006``; ``s52.300X011`` → ``S52.300x011``;
    ``a01.000x005+j17.0*`` → ``A01.000x005+J17.0*``; ``x59.900`` → ``X59.900`` (X is a chapter letter
    in first position).  Codes already canonical are left out of the result.
    """
    fixes: dict[str, str] = {}
    for code in codes:
        if code is None:
            continue
        fixed = _canonical_case(code)
        if fixed != code:
            fixes[code] = fixed
    return fixes


def unique_codes(arr: pa.Array | pa.ChunkedArray) -> list[str]:
    """Distinct non-null codes of a string or list<string> column, for :func:`suggest_case_fix`."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = pc.list_flatten(arr)
    return [code for code in pc.unique(_as_string(arr)).to_pylist() if code is not None]
