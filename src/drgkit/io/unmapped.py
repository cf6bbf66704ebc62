"""Never silent: find the columns that hold diagnosis or procedure codes but are not read as codes.

A file whose procedure columns are worded in a way the vocabulary does not know would otherwise be grouped
with no procedures at all — a caesarean becomes a vaginal delivery, and nothing says so.  A column is
suspect by its header (诊断/手术/操作 with 编码, ``dx*``, ``px*``, ``diag_code``…) or by its values (most
non-empty values shaped like ICD-10 医保版 / ICD-9-CM-3 codes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from drgkit.io.columns import HeaderPlan, classify_header, normalize_header

#: Values sampled per column (from the first batch) to judge its content.
SAMPLE_VALUES = 2000
#: Share of non-empty sampled values that must look like codes.
CODE_SHARE = 0.5

# ICD-10 医保版 / 国临版: a letter, two digits, a dot (A00.000, I21.000x005, A01.000+G01*, I10.x00).
_DX_SHAPE = r"^[A-Z]\d{2}\.[0-9X]{1,3}(X\d{3})?([+†*][A-Z]\d{2}(\.[0-9X]{1,3})?\*?)?$"
# ICD-9-CM-3 医保版: two digits, a dot, four more (36.0601, 00.0100, 42.9200x007) or 74.1x01 forms;
# money such as 45.00 has two decimals and is not taken for a code.
_PX_SHAPE = r"^\d{2}\.(\d{3}[0-9A-Z]\d?|\dX\d{2})(X\d{3})?$"
# header words that say the column is about codes but not the codes themselves (a surgeon's staff code,
# a diagnosis type, a date …)
_NOT_CODES = re.compile(
    r"名称|日期|时间|医师|医生|护士|者|人员|类型|类别|级别|等级|标志|标识|方式|病情|部位|序号|"
    r"顺序|数量|个数|费|说明|备注|name|date|time|flag|type|seq"
)
_DX_HEADER = re.compile(r"(诊断|疾病).*编码|^(dx|sdx|pdx|diag|icd-?10)")
_PX_HEADER = re.compile(r"(手术|操作).*编码|^(px|oprn|oper|icd-?9)")


@dataclass(frozen=True)
class UnreadColumn:
    """A column that looks like codes but is not read as codes."""

    header: str
    kind: str  # "dx" or "px"
    evidence: str  # "its header" or "its values ('I21.000', …)"

    def suggestion(self, plan: HeaderPlan) -> str:
        """The ``--map`` that reads it: onto the list of the other codes of its kind."""
        # onto the other codes when the principal / main one is read already, else as that one
        has_main = plan.principal_part(self.kind) or self.kind in plan.rename.values()
        role = f"{self.kind}_other" if has_main else f"{self.kind}_main"
        return f"--map '{self.header}={role}'"

    def message(self, plan: HeaderPlan) -> str:
        what = "diagnosis" if self.kind == "dx" else "procedure"
        return (
            f"column '{self.header}' looks like {what} codes (by {self.evidence}) but is not read as "
            f"codes; add {self.suggestion(plan)} to read it, or --allow-unmapped to ignore it"
        )


def _values_kind(column: pa.Array | pa.ChunkedArray) -> tuple[str, list[str]] | None:
    """("dx" | "px", examples) when most non-empty sampled values are shaped like that kind of code."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    column = column.slice(0, SAMPLE_VALUES * 4)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None  # numbers, dates, lists: not a code column of an export
    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.utf8_normalize(column.cast(pa.string()), "NFKC")))
    text = text.filter(pc.fill_null(pc.not_equal(text, ""), False)).slice(0, SAMPLE_VALUES)
    if len(text) == 0:
        return None
    # a cell may hold several codes: judge its first one
    first = pc.list_element(pc.split_pattern_regex(text, r"[|,;，；、\s]+"), 0)
    for kind, shape in (("dx", _DX_SHAPE), ("px", _PX_SHAPE)):
        hits = pc.fill_null(pc.match_substring_regex(first, shape), False)
        share = pc.sum(hits).as_py() / len(text)
        if share >= CODE_SHARE:
            return kind, first.filter(hits).slice(0, 2).to_pylist()
    return None


def _header_kind(header: str) -> str | None:
    key = normalize_header(header)
    if _NOT_CODES.search(key):
        return None
    if _DX_HEADER.search(key):
        return "dx"
    if _PX_HEADER.search(key):
        return "px"
    return None


def unread_code_columns(plan: HeaderPlan, sample: pa.Table) -> list[UnreadColumn]:
    """Columns of ``sample`` (a batch of the file, with its own headers) that hold codes by their header
    or values but that ``plan`` carries through unread."""
    found = []
    for header in plan.rename:
        if plan.is_read(header):
            continue  # read as a field, or as codes
        known = classify_header(header)
        if known is not None and known[0] not in ("dx", "px") and not known[0].endswith(("_main", "_all", "_other")):
            continue  # a field the vocabulary knows (names, dates, departments …)
        by_values = _values_kind(sample.column(header)) if header in sample.column_names else None
        if by_values is not None:
            kind, examples = by_values
            shown = ", ".join(f"'{e}'" for e in examples)
            found.append(UnreadColumn(header, kind, f"its values: {shown}"))
            continue
        by_header = _header_kind(header)
        if by_header is not None:
            found.append(UnreadColumn(header, by_header, "its header"))
    return found
