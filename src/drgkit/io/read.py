"""Read discharge abstracts from Parquet, CSV/TSV/TXT or Excel into canonical Arrow tables.

The output has the canonical columns present in the file (see :mod:`drgkit.io.columns`), always a
``dx`` and a ``px`` column of list<string> (principal diagnosis / main procedure first), then every
other column unchanged.  Text files are read with every column as a string, so codes such as
``00.0100`` and department codes such as ``0801`` keep their leading and trailing zeros; typing the
numeric fields is :func:`drgkit.io.prepare.prepare`'s job.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import weakref
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drgkit.arrowutil import drop_empty_strings, null_or_empty, string_bytes
from drgkit.io.columns import (
    CANONICAL_COLUMNS,
    LONG_CODE_ALIASES,
    LONG_FLAG_ALIASES,
    ALIASES,
    HeaderPlan,
    expected_dx_headers,
    find_header,
    normalize_header,
    plan_headers,
)

PathLike = str | os.PathLike[str]

#: Separators between codes in a single text cell.  Full-width forms are included because Chinese
#: input methods produce them (，；｜).
CANONICAL_KEY = b"drgkit.canonical"
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
_EXCEL_SUFFIXES = {".xlsx", ".xls", ".xlsm"}
_STRING_LIST = pa.list_(pa.string())


class InputError(Exception):
    """A problem with the user's input file; ``str(e)`` is one line fit for the command line."""


# ----------------------------------------------------------------------------------------------
# Raw readers (no renaming)


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")


def detect_encoding(path: PathLike, probe_bytes: int = 1 << 20) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``gb18030`` (a superset of GBK / GB2312).

    The file is scanned in chunks until the first non-ASCII bytes decide it, so a file whose first
    Chinese text sits far down is still detected correctly; pure-ASCII files are ``utf-8``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        head = handle.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        chunk = head + handle.read(probe_bytes)
        while chunk:
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError:
                return "gb18030"
            if not chunk.isascii():
                # Non-ASCII text that decodes as UTF-8 is almost never GBK (GBK byte pairs rarely form
                # valid UTF-8 sequences over a whole chunk).
                return "utf-8"
            chunk = handle.read(probe_bytes)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _first_line(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        return handle.readline()


def _sniff_delimiter(path: Path, header_line: str) -> str:
    if _suffix(path) == ".tsv":
        return "\t"
    counts = {sep: header_line.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def _unique_names(names: list[str]) -> list[str]:
    """Make header names unique (duplicated headers would be ambiguous after renaming)."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for name in names:
        name = name.strip() or "column"
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            name = candidate
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _csv_options(path: Path, block_size: int | None = None):
    """Read, parse and convert options that keep every column as text and blank cells as null."""
    encoding = detect_encoding(path)
    line = _first_line(path, encoding)
    if not line.strip():
        return None
    delimiter = _sniff_delimiter(path, line)
    header = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    names = _unique_names(header)
    read_kwargs: dict = {"column_names": names, "skip_rows": 1}
    if encoding == "gb18030":
        read_kwargs["encoding"] = "gb18030"
    if block_size is not None:
        read_kwargs["block_size"] = block_size
    read_options = pacsv.ReadOptions(**read_kwargs)
    # Arrow skips a UTF-8 BOM itself, so utf-8-sig needs no transcoding.
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        null_values=[""],
    )
    return read_options, parse_options, convert_options, names


def _read_text(path: Path) -> pa.Table:
    options = _csv_options(path)
    if options is None:
        return pa.table({})
    read_options, parse_options, convert_options, _ = options
    return pacsv.read_csv(path, read_options=read_options, parse_options=parse_options,
                          convert_options=convert_options)


def _read_excel(path: Path, sheet: str | int | None) -> pa.Table:
    import polars as pl  # only Excel and long-table input need polars; keep start-up light

    kwargs: dict = {"infer_schema_length": 0, "raise_if_empty": False}
    if isinstance(sheet, int):
        kwargs["sheet_id"] = sheet
    elif sheet is not None:
        kwargs["sheet_name"] = sheet
    try:
        frame = pl.read_excel(path, engine="calamine", **kwargs)
    except ImportError:
        if _suffix(path) == ".xls":
            raise InputError(f"{path}: reading .xls needs the 'fastexcel' package") from None
        frame = pl.read_excel(path, engine="openpyxl", **kwargs)
    if isinstance(frame, dict):  # pragma: no cover - only when several sheets were asked for
        frame = next(iter(frame.values()))
    frame = frame.select(pl.all().cast(pl.String))
    return frame.to_arrow()


def read_file(path: PathLike, sheet: str | int | None = None) -> pa.Table:
    """Any supported file (.parquet, .csv/.tsv/.txt in UTF-8 or GBK/GB18030, .xlsx/.xls) as a table with its own
    headers, no column mapping; raises :class:`InputError` with one clear line on any read failure."""
    path = Path(path)
    _check_file(path)
    suffix = _suffix(path)
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix in _TEXT_SUFFIXES:
            return _read_text(path)
        if suffix in _EXCEL_SUFFIXES:
            return _read_excel(path, sheet)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one clear line
        raise InputError(f"{path}: cannot read {suffix[1:]} file: {_one_line(exc)}") from exc
    raise InputError(f"{path}: unsupported file type '{suffix}' (use .parquet, .csv, .tsv, .txt, .xlsx or .xls)")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ----------------------------------------------------------------------------------------------
# Code lists


def _plain_strings(arr: pa.Array) -> pa.Array:
    """Cast any scalar column to pa.string() (numbers become their text)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    return arr


# code separators besides '|' (full-width forms typed with a Chinese input method included)
_OTHER_SEPARATORS = (",", ";", "，", "；", "｜")
_OTHER_SEPARATORS_RE = "[" + "".join(_OTHER_SEPARATORS) + "]"


def _unify_separators(text: pa.Array) -> pa.Array:
    """Every code separator becomes ``|`` (literal replacements, only for separators present)."""
    if not pc.any(pc.match_substring_regex(text, _OTHER_SEPARATORS_RE)).as_py():  # one pass for the usual case
        return text
    for sep in _OTHER_SEPARATORS:
        if pc.any(pc.match_substring(text, sep)).as_py():
            text = pc.replace_substring(text, sep, "|")
    return text


@dataclass(frozen=True)
class _Scan:
    """What one cheap byte scan of a text column could not rule out; ``_Scan()`` means "assume anything".

    The steps these flags skip are no-ops on text without such bytes, so skipping them changes nothing.
    """

    other_separators: bool = True  # ',' ';' or any non-ASCII byte (the full-width separators are)
    pipe: bool = True
    whitespace: bool = True  # a byte <= 32: ASCII whitespace that trimming would remove (and controls)


def _scan(text: pa.Array) -> _Scan:
    """A few numpy passes over the column's bytes (far cheaper than a regex or a trim over every row)."""
    data = string_bytes(text)
    if data.size == 0:
        return _Scan(False, False, False)
    return _Scan(other_separators=bool(data.max() >= 0x80 or (data == ord(",")).any() or (data == ord(";")).any()),
                 pipe=bool((data == ord("|")).any()), whitespace=bool((data <= 32).any()))


def _split_text(text: pa.Array, scan: _Scan | None = None) -> tuple[np.ndarray, pa.Array]:
    """Split a string column on every code separator and trim the pieces.

    Returns ``(offsets, pieces)``: row ``r``'s pieces are ``pieces[offsets[r]:offsets[r + 1]]``, in order,
    each trimmed of ASCII whitespace, empty ones and nulls included.  A null row has no piece or a
    single null one; any other row has at least one.
    """
    scan = _scan(text) if scan is None else scan
    if scan.other_separators:
        text = _unify_separators(text)
    if scan.pipe or scan.other_separators:
        lists = pc.split_pattern(text, "|")  # literal split: far faster than a regex
        offsets = lists.offsets.to_numpy().astype(np.int64)
        pieces = lists.values.slice(offsets[0], offsets[-1] - offsets[0])
        offsets -= offsets[0]
    else:  # one code per cell (numbered columns, single codes): no split needed
        offsets, pieces = np.arange(len(text) + 1, dtype=np.int64), text
    if scan.whitespace:
        pieces = pc.ascii_trim_whitespace(pieces)
    return offsets, pieces


def _head_blank(offsets: np.ndarray, blank: np.ndarray) -> np.ndarray:
    """Rows whose first piece is blank, or that have no piece at all."""
    has = np.diff(offsets) > 0
    head = np.ones(len(offsets) - 1, dtype=bool)
    head[has] = blank[offsets[:-1][has]]
    return head


def _keep_pieces(offsets: np.ndarray, pieces: pa.Array, keep: np.ndarray,
                 kept: np.ndarray | None = None) -> tuple[np.ndarray, pa.Array]:
    """The kept pieces and the row offsets into them (``kept``: the running count of ``keep``, if known)."""
    if keep.all():
        return offsets, pieces
    if kept is None:
        kept = _running_count(keep)
    return kept[offsets], drop_empty_strings(pieces, keep)


def _running_count(mask: np.ndarray) -> np.ndarray:
    """``out[i]`` = how many of ``mask[:i]`` hold (length ``len(mask) + 1``; int32 like list offsets)."""
    out = np.zeros(len(mask) + 1, dtype=np.int32)
    np.cumsum(mask, out=out[1:])
    return out


def _text_lists(text: pa.Array, keep_principal_slot: bool, scan: _Scan | None = None) -> pa.ListArray:
    """:func:`code_lists` of a string column: one split, then numpy on offsets (no per-row string kernels)."""
    offsets, pieces = _split_text(text, scan)
    blank = null_or_empty(pieces)
    if not blank.any():
        return _list_array(offsets, pieces)
    keep = ~blank
    kept = _running_count(keep)
    if keep_principal_slot:
        # a blank first piece stays (it is "" after trimming) when the row has other codes
        slot = _head_blank(offsets, blank) & (kept[offsets[1:]] > kept[offsets[:-1]])
        if slot.any():
            keep[offsets[:-1][slot]] = True
            kept = None
    offsets, pieces = _keep_pieces(offsets, pieces, keep, kept)
    return _list_array(offsets, pieces)


def _list_array(offsets: np.ndarray, values: pa.Array) -> pa.ListArray:
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError("too many codes for one list column (over 2^31)")
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _list_pieces(lists: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """As :func:`_split_text` for a list column (null rows and null elements have no code)."""
    lists = lists.cast(_STRING_LIST)
    values, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.bincount(parents.to_numpy(zero_copy_only=False).astype(np.int64), minlength=len(lists)),
              out=offsets[1:])
    return offsets, pc.ascii_trim_whitespace(_plain_strings(values))


def _column_pieces(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array] | None:
    """(offsets, trimmed pieces) of any code column; ``None`` for an all-null column."""
    column = _one_chunk(column)
    if pa.types.is_null(column.type):
        return None
    if _is_list(column.type):
        return _list_pieces(column)
    return _split_text(_plain_strings(column))


def _pieces(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Trimmed, non-empty codes of a column, flattened, with the row each one belongs to."""
    split = _column_pieces(column)
    if split is None:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    offsets, pieces = split
    keep = ~null_or_empty(pieces)
    offsets, pieces = _keep_pieces(offsets, pieces, keep)
    parents = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    return parents, pieces


def _one_chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _first_slot_blank(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Rows whose first code slot is blank: a null or blank cell, a leading separator (``'|I10.x00'``),
    or a list whose first element is null or blank (an empty list counts as blank)."""
    column = _one_chunk(column)
    n = len(column)
    blank = np.ones(n, dtype=bool)
    if pa.types.is_null(column.type) or n == 0:
        return blank
    if _is_list(column.type):
        lists = column.cast(_STRING_LIST)
        values, parents = pc.list_flatten(lists), pc.list_parent_indices(lists)
        if len(values) == 0:
            return blank
        rows = parents.to_numpy(zero_copy_only=False).astype(np.int64)
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # each row's first element
        head = pc.utf8_trim_whitespace(_plain_strings(values).take(pa.array(first)))
        blank[rows[first]] = pc.fill_null(pc.equal(head, ""), True).to_numpy(zero_copy_only=False)
        return blank
    return _text_first_blank(_plain_strings(column))


def _text_first_blank(text: pa.Array, scan: _Scan | None = None) -> np.ndarray:
    """:func:`_first_slot_blank` of a string column: a blank cell, or a separator before any code
    (``'|I10.x00'``, ``' |I10.x00'``); no split, no hashing needed."""
    scan = _scan(text) if scan is None else scan
    if scan.other_separators or scan.whitespace:  # else nothing to unify or trim (pure ASCII, no spaces)
        text = pc.utf8_trim_whitespace(_unify_separators(text) if scan.other_separators else text)
    blank_cell = null_or_empty(text)
    if scan.pipe or scan.other_separators:
        blank_cell |= pc.fill_null(pc.starts_with(text, "|"), False).to_numpy(zero_copy_only=False)
    return blank_cell


def _lists_from_pieces(n: int, pieces: list[tuple[np.ndarray, pa.Array]],
                       blank_first: np.ndarray | None = None) -> pa.ListArray:
    """Row-wise concatenation of several columns' codes, in column order (vectorized scatter).

    ``blank_first``: rows whose principal slot (first code of the first column) is blank; where such
    a row still has other codes, its list starts with an empty string ``""`` so that the next code is
    not silently promoted to principal diagnosis / main procedure.
    """
    if blank_first is not None:
        codes = np.zeros(n, dtype=np.int64)
        for parents, _ in pieces:
            codes += np.bincount(parents, minlength=n)
        rows = np.flatnonzero(blank_first & (codes > 0))
        if rows.size:
            pieces = [(rows.astype(np.int64), pa.repeat(pa.scalar("", pa.string()), rows.size)), *pieces]
    counts = [np.bincount(parents, minlength=n) for parents, _ in pieces]
    total = np.sum(counts, axis=0) if counts else np.zeros(n, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(total, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError("too many codes for one list column (over 2^31)")
    if len(pieces) == 1:
        values = pieces[0][1]
    else:
        # Destination of each piece = start of its row + codes of earlier columns in that row
        # + its rank among this column's codes of that row.
        base = offsets[:-1].copy()
        destinations = []
        for (parents, _), count in zip(pieces, counts):
            first = np.zeros(n, dtype=np.int64)
            np.cumsum(count[:-1], out=first[1:])
            destinations.append(base[parents] + np.arange(len(parents)) - first[parents])
            base += count
        order = np.empty(int(offsets[-1]), dtype=np.int64)
        order[np.concatenate(destinations)] = np.arange(int(offsets[-1]))
        values = pa.concat_arrays([v for _, v in pieces]).take(pa.array(order))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values)


def _is_list(type_: pa.DataType) -> bool:
    return (pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)
            or pa.types.is_list_view(type_) or pa.types.is_large_list_view(type_))


def code_lists(column: pa.Array | pa.ChunkedArray, *, keep_principal_slot: bool = False) -> pa.ListArray:
    """One list<string> per row from a list column or a delimited text column.

    Text is split on ``|``, ``,`` or ``;`` (and their full-width forms); pieces are trimmed and empty
    pieces dropped.  Null rows give empty lists.

    ``keep_principal_slot``: the first code of a row is its principal diagnosis / main procedure.  When
    that slot is blank (``'|I10.x00'``, ``['', 'I10.x00']``) but the row has other codes, the list keeps
    an empty string first (``['', 'I10.x00']``) instead of promoting the next code; the grouper then
    reports the missing principal code.  Other empty pieces are still dropped.
    """
    column = _one_chunk(column)
    if pa.types.is_null(column.type):
        return _empty_lists(len(column))
    if not _is_list(column.type):
        return _text_lists(_plain_strings(column), keep_principal_slot)
    parents, values = _pieces(column)
    blank = _first_slot_blank(column) if keep_principal_slot else None
    return _lists_from_pieces(len(column), [(parents, values)], blank)


def _is_principal_part(header: str) -> bool:
    """Whether the first of the code-part columns holds the principal code (not an 其他... column)."""
    return not normalize_header(header).startswith("其他")


def _concat_code_columns(table: pa.Table, headers: list[str]) -> pa.ListArray:
    """Concatenate the codes of several columns row by row, in column order.

    When the first column is a principal column (主要诊断编码, 诊断编码1, ...) and it is blank in a row
    that has other codes, the row's list starts with ``""`` (see :func:`code_lists`).
    """
    blank = _first_slot_blank(table.column(headers[0])) if headers and _is_principal_part(headers[0]) else None
    return _lists_from_pieces(table.num_rows, [_pieces(table.column(h)) for h in headers], blank)


def _empty_lists(n: int) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))


# ----------------------------------------------------------------------------------------------
# Canonical assembly


def _plan(table_or_schema: pa.Table | pa.Schema, mapping: Mapping[str, str] | None, path: PathLike) -> HeaderPlan:
    names = table_or_schema.names if isinstance(table_or_schema, pa.Schema) else table_or_schema.column_names
    try:
        return plan_headers(names, mapping)
    except KeyError as exc:
        raise InputError(
            f"{path}: --map names column '{exc.args[0]}', which is not in the file (columns: {', '.join(names)})"
        ) from None


def _has_dx(plan: HeaderPlan) -> bool:
    return bool(plan.dx_parts) or "dx" in plan.rename.values()


def _apply_plan(table: pa.Table, plan: HeaderPlan, read_encoded: Collection[str] = ()) -> pa.Table:
    """Rename columns, assemble dx/px and order the canonical columns first.

    ``read_encoded``: source columns the reader was asked to deliver dictionary-encoded (see
    :func:`_encoded_sources`); they are decoded back to strings here and their encoded form is kept
    for :func:`prepare` (see :func:`encoded_column`).
    """
    n = table.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    encoded: dict[str, pa.DictionaryArray] = {}
    for source, target in plan.rename.items():
        column = table.column(source)
        if source in read_encoded and pa.types.is_dictionary(column.type) and column.num_chunks:
            encoded[target] = _joined_dictionaries(column)
            column = encoded[target].dictionary_decode()
        if target in ("dx", "px"):
            column = code_lists(column, keep_principal_slot=True)
        elif pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        columns[target] = column
    if plan.dx_parts:
        columns["dx"] = _concat_code_columns(table, plan.dx_parts)
    if plan.px_parts:
        columns["px"] = _concat_code_columns(table, plan.px_parts)
    for name in ("dx", "px"):
        if name not in columns:
            columns[name] = _empty_lists(n)
    order = [c for c in CANONICAL_COLUMNS if c in columns] + [c for c in columns if c not in CANONICAL_COLUMNS]
    # marks dx/px as already cleaned by code_lists(), so prepare() need not redo it
    out = pa.table({name: columns[name] for name in order}, metadata={CANONICAL_KEY: b"1"})
    if encoded:
        _ENCODED[id(out)] = encoded
        weakref.finalize(out, _ENCODED.pop, id(out), None)  # runs before the id can be reused
    return out


#: Canonical fields with few distinct values, which :func:`prepare` parses per distinct value.
_FEW_VALUES = frozenset({"gender", "age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours", "dept"})
#: id(canonical table) → {field: the column dictionary-encoded as read}; entries leave with their table.
_ENCODED: dict[int, dict[str, pa.DictionaryArray]] = {}


def _encoded_sources(schema: pa.Schema, plan: HeaderPlan) -> list[str]:
    """Parquet string columns of few distinct values, to be read dictionary-encoded: the file usually
    stores them so, which makes reading them cheaper and saves prepare() hashing them again."""
    return [source for source, target in plan.rename.items()
            if target in _FEW_VALUES and schema.get_field_index(source) >= 0
            and schema.field(source).type == pa.string()]


def _joined_dictionaries(column: pa.ChunkedArray) -> pa.DictionaryArray:
    """One dictionary array from chunks that each have their own dictionary: the dictionaries are
    concatenated (a value may then repeat) and each chunk's indices shifted to its part."""
    if column.num_chunks == 1:
        return column.chunk(0)
    shift = 0
    indices = []
    for chunk in column.chunks:
        indices.append(pc.add(chunk.indices.cast(pa.int32()), pa.scalar(shift, pa.int32())))
        shift += len(chunk.dictionary)
    return pa.DictionaryArray.from_arrays(pa.concat_arrays(indices),
                                          pa.concat_arrays([chunk.dictionary for chunk in column.chunks]))


def _parquet_tables(parquet: pq.ParquetFile, batch_size: int) -> Iterator[pa.Table]:
    """The file's rows in tables of ``batch_size`` rows (the last one shorter), where the plain
    ``iter_batches`` cuts them.  Reading columns dictionary-encoded also cuts a batch where a row group
    (a dictionary) ends; such pieces are joined again, so batches do not depend on the row groups."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for piece in parquet.iter_batches(batch_size=batch_size):
        pending.append(piece)
        rows += piece.num_rows
        while rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_size) if rows > batch_size else table
            rest = table.slice(batch_size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def encoded_column(table: pa.Table, name: str) -> pa.DictionaryArray | None:
    """The dictionary-encoded form of ``table``'s column ``name`` as the reader delivered it (same
    values, same order; the dictionary may hold values absent from the batch), or ``None``."""
    found = _ENCODED.get(id(table))
    return None if found is None else found.get(name)


def _empty_canonical() -> pa.Table:
    types = {"dx": _STRING_LIST, "px": _STRING_LIST}
    return pa.table({c: pa.array([], types.get(c, pa.string())) for c in CANONICAL_COLUMNS})


def canonicalize(table: pa.Table, *, mapping: Mapping[str, str] | None = None,
                 require_dx: bool = True, source: PathLike = "<table>") -> pa.Table:
    """Rename an in-memory table's headers to canonical names and assemble ``dx`` / ``px``."""
    plan = _plan(table, mapping, source)
    if require_dx and not _has_dx(plan):
        raise InputError(f"{source}: no diagnosis column found; expected one of {expected_dx_headers()}")
    return _apply_plan(table, plan)


# ----------------------------------------------------------------------------------------------
# Three-table input (stay table + long diagnosis table + long procedure table)

_TRUE_FLAGS = ["1", "1.0", "y", "yes", "true", "t", "是"]


def _long_codes(path: PathLike, kind: str, case_ids: pa.ChunkedArray | pa.Array,
                key_hint: str | None) -> pa.ListArray:
    """Per-stay code lists from a long table: flagged principal/main code first, then file order."""
    import polars as pl

    long = read_file(path)
    names = long.column_names
    key = key_hint if key_hint in names else find_header(names, ("case_id", *ALIASES["case_id"]))
    code = find_header(names, LONG_CODE_ALIASES[kind])
    flag = find_header(names, LONG_FLAG_ALIASES[kind])
    what = "diagnoses" if kind == "dx" else "procedures"
    if key is None:
        raise InputError(f"{path}: {what} table has no stay key column (setl_id, mdtrt_id, 结算ID, 就诊ID or case_id)")
    if code is None:
        raise InputError(f"{path}: {what} table has no code column (expected one of {', '.join(LONG_CODE_ALIASES[kind])})")
    frame = pl.from_arrow(pa.table({
        "key": _plain_strings(long.column(key).combine_chunks()),
        "code": _plain_strings(long.column(code).combine_chunks()),
        "flag": _plain_strings(long.column(flag).combine_chunks()) if flag else pa.nulls(long.num_rows, pa.string()),
    }))
    grouped = (
        frame.with_row_index("row")
        .with_columns(
            code=pl.col("code").str.strip_chars(),
            main=pl.col("flag").str.strip_chars().str.to_lowercase().is_in(_TRUE_FLAGS).fill_null(False),
        )
        .filter(pl.col("code").is_not_null() & (pl.col("code") != "") & pl.col("key").is_not_null())
        .sort(["main", "row"], descending=[True, False])
        .group_by("key", maintain_order=True)
        .agg(pl.col("code"))
    )
    if isinstance(case_ids, pa.ChunkedArray):
        case_ids = case_ids.combine_chunks()
    stays = pl.from_arrow(pa.table({"key": _plain_strings(case_ids)}))
    joined = stays.join(grouped, on="key", how="left", maintain_order="left")
    return code_lists(joined.get_column("code").to_arrow())


# ----------------------------------------------------------------------------------------------
# Public API


def read_cases(
    path: PathLike,
    *,
    mapping: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    diagnoses: PathLike | None = None,
    procedures: PathLike | None = None,
) -> pa.Table:
    """Read a file of discharge abstracts into a canonical table (rows in = rows out, same order).

    ``mapping``: {source header: canonical name}, applied before the built-in aliases.
    ``sheet``: Excel sheet name, or 1-based sheet number; default the first sheet.
    ``diagnoses`` / ``procedures``: long tables of the national interface's three-table layout, keyed
    by the stay (setl_id / mdtrt_id / 结算ID / 就诊ID); their codes replace any codes in ``path``.
    Raises :class:`InputError` for a missing or unreadable file, an unknown ``mapping`` column, or
    when no diagnosis column can be found.
    """
    table = read_file(path, sheet)
    if table.num_columns == 0:
        return _empty_canonical()
    plan = _plan(table, mapping, path)
    if diagnoses is None and not _has_dx(plan):
        raise InputError(f"{path}: no diagnosis column found; expected one of {expected_dx_headers()}")
    out = _apply_plan(table, plan)
    if diagnoses is not None or procedures is not None:
        if "case_id" not in out.column_names:
            raise InputError(f"{path}: separate diagnosis/procedure tables need a stay id column "
                             "(setl_id, mdtrt_id, 结算ID, 就诊ID or case_id)")
        key_hint = plan.source_of("case_id")
        for kind, long_path in (("dx", diagnoses), ("px", procedures)):
            if long_path is not None:
                lists = _long_codes(long_path, kind, out.column("case_id"), key_hint)
                out = out.set_column(out.column_names.index(kind), kind, lists)
    return out


def iter_case_batches(
    path: PathLike,
    *,
    batch_size: int = 1_000_000,
    mapping: Mapping[str, str] | None = None,
) -> Iterator[pa.Table]:
    """Yield canonical tables of at most about ``batch_size`` rows, in file order.

    Parquet and text files are streamed; Excel files arrive as one batch.  The header plan is made
    once from the file's schema and applied to every batch, so all batches share one schema.
    """
    file = Path(path)
    _check_file(file)
    suffix = _suffix(file)
    if suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(file, pre_buffer=False)  # pre-buffering keeps every read row group: memory would grow
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{file}: cannot read parquet file: {_one_line(exc)}") from exc
        plan = _plan(parquet.schema_arrow, mapping, file)
        if not _has_dx(plan):
            raise InputError(f"{file}: no diagnosis column found; expected one of {expected_dx_headers()}")
        if parquet.metadata.num_rows == 0:
            yield _apply_plan(parquet.schema_arrow.empty_table(), plan)
            return
        encoded = _encoded_sources(parquet.schema_arrow, plan)
        if not encoded:
            for batch in parquet.iter_batches(batch_size=batch_size):
                yield _apply_plan(pa.Table.from_batches([batch]), plan)
            return
        parquet = pq.ParquetFile(file, pre_buffer=False, read_dictionary=encoded)
        for table in _parquet_tables(parquet, batch_size):
            yield _apply_plan(table, plan, encoded)
        return
    if suffix in _TEXT_SUFFIXES:
        yield from _iter_text(file, batch_size, mapping)
        return
    table = read_cases(file, mapping=mapping)
    yield from (table.slice(start, batch_size) for start in range(0, max(table.num_rows, 1), batch_size))


def _iter_text(path: Path, batch_size: int, mapping: Mapping[str, str] | None) -> Iterator[pa.Table]:
    try:
        # Arrow's block size is in bytes; assume roughly 200 bytes per abstract, bounded for memory.
        block = int(min(max(batch_size * 200, 1 << 20), 1 << 30))
        options = _csv_options(path, block_size=block)
        if options is None:
            yield _empty_canonical()
            return
        read_options, parse_options, convert_options, names = options
        plan = _plan(pa.schema([(n, pa.string()) for n in names]), mapping, path)
        if not _has_dx(plan):
            raise InputError(f"{path}: no diagnosis column found; expected one of {expected_dx_headers()}")
        reader = pacsv.open_csv(path, read_options=read_options, parse_options=parse_options,
                                convert_options=convert_options)
        emitted = False
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_size:
                table = pa.Table.from_batches(pending)
                yield _apply_plan(table.slice(0, batch_size), plan)
                emitted = True
                rest = table.slice(batch_size)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows or not emitted:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield _apply_plan(table, plan)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read {path.suffix[1:]} file: {_one_line(exc)}") from exc


def total_rows(path: PathLike) -> int | None:
    """Number of data rows when the file says so cheaply (Parquet metadata), else ``None``."""
    file = Path(path)
    if _suffix(file) == ".parquet":
        try:
            return pq.ParquetFile(file).metadata.num_rows
        except Exception:  # noqa: BLE001 - a progress bar just goes without a total
            return None
    return None
