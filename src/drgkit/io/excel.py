"""Excel as it arrives: .xlsx, .xlsm and .xls through fastexcel (calamine), typed cells, the right sheet,
the header found below title and note rows.

Hospital exports put a 说明 (notes) sheet first, a merged title row such as "2024年住院病案首页" and a blank
row above the header, and store ages or costs as numbers in some rows and as text (``82岁``) in others.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from drgkit.io.errors import InputError, one_line
from drgkit.io.header_row import HEADER_SCAN_ROWS, choose_header_row


def _open(path: Path):
    import fastexcel

    try:
        return fastexcel.read_excel(str(path))
    except Exception as exc:  # noqa: BLE001 - corrupt, encrypted or not an Excel file: one line
        head = path.read_bytes()[:512].lstrip().lower()
        if head.startswith((b"<html", b"<!doctype", b"<table")):
            raise InputError(f"{path}: is an HTML page saved as {path.suffix}, not a workbook; open it in "
                             f"Excel and save it as .xlsx, or export CSV") from None
        raise InputError(f"{path}: cannot read {path.suffix[1:]} file: {one_line(exc)}") from None


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names, in order."""
    return list(_open(path).sheet_names)


def _letter(index: int) -> str:
    """Excel's column letter of a 0-based column index (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _header_names(cells: list[str | None]) -> list[str]:
    """Header cells as column names: line breaks inside a cell removed, blanks named by their column
    letter (``column_F``), repeats numbered (``编码_2``)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = "".join(str(cell).split("\n")).strip() if cell is not None else ""
        name = name or f"column_{_letter(i)}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        seen.setdefault(name, 1)
        names.append(name)
    return names


def _head_rows(reader, index: int) -> tuple[list[list[str | None]], str]:
    """The first rows of a sheet as text (blank rows as empty lists), and its visibility."""
    sheet = reader.load_sheet(index, header_row=None, n_rows=HEADER_SCAN_ROWS, dtypes="string",
                              skip_rows=0)
    batch = sheet.to_arrow()
    columns = [col.to_pylist() for col in batch.columns]
    rows = [list(r) for r in zip(*columns)] if columns else []
    rows = [r if any(c is not None and str(c).strip() for c in r) else [] for r in rows]
    return rows, getattr(sheet, "visible", "visible")


def read_excel(path: Path, *, sheet: str | int | None = None, header_row: int | None = None,
               is_known_header: Callable[[str], bool], has_needed_fields: Callable[[list[str]], bool]) -> pa.Table:
    """One sheet as an Arrow table with typed columns (numbers, timestamps, text; a column that mixes
    numbers and text is text, numbers written as Excel shows them).

    ``sheet``: a name or 1-based number; else the first visible sheet whose header holds what
    ``has_needed_fields`` asks for (a diagnosis column).  ``header_row``: 1-based row of the header; else
    the first row the vocabulary recognises (``is_known_header``), title, note and blank rows above it
    skipped.  Rows in = rows out: an empty row between data rows is kept (all null); empty rows after the
    last data row are not rows.
    """
    reader = _open(path)
    names = list(reader.sheet_names)
    if sheet is not None:
        if isinstance(sheet, int):
            if not 1 <= sheet <= len(names):
                raise InputError(f"{path}: no sheet number {sheet} (sheets: {', '.join(names)})")
            candidates = [sheet - 1]
        elif sheet in names:
            candidates = [names.index(sheet)]
        else:
            raise InputError(f"{path}: no sheet named '{sheet}' (sheets: {', '.join(names)})")
    else:
        candidates = list(range(len(names)))
    looked: list[str] = []
    for index in candidates:
        try:
            rows, visible = _head_rows(reader, index)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{path}: cannot read sheet '{names[index]}': {one_line(exc)}") from None
        if sheet is None and visible != "visible":
            continue
        looked.append(names[index])
        if not any(rows):
            if sheet is not None:
                raise InputError(f"{path}: sheet '{names[index]}' is empty")
            continue
        if header_row is not None:
            if not 1 <= header_row <= len(rows) or not rows[header_row - 1]:
                raise InputError(f"{path}: sheet '{names[index]}': --header-row {header_row} is blank or past "
                                 f"the first {HEADER_SCAN_ROWS} rows")
            at = header_row - 1
        else:
            at = choose_header_row(rows, is_known_header)
        if sheet is None and not has_needed_fields(_header_names(rows[at])):
            continue
        return _load(reader, index, at, rows[at], path, names[index])
    raise InputError(f"{path}: no sheet has a diagnosis column (sheets looked at: {', '.join(looked) or 'none'}; "
                     f"header rows checked: 1-{HEADER_SCAN_ROWS}); use --sheet and --header-row, or --map")


def _load(reader, index: int, at: int, cells: list[str | None], path: Path, name: str) -> pa.Table:
    try:
        sheet = reader.load_sheet(index, header_row=None, column_names=None, skip_rows=at + 1,
                                  schema_sample_rows=None, skip_whitespace_tail_rows=True)
        batch = sheet.to_arrow()
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read sheet '{name}': {one_line(exc)}") from None
    columns = list(batch.columns)
    # header cells past the last data column are empty columns; data past the header is kept, named by letter
    columns += [pa.nulls(batch.num_rows, pa.string())] * (len(cells) - len(columns))
    headers = _header_names(list(cells) + [None] * (len(columns) - len(cells)))
    table = pa.table({h: _plain(c) for h, c in zip(headers, columns)})
    # a column with neither a header nor a value is padding, not data
    keep = [h for h, c, cell in zip(headers, table.columns, list(cells) + [None] * len(columns))
            if not (cell is None and c.null_count == len(c))]
    return table.select(keep)


def _plain(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Excel numbers that are all whole become int64 (ages, days, costs in yuan); other types as read."""
    if pa.types.is_floating(column.type):
        values = pc.drop_null(column)
        if len(values) and pc.all(pc.equal(pc.floor(values), values)).as_py() and \
                pc.max(pc.abs(values)).as_py() < 2**53:
            return pc.cast(column, pa.int64())
    if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        return column.cast(pa.string())
    return column
