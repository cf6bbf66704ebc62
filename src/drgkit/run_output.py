"""A grouped run's output as it streams: written batch by batch in the background, and counted (statuses,
reasons, groups) for the summary — what ``drgkit group`` and ``POST /v1/batch`` both do."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .errors import DrgkitError


class EmptyResult(DrgkitError):
    """No row could be read, so there is nothing to write."""


def write_stream(output: Path, tables, empty_message: str, workbook: bool = False) -> int:
    """Write tables to ``output`` as they come (in a background thread, so writing one batch overlaps
    computing the next); the file appears only when all went well. Returns the number of rows."""
    from .io import IncrementalWriter
    from .io.pipeline import BackgroundWriter

    writer = background = None
    rows = 0
    try:
        for table in tables:
            if writer is None:
                writer = IncrementalWriter(output, table.schema, workbook=workbook)
                background = BackgroundWriter(writer.write)
            assert background is not None
            background.submit(table)
            rows += table.num_rows
        if writer is None or background is None:
            raise EmptyResult(empty_message)
        background.close()
        writer.close()
    except BaseException:
        if background is not None:
            try:
                background.close()
            except BaseException:
                pass
        if writer is not None:
            writer.abort()
        raise
    return rows


def tally(result, counts: Counter, drgs: Counter, reasons: Counter | None = None) -> None:
    """Add a batch's status and DRG counts (vectorized: one entry per distinct value)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for item in pc.value_counts(result.column("status")).to_pylist():
        counts[item["values"]] += item["counts"]
    if reasons is not None and "reason" in result.column_names:
        # the reason without the values it quotes, so rows failing the same way count together
        shape = pc.replace_substring_regex(result.column("reason"), r"'[^']*'", "<value>")
        shape = pc.replace_substring_regex(shape, r": [A-Z]\d{2}\.\S*$", ": <code>")  # the grey code U05 names
        for item in pc.value_counts(shape).to_pylist():
            if item["values"] is not None:
                reasons[item["values"]] += item["counts"]
    grouped = result.filter(pc.is_in(result.column("status"), value_set=pa.array(["ok", "ambiguous"])))
    code, name = ("drg", "drg_name") if "drg" in result.column_names else ("dip_group", "dip_kind")
    keys = pc.binary_join_element_wise(grouped.column(code), pc.fill_null(grouped.column(name), ""), "\t")
    for item in pc.value_counts(keys).to_pylist():
        drgs[tuple(item["values"].split("\t", 1))] += item["counts"]
