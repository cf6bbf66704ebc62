"""Excel as it arrives: .xlsx, .xlsm and .xls through fastexcel (calamine), typed cells, the right sheet,
the header found below title and note rows.

Hospital exports of the 病案首页 / 医保结算清单 put a 说明 (notes) sheet first, a merged title row such as
"2024年住院病案首页导出" and a blank row above the header, sometimes a two-row header (a group cell such as
``其他诊断`` merged over ``编码1 编码2 …``), and store ages or costs as numbers in some rows and as text
(``82岁``) in others.

How a sheet is read:

* **Which sheet** — ``sheet`` (a name or 1-based number), else the first *visible* sheet, in workbook
  order, whose header satisfies ``has_needed_fields`` (hidden sheets are skipped; name them to read them).
* **Which row is the header** — ``header_row`` (1-based Excel row number), else, among the first 30
  non-empty rows, the first with at least two cells ``is_known_header`` accepts, else the one with the most
  (at least one), else the first non-empty row.  Title, note and blank rows above it are not data.
* **Two-row headers** — the row directly above or below the header joins it when that makes more header
  cells known (or when the row below is itself header-like, two or more known cells, such as the row of
  interface field codes under the Chinese labels of a 结算清单).  Each column is then named by the first
  known of: upper + lower (``主要诊断`` over ``编码`` → ``主要诊断编码``), the column's own upper cell
  (``病案号`` over ``mdtrt_id``), the lower cell (``基本信息`` over ``病案号`` → ``病案号``), else upper +
  lower; a cell with nothing under it (merged down) keeps its own name.  In .xlsx the merged ranges say
  which columns a group covers; in .xls (no merge information) a group covers the columns after it whose
  upper cell is blank and lower cell is not.
* **Header names** — as written, surrounding whitespace stripped and line breaks inside a cell removed
  (``其他诊断\\n编码1`` → ``其他诊断编码1``); the continuation of a header cell merged across columns
  (.xlsx) repeats its name; a blank header over data is ``column_<letter>`` (``column_F``); repeated names
  are numbered ``_2``, ``_3``.  A column with neither a header nor a value is dropped.
* **Rows** — data start on the row after the header; rows in = rows out: an empty row between header
  and data or between data rows is a row of nulls; empty rows after the last data row are not rows.
* **Cells** — typed over every row (no type sample that could null later cells): numbers are float64, or
  int64 when every number in the column is whole; dates and datetimes are timestamps; text is text (a
  department code ``0801`` stored as text stays ``0801``); a column that mixes numbers and text is text,
  whole numbers written without ``.0``; booleans are booleans (``true``/``false`` in a text column);
  error cells (``#N/A``, ``#DIV/0!``) are null.

The header rows of an .xlsx are read by streaming the start of the sheet's XML (the data is parsed once,
by calamine); other workbooks are scanned through fastexcel.  Every failure is an :class:`InputError` with
one line.
"""

from __future__ import annotations

import logging
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import fromstring, iterparse

import pyarrow as pa
import pyarrow.compute as pc

from drgkit.io.errors import InputError, one_line
from drgkit.io.header_row import HEADER_SCAN_ROWS, choose_header_row

# fastexcel logs "Could not determine dtype for column N, falling back to string" for empty columns; with
# no handler configured Python would print it on stderr.  Applications that configure logging still see it.
logging.getLogger("fastexcel").addHandler(logging.NullHandler())

#: Rows loaded when scanning the top of a sheet through fastexcel (blank rows included).
_FASTEXCEL_SCAN_ROWS = 300

Cells = dict[int, str]  # 0-based column → cleaned, non-blank cell text
Merge = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based, inclusive)


# ----------------------------------------------------------------------------------------------
# Opening: one clear line for every way a file can fail to be a workbook


def _classify(path: Path, exc: BaseException) -> str:
    """Why ``path`` could not be opened as a workbook, as the tail of one error line."""
    try:
        data = path.read_bytes()
    except OSError as err:
        return f"cannot read file: {one_line(err)}"
    kind = path.suffix[1:].lower() or "Excel"
    if not data:
        return "is empty (0 bytes), not a workbook"
    if data.startswith(b"\xd0\xcf\x11\xe0") and "EncryptedPackage".encode("utf-16-le") in data:
        return (
            "is password-protected (encrypted); open it in Excel, remove the password "
            "(File > Info > Protect Workbook) and save it again"
        )
    if any(word in str(exc).lower() for word in ("password", "encrypt")):
        return "is password-protected (encrypted); open it in Excel, remove the password and save it again"
    if data.startswith(b"PK\x03\x04"):
        return _classify_zip(path, kind, exc)
    if data.startswith(b"%PDF"):
        return f"is a PDF document saved as .{kind}, not a workbook"
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    sample = data[:65536].decode("utf-16", errors="ignore").encode() if utf16 else data[:65536]
    head = sample[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<html", b"<!doctype", b"<table", b"<meta", b"<head", b"<body")) or (
        head.startswith(b"<?xml") and b"<html" in head
    ):
        return f"is an HTML page saved as .{kind}, not a workbook; open it in Excel and save it as .xlsx, or export CSV"
    if head.startswith(b"<?xml") and (
        b"urn:schemas-microsoft-com:office:spreadsheet" in sample or b"<workbook" in head
    ):
        return (
            f"is an XML Spreadsheet 2003 file saved as .{kind}, which cannot be read; open it in Excel "
            f"and save it as .xlsx"
        )
    if b"\x00" not in sample[:4096] and _looks_like_text(sample[:4096]):
        if utf16:
            return (
                f"is UTF-16 text (Excel's 'Unicode Text') saved as .{kind}, not a workbook; save it as "
                f"CSV UTF-8 or .xlsx"
            )
        sep = "tab-separated" if b"\t" in sample[:4096] else "comma-separated" if b"," in sample[:4096] else "plain"
        return (
            f"is a {sep} text file saved as .{kind}, not a workbook; rename it to "
            f"{'.tsv' if sep == 'tab-separated' else '.csv' if sep == 'comma-separated' else '.txt'} "
            f"and read that"
        )
    return f"cannot read {kind} file (corrupt, or not an Excel workbook): {one_line(exc)}"


def _classify_zip(path: Path, kind: str, exc: BaseException) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return (
            f"is a damaged .{kind} (its ZIP container is broken, perhaps a truncated download or copy); export it again"
        )
    if "word/document.xml" in names:
        return f"is a Word document saved as .{kind}, not a workbook"
    if not any(n.endswith(("workbook.xml", "workbook.bin")) for n in names):
        return "is a ZIP archive but not an Excel workbook (no workbook inside); unzip it first if it holds one"
    return f"cannot read {kind} file (corrupt, or not an Excel workbook): {one_line(exc)}"


def _looks_like_text(data: bytes) -> bool:
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            try:  # a character cut at the end of the sample
                text = data[:-3].decode(encoding)
            except UnicodeDecodeError:
                continue
        return sum(c.isprintable() or c in "\t\r\n" for c in text) >= 0.95 * max(len(text), 1)
    return False


def _open(path: Path):
    """A fastexcel reader, by path or — a workbook under the other Excel suffix (.xlsx saved as .xls) —
    by content."""
    import fastexcel

    try:
        return fastexcel.read_excel(str(path))
    except Exception as exc:
        first = exc
    try:
        with path.open("rb") as f:
            magic = f.read(8)
    except OSError:
        magic = b""
    if magic.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        try:
            return fastexcel.read_excel(path.read_bytes())
        except Exception:
            pass
    raise InputError(f"{path}: {_classify(path, first)}") from None


def sheet_names(path: Path) -> list[str]:
    """The workbook's sheet names, in workbook order (hidden sheets included)."""
    return list(_open(Path(path)).sheet_names)


# ----------------------------------------------------------------------------------------------
# The top of a sheet: .xlsx streamed, anything else through fastexcel


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _rich_text(element) -> str:
    """The text of an ``<si>`` / ``<is>`` element: its ``<t>`` and the ``<t>`` of its runs (not the
    phonetic ``<rPh>``), with OOXML's ``_x000A_`` escapes decoded."""
    parts = []
    for child in element:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), "".join(parts))


def _number_text(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)


_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")


def _ref(ref: str) -> tuple[int, int]:
    """``"B3"`` → (2, 1): 0-based row and column."""
    match = _REF.fullmatch(ref.replace("$", ""))
    if not match:
        raise ValueError(f"bad cell reference {ref!r}")
    column = 0
    for ch in match.group(1).upper():
        column = column * 26 + ord(ch) - 64
    return int(match.group(2)) - 1, column - 1


class _Xlsx:
    """Just enough of an .xlsx/.xlsm package to read the first rows of a sheet, its visibility and its
    merged ranges without parsing the whole sheet (calamine parses the data once, afterwards)."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        names = set(self.zip.namelist())
        root_rels = self._rels("_rels/.rels", "")
        book = next((t for typ, t in root_rels.values() if typ.endswith("/officeDocument")), "xl/workbook.xml")
        rels = self._rels(
            posixpath.join(posixpath.dirname(book), "_rels", posixpath.basename(book) + ".rels"),
            posixpath.dirname(book),
        )
        self.sheets: dict[str, tuple[str | None, str]] = {}  # name → (state, part)
        for element in fromstring(self.zip.read(book)).iter():
            if _local(element.tag) == "sheet":
                rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
                if rid in rels and rels[rid][1] in names:
                    self.sheets[element.get("name", "")] = (element.get("state"), rels[rid][1])
        self.shared_part = next((t for typ, t in rels.values() if typ.endswith("/sharedStrings")), None)
        self._shared: list[str] = []
        self._shared_iter: Iterator[str] | None = None

    def _rels(self, part: str, base: str) -> dict[str, tuple[str, str]]:
        """Relationship id → (type, part name) of a ``.rels`` part."""
        try:
            root = fromstring(self.zip.read(part))
        except KeyError:
            return {}
        out: dict[str, tuple[str, str]] = {}
        for rel in root:
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
            out[rel.get("Id", "")] = (rel.get("Type", ""), target)
        return out

    def shared(self, index: int) -> str:
        """Shared string ``index``, reading the string table only as far as needed."""
        while len(self._shared) <= index:
            if self._shared_iter is None:
                self._shared_iter = self._iter_shared()
            self._shared.append(next(self._shared_iter))  # StopIteration: a bad index, the caller falls back
        return self._shared[index]

    def _iter_shared(self) -> Iterator[str]:
        if self.shared_part is None:
            return
        with self.zip.open(self.shared_part) as f:
            for _, element in iterparse(f, events=("end",)):
                if _local(element.tag) == "si":
                    yield _rich_text(element)
                    element.clear()

    def _cell(self, cell) -> str | None:
        kind = cell.get("t", "n")
        value = inline = None
        for child in cell:
            tag = _local(child.tag)
            if tag == "v":
                value = child.text
            elif tag == "is":
                inline = _rich_text(child)
        if kind == "inlineStr":
            return inline
        if value is None or kind == "e":
            return None
        if kind == "s":
            return self.shared(int(value))
        if kind == "b":
            return "true" if value.strip() in ("1", "true") else "false"
        if kind in ("str", "d"):
            return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        return _number_text(value)

    def rows(self, part: str) -> Iterator[tuple[int, dict[int, str]]]:
        """(0-based row, {0-based column: raw text}) for each ``<row>`` of the sheet, in order."""
        with self.zip.open(part) as f:
            next_row = 0
            for _, element in iterparse(f, events=("end",)):
                tag = _local(element.tag)
                if tag == "sheetData":
                    return
                if tag != "row":
                    continue
                r = element.get("r")
                row = int(r) - 1 if r else next_row
                next_row = row + 1
                cells: dict[int, str] = {}
                next_column = 0
                for cell in element:
                    if _local(cell.tag) != "c":
                        continue
                    ref = cell.get("r")
                    column = _ref(ref)[1] if ref else next_column
                    next_column = column + 1
                    text = self._cell(cell)
                    if text is not None:
                        cells[column] = text
                element.clear()
                yield row, cells

    _MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z$]+\d+(?::[A-Za-z$]+\d+)?)\"")

    def merges(self, part: str) -> list[Merge]:
        """The sheet's merged ranges (``<mergeCells>`` follows the data: the part is scanned, not parsed)."""
        found: set[bytes] = set()
        tail = b""
        with self.zip.open(part) as f:
            while chunk := f.read(1 << 20):
                window = tail + chunk
                if b"mergeCell" in window:  # a plain search first: a regex over every '<' is slow
                    found.update(self._MERGE.findall(window))
                tail = chunk[-512:]
        out = []
        for ref in found:
            first, _, last = ref.decode().partition(":")
            (r0, c0), (r1, c1) = _ref(first), _ref(last or first)
            out.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))
        return out


def _clean(text: str | None) -> str:
    """A header cell as a name: line breaks inside removed, surrounding whitespace stripped."""
    return "".join((text or "").replace("\r", "\n").split("\n")).strip() if text is not None else ""


@dataclass
class _Top:
    """The first rows of a sheet: non-blank rows only, cells cleaned."""

    rows: dict[int, Cells]
    visible: bool
    merges: Callable[[], list[Merge]]


def _scan_done(rows: dict[int, Cells], last: int, forced: int | None) -> bool:
    if forced is not None:
        return last > forced + 1
    return len(rows) > HEADER_SCAN_ROWS


def _top_xlsx(book: _Xlsx, name: str, forced: int | None) -> _Top:
    state, part = book.sheets[name]
    rows: dict[int, Cells] = {}
    for index, raw in book.rows(part):
        cells = {c: t for c, t in ((c, _clean(v)) for c, v in raw.items()) if t}
        if cells:
            rows[index] = cells
        if _scan_done(rows, index, forced):
            break
    cache: list[list[Merge]] = []

    def merges() -> list[Merge]:
        if not cache:
            cache.append(book.merges(part))
        return cache[0]

    return _Top(rows, state in (None, "visible"), merges)


def _top_fastexcel(reader, index: int, forced: int | None) -> _Top:
    n_rows = max(_FASTEXCEL_SCAN_ROWS, (forced or 0) + 3)
    sheet = reader.load_sheet(index, header_row=None, skip_rows=0, n_rows=n_rows, dtypes="string")
    batch = sheet.to_arrow()
    columns = [c.absolute_index for c in sheet.selected_columns]
    rows: dict[int, Cells] = {}
    for i, values in enumerate(zip(*(col.to_pylist() for col in batch.columns))):
        cells = {c: t for c, t in ((c, _clean(v)) for c, v in zip(columns, values)) if t}
        if cells:
            rows[i] = cells
        if _scan_done(rows, i, forced):
            break
    return _Top(rows, sheet.visible == "visible", list)


class _Book:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = _open(path)
        self.names: list[str] = list(self.reader.sheet_names)
        self.xlsx: _Xlsx | None = None
        if zipfile.is_zipfile(path):
            try:
                self.xlsx = _Xlsx(path)
            except Exception:
                self.xlsx = None

    def close(self) -> None:
        if self.xlsx is not None:
            self.xlsx.zip.close()

    def top(self, index: int, forced: int | None) -> _Top:
        name = self.names[index]
        if self.xlsx is not None and name in self.xlsx.sheets:
            try:
                return _top_xlsx(self.xlsx, name, forced)
            except Exception:
                pass
        try:
            return _top_fastexcel(self.reader, index, forced)
        except Exception as exc:
            raise InputError(f"{self.path}: cannot read sheet '{name}': {one_line(exc)}") from None


# ----------------------------------------------------------------------------------------------
# Header: which row(s), and the column names


def _letter(index: int) -> str:
    """Excel's column letter of a 0-based column index (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _filled(rows: dict[int, Cells], merges: list[Merge], row: int) -> Cells:
    """Row ``row`` with every merged range that covers it filled with the range's top-left value."""
    out = dict(rows.get(row, {}))
    for r0, c0, r1, c1 in merges:
        if r0 <= row <= r1 and (value := rows.get(r0, {}).get(c0)):
            for c in range(c0, c1 + 1):
                out.setdefault(c, value)
    return out


def _pair_names(
    rows: dict[int, Cells], merges: list[Merge], top: int, bottom: int, known: Callable[[str], bool]
) -> Cells:
    """Names of a two-row header: the upper cell as a group prefix of the lower one."""
    upper, lower = rows.get(top, {}), rows.get(bottom, {})
    columns = sorted(
        set(upper) | set(lower) | {c for m in merges if m[0] <= bottom and m[2] >= top for c in range(m[1], m[3] + 1)}
    )
    if merges:
        groups = _filled(rows, merges, top)
        spans_down = {c for r0, c0, r1, c1 in merges if r0 <= top and r1 >= bottom for c in range(c0, c1 + 1)}
    else:  # .xls: a group covers the following columns with a blank upper and a non-blank lower cell
        groups, spans_down, group = {}, set(), None
        for c in range(columns[0], columns[-1] + 1) if columns else ():
            if c in upper:
                group = upper[c] if c in lower else None
                groups[c] = upper[c]
            elif c in lower and group is not None:
                groups[c] = group
            else:
                group = None
    names: Cells = {}
    for c in columns:
        group, below = groups.get(c, ""), lower.get(c, "")
        if c in spans_down or not below:
            name = group
        elif group:
            joined = group + below
            own = c in upper or c in spans_down  # the upper cell is this column's own, not a group's
            name = joined if known(joined) else group if own and known(group) else below if known(below) else joined
        else:
            name = below
        if name:
            names[c] = name
    return names


def _count_known(names: Cells, known: Callable[[str], bool]) -> int:
    """How many different known names (a name repeated by a group fill earns nothing)."""
    return sum(1 for name in set(names.values()) if known(name))


@dataclass
class _Header:
    names: Cells  # 0-based column → name as written (blank header cells absent)
    data_start: int  # 0-based row where the data begins


def _choose(rows: dict[int, Cells], merges: list[Merge], at: int, known: Callable[[str], bool]) -> tuple[_Header, bool]:
    """The header at row ``at`` alone or joined with the row above or below (see the module docstring),
    and whether a row was joined."""
    single = _filled(rows, merges, at)
    best, best_count, start, joined = single, _count_known(single, known), at + 1, False
    if rows.get(at + 1):
        below = _pair_names(rows, merges, at, at + 1, known)
        count = _count_known(below, known)
        if count > best_count or _count_known(rows[at + 1], known) >= 2:
            best, best_count, start, joined = below, count, at + 2, True
    if rows.get(at - 1):
        above = _pair_names(rows, merges, at - 1, at, known)
        count = _count_known(above, known)
        if count > best_count:
            best, best_count, start, joined = above, count, at + 1, True
    return _Header(best, start), joined


def _header(top: _Top, at: int, known: Callable[[str], bool]) -> _Header:
    """The header at row ``at``.  An .xlsx's merged ranges are read (a scan of the whole sheet part) only
    when they can change the names: a column under the header has no header cell of its own, or a row
    joins the header."""
    rows = top.rows
    header, joined = _choose(rows, [], at, known)
    used = set(rows[at]).union(*(rows[r] for r in rows if at < r <= at + 10))
    unnamed = any(c not in rows[at] for c in range(min(used), max(used) + 1))
    if unnamed or joined:
        merges = [m for m in top.merges() if m[0] <= at + 1 and m[2] >= at - 1]
        if merges:
            header, _ = _choose(rows, merges, at, known)
    return header


def _unique(names: list[str]) -> list[str]:
    """Repeated names numbered ``_2``, ``_3`` (skipping a number another column already has)."""
    taken = set(names)
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            n = seen[name]
            while True:
                n += 1
                candidate = f"{name}_{n}"
                if candidate not in taken:
                    break
            seen[name] = n
            taken.add(candidate)
            out.append(candidate)
        else:
            seen[name] = 1
            out.append(name)
    return out


def _final_names(header: _Header, columns: list[int]) -> list[str]:
    return _unique([header.names.get(c) or f"column_{_letter(c)}" for c in columns])


# ----------------------------------------------------------------------------------------------
# The sheet


def _pick_sheets(path: Path, names: list[str], sheet: str | int | None) -> list[int] | None:
    """Indexes of the sheet asked for (None: every sheet, in order)."""
    if sheet is None:
        return None
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 1 <= sheet <= len(names):
            return [sheet - 1]
        if str(sheet) in names:
            return [names.index(str(sheet))]
        raise InputError(
            f"{path}: no sheet number {sheet}; the workbook has {len(names)} "
            f"sheet{'s' if len(names) != 1 else ''} ({', '.join(names)})"
        )
    text = str(sheet)
    if text in names:
        return [names.index(text)]
    loose = [i for i, n in enumerate(names) if n.strip().casefold() == text.strip().casefold()]
    if len(loose) == 1:
        return loose
    if text.strip().isdigit():
        return _pick_sheets(path, names, int(text.strip()))
    raise InputError(f"{path}: no sheet named '{sheet}' (sheets: {', '.join(names)})")


def read_excel(
    path: Path,
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    is_known_header: Callable[[str], bool],
    has_needed_fields: Callable[[list[str]], bool],
) -> pa.Table:
    """One sheet of an .xlsx/.xlsm/.xls workbook as an Arrow table with typed columns (see the module
    docstring for the rules).

    ``sheet``: a name or 1-based number; else the first visible sheet whose header names satisfy
    ``has_needed_fields``.  ``header_row``: the 1-based Excel row of the header; else the first of the
    first 30 non-empty rows with two cells ``is_known_header`` accepts (title, note and blank rows above
    skipped).  Raises :class:`InputError` (one line) when the file cannot be read, the sheet asked for is
    not there, or no sheet qualifies.
    """
    path = Path(path)
    if header_row is not None and header_row < 1:
        raise InputError(f"{path}: --header-row must be 1 or more, got {header_row}")
    book = _Book(path)
    try:
        return _read(book, sheet, header_row, is_known_header, has_needed_fields)
    finally:
        book.close()


def _read(
    book: _Book,
    sheet: str | int | None,
    header_row: int | None,
    is_known_header: Callable[[str], bool],
    has_needed_fields: Callable[[list[str]], bool],
) -> pa.Table:
    path, names = book.path, book.names
    if not names:
        raise InputError(f"{path}: the workbook has no sheets")
    chosen = _pick_sheets(path, names, sheet)
    forced = header_row - 1 if header_row is not None else None
    looked: list[str] = []
    hidden: list[str] = []
    unreadable: list[str] = []
    weak: tuple[int, _Header] | None = None
    for index in chosen if chosen is not None else range(len(names)):
        try:
            top = book.top(index, forced)
        except InputError:
            if chosen is not None:
                raise
            unreadable.append(names[index])  # a chart or macro sheet: not the data
            continue
        if chosen is None and not top.visible:
            hidden.append(names[index])
            continue
        looked.append(names[index])
        if not top.rows:
            if chosen is not None:
                raise InputError(f"{path}: sheet '{names[index]}' is empty")
            continue
        if forced is not None:
            if not top.rows.get(forced):
                last = max(top.rows) + 1
                where = "blank" if forced < last else f"past the last row ({last})"
                if chosen is None:
                    continue
                raise InputError(f"{path}: sheet '{names[index]}': --header-row {header_row} is {where}")
            at = forced
        else:
            scanned = sorted(top.rows)[:HEADER_SCAN_ROWS]
            dense = [[top.rows[r].get(c) for c in range(max(top.rows[r]) + 1)] for r in scanned]
            at = scanned[choose_header_row(dense, is_known_header)]
        header = _header(top, at, is_known_header)
        if chosen is not None:
            return _load(book, index, header)
        found = _final_names(header, sorted(header.names))
        if not has_needed_fields(found):
            continue
        if _count_known(dict(enumerate(found)), is_known_header) >= 2:
            return _load(book, index, header)
        # one known cell only: a notes sheet listing the fields one per row looks like this; a later
        # sheet with a real header comes first
        weak = weak or (index, header)
    if weak:
        return _load(book, *weak)
    checked = f"{header_row}" if header_row is not None else f"the first {HEADER_SCAN_ROWS} non-empty rows"
    hidden_note = f"; hidden, not looked at: {', '.join(hidden)}" if hidden else ""
    hidden_note += f"; unreadable: {', '.join(unreadable)}" if unreadable else ""
    raise InputError(
        f"{path}: no sheet has a diagnosis column (sheets looked at: {', '.join(looked) or 'none'}"
        f"{hidden_note}; header rows checked: {checked}); use --sheet and --header-row, or --map"
    )


def _load(book: _Book, index: int, header: _Header) -> pa.Table:
    name = book.names[index]
    try:
        sheet = book.reader.load_sheet(
            index, header_row=None, skip_rows=header.data_start, schema_sample_rows=None, skip_whitespace_tail_rows=True
        )
        batch = sheet.to_arrow()
        data_columns = [c.absolute_index for c in sheet.selected_columns]
    except Exception as exc:
        raise InputError(f"{book.path}: cannot read sheet '{name}': {one_line(exc)}") from None
    data = dict(zip(data_columns, batch.columns))
    n = batch.num_rows
    columns = sorted(set(data) | set(header.names))
    # a column with neither a header nor a value is padding, not data
    columns = [c for c in columns if c in header.names or (c in data and data[c].null_count < n)]
    names = _final_names(header, columns)
    arrays = [_typed(data[c]) if c in data else pa.nulls(n, pa.string()) for c in columns]
    return pa.table(arrays, names=names)


def _typed(column: pa.Array) -> pa.Array:
    """Excel numbers that are all whole become int64 (ages, days, costs in yuan); an all-empty column is
    text; other types as calamine typed them."""
    if pa.types.is_floating(column.type):
        values = pc.drop_null(column)
        if (
            len(values)
            and pc.all(pc.equal(pc.floor(values), values)).as_py()
            and pc.max(pc.abs(values)).as_py() < 2**53
        ):
            return pc.cast(column, pa.int64())
        return column
    if pa.types.is_null(column.type) or pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
        return column.cast(pa.string())
    return column
