"""Shared fixtures for the golden, CLI, robustness and differential tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

DATA = Path(__file__).parent / "data"

#: exp_status of the oracle files → drgkit status
STATUS = {"SUCCESS": "ok", "FAIL": "ungroupable", "QY": "ambiguous", "CHECK_FAILED": "invalid"}


def read_oracle(name: str) -> pa.Table:
    """An oracle CSV of tests/data with every column as text (blank cells are empty strings)."""
    path = DATA / name
    with open(path, encoding="utf-8") as handle:
        names = handle.readline().strip().split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False),
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
