"""The grouped workbook a coder keeps (``drgkit group … -o out.xlsx``): Chinese first.

* 病案 (cases): the input's own columns as they were, then the result columns under Chinese headers, status
  and reason in Chinese (the reason code stays in front: ``U05 主要诊断为灰码…: I21.000``);
* 汇总 (summary): rows, status counts and shares, 入组率 (grouping rate), the top reasons and the top groups;
* 问题病例 (problem cases): every case that did not group, with its reason and warnings, for the coder's list.

Parquet, CSV and ``--json`` keep the stable canonical names; only this human-facing file is translated.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from ..lang import price_reason_text, reason_text, words
from ..outputs import DRG_COLUMNS
from .columns import fields


def headers_zh() -> dict[str, str]:
    """Result column → its Chinese header: the ``zh`` of the vocabulary's result fields (io/vocab/fields.csv),
    which also lets the reader recognise a workbook fed back in."""
    return {f.name: f.zh for f in fields().values() if f.type == "result"}


# the words are the UI catalogue's (drgkit/ui_words.csv), so the terminal, the workbook and the reader of a
# workbook fed back in (io/results) say the same thing
STATUS_ZH = words("status", "zh")
CC_ZH = words("cc", "zh")
CASE_TYPE_ZH = words("case_type", "zh")
PATIENT_BASIS_ZH = words("patient_basis", "zh")


def _translate(column: pa.ChunkedArray | pa.Array, mapping) -> pa.Array:
    """Values through ``mapping`` (a dict, or a function of one text), one call per distinct value."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    get = mapping.get if isinstance(mapping, dict) else None
    words = pa.array(
        [None if v is None else (get(v, v) if get else mapping(v)) for v in encoded.dictionary.to_pylist()], pa.string()
    )
    return words.take(encoded.indices)


def _reason_zh(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``V05 no principal diagnosis: …`` → ``V05 缺少主要诊断: …`` (lang.reason_text on each distinct reason)."""
    return _translate(column, lambda v: reason_text(v, "zh"))


def chinese_sheet(result: pa.Table) -> pa.Table:
    """The cases sheet: result columns under Chinese headers with Chinese status / level / reason texts."""
    columns = {}
    for name, column in zip(result.column_names, result.columns):
        if name == "status":
            column = _translate(column, STATUS_ZH)
        elif name == "cc_level":
            column = _translate(column, CC_ZH)
        elif name == "case_type":
            column = _translate(column, CASE_TYPE_ZH)
        elif name == "patient_basis":
            column = _translate(column, PATIENT_BASIS_ZH)
        elif name == "reason":
            column = _reason_zh(column)
        elif name == "price_reason":
            column = _translate(column, lambda v: price_reason_text(v, "zh"))
        header = headers_zh().get(name, name)
        while header in columns:  # an input column may already be called 状态
            header += "(结果)"
        columns[header] = column
    return pa.table(columns)


def summary_sheets(result: pa.Table) -> dict[str, pa.Table]:
    """汇总 and 问题病例 from a grouped (CHS-DRG) result; empty for other results (DIP, validate)."""
    if not {"status", "drg"} <= set(result.column_names):
        return {}
    n = result.num_rows
    status = result.column("status")
    counts = {item["values"]: item["counts"] for item in pc.value_counts(status).to_pylist()}
    grouped = counts.get("ok", 0) + counts.get("ambiguous", 0)
    items = [("病例数 cases", f"{n:,}"), ("入组率 grouping rate", f"{100 * grouped / max(n, 1):.1f}%")]
    items += [
        (f"{STATUS_ZH[s]} {s}", f"{counts.get(s, 0):,} ({100 * counts.get(s, 0) / max(n, 1):.1f}%)")
        for s in ("ok", "ambiguous", "ungroupable", "invalid")
    ]
    summary = {"项目 item": [k for k, _ in items], "数值 value": [v for _, v in items]}
    sheets = {"汇总": pa.table(summary)}
    not_ok = result.filter(pc.not_equal(status, "ok"))
    if "reason" in result.column_names and not_ok.num_rows:
        shape = pc.replace_substring_regex(_reason_zh(not_ok.column("reason")), r"'[^']*'|: [A-Z]\d{2}\.\S*$", "…")
        top = sorted(pc.value_counts(shape).to_pylist(), key=lambda r: -r["counts"])[:15]
        sheets["汇总"] = pa.concat_tables(
            [
                sheets["汇总"],
                pa.table(
                    {
                        "项目 item": ["", "未入组原因 top reasons"] + [r["values"] or "" for r in top],
                        "数值 value": ["", "病例 cases"] + [f"{r['counts']:,}" for r in top],
                    }
                ),
            ]
        )
    ok = result.filter(pc.equal(status, "ok"))
    if ok.num_rows:
        keys = (
            pc.binary_join_element_wise(ok.column("drg"), pc.fill_null(ok.column("drg_name"), ""), "\t")
            if "drg_name" in ok.column_names
            else ok.column("drg")
        )
        top = sorted(pc.value_counts(keys).to_pylist(), key=lambda r: -r["counts"])[:30]
        sheets["汇总"] = pa.concat_tables(
            [
                sheets["汇总"],
                pa.table(
                    {
                        "项目 item": ["", "主要病组 top groups"] + [r["values"].replace("\t", " ") for r in top],
                        "数值 value": ["", "病例 cases"] + [f"{r['counts']:,}" for r in top],
                    }
                ),
            ]
        )
    if not_ok.num_rows:
        keep = [c for c in not_ok.column_names if c not in DRG_COLUMNS or c in ("status", "reason", "warnings")]
        problems = not_ok.select(keep)
        sheets["问题病例"] = chinese_sheet(problems)
    return sheets
