"""Raw readers: a file (Parquet, CSV/TSV/TXT in UTF-8 or GBK/GB18030, Excel) as an Arrow table with its own
headers, no column mapping.  Text files are read with every column as a string, so codes such as ``00.0100``
and department codes such as ``0801`` keep their leading and trailing zeros.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from drgkit.io.columns import is_known_header, plan_headers
from drgkit.io.errors import InputError
from drgkit.io.errors import one_line as _one_line
from drgkit.io.header_row import HEADER_SCAN_ROWS, choose_header_row

PathLike = str | os.PathLike[str]
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xls", ".xlsm"}


def file_suffix(path: Path) -> str:
    """The file's suffix in lower case (``.CSV`` → ``.csv``): what its format is chosen by."""
    return path.suffix.lower()


def check_file(path: Path) -> None:
    """Raise :class:`InputError` saying why, unless ``path`` is a regular file this process can read."""
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not path.is_file():  # a named pipe or a device: reading would block or never end
        raise InputError(f"{path}: is not a regular file (a pipe or a device); save it to a file first")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")


#: What a file with a text suffix really is, by its first bytes: named so the error says what to do.
_NOT_TEXT = (
    (b"PAR1", "a Parquet file: rename it to .parquet"),
    (b"PK\x03\x04", "an Excel workbook or a zip archive: rename it to .xlsx, or unzip it"),
    (b"\xd0\xcf\x11\xe0", "an old-format Excel workbook: rename it to .xls"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip)"),
    (b"\x89PNG", "a PNG image, not a table"),
    (b"%PDF", "a PDF document, not a table"),
)


def check_text_content(path: Path) -> None:
    """A file named .csv/.txt/.tsv that is not text: one line saying what it is, instead of a decoding error."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    for magic, what in _NOT_TEXT:
        if head.startswith(magic):
            raise InputError(f"{path}: is {what}")


def _is_cjk(c: str) -> bool:
    return (
        "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
    )


def _is_plausible_utf8(c: str) -> bool:
    """Characters real UTF-8 exports hold: Chinese text, Latin-1 letters (José), punctuation and symbols
    (·, ×, ℃, ①), Greek (µ, α).  GBK bytes misread as UTF-8 give other scripts (女 → Ů, 转院 → תԺ)."""
    return (
        _is_cjk(c)
        or "\u00a0" <= c <= "\u00ff"
        or "\u2000" <= c <= "\u2bff"
        or "\u0370" <= c <= "\u03ff"
        or "\ufe30" <= c <= "\ufe4f"
    )


def _share(data: bytes, encoding: str, plausible) -> float:
    """Share of the non-ASCII characters of ``data`` decoded as ``encoding`` that ``plausible`` accepts;
    -1 when ``data`` does not decode (a character cut at the end of the chunk is no evidence)."""
    for cut in (0, 1, 2, 3):
        try:
            text = data[: len(data) - cut].decode(encoding, errors="strict")
            break
        except UnicodeDecodeError:
            continue
    else:
        return -1.0
    wide = [c for c in text if ord(c) > 127]
    return sum(1 for c in wide if plausible(c)) / len(wide) if wide else 0.0


def detect_encoding(path: PathLike, probe_bytes: int = 1 << 20) -> str:
    """``utf-8-sig`` (BOM), ``utf-16`` (BOM: Excel's "Unicode text" export), ``utf-8`` or ``gb18030`` (a
    superset of GBK / GB2312).

    The file is scanned in chunks until the first non-ASCII bytes decide it, so a file whose first
    Chinese text sits far down is still detected correctly; pure-ASCII files are ``utf-8``.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        head = handle.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        chunk = head + handle.read(probe_bytes)
        while chunk:
            try:
                decoder.decode(chunk, final=False)
            except UnicodeDecodeError:
                return "gb18030"
            if not chunk.isascii():
                # Short GBK text can be valid UTF-8 too (女 = C5 AE = "Ů", 转院 = "תԺ"): the reading whose
                # non-ASCII characters are Chinese wins.
                as_utf8 = _share(chunk, "utf-8", _is_plausible_utf8)
                return "utf-8" if as_utf8 >= 0.9 or as_utf8 >= _share(chunk, "gb18030", _is_cjk) else "gb18030"
            chunk = handle.read(probe_bytes)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _head_lines(path: Path, encoding: str, limit: int = HEADER_SCAN_ROWS) -> list[str]:
    """The file's first ``limit`` physical lines (blank ones included: Arrow's ``skip_rows`` counts them)."""
    lines: list[str] = []
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        for line in handle:
            lines.append(line)
            if len(lines) >= limit:
                break
    return lines


def _sniff_delimiter(path: Path, header_line: str) -> str:
    if file_suffix(path) == ".tsv":
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


@dataclass(frozen=True)
class TextLayout:
    """Where a text file's header is and how it is split (decided once from its first lines)."""

    encoding: str
    delimiter: str
    header_line: int  # 0-based physical line of the header
    names: list[str]  # unique header names
    skipped: list[str]  # non-blank lines above the header (titles, notes), as text


def text_layout(
    path: Path, header_row: int | None = None, is_known_header: Callable[[str], bool] | None = None
) -> TextLayout:
    """Find the header line of a CSV/TSV/TXT file: ``header_row`` (1-based) if given, else the first of the
    first lines that the field vocabulary recognises (``is_known_header``), skipping blank lines and title
    rows above it.  Raises :class:`InputError` when the file holds no header at all."""
    check_text_content(path)
    encoding = detect_encoding(path)
    lines = _head_lines(path, encoding)
    if header_row is not None:
        if header_row < 1 or header_row > len(lines) or not lines[header_row - 1].strip():
            raise InputError(
                f"{path}: --header-row {header_row}: that line is "
                f"{'blank' if header_row <= len(lines) else 'past the end of the file'}"
            )
        index = header_row - 1
    else:
        blank = [not line.strip().strip("\ufeff").strip() for line in lines]
        if all(blank):
            raise InputError(f"{path}: the file is empty (no header row)")
        delimiter = _sniff_delimiter(path, next(line for line, b in zip(lines, blank) if not b))
        rows = [
            next(csv.reader(io.StringIO(line), delimiter=delimiter), []) if not b else []
            for line, b in zip(lines, blank)
        ]
        index = choose_header_row(rows, is_known_header)
    line = lines[index]
    delimiter = _sniff_delimiter(path, line)
    header = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    skipped = [ln.strip().lstrip("\ufeff") for ln in lines[:index] if ln.strip().lstrip("\ufeff")]
    return TextLayout(encoding, delimiter, index, _unique_names(header), skipped)


class _InvalidRow:
    """A row whose field count is wrong: a whitespace-only line (often the last) is not a row and is skipped;
    any other is an error that names its line, instead of Arrow's message without one."""

    def __init__(self, layout: TextLayout) -> None:
        self.layout = layout
        self.problem: str | None = None  # Arrow stops on "error"; the reader reports this (a raise would be lost)

    def __call__(self, row: Any) -> str:
        if not row.text.strip():
            return "skip"
        line = "" if row.number is None else f"line {row.number + self.layout.header_line}: "
        self.problem = (
            f"{line}{row.actual_columns} fields where the header has {row.expected_columns} "
            f"({row.text[:60]!r}); check the separators and quotes of that line"
        )
        return "error"


def invalid_row_problem(parse_options) -> str | None:
    """What the invalid-row handler of these parse options saw, for the error message."""
    return getattr(parse_options.invalid_row_handler, "problem", None)


def csv_options(layout: TextLayout, block_size: int | None = None):
    """Read, parse and convert options that keep every column as text and blank cells as null."""
    names = layout.names
    read_kwargs: dict = {"column_names": names, "skip_rows": layout.header_line + 1}
    if layout.encoding not in ("utf-8", "utf-8-sig"):  # Arrow transcodes other encodings as it reads
        read_kwargs["encoding"] = layout.encoding
    if block_size is not None:
        read_kwargs["block_size"] = block_size
    read_options = pacsv.ReadOptions(**read_kwargs)
    # Arrow skips a UTF-8 BOM itself, so utf-8-sig needs no transcoding.
    parse_options = pacsv.ParseOptions(
        delimiter=layout.delimiter, newlines_in_values=True, invalid_row_handler=_InvalidRow(layout)
    )
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        null_values=[""],
    )
    return read_options, parse_options, convert_options


def _read_text(path: Path, header_row: int | None, is_known_header: Callable[[str], bool] | None) -> pa.Table:
    read_options, parse_options, convert_options = csv_options(text_layout(path, header_row, is_known_header))
    try:
        return pacsv.read_csv(
            path, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
    except pa.ArrowInvalid:
        problem = invalid_row_problem(parse_options)
        if problem:
            raise InputError(f"{path}: {problem}") from None
        raise


def _has_diagnosis_field(headers: list[str]) -> bool:
    return plan_headers(headers).has_dx()


def _read_excel(path: Path, sheet: str | int | None, header_row: int | None) -> pa.Table:
    from drgkit.io.excel import read_excel  # Excel input only: keep start-up light

    return read_excel(
        path,
        sheet=sheet,
        header_row=header_row,
        is_known_header=is_known_header,
        has_needed_fields=_has_diagnosis_field,
    )


def read_file(path: PathLike, sheet: str | int | None = None, header_row: int | None = None) -> pa.Table:
    """Any supported file (.parquet, .csv/.tsv/.txt in UTF-8 or GBK/GB18030, .xlsx/.xls) as a table with its own
    headers, no column mapping; raises :class:`InputError` with one clear line on any read failure.

    Text and Excel files: ``header_row`` (1-based) forces the header line, else title and note rows above
    the header are skipped (the first row the field vocabulary recognises); Excel: ``sheet`` (name or
    1-based number), else the first sheet that holds a diagnosis column.
    """
    path = Path(path)
    check_file(path)
    suffix = file_suffix(path)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq  # loaded where used (see drgkit.io.read)

            return pq.read_table(path)
        if suffix in TEXT_SUFFIXES:
            return _read_text(path, header_row, is_known_header)
        if suffix in EXCEL_SUFFIXES:
            return _read_excel(path, sheet, header_row)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read {suffix[1:]} file: {_one_line(exc)}") from exc
    raise InputError(f"{path}: unsupported file type '{suffix}' (use .parquet, .csv, .tsv, .txt, .xlsx or .xls)")
