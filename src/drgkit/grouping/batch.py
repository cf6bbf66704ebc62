"""Group one batch: prepared cases → kernel → result columns appended to the input table.

Everything here is vectorized over the batch (numpy / pyarrow); the only loop over cases is the kernel's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowutil import notes_per_row, take_with
from ..codes.grey import grey_flags
from ..io.prepare import PreparedCases
from ..outputs import DRG_COLUMNS
from ..schemes import program as P
from ..schemes.program import CompiledScheme
from .encode import EMPTY, UNKNOWN, encode_dept, encode_lists

if TYPE_CHECKING:
    from .reference import Reference

_KERNEL_LOCK = threading.Lock()

#: Batches of at most this many cases are grouped by the jump-program walker (:mod:`.reference`, plain Python,
#: about 100–250 µs a case) instead of the numba kernel, as long as the kernel has not been loaded in this process:
#: loading it (``import numba`` ≈ 0.25 s, then its cached machine code ≈ 0.3 s) costs as much as walking about
#: 2,000 cases, so a small file, a one-case request or a test batch never imports numba (``drgkit group`` on a
#: few rows starts in well under half a second). The walker runs the same compiled program; every output column
#: of both is tested equal on every scheme (tests/test_small_batch.py), so no result depends on which one ran.
#: 1,000 keeps the worst walk (≈ 0.25 s on the slowest scheme) under the load it saves.
SMALL_BATCH = 1000

_kernel_loaded = False  # set once a kernel call has returned: from then on every batch takes the kernel
_WALKERS: dict[tuple[str, str], Reference] = {}  # one walker per scheme

RESULT_COLUMNS = DRG_COLUMNS


@dataclass
class Encoded:
    """A batch in the kernel's form."""

    dx_off: np.ndarray
    dx_ids: np.ndarray
    px_off: np.ndarray
    px_ids: np.ndarray
    num: np.ndarray
    dx_flat: pa.Array  # the code strings behind dx_ids / px_ids, same order
    px_flat: pa.Array

    @property
    def n(self) -> int:
        return int(self.num.shape[0])


def astuple_shallow(obj: object) -> tuple[np.ndarray, ...]:
    """A dataclass's fields in declaration order, not copied (``dataclasses.astuple`` deep-copies arrays)."""
    return tuple(getattr(obj, f.name) for f in fields(obj))  # type: ignore[arg-type]


@dataclass
class Outcome:
    """Raw kernel results (integer ids into the compiled scheme's label lists)."""

    status: np.ndarray
    drg: np.ndarray
    adrg: np.ndarray
    rule: np.ndarray
    reason: np.ndarray
    cc_level: np.ndarray
    cc_pos: np.ndarray


def encode(prep: PreparedCases, scheme: CompiledScheme) -> Encoded:
    """Code strings → ids, numeric fields → one ``(n, 8)`` int32 matrix (``program.FIELD_NAMES``)."""
    dx_off, dx_ids, dx_flat = encode_lists(prep.dx, scheme, "dx", prep.dx_distinct)
    px_off, px_ids, px_flat = encode_lists(prep.px, scheme, "px", prep.px_distinct)
    num = np.empty((prep.n, P.N_FIELDS), np.int32)
    num[:, P.F_GENDER] = prep.gender
    num[:, P.F_AGE] = prep.age
    num[:, P.F_AGE_DAYS] = prep.age_days
    num[:, P.F_WEIGHT] = prep.birth_weight
    num[:, P.F_LOS] = prep.los
    num[:, P.F_LEAVING] = prep.leaving_type
    num[:, P.F_ICU] = prep.icu_hours
    num[:, P.F_DEPT] = encode_dept(prep.dept, scheme, prep.n)
    return Encoded(dx_off, dx_ids, px_off, px_ids, num, dx_flat, px_flat)


def _empty_outcome(n: int) -> Outcome:
    return Outcome(
        np.zeros(n, np.int8),
        np.zeros(n, np.int32),
        np.zeros(n, np.int32),
        np.zeros(n, np.int32),
        np.zeros(n, np.int8),
        np.zeros(n, np.int8),
        np.zeros(n, np.int8),
    )


def group_encoded(enc: Encoded, scheme: CompiledScheme, threads: int | None = None) -> Outcome:
    """Group a batch: the numba kernel, or for a small batch while the kernel is not loaded yet the walker
    (``SMALL_BATCH``; the same outcome either way)."""
    if enc.n <= SMALL_BATCH and not _kernel_loaded:
        return run_walker(enc, scheme)
    return run_kernel(enc, scheme, threads)


def run_walker(enc: Encoded, scheme: CompiledScheme) -> Outcome:
    """Run the jump-program walker (:class:`drgkit.grouping.reference.Reference`) over a batch: the kernel's
    outcome, case by case in plain Python (for small batches: see ``SMALL_BATCH``)."""
    from .reference import Reference

    n = enc.n
    out = _empty_outcome(n)
    if n == 0:
        return out
    key = (scheme.id, scheme.checksum)
    walker = _WALKERS.get(key)
    if walker is None or walker.s is not scheme:
        walker = _WALKERS[key] = Reference(scheme)
    dx, px, num = enc.dx_ids.tolist(), enc.px_ids.tolist(), enc.num.tolist()
    dx_off, px_off = enc.dx_off.tolist(), enc.px_off.tolist()
    rows = [
        walker.group(dx[dx_off[i] : dx_off[i + 1]], px[px_off[i] : px_off[i + 1]], num[i]).as_tuple() for i in range(n)
    ]
    values = np.array(rows, np.int64)
    for column, value in zip(astuple_shallow(out), values.T):  # Result.as_tuple is in Outcome's field order
        column[:] = value  # the kernel's dtypes (int8 / int32)
    return out


def run_kernel(enc: Encoded, scheme: CompiledScheme, threads: int | None = None) -> Outcome:
    """Run the numba kernel over a batch (all cores unless ``threads`` says otherwise)."""
    global _kernel_loaded
    n = enc.n
    out = _empty_outcome(n)
    if n == 0:
        return out
    import numba  # imported here so `explain` (reference interpreter only) starts fast

    from . import kernel
    from .kernel_program import kernel_tables

    # the kernel's parameters: the batch, the scheme's KernelTables, the outcome arrays — each structure's fields
    # in the kernel's order (tests/test_kernel_program.py checks the names against group_range's signature)
    args = (
        enc.dx_off,
        enc.dx_ids,
        enc.px_off,
        enc.px_ids,
        enc.num,
        *kernel_tables(scheme),
        *astuple_shallow(out),
    )
    if threads == 1:  # serial and without the GIL: callers may run several batches at once on their threads
        _with_sound_cache(kernel, lambda: kernel.group_range(0, n, *args))
        _kernel_loaded = True
        return out
    with _KERNEL_LOCK:  # one parallel launch at a time: numba's thread pool is shared by the process
        if threads:
            numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
        _with_sound_cache(kernel, lambda: kernel.group_batch(*args))
    _kernel_loaded = True
    return out


_CACHE_LOCK = threading.Lock()


def _with_sound_cache(kernel: ModuleType, call: Callable[[], None]) -> None:
    """Run a kernel call; if numba's on-disk cache of the kernel is damaged (a truncated .nbi / .nbc after a
    full disk or a killed compile), empty it and compile afresh once, instead of failing every run until the
    files are deleted by hand."""
    import pickle

    try:
        call()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        if "numba" not in "".join(_frames(exc)):
            raise
        with _CACHE_LOCK:
            for value in vars(kernel).values():
                cache = getattr(value, "_cache", None)
                if cache is not None and hasattr(cache, "flush"):
                    cache.flush()
        call()


def _frames(exc: BaseException) -> list[str]:
    """The file names of a traceback (to tell a numba cache failure from a real error)."""
    names, tb = [], exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return names


def warm_kernel(scheme: CompiledScheme, threads: int | None = None) -> None:
    """Load the compiled kernel (numba's on-disk cache, or a compile on first use) with one dummy case.

    Loading takes about half a second; ``drgkit group`` calls this in a background thread so that it
    overlaps reading the first batch instead of delaying it.
    """
    one = np.zeros(2, np.int64)
    enc = Encoded(
        one,
        np.zeros(0, np.int32),
        one.copy(),
        np.zeros(0, np.int32),
        np.full((1, P.N_FIELDS), -1, np.int32),
        pa.array([], pa.string()),
        pa.array([], pa.string()),
    )
    run_kernel(enc, scheme, threads)


def _labels(scheme: CompiledScheme, name: str, values: Callable[[], Sequence[str | None]]) -> pa.Array:
    """A label list of the scheme as a string array, built once per scheme."""
    cache = scheme.__dict__.setdefault("_label_arrays", {})
    if name not in cache:
        cache[name] = pa.array(values(), pa.string())
    return cache[name]


def _positions(codes: list[int], values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(codes, values)`` for many small integers: one search per distinct value in range."""
    if values.size == 0:
        return np.zeros(0, np.intp)
    low, high = int(values.min()), int(values.max())
    found: np.ndarray = np.searchsorted(codes, np.arange(low, high + 1))[values - low]
    return found


def _warnings(
    prep: PreparedCases, enc: Encoded, scheme: CompiledScheme, grey_in_reason: np.ndarray | None = None
) -> pa.Array:
    """Per row: unknown codes (reported, not dropped; they simply match no list), grey codes (灰码, they
    change the group: a grey 96.7200 beside 96.0400 turns AH29 into EQY), then code notes.

    Built from (row, text) pairs of the rows that have something to say; null elsewhere.
    ``grey_in_reason``: rows whose grey principal diagnosis the reason names already.
    """
    parts, rows = [], []
    for label, flat, off, ids, domain in (
        ("diagnosis", enc.dx_flat, enc.dx_off, enc.dx_ids, "dx"),
        ("procedure", enc.px_flat, enc.px_off, enc.px_ids, "px"),
    ):
        flags = grey_flags(scheme, domain)
        if not len(ids) or not len(flags):
            continue
        grey = (ids >= 0) & flags[np.maximum(ids, 0)]
        if domain == "dx" and grey_in_reason is not None and grey_in_reason.any():
            grey[off[:-1][grey_in_reason]] = False  # the reason names it
        at = np.flatnonzero(grey)
        if at.size:
            parts.append(
                pc.binary_join_element_wise(
                    f"grey {label} code", pc.take(flat, pa.array(at)), "(灰码): code a finer code", " "
                )
            )
            rows.append(np.searchsorted(off, at, side="right") - 1)
    for label, flat, off, ids in (
        ("diagnosis", enc.dx_flat, enc.dx_off, enc.dx_ids),
        ("procedure", enc.px_flat, enc.px_off, enc.px_ids),
    ):
        bad = np.flatnonzero(ids == UNKNOWN)
        if bad.size == 0:
            continue
        codes = pc.take(flat, pa.array(bad))
        parts.append(pc.binary_join_element_wise(f"unknown {label} code", codes, " "))
        rows.append(np.searchsorted(off, bad, side="right") - 1)
    # a blank main-procedure slot with later procedures: grouped as having no main procedure, and said so
    main_ids = enc.px_ids[np.minimum(enc.px_off[:-1], max(len(enc.px_ids) - 1, 0))] if len(enc.px_ids) else None
    blank_main = np.flatnonzero((np.diff(enc.px_off) > 0) & (main_ids == EMPTY if main_ids is not None else False))
    if blank_main.size:
        parts.append(pa.repeat(pa.scalar("main procedure slot is blank", pa.string()), blank_main.size))
        rows.append(blank_main)
    notes = _note_pairs(prep.code_notes)
    if notes is not None:
        rows.append(notes[0])
        parts.append(notes[1])
    if not parts:
        return pa.nulls(prep.n, pa.string())
    return notes_per_row(prep.n, np.concatenate(rows).astype(np.int64), pa.concat_arrays(parts))


def _note_pairs(notes: pa.Array | None) -> tuple[np.ndarray, pa.Array] | None:
    """(row, text) of the code notes: a list<string> per row (a row whose list holds a null has no
    note, as '; '-joining it gives null) or one string per row."""
    if notes is None or notes.null_count == len(notes):
        return None
    if not (pa.types.is_list(notes.type) or pa.types.is_large_list(notes.type)):
        has = notes.is_valid()
        return np.flatnonzero(has.to_numpy(zero_copy_only=False)), notes.filter(has).cast(pa.string())
    texts = pc.list_flatten(notes).cast(pa.string())
    rows = pc.list_parent_indices(notes).to_numpy(zero_copy_only=False).astype(np.int64)
    if texts.null_count:
        void = np.zeros(len(notes), bool)
        void[rows[~texts.is_valid().to_numpy(zero_copy_only=False)]] = True
        keep = ~void[rows]
        rows, texts = rows[keep], texts.filter(pa.array(keep))
    return (rows, texts) if len(texts) else None


def unknown_pdx(pdx: np.ndarray, scheme: CompiledScheme) -> np.ndarray:
    """True where the principal diagnosis is a code the scheme's dictionary does not know (vectorized)."""
    known = pdx >= 0
    safe = np.maximum(pdx, 0)
    unknown: np.ndarray = ~known | ((scheme.dx_known[safe] == 0) & (scheme.dx_mdc_bits[safe] == 0))
    return unknown


def final_status(
    prep: PreparedCases, enc: Encoded, out: Outcome, scheme: CompiledScheme
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, reason, rows with unreadable fields) as reported: the kernel's, refined where the record says
    more — an unreadable field makes it invalid whatever the scheme checks; a principal diagnosis unknown to
    the dictionary (U01) or grey (U05) explains an ungroupable record better than "enters no MDC"."""
    n = prep.n
    status = out.status.copy()
    reason = out.reason.astype(np.int32)
    problem = prep.problems.is_valid().to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    pdx = np.where(
        np.diff(enc.dx_off) > 0,
        enc.dx_ids[np.minimum(enc.dx_off[:-1], max(len(enc.dx_ids) - 1, 0))] if len(enc.dx_ids) else -1,
        -2,
    )
    reason[(status == P.ST_UNGROUPABLE) & unknown_pdx(pdx, scheme)] = P.R_PDX_UNKNOWN
    # a grey principal (灰码) is the commonest reason a real case fails to group: say so, and name it
    grey_dx = grey_flags(scheme, "dx")
    pdx_grey = (pdx >= 0) & grey_dx[np.maximum(pdx, 0)] if len(grey_dx) else np.zeros(n, bool)
    reason[(status == P.ST_UNGROUPABLE) & pdx_grey] = P.R_PDX_GREY
    status[problem] = P.ST_INVALID
    reason[problem] = P.R_INPUT
    return status, reason, problem


def outcome_columns(prep: PreparedCases, enc: Encoded, out: Outcome, scheme: CompiledScheme) -> dict[str, pa.Array]:
    """The result columns of a batch (``RESULT_COLUMNS``)."""
    n = prep.n
    status, reason, problem = final_status(prep, enc, out, scheme)
    codes = sorted(P.REASONS)
    pos = _positions(codes, reason)
    reasons = _labels(
        scheme, "_reasons", lambda: [f"{P.REASONS[c][0]} {P.REASONS[c][1]}".strip() or None for c in codes]
    )
    # rows with input problems say which: "<reason>: <problems>", built for those rows only
    bad = np.flatnonzero(problem)
    reason_text = take_with(
        reasons,
        pos,
        bad,
        pc.binary_join_element_wise(reasons.take(pa.array(pos[bad])), prep.problems.take(pa.array(bad)), ": "),
    )
    named = np.flatnonzero(reason == P.R_PDX_GREY)
    if named.size:  # "U05 …: I21.000"
        codes = pc.take(enc.dx_flat, pa.array(enc.dx_off[:-1][named]))
        reason_text = pc.if_else(
            pa.array(reason == P.R_PDX_GREY),
            take_with(
                reasons, pos, named, pc.binary_join_element_wise(reasons.take(pa.array(pos[named])), codes, ": ")
            ),
            reason_text,
        )
    grouped = (status == P.ST_OK) | (status == P.ST_AMBIGUOUS)
    # one index per row into each label list, then one take per column (no per-row strings built twice)
    drg_idx = pa.array(np.where(grouped, out.drg, scheme.fail_drg).astype(np.int32))
    adrg_idx = np.where(status == P.ST_AMBIGUOUS, scheme.qy_adrg, np.where(grouped, out.adrg, scheme.fail_adrg))
    # an invalid record has no group, so no complication level either (the kernel may have computed one)
    invalid = status == P.ST_INVALID
    cc_levels = np.where(invalid, P.CC_NONE, out.cc_level).astype(np.int32)
    cc_level = pc.take(_labels(scheme, "cc", lambda: list(P.CC_NAMES)), pa.array(cc_levels))
    has_cc = (out.cc_pos >= 0) & ~invalid
    flat_idx = np.where(has_cc, enc.dx_off[:-1] + out.cc_pos, 0)
    cc_code = (
        pc.take(enc.dx_flat, pa.array(flat_idx, mask=~has_cc))  # a masked index gives null
        if has_cc.any()
        else pa.nulls(n, pa.string())
    )
    columns = {
        "status": pc.take(_labels(scheme, "status", lambda: list(P.STATUS_NAMES)), pa.array(status.astype(np.int32))),
        "reason": reason_text,
        "warnings": _warnings(prep, enc, scheme, reason == P.R_PDX_GREY),
        "mdc": pc.take(_labels(scheme, "mdc", lambda: scheme.drg_mdc), drg_idx),  # the fail DRG's MDC is '0000'
        "adrg": pc.take(_labels(scheme, "adrg", lambda: scheme.adrg_codes), pa.array(adrg_idx.astype(np.int32))),
        "drg": pc.take(_labels(scheme, "drg", lambda: scheme.drg_codes), drg_idx),
        "drg_name": pc.take(
            _labels(
                scheme,
                "drg_names_out",
                lambda: [None if i == scheme.fail_drg else name for i, name in enumerate(scheme.drg_names)],
            ),
            drg_idx,
        ),
        "cc_level": cc_level,
        "cc_code": cc_code,
        "scheme": pa.repeat(pa.scalar(scheme.id, pa.string()), n),
        "scheme_checksum": pa.repeat(pa.scalar(scheme.checksum, pa.string()), n),
    }
    weights = scheme_weights(scheme)
    if weights is not None:  # a scheme with reference weights (CHS-DRG 2.0): each case's RW beside its group
        return {
            **{k: v for k, v in columns.items() if k not in ("scheme", "scheme_checksum")},
            "rw": pc.take(weights, drg_idx),
            "scheme": columns["scheme"],
            "scheme_checksum": columns["scheme_checksum"],
        }
    return columns


def scheme_weights(scheme: CompiledScheme) -> pa.Array | None:
    """The reference weight per DRG index (null where none; the fail group has none), or ``None`` when the
    scheme ships no weights at all."""
    w = np.asarray(scheme.drg_weights, dtype=np.float64)
    if not np.isfinite(w).any():
        return None
    cache = scheme.__dict__.setdefault("_label_arrays", {})
    if "rw" not in cache:
        cache["rw"] = pa.array(w, pa.float64(), mask=~np.isfinite(w))
    return cache["rw"]


def attach(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """Input columns followed by the result columns (an input column of the same name is replaced)."""
    keep = [c for c in table.column_names if c not in columns]
    out = table.select(keep)
    for name, arr in columns.items():
        out = out.append_column(name, arr)
    return out
