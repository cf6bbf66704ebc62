"""Write result tables to Parquet, CSV or Excel, atomically.

Every writer writes to a temporary file in the destination's directory and renames it over the
destination only when writing succeeded (``os.replace`` is atomic on one file system), so a crash or
an exception never leaves a truncated result that looks complete.

CSV is written as UTF-8 with a BOM: Excel on Chinese Windows reads BOM-less CSV as GBK and garbles
the Chinese text otherwise.  List columns (dx, px, notes) become ``|``-joined text in CSV and Excel.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from drgkit.io.read import InputError, PathLike
from drgkit.outputs import ALL_RESULT_COLUMNS

if TYPE_CHECKING:  # pyarrow.parquet loads where it is used (see drgkit.io.read)
    import pyarrow.parquet as pq

_EXCEL_MAX_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header
_SUFFIXES = (".parquet", ".csv", ".xlsx")


def _suffix(path: PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(f"{path}: unsupported output type '{suffix}' (use .parquet, .csv or .xlsx)")
    return suffix


def _destination(path: PathLike) -> Path:
    """Where the output really goes: the file a symlink points at (so the link survives the rename)."""
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _publish(temp: Path, target: Path) -> None:
    """Move a finished temporary file over ``target`` with the permissions a plain ``open()`` would give:
    the mode of the file it replaces, else 0666 less the umask (``mkstemp`` creates files 0600)."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temp, mode)
    os.replace(temp, target)


def _temp_path(path: Path) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{path}: output folder {directory} does not exist")
    _sweep(directory, path.name)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    return Path(name)


#: A temporary output older than this was left by a run that was killed (SIGKILL, power loss): swept.
STALE_SECONDS = 6 * 3600


def _sweep(directory: Path, name: str) -> None:
    """Remove temporary files of earlier writes of ``name`` that a killed run left behind (a write in progress
    touches its file far more often than every few hours)."""
    import time

    now = time.time()
    for old in directory.glob(f".{name}.*.tmp"):
        try:
            if now - old.stat().st_mtime > STALE_SECONDS:
                old.unlink()
        except OSError:
            pass


def _flat_type(type_: pa.DataType) -> pa.DataType:
    """The text-friendly type a column is written as in CSV/Excel."""
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        return pa.string()
    if pa.types.is_dictionary(type_):
        return _flat_type(type_.value_type)
    return type_


def _flat_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    type_ = column.type
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        return pc.binary_join(column.cast(pa.list_(pa.string())), "|")
    if pa.types.is_dictionary(type_):
        return _flat_column(column.cast(type_.value_type))
    return column


def _check_flat(schema: pa.Schema, path: Path | None = None) -> None:
    """CSV and Excel hold text: a struct, a map or a list of such cannot be written there (one clear line)."""

    def flat(type_: pa.DataType) -> bool:
        if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
            return not pa.types.is_nested(type_.value_type)
        return not pa.types.is_nested(_flat_type(type_))

    nested = [f.name for f in schema if not flat(f.type)]
    if nested:
        raise InputError(
            f"{str(path) + ': ' if path else ''}column(s) {', '.join(nested)} hold nested values (struct/map); "
            "CSV and Excel cannot hold them: write .parquet, or drop those columns"
        )


def flatten_for_text(table: pa.Table | pa.RecordBatch) -> pa.Table:
    """Lists → ``|``-joined strings, dictionaries decoded, so CSV / Excel writers accept the table."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    _check_flat(table.schema)
    return pa.table({name: _flat_column(table.column(name)) for name in table.column_names})


def _flat_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _flat_type(f.type)) for f in schema])


#: Excel's limits: characters in a cell and columns in a sheet.
_EXCEL_MAX_CELL = 32_767
_EXCEL_MAX_COLUMNS = 16_384


def _write_xlsx(
    table: pa.Table, path: Path, shown: Path | None = None, more: dict[str, pa.Table] | None = None
) -> None:
    """A sheet a coder can work in: numbers and dates typed, the header frozen with a filter, columns as
    wide as their content; text that looks like a formula (``=HYPERLINK(…)``) stays text, never a live
    formula; control characters Excel refuses are shown as U+FFFD; a cell over Excel's limit is an error,
    not a silent cut.  ``more``: further sheets by title (the workbook's 汇总 and 问题病例)."""
    from openpyxl import Workbook

    target, path = path, shown or path  # errors name the output the user asked for, not its temporary file
    if table.num_rows > _EXCEL_MAX_ROWS:
        raise InputError(f"{path}: {table.num_rows:,} rows do not fit in an Excel sheet; write .parquet or .csv")
    if table.num_columns > _EXCEL_MAX_COLUMNS:
        raise InputError(f"{path}: {table.num_columns:,} columns do not fit in an Excel sheet; write .parquet or .csv")
    _check_flat(table.schema, path)
    book = Workbook(write_only=True)
    for title, sheet_table in {("病案" if more else "Sheet"): table, **(more or {})}.items():
        flat = flatten_for_text(sheet_table)
        _fill(book.create_sheet(title), flat, _cell_values(flat, path))
    book.save(target)


def _cell_values(flat: pa.Table, path: Path) -> list[list]:
    """Each column's values as Excel can hold them (time zones dropped: UTC wall time), refusing a text over
    Excel's cell limit rather than cutting it."""
    columns = []
    for name, column in zip(flat.column_names, flat.columns):
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        if pa.types.is_timestamp(column.type) and _all_midnight(column):
            column = column.cast(pa.date32())  # dates written as dates (yyyy-mm-dd), not with a 0:00:00 time
        values = column.to_pylist()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            longest = max((len(v) for v in values if v is not None), default=0)
            if longest > _EXCEL_MAX_CELL:
                raise InputError(
                    f"{path}: column '{name}' holds a text of {longest:,} characters, over Excel's "
                    f"{_EXCEL_MAX_CELL:,}; write .csv or .parquet"
                )
        columns.append(values)
    return columns


def _all_midnight(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether every value of a timestamp column (wall time) falls on midnight: a column of dates."""
    return bool(pc.all(pc.equal(column, pc.floor_temporal(column, unit="day"))).as_py() is not False)


def _fill(sheet, flat: pa.Table, columns: list[list]) -> None:
    """One sheet: header frozen, filter, fitted widths; formulas stay text; illegal characters shown as U+FFFD."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = "A2"
    widths = [
        min(60, max([_display_width(str(n))] + [_display_width(str(v)) for v in col[:2000] if v is not None]))
        for n, col in zip(flat.column_names, columns)
    ]
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width + 2
    if flat.num_columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(flat.num_columns)}{max(flat.num_rows + 1, 1)}"

    def cell(value):
        if isinstance(value, str):
            if ILLEGAL_CHARACTERS_RE.search(value):
                value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
            if value[:1] == "=":  # text, not a formula
                c = WriteOnlyCell(sheet, value=value)
                c.data_type = "s"
                return c
        return value

    sheet.append([cell(str(n)) for n in flat.column_names])
    for row in zip(*columns) if columns else ():
        sheet.append([cell(v) for v in row])


def _display_width(text: str) -> int:
    """Columns a text takes on screen: a Chinese character takes two."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)


#: A text cell Excel would run as a formula when it opens the CSV (=, @, or + / - before a non-number).
_FORMULA_START = r"^([=@]|[+\-][^0-9.\s])"


def guard_formulas(table: pa.Table) -> pa.Table:
    """Text cells that Excel would run as a formula get a leading apostrophe, Excel's own "this is text"
    mark (shown by no viewer, kept by Excel when the file is saved again); numbers are untouched."""
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) and pc.any(
            pc.match_substring_regex(column, _FORMULA_START)
        ).as_py():
            column = pc.replace_substring_regex(column, _FORMULA_START, "'\\1")
        columns[name] = column
    return pa.table(columns)


def _write_csv_file(table: pa.Table, path: Path) -> None:
    with open(path, "wb") as handle:
        handle.write(codecs.BOM_UTF8)
        pacsv.write_csv(guard_formulas(flatten_for_text(table)), handle)


#: A flat column whose first rows are more than this share distinct values is written without a dictionary.
#: Parquet abandons a column's dictionary once its page outgrows 1 MiB, but every value is hashed into it first:
#: on a settlement-list result (IDs, amounts, code strings) that hashing is a fifth of the writer's time.
DICTIONARY_MAX_DISTINCT = 0.5
#: The rows the first batch needs for that judgement; a smaller first batch keeps every dictionary.
DICTIONARY_SAMPLE_ROWS = 10_000
#: The rows it is judged on at most (a batch's worth).
DICTIONARY_JUDGE_ROWS = 125_000
# Min/max statistics let a reader skip row groups whose range misses a filter. The text columns drgkit adds
# (group, reason, warnings, …) are derived row by row from an export in its own order: every row group spans
# nearly all their values, so their statistics would prune nothing, and computing them over the strings was
# 8 % of the writer's time. They are left out; the input's columns keep theirs.


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _repeats(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a column's values repeat enough for a dictionary to pay (nested and dictionary columns: yes)."""
    type_ = column.type
    if pa.types.is_nested(type_) or pa.types.is_dictionary(type_):
        return True
    valid = len(column) - column.null_count
    return valid == 0 or pc.count_distinct(column).as_py() <= DICTIONARY_MAX_DISTINCT * valid


def _leaf_count(type_: pa.DataType) -> int:
    """How many Parquet leaf columns an Arrow type is stored as."""
    if pa.types.is_struct(type_):
        return sum(_leaf_count(field.type) for field in type_)
    if pa.types.is_map(type_):
        return _leaf_count(type_.key_type) + _leaf_count(type_.item_type)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        return _leaf_count(type_.value_type)
    if pa.types.is_dictionary(type_):
        return _leaf_count(type_.value_type)
    return 1


def parquet_writer(path: Path, schema: pa.Schema, sample: pa.Table | None) -> pq.ParquetWriter:
    """pyarrow's writer for a Parquet output (zstd) whose first rows are ``sample``: dictionary encoding for
    the columns whose values repeat in it, plain encoding for the others (see :data:`DICTIONARY_MAX_DISTINCT`).
    Only the encoding differs: every reader reads the same values and types."""
    import pyarrow.parquet as pq

    plain: set[str] = set()
    if sample is not None and sample.num_rows >= DICTIONARY_SAMPLE_ROWS:
        sample = sample.slice(0, DICTIONARY_JUDGE_ROWS)  # (a whole table handed to write_table: its head)
        plain = {name for name, column in zip(sample.column_names, sample.columns) if not _repeats(column)}
    no_statistics = {field.name for field in schema if field.name in ALL_RESULT_COLUMNS and _is_text(field.type)}
    use_dictionary: bool | list[str] = True
    write_statistics: bool | list[str] = True
    if plain or no_statistics:
        empty = pa.BufferOutputStream()  # the leaf paths Parquet names the columns by ("dx.list.element")
        pq.write_table(schema.empty_table(), empty)
        leaves = pq.ParquetFile(pa.BufferReader(empty.getvalue())).schema
        owners = [field.name for field in schema for _ in range(_leaf_count(field.type))]
        if len(owners) == len(leaves):  # (a type stored in a way not foreseen here keeps the defaults)
            paths = [(leaves.column(i).path, owner) for i, owner in enumerate(owners)]
            use_dictionary = [path for path, owner in paths if owner not in plain]
            write_statistics = [path for path, owner in paths if owner not in no_statistics]
    return pq.ParquetWriter(
        path, schema, compression="zstd", use_dictionary=use_dictionary, write_statistics=write_statistics
    )


def write_table(table: pa.Table, path: PathLike) -> None:
    """Write ``table`` to ``path`` (.parquet with zstd, .csv UTF-8 with BOM, or .xlsx), atomically."""
    target = _destination(path)
    suffix = _suffix(target)
    temp = _temp_path(target)
    try:
        if suffix == ".parquet":
            writer = parquet_writer(temp, table.schema, table)
            writer.write_table(table)
            writer.close()
        elif suffix == ".csv":
            _write_csv_file(table, temp)
        else:
            _write_xlsx(table, temp, target)
        _publish(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class IncrementalWriter:
    """Stream batches to ``path`` (.parquet or .csv; .xlsx is collected and written on close).

    Use as a context manager: the file appears at ``path`` only when the block exits normally; on an
    exception the temporary file is removed and any earlier file at ``path`` is left untouched.
    """

    def __init__(self, path: PathLike, schema: pa.Schema, workbook: bool = False) -> None:
        """``workbook``: an .xlsx output is the coder's workbook (Chinese headers, 汇总 and 问题病例 sheets; see
        :mod:`drgkit.io.workbook`), not a plain sheet."""
        self.path = _destination(path)
        self.schema = schema
        self.workbook = workbook
        self.suffix = _suffix(self.path)
        self._temp = _temp_path(self.path)
        self._closed = False
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._handle = None
        self._pending: list[pa.Table] = []
        try:
            if self.suffix == ".parquet":
                pass  # opened at the first batch, which tells which columns repeat (parquet_writer)
            elif self.suffix == ".csv":
                _check_flat(schema, self.path)
                self._handle = open(self._temp, "wb")  # noqa: SIM115 - closed by close() / abort()
                self._handle.write(codecs.BOM_UTF8)
                self._csv = pacsv.CSVWriter(self._handle, _flat_schema(schema))
        except BaseException:
            self.abort()
            raise

    def write(self, batch: pa.Table | pa.RecordBatch) -> None:
        """Append one batch (cast to the writer's schema when the types differ only in detail)."""
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        if self.suffix == ".parquet":
            if self._parquet is None:
                self._parquet = parquet_writer(self._temp, self.schema, table)
            self._parquet.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(guard_formulas(flatten_for_text(table)).cast(_flat_schema(self.schema)))
        else:
            self._pending.append(table)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._closed:
            return
        try:
            if self.suffix == ".parquet":
                if self._parquet is None:  # no rows: a file with the columns
                    self._parquet = parquet_writer(self._temp, self.schema, None)
                self._parquet.close()
            if self._csv is not None:
                self._csv.close()
                if self._handle is not None:
                    self._handle.close()
            if self.suffix == ".xlsx":
                table = pa.concat_tables(self._pending) if self._pending else self.schema.empty_table()
                if self.workbook:
                    from .workbook import chinese_sheet, summary_sheets

                    _write_xlsx(chinese_sheet(table), self._temp, self.path, summary_sheets(table))
                else:
                    _write_xlsx(table, self._temp, self.path)
            _publish(self._temp, self.path)
            self._closed = True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is not touched."""
        self._closed = True
        for closer in (self._parquet, self._csv, self._handle):
            try:
                if closer is not None:
                    closer.close()
            except Exception:
                pass
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> IncrementalWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class IncrementalParquetWriter(IncrementalWriter):
    """:class:`IncrementalWriter` that insists on a ``.parquet`` destination."""

    def __init__(self, path: PathLike, schema: pa.Schema) -> None:
        if Path(path).suffix.lower() != ".parquet":
            raise InputError(f"{path}: IncrementalParquetWriter needs a .parquet path")
        super().__init__(path, schema)


class IncrementalCsvWriter(IncrementalWriter):
    """:class:`IncrementalWriter` that insists on a ``.csv`` destination."""

    def __init__(self, path: PathLike, schema: pa.Schema) -> None:
        if Path(path).suffix.lower() != ".csv":
            raise InputError(f"{path}: IncrementalCsvWriter needs a .csv path")
        super().__init__(path, schema)
