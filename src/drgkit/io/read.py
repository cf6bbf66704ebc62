"""Read discharge abstracts from Parquet, CSV/TSV/TXT or Excel into canonical Arrow tables.

:func:`open_cases` opens a file: it finds the header, plans which column becomes which field
(:mod:`drgkit.io.columns`), refuses columns that hold codes but would go unread (:mod:`drgkit.io.unmapped`)
and then yields canonical batches.  A canonical table has the canonical columns present in the file, always
a ``dx`` and a ``px`` column of list<string> (principal diagnosis / main procedure first), then every other
column unchanged (the source code columns too, so the output can keep them as given).  Typing the fields
is :func:`drgkit.io.prepare.prepare`'s job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from drgkit.io.codelists import code_lists, concat_code_columns, empty_lists
from drgkit.io.columns import CANONICAL_COLUMNS, HeaderPlan, expected_dx_headers, is_known_header, plan_headers
from drgkit.io.errors import InputError
from drgkit.io.errors import one_line as _one_line
from drgkit.io.formats import (
    TEXT_SUFFIXES,
    PathLike,
    check_file,
    csv_options,
    file_suffix,
    invalid_row_problem,
    read_file,
    text_layout,
)
from drgkit.io.long_tables import long_codes
from drgkit.io.unmapped import unread_code_columns

# pyarrow.parquet loads where it is used: it brings pyarrow.fs and ssl (≈ 20 ms) to `drgkit explain`, which
# reads no file
if TYPE_CHECKING:
    import pyarrow.parquet as pq

#: Marks a table whose dx/px lists were built by the reader (already split and trimmed).
CANONICAL_KEY = b"drgkit.canonical"
_STRING_LIST = pa.list_(pa.string())


# ----------------------------------------------------------------------------------------------
# Canonical assembly


def _plan(names: list[str], mapping: Mapping[str, str] | None, path: PathLike) -> HeaderPlan:
    try:
        return plan_headers(names, mapping)
    except KeyError as exc:
        raise InputError(
            f"{path}: --map names column '{exc.args[0]}', which is not in the file (columns: {', '.join(names)})"
        ) from None


def check_plan(
    plan: HeaderPlan, sample: pa.Table, path: PathLike, *, allow_unmapped: bool = False, require_dx: bool = True
) -> list[str]:
    """Refuse a plan that would read the file wrongly without a word; return its warnings.

    Errors (one line, naming the column and the ``--map`` that fixes it): a column holding codes, by its
    header or values, that would go unread (a warning with ``allow_unmapped``); no diagnosis column; code
    columns of the other kind but no principal / main one (其他诊断编码N without 主要诊断编码).
    """
    unread = unread_code_columns(plan, sample)
    if unread and not allow_unmapped:
        raise InputError(f"{path}: {unread[0].message(plan)}")
    if require_dx and not plan.has_dx():
        raise InputError(f"{path}: no diagnosis column found; expected one of {expected_dx_headers()}")
    for kind, parts in (("dx", plan.dx_parts), ("px", plan.px_parts)):
        if parts and not plan.principal_part(kind):
            what = "principal diagnosis (主要诊断编码)" if kind == "dx" else "main procedure (主要手术操作编码)"
            raise InputError(
                f"{path}: no {what} column, only '{parts[0]}'"
                f"{' …' if len(parts) > 1 else ''}; the first of them would silently become the "
                f"{'principal' if kind == 'dx' else 'main'} code — add --map 'COLUMN={kind}_main' "
                f"for the column that holds it"
            )
    warnings = []
    if plan.dropped:
        warnings.append(
            "dropped the result columns of an earlier run (they are recomputed): " + ", ".join(plan.dropped)
        )
    for column in unread:
        warnings.append(f"{column.message(plan).split('; add')[0]}; carried through unread (--allow-unmapped)")
    return warnings


def apply_plan(table: pa.Table, plan: HeaderPlan) -> pa.Table:
    """Rename columns, assemble dx/px and order the canonical columns first.

    Code-part columns stay under their own names after the canonical ones (the output can keep them as
    the user gave them).  Dictionary-encoded columns stay encoded: :func:`prepare` parses each distinct
    value once and can use the reader's dictionary as it is.
    """
    n = table.num_rows
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for source, target in plan.rename.items():
        column = table.column(source)
        if target in ("dx", "px"):
            if source != target:  # kept as the user wrote it, for the output in the input's shape
                columns[source] = column
            column = code_lists(column, keep_principal_slot=True)
        elif pa.types.is_dictionary(column.type) and column.num_chunks > 1:
            column = _joined_dictionaries(column)
        elif pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        columns[target] = column
    if plan.dx_parts:
        columns["dx"] = concat_code_columns(table, plan.dx_parts, plan.principal_part("dx"))
    if plan.px_parts:
        columns["px"] = concat_code_columns(table, plan.px_parts, plan.principal_part("px"))
    for name in ("dx", "px"):
        if name not in columns:
            columns[name] = empty_lists(n)
    order = [c for c in CANONICAL_COLUMNS if c in columns] + [c for c in columns if c not in CANONICAL_COLUMNS]
    # marks dx/px as already cleaned by code_lists(), so prepare() need not redo it
    return pa.table({name: columns[name] for name in order}, metadata={CANONICAL_KEY: b"1"})


#: Canonical fields with few distinct values, which :func:`prepare` parses per distinct value.
_FEW_VALUES = frozenset({"gender", "age", "age_days", "birth_weight", "los", "leaving_type", "icu_hours", "dept"})


def _encoded_sources(schema: pa.Schema, plan: HeaderPlan) -> list[str]:
    """Parquet string columns of few distinct values, to be read dictionary-encoded: the file usually
    stores them so, which makes reading them cheaper and saves prepare() hashing them again."""
    return [
        source
        for source, target in plan.rename.items()
        if target in _FEW_VALUES and schema.get_field_index(source) >= 0 and schema.field(source).type == pa.string()
    ]


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
    return pa.DictionaryArray.from_arrays(
        pa.concat_arrays(indices), pa.concat_arrays([chunk.dictionary for chunk in column.chunks])
    )


def encoded_column(table: pa.Table, name: str) -> pa.DictionaryArray | None:
    """``table``'s column ``name`` when it is dictionary-encoded (as the reader delivered it), else ``None``."""
    if name not in table.column_names:
        return None
    column = table.column(name)
    if not pa.types.is_dictionary(column.type):
        return None
    if column.num_chunks == 0:
        return None
    return column.chunk(0) if column.num_chunks == 1 else _joined_dictionaries(column)


def _empty_canonical() -> pa.Table:
    types = {"dx": _STRING_LIST, "px": _STRING_LIST}
    return pa.table({c: pa.array([], types.get(c, pa.string())) for c in CANONICAL_COLUMNS})


def canonicalize_with_plan(
    table: pa.Table,
    *,
    mapping: Mapping[str, str] | None = None,
    require_dx: bool = True,
    source: PathLike = "<table>",
    allow_unmapped: bool = False,
) -> tuple[pa.Table, HeaderPlan, list[str]]:
    """:func:`canonicalize`, also returning the header plan and the reader's warnings.  A table this
    module already made canonical is returned as it is."""
    if (table.schema.metadata or {}).get(CANONICAL_KEY) == b"1" and not mapping:
        return table, plan_headers([n for n in table.column_names if n in CANONICAL_COLUMNS]), []
    plan = _plan(table.column_names, mapping, source)
    warnings = check_plan(plan, table, source, allow_unmapped=allow_unmapped, require_dx=require_dx)
    return apply_plan(table, plan), plan, warnings


def canonicalize(
    table: pa.Table,
    *,
    mapping: Mapping[str, str] | None = None,
    require_dx: bool = True,
    source: PathLike = "<table>",
    allow_unmapped: bool = False,
) -> pa.Table:
    """Rename an in-memory table's headers to canonical names and assemble ``dx`` / ``px``.

    Raises :class:`InputError` when no diagnosis column is found or a column holds codes that would go
    unread (unless ``allow_unmapped``; see :func:`check_plan`).
    """
    return canonicalize_with_plan(
        table, mapping=mapping, require_dx=require_dx, source=source, allow_unmapped=allow_unmapped
    )[0]


# ----------------------------------------------------------------------------------------------
# Opening a file


@dataclass
class CaseSource:
    """An input file opened for reading: how its columns are read, and its rows in canonical batches.

    ``plan``: which column became which field; ``warnings``: what the reader decided that the user should
    know (title rows skipped, code columns carried through unread with ``allow_unmapped``).
    """

    path: Path
    plan: HeaderPlan
    warnings: list[str] = field(default_factory=list)
    total_rows: int | None = None
    _batches: Iterator[pa.Table] | None = None

    def batches(self) -> Iterator[pa.Table]:
        """The canonical batches, in file order (once)."""
        if self._batches is None:
            raise RuntimeError("the batches of this source were already read")
        batches, self._batches = self._batches, None
        return batches

    def mapping_report(self, lang: str = "en") -> list[str]:
        """The fields read, the code columns assembled, the columns carried through, and the warnings."""
        from ..lang import say

        colon = say("punct.colon", lang)
        lines = [say("read.columns", lang) + colon + "; ".join(self.plan.describe())]
        carried = self.plan.carried()
        if carried:
            shown = carried if len(carried) <= 12 else [*carried[:12], f"+{len(carried) - 12}"]
            lines.append(say("read.carried", lang) + colon + ", ".join(shown))
        return lines + self.warnings


def _rebatch(tables: Iterator[pa.Table | pa.RecordBatch], batch_size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``batch_size`` rows (the last one shorter) from pieces of any size."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for piece in tables:
        pending.extend(piece.to_batches() if isinstance(piece, pa.Table) else [piece])
        rows += piece.num_rows
        while rows >= batch_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_size)
            rest = table.slice(batch_size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


class CaseOptions(TypedDict, total=False):
    """How a file of discharge abstracts is read: the keyword options :func:`open_cases` and :func:`read_cases`
    share (declared once here; an option left out takes the default below).

    ``mapping``: {source header: field}, applied before the built-in vocabulary (default none).
    ``sheet``: Excel sheet name, or 1-based sheet number; default the first sheet with a diagnosis column.
    ``header_row``: 1-based row of the header in a text or Excel file; default found from the known headers.
    ``diagnoses`` / ``procedures``: long tables of the national interface's three-table layout, keyed
    by the stay (setl_id / mdtrt_id / 结算ID / 就诊ID); their codes replace any codes in ``path``.
    ``allow_unmapped``: read on (with a warning) when a column holds codes that would go unread (default False).
    """

    mapping: Mapping[str, str] | None
    sheet: str | int | None
    header_row: int | None
    diagnoses: PathLike | None
    procedures: PathLike | None
    allow_unmapped: bool


def _check_options(options: CaseOptions, caller: str) -> None:
    """Refuse a keyword that is not one of :class:`CaseOptions`, as a named keyword parameter would."""
    unknown = sorted(options.keys() - CaseOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument '{unknown[0]}'")


def open_cases(path: PathLike, *, batch_size: int = 1_000_000, **options: Unpack[CaseOptions]) -> CaseSource:
    """Open a file of discharge abstracts (see :class:`CaseSource`; ``options``: :class:`CaseOptions`); raises
    :class:`InputError` with one line for a missing or unreadable file, an unknown ``mapping`` column, no
    diagnosis column, or a code column that would go unread.  Parquet and text files are streamed; Excel and
    three-table input are read whole.  Rows in = rows out, in file order.
    """
    _check_options(options, "open_cases")
    mapping = options.get("mapping")
    sheet = options.get("sheet")
    header_row = options.get("header_row")
    diagnoses = options.get("diagnoses")
    procedures = options.get("procedures")
    allow_unmapped = options.get("allow_unmapped", False)
    file = Path(path)
    check_file(file)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    suffix = file_suffix(file)
    long_tables = diagnoses is not None or procedures is not None
    warnings: list[str] = []
    if suffix == ".parquet" and not long_tables:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(file, pre_buffer=False)  # pre-buffering keeps every read row group
        except Exception as exc:
            raise InputError(f"{file}: cannot read parquet file: {_one_line(exc)}") from exc
        schema = parquet.schema_arrow
        twice = sorted({n for n in schema.names if schema.names.count(n) > 1})
        if twice:  # a reader cannot tell the two apart: one of them would be read, the other lost
            raise InputError(
                f"{file}: column '{twice[0]}' appears {schema.names.count(twice[0])} times; "
                "rename the copies so each column has its own name"
            )
        plan = _plan(schema.names, mapping, file)
        first = next(_readable(file, parquet.iter_batches(batch_size=SAMPLE_ROWS)), None)
        sample = pa.Table.from_batches([first]) if first is not None else schema.empty_table()
        warnings += check_plan(plan, sample, file, allow_unmapped=allow_unmapped)
        total = parquet.metadata.num_rows
        batches = (
            _readable(file, _parquet_batches(file, parquet, plan, batch_size))
            if total
            else iter([apply_plan(schema.empty_table(), plan)])
        )
        return CaseSource(file, plan, warnings, total, batches)
    if suffix in TEXT_SUFFIXES and not long_tables:
        layout = text_layout(file, header_row, is_known_header)
        if layout.skipped:
            warnings.append(
                f"skipped {len(layout.skipped)} line(s) above the header: "
                + " | ".join(s[:40] for s in layout.skipped[:3])
            )
        plan = _plan(layout.names, mapping, file)
        raw = _text_batches(file, layout)
        first = next(raw, None)
        sample = (
            pa.Table.from_batches([first])
            if first is not None
            else pa.table({n: pa.array([], pa.string()) for n in layout.names})
        )
        warnings += check_plan(plan, sample, file, allow_unmapped=allow_unmapped)
        pieces = _chain([first] if first is not None else [], raw)
        tables = (apply_plan(t, plan) for t in _rebatch(pieces, batch_size))
        return CaseSource(file, plan, warnings, None, _or_empty(tables, lambda: apply_plan(sample, plan)))
    table = read_file(file, sheet, header_row)
    if table.num_columns == 0:
        raise InputError(f"{file}: no columns could be read")
    plan = _plan(table.column_names, mapping, file)
    warnings += check_plan(plan, table, file, allow_unmapped=allow_unmapped, require_dx=diagnoses is None)
    out = apply_plan(table, plan)
    if long_tables:
        if "case_id" not in out.column_names:
            raise InputError(
                f"{file}: separate diagnosis/procedure tables need a stay id column "
                "(setl_id, mdtrt_id, 结算ID, 就诊ID or case_id)"
            )
        key_hint = plan.source_of("case_id")
        for kind, long_path in (("dx", diagnoses), ("px", procedures)):
            if long_path is not None:
                lists, note = long_codes(long_path, kind, out.column("case_id"), key_hint, table)
                out = out.set_column(out.column_names.index(kind), kind, lists)
                plan.long_tables[kind] = str(long_path)
                warnings.append(note)
    slices = (out.slice(start, batch_size) for start in range(0, max(out.num_rows, 1), batch_size))
    return CaseSource(file, plan, warnings, out.num_rows, slices)


#: Rows of the first batch looked at to judge what unnamed columns hold.
SAMPLE_ROWS = 10_000


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _or_empty(tables: Iterator[pa.Table], empty) -> Iterator[pa.Table]:
    """``tables``, or one empty canonical table when there are none (the output still gets its columns)."""
    emitted = False
    for table in tables:
        emitted = True
        yield table
    if not emitted:
        yield empty()


def _readable(file: Path, batches: Iterator) -> Iterator:
    """``batches``, with a damaged page or column chunk met mid-file turned into one :class:`InputError` line."""
    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{file}: cannot read parquet file: {_one_line(exc)}") from exc


def _parquet_batches(file: Path, parquet: pq.ParquetFile, plan: HeaderPlan, batch_size: int) -> Iterator[pa.Table]:
    encoded = _encoded_sources(parquet.schema_arrow, plan)
    if not encoded:
        for batch in parquet.iter_batches(batch_size=batch_size):
            yield apply_plan(pa.Table.from_batches([batch]), plan)
        return
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(file, pre_buffer=False, read_dictionary=encoded)
    # reading columns dictionary-encoded cuts a batch where a row group (a dictionary) ends: join them again,
    # so batches do not depend on the row groups
    for table in _rebatch(parquet.iter_batches(batch_size=batch_size), batch_size):
        yield apply_plan(table, plan)


def _may_hold_newline(column: pa.Array) -> bool:
    """False when no cell of a text column holds a line break: one scan of its character bytes (memchr),
    instead of a search per cell. True (look closer) for any other kind of column."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return True
    data = column.buffers()[2]
    return data is not None and memoryview(data).tobytes().find(b"\n") >= 0


def _check_swallowed_rows(path: Path, batch: pa.RecordBatch, layout, first_row: int) -> None:
    """A quote left open swallows the following lines into one cell, silently losing rows: a cell holding a
    line break followed by a whole row's worth of separators is that, not a note typed on two lines."""
    need = max(len(layout.names) - 1, 1)
    for name, column in zip(batch.schema.names, batch.columns):
        if not _may_hold_newline(column):
            continue
        counts = pc.count_substring(column, layout.delimiter)
        bad = pc.and_(pc.fill_null(pc.match_substring(column, "\n"), False), pc.greater_equal(counts, need))
        hit = pc.index(bad, True).as_py()
        if hit >= 0:
            raise InputError(
                f"{path}: data row {first_row + hit + 1}, column '{name}': a quote (\") opened there "
                f"runs over the following line(s), which would be lost as rows; fix the quotes"
            )


#: Bytes per block of Arrow's streaming CSV reader (see _text_batches).
CSV_BLOCK_BYTES = 4 << 20


def _text_batches(path: Path, layout) -> Iterator[pa.RecordBatch]:
    """The raw record batches of a text file (every column a string); read errors as one line."""
    # Arrow's streaming reader parses about 40 blocks ahead of the consumer, so the block size, not the file's
    # size, bounds its memory: 4 MiB blocks (≈ 25k abstracts) keep that near 160 MB (measured on 5M realistic rows:
    # 25 MiB blocks held 752 MB). The batches are re-cut to the batch size after (_rebatch).
    read_options, parse_options, convert_options = csv_options(layout, block_size=CSV_BLOCK_BYTES)
    try:
        reader = pacsv.open_csv(
            path, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
        rows = 0
        for batch in reader:
            _check_swallowed_rows(path, batch, layout, rows)
            rows += batch.num_rows
            yield batch
    except InputError:
        raise
    except Exception as exc:
        problem = invalid_row_problem(parse_options)
        if problem:
            raise InputError(f"{path}: {problem}") from None
        raise InputError(f"{path}: cannot read {path.suffix[1:]} file: {_one_line(exc)}") from exc


# ----------------------------------------------------------------------------------------------
# Public API (compatible wrappers)


def read_cases(path: PathLike, **options: Unpack[CaseOptions]) -> pa.Table:
    """Read a whole file of discharge abstracts into one canonical table: :func:`open_cases` with the same
    ``options`` (:class:`CaseOptions`), in one batch."""
    _check_options(options, "read_cases")
    source = open_cases(path, batch_size=1 << 62, **options)
    tables = list(source.batches())
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def iter_case_batches(
    path: PathLike,
    *,
    batch_size: int = 1_000_000,
    mapping: Mapping[str, str] | None = None,
    allow_unmapped: bool = False,
) -> Iterator[pa.Table]:
    """Yield canonical tables of at most ``batch_size`` rows, in file order (see :func:`open_cases`)."""
    yield from open_cases(path, mapping=mapping, batch_size=batch_size, allow_unmapped=allow_unmapped).batches()


def total_rows(path: PathLike) -> int | None:
    """Number of data rows when the file says so cheaply (Parquet metadata), else ``None``."""
    file = Path(path)
    if file_suffix(file) == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(file).metadata.num_rows
        except Exception:
            return None
    return None
