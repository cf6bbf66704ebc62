"""Input/output edge: read abstracts into canonical Arrow tables, type them for grouping, write results."""

from __future__ import annotations

from drgkit.io.codelists import code_lists
from drgkit.io.columns import ALIASES, CANONICAL_COLUMNS, normalize_header, plan_headers
from drgkit.io.errors import InputError
from drgkit.io.formats import read_file
from drgkit.io.frames import from_arrow, to_arrow
from drgkit.io.prepare import PreparedCases, prepare
from drgkit.io.read import (
    CaseOptions,
    CaseSource,
    canonicalize,
    check_plan,
    iter_case_batches,
    open_cases,
    read_cases,
    total_rows,
)
from drgkit.io.write import IncrementalCsvWriter, IncrementalParquetWriter, IncrementalWriter, write_table

__all__ = [
    "ALIASES",
    "CANONICAL_COLUMNS",
    "CaseOptions",
    "CaseSource",
    "IncrementalCsvWriter",
    "IncrementalParquetWriter",
    "IncrementalWriter",
    "InputError",
    "PreparedCases",
    "canonicalize",
    "check_plan",
    "code_lists",
    "from_arrow",
    "iter_case_batches",
    "normalize_header",
    "open_cases",
    "plan_headers",
    "prepare",
    "read_cases",
    "read_file",
    "to_arrow",
    "total_rows",
    "write_table",
]
