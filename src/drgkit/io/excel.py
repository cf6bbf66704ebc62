"""Excel input (interim: polars + calamine; replaced by the fastexcel reader)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from drgkit.io.errors import InputError
from drgkit.io.header_row import HEADER_SCAN_ROWS, choose_header_row


def read_excel(path: Path, *, sheet: str | int | None = None, header_row: int | None = None,
               is_known_header: Callable[[str], bool], has_needed_fields: Callable[[list[str]], bool]) -> pa.Table:
    import polars as pl

    kwargs: dict = {"infer_schema_length": 0, "raise_if_empty": False, "has_header": False, "engine": "calamine"}
    if isinstance(sheet, int):
        kwargs["sheet_id"] = sheet
    elif sheet is not None:
        kwargs["sheet_name"] = sheet
    frame = pl.read_excel(path, **kwargs)
    rows = [[None if v is None else str(v) for v in r] for r in frame.head(HEADER_SCAN_ROWS).rows()]
    if not rows:
        raise InputError(f"{path}: the sheet is empty")
    index = header_row - 1 if header_row else choose_header_row(rows, is_known_header)
    names, seen = [], set()
    for i, v in enumerate(rows[index]):
        name = (v or f"column_{i + 1}").strip()
        while name in seen:
            name += "_2"
        seen.add(name)
        names.append(name)
    data = frame.slice(index + 1)
    data.columns = names
    return data.cast(pl.String).to_arrow()
