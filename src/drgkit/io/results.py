"""Read a grouped result back in, whatever shape it was saved in.

Stages after ``group`` (``pay``, ``audit``) read results that may be Parquet with canonical names, a CSV, or
the coder's workbook with Chinese headers and Chinese status texts (入组, 未入组 (0000) …).  This module is the
one place that turns any of those into canonical columns and canonical values, so every downstream stage
reads a result the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowutil import empty_rows
from .columns import field_sources


def _decoders() -> dict[str, dict[str, str]]:
    """Result field → {human text written by the workbook: canonical value}."""
    from .workbook import CASE_TYPE_ZH, CC_ZH, STATUS_ZH

    return {
        name: {zh: en for en, zh in words.items()}
        for name, words in (("status", STATUS_ZH), ("cc_level", CC_ZH), ("case_type", CASE_TYPE_ZH))
    }


def _decode(column: pa.ChunkedArray, words: dict[str, str]) -> pa.Array:
    """Canonical values through a small dictionary: one Python step per distinct value, not per row."""
    encoded = pc.dictionary_encode(column.combine_chunks().cast(pa.string()))
    values = [words.get(v.strip(), v.strip()) if v is not None else None for v in encoded.dictionary.to_pylist()]
    return pa.array(values, pa.string()).take(encoded.indices)


#: result fields drgkit writes as numbers (besides the vocabulary's money and int fields)
_RESULT_NUMBERS = (
    "standard_payment",
    "payment",
    "patient_payment",
    "fund_payment",
    "margin",
    "rw",
    "base_rate",
    "level_coefficient",
    "cost_ratio",
    "aux_coefficient",
    "score",
)


def _number_fields() -> set[str]:
    from .columns import fields

    return {f.name for f in fields().values() if f.type in ("money", "int")} | set(_RESULT_NUMBERS)


def _is_text(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_dictionary(type_)


def _numbers(column: pa.ChunkedArray, field: str) -> pa.Array:
    """A number field saved as text (a result re-saved by Excel or another system: ``12,345.60``,
    ``12345.60元``, ``8天``) read as the grouper reads its input (:mod:`drgkit.io.values`); null where a value
    is no number — never a silent 0 or a dropped column."""
    from . import values

    text = column.combine_chunks().cast(pa.string())
    plain = pc.fill_null(pc.match_substring_regex(text, values.PLAIN_NUMBER), False)
    cast = pc.cast(pc.if_else(plain, text, None), pa.float64())
    other = pc.and_(pc.is_valid(text), pc.invert(plain))
    if not pc.any(other).as_py():  # the usual column: plain numbers, cast as they stand
        return cast
    # the others (12,345.60元, 8天) once per distinct value, through the grouper's readers
    encoded = pc.dictionary_encode(pc.if_else(other, text, None))
    written = encoded.dictionary.to_pylist()
    read = values.amounts(values.strip_unit(field, [None if v is None else v.strip() or None for v in written]))

    def number(text: str | None) -> float | None:
        try:
            value = None if text is None else float(values.clean(text).replace("_", "?"))
        except ValueError:
            return None
        return value if value is not None and math.isfinite(value) else None

    return pc.coalesce(cast, pa.array([number(v) for v in read], pa.float64()).take(encoded.indices))


def as_arrow(data: Any) -> pa.Table:
    """A path (any format the reader takes), a pyarrow Table, a polars or a pandas DataFrame as a pyarrow Table."""
    if isinstance(data, (str, Path)):
        from .formats import read_file

        return read_file(data)
    if isinstance(data, pa.Table):
        return data
    if type(data).__module__.startswith("polars"):
        return data.to_arrow()
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a path, a pyarrow Table, a polars or pandas DataFrame, got {type(data).__name__}")


def canonical_results(table: pa.Table, names: Iterable[str], keep: Iterable[str] = ()) -> pa.Table:
    """The columns of ``names`` that ``table`` has — under their canonical name or any header of the field
    vocabulary (总费用, 状态 …) — renamed to the canonical names, with the workbook's Chinese status, CC level
    and case-type texts turned back into their codes."""
    return renamed_results(table, result_sources(table.column_names, names), keep)


def result_sources(headers: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """{field: header} for the fields of ``names`` a result with ``headers`` has, as :func:`canonical_results`
    finds them (a front sheet's hospital name, 医疗机构名称, stands in for a missing ``hospital``)."""
    names = list(names)
    found = field_sources(headers, [*names, "hospital_name"] if "hospital" in names else names)
    if "hospital_name" in found and "hospital_name" not in names:
        name_column = found.pop("hospital_name")
        if "hospital" not in found:  # a front-sheet export names its hospitals (医疗机构名称) without codes
            found["hospital"] = name_column
    return found


def results_in_place(table: pa.Table, names: Iterable[str]) -> pa.Table:
    """``table`` with every column kept in its place, the fields of ``names`` it has under a header of the
    vocabulary (医疗机构名称, 总费用, 状态 …) renamed to their canonical names and read as
    :func:`canonical_results` reads them; a field already present under its own name is left as it is."""
    found = {
        f: h for f, h in result_sources(table.column_names, names).items() if f not in table.column_names or f == h
    }
    read = renamed_results(table, found)
    names_of = {h: f for f, h in found.items()}
    columns = zip(table.column_names, table.columns)
    return pa.table({names_of.get(h, h): read.column(names_of[h]) if h in names_of else c for h, c in columns})


def renamed_results(table: pa.Table, found: dict[str, str], keep: Iterable[str] = ()) -> pa.Table:
    """The columns ``found`` names ({field: header}, from :func:`result_sources`) under the field names, the
    workbook's Chinese texts decoded; then the ``keep`` columns outside the vocabulary, as they are."""
    out = table.select(list(found.values())).rename_columns(list(found))
    for name, words in _decoders().items():
        if name in found and (
            pa.types.is_string(out.schema.field(name).type)
            or pa.types.is_large_string(out.schema.field(name).type)
            or pa.types.is_dictionary(out.schema.field(name).type)
        ):
            out = out.set_column(out.column_names.index(name), name, _decode(out.column(name), words))
    for name in out.column_names:
        if name in _number_fields() and _is_text(out.schema.field(name).type):
            out = out.set_column(out.column_names.index(name), name, _numbers(out.column(name), name))
    for name in keep:  # a column outside the vocabulary (a report's --by, a history's year), as it is
        if name not in out.column_names and name in table.column_names:
            out = out.append_column(name, table.column(name))
    return out


def totals_rows(table: pa.Table) -> pa.Array:
    """A boolean per row: whether its stay id, hospital or department labels a totals row
    (:func:`drgkit.io.values.is_total`, ``io/vocab/totals.csv``). Such a row is no stay: its cost is the sum of
    the others', so a stage that sums or counts stays leaves it out (``group`` marks it invalid, V06)."""
    from . import values

    mask = np.zeros(table.num_rows, dtype=bool)
    for header in dict.fromkeys(field_sources(table.column_names, values.TOTAL_LABEL_FIELDS).values()):
        labels = values.total_labels(table.column(header))  # None: no cell of it labels one (numbers, dates)
        if labels is not None:
            mask |= labels
    return pa.array(mask)


def blank_rows(table: pa.Table) -> pa.Array:
    """A boolean per row: whether every column outside the result fields (status, reason, DRG, payment … as
    ``group`` / ``pay`` write them, under any header of the vocabulary) is empty — an empty line of the export
    that ``group`` kept in its place (rows in = rows out) and marked invalid: no stay. All False when the
    table has no such column."""
    from .columns import fields

    result = [f.name for f in fields().values() if f.type == "result"]
    produced = set(field_sources(table.column_names, result).values())
    inputs = [h for h in table.column_names if h not in produced]
    return pa.array(empty_rows(table, inputs))


class LeftOut(NamedTuple):
    """Rows of a result that are no stays, left out of every sum and count: totals rows, blank rows."""

    totals: int = 0
    blank: int = 0

    def __bool__(self) -> bool:
        return bool(self.totals or self.blank)

    def lines(self, lang: str) -> list[str]:
        """What was left out, one line per kind, in ``lang``."""
        from ..lang import say

        return [
            say(f"{key}.left_out", lang, n=f"{n:,}") for key, n in (("totals", self.totals), ("blank", self.blank)) if n
        ]


def stay_rows(table: pa.Table) -> tuple[pa.Array, LeftOut]:
    """A boolean per row: whether it is a stay (neither a totals row nor a blank row), and what is not."""
    totals = totals_rows(table)
    blank = pc.and_(blank_rows(table), pc.invert(totals))
    keep = pc.invert(pc.or_(totals, blank))
    return keep, LeftOut(pc.sum(totals).as_py() or 0, pc.sum(blank).as_py() or 0)


def stays(table: pa.Table) -> tuple[pa.Table, LeftOut]:
    """``table`` without its totals and blank rows (:func:`stay_rows`), and how many of each it left out."""
    keep, left_out = stay_rows(table)
    return (table.filter(keep) if left_out else table), left_out
