"""JSON cases → one Arrow table with the sender's own field names, read by drgkit's field vocabulary.

A case arrives in one of the shapes hospital systems send:

* flat, with canonical names (``gender``, ``age``, ``dx``, ``px`` …), Chinese labels (性别, 主要诊断编码,
  其他诊断编码1 …) or national interface codes (``gend``, ``dscg_way``, ``diag_code1`` …) — exactly the
  headers ``drgkit group`` reads, through the same vocabulary (:mod:`drgkit.io.columns`);
* the national settlement-list structure (医保结算清单, interface 4101 / 4101A): ``setlinfo`` (the stay) +
  ``diseinfo[]`` (``diag_code``, ``maindiag_flag``) + ``oprninfo[]`` (``oprn_oprt_code``, ``main_oprn_flag``),
  optionally wrapped in ``{"infno": "4101", "input": {…}}``.  The long tables become one code list per stay
  exactly as ``drgkit group --diagnoses/--procedures`` builds them: the flagged principal diagnosis / main
  procedure first, then the others in the order sent; a stay whose codes carry a flag column but none is
  flagged keeps a blank principal slot (reported as missing, never filled with another code); without a flag
  the first code listed is the principal one.  Traditional-Chinese-medicine diagnoses (``diag_type`` 2 中医主病,
  3 中医主证) are not grouped and are said so in the case's warnings.

Nothing here parses a value: text and numbers go to the grouper as text (it reads ``82岁``, ``男``, ``医嘱离院``
as ``drgkit group`` does).  A value no reader could take (an object, ``true``, a list outside a code field)
makes that case invalid, with the field named; the other cases of the call are grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pyarrow as pa

from ..io.columns import LONG_CODE_ALIASES, LONG_FLAG_ALIASES, classify_header, fields, find_header
from ..io.long_tables import TRUE_FLAGS
from .errors import ServeError

#: Settlement-list diagnosis types that are not grouped (诊断类别: 1 西医诊断, 2 中医主病, 3 中医主证).
TCM_DIAG_TYPES = frozenset({"2", "3"})
_TRUE = frozenset(TRUE_FLAGS)
_CODE_TYPES = frozenset({"code_list", "code_part"})


@dataclass
class CaseProblem:
    """Why one case of a call could not be read (its row is answered ``invalid`` with this reason)."""

    field: str | None
    message: str
    code: str = "invalid_case"

    def as_error(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


@dataclass
class ParsedCases:
    """The cases of one call: rows (field → value) in order, the problems of unreadable ones, and notes."""

    rows: list[dict[str, Any] | None] = field(default_factory=list)  # None where problems[i] says why
    problems: dict[int, CaseProblem] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)  # per-case warnings added by this reader

    def __len__(self) -> int:
        return len(self.rows)


@lru_cache(maxsize=4096)
def _is_code_field(name: str) -> bool:
    known = classify_header(name)
    if known is None:
        return False
    info = fields().get(known[0])
    return known[0] in ("dx", "px") or (info is not None and info.type in _CODE_TYPES)


def _scalar(name: str, value: Any) -> str | None:
    """A scalar value as the text a file would hold, or :class:`ValueError` saying why it cannot be one."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a value; send text or a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value} is not a value; send a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    kind = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__
    raise ValueError(f"{kind} is not a value; send text or a number")


def _codes(name: str, value: list) -> list[str | None]:
    out = []
    for item in value:
        if item is not None and not isinstance(item, str):
            raise ValueError(f"codes must be text such as 'I21.000x005', got {item!r}")
        out.append(item)
    return out


def _flat_row(case: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in case.items():
        kind = type(value)
        if kind is str or value is None:  # the usual values first, without the checks below
            row[name] = value
            continue
        if kind is int:
            row[name] = str(value)
            continue
        if isinstance(value, list) and _is_code_field(name):
            try:
                row[name] = _codes(name, value)
            except ValueError as exc:
                raise _Problem(name, str(exc)) from None
            continue
        try:
            row[name] = _scalar(name, value)
        except ValueError as exc:
            raise _Problem(name, str(exc)) from None
    return row


class _Problem(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _long_codes(items: Any, kind: str, notes: list[str]) -> list[str]:
    """One stay's codes from its ``diseinfo`` / ``oprninfo`` entries, principal / main first (see module doc)."""
    where = "diseinfo" if kind == "dx" else "oprninfo"
    if items is None:
        return []
    if not isinstance(items, list):
        raise _Problem(where, f"{where} must be a list of objects")
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            raise _Problem(f"{where}[{k}]", f"{where}[{k}] must be an object")
    names = list(dict.fromkeys(str(n) for item in items for n in item))
    code_key = find_header(names, LONG_CODE_ALIASES[kind])
    flag_key = find_header(names, LONG_FLAG_ALIASES[kind])
    if items and code_key is None:
        raise _Problem(
            where, f"{where} entries have no code field (expected one of {', '.join(LONG_CODE_ALIASES[kind])})"
        )
    entries = []
    skipped = []
    for k, item in enumerate(items):
        code = item.get(code_key)
        if code is not None and not isinstance(code, str):
            raise _Problem(f"{where}[{k}].{code_key}", f"codes must be text such as 'I21.000x005', got {code!r}")
        code = _text(code)
        if not code:
            continue
        if kind == "dx" and _text(item.get("diag_type")) in TCM_DIAG_TYPES:
            skipped.append(code)
            continue
        flag = _text(item.get(flag_key)).lower() if flag_key else ""
        entries.append((code, flag in _TRUE))
    if skipped:
        notes.append(
            f"diseinfo: traditional Chinese medicine diagnoses (diag_type 2/3) not grouped: {', '.join(skipped)}"
        )
    if not entries:
        return []
    if flag_key is None:
        return [code for code, _ in entries]  # the first listed is the principal / main one
    main = next((k for k, (_, flagged) in enumerate(entries) if flagged), None)
    first = "principal diagnosis" if kind == "dx" else "main procedure"
    if main is None:
        notes.append(f"{where}: no code flagged as the {first} ({flag_key}): left blank")
        return [""] + [code for code, _ in entries]
    if sum(flagged for _, flagged in entries) > 1:
        notes.append(f"{where}: several codes flagged as the {first}: the first listed is used")
    return [entries[main][0]] + [code for k, (code, _) in enumerate(entries) if k != main]


def _settlement_row(case: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    setl = case.get("setlinfo")
    if setl is None:
        setl = {}
    if not isinstance(setl, dict):
        raise _Problem("setlinfo", "setlinfo must be an object")
    notes: list[str] = []
    row = _flat_row(setl)
    dx = _long_codes(case.get("diseinfo"), "dx", notes)
    px = _long_codes(case.get("oprninfo"), "px", notes)
    for name in list(row):
        if _is_code_field(name):  # diseinfo / oprninfo are the codes of the stay; a copy in setlinfo is not read
            notes.append(f"setlinfo.{name}: not read (diseinfo / oprninfo hold the codes)")
            del row[name]
    row["dx"] = dx
    row["px"] = px
    return row, notes


def unwrap(case: Any) -> Any:
    """The stay of a national-interface message (``{"infno": "4101", "input": {...}}``), else ``case``."""
    if (
        isinstance(case, dict)
        and isinstance(case.get("input"), dict)
        and ("setlinfo" in case["input"] or "diseinfo" in case["input"])
    ):
        return case["input"]
    return case


def is_settlement(case: Any) -> bool:
    return isinstance(case, dict) and ("setlinfo" in case or "diseinfo" in case or "oprninfo" in case)


def parse_cases(cases: list[Any]) -> ParsedCases:
    """Every case of a call as a row (or a problem); see the module docstring for the shapes read."""
    parsed = ParsedCases()
    for i, case in enumerate(cases):
        case = unwrap(case)
        try:
            if not isinstance(case, dict):
                raise _Problem(None, f"a case is a JSON object, not {_json_kind(case)}")
            if is_settlement(case):
                row, notes = _settlement_row(case)
                if notes:
                    parsed.notes[i] = notes
            else:
                row = _flat_row(case)
            parsed.rows.append(row)
        except _Problem as p:
            parsed.rows.append(None)
            parsed.problems[i] = CaseProblem(p.field, p.message)
    return parsed


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return "a number"


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as one table, columns in order of first appearance; a column whose values are all lists (or
    missing) is a list column, a column mixing lists and text gets its lists joined with ``|`` (the separator
    the reader splits on), every other column is text."""
    names: dict[str, None] = {}
    for row in rows:
        for name in row:
            names.setdefault(name, None)
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        lists = [isinstance(v, list) for v in values]
        if any(lists) and all(is_list or v is None for v, is_list in zip(values, lists)):
            columns[name] = pa.array(values, pa.list_(pa.string()))
        elif any(lists):
            columns[name] = pa.array(
                ["|".join(c or "" for c in v) if isinstance(v, list) else v for v in values], pa.string()
            )
        else:
            columns[name] = pa.array(values, pa.string())
    if not columns:
        return pa.table({"dx": pa.array([[]] * len(rows), pa.list_(pa.string()))})
    return pa.table(columns)


def request_cases(body: Any, max_cases: int) -> tuple[list[Any], dict[str, Any], bool]:
    """(cases, settings of the call, whether one case was sent alone) from a ``/v1/group`` or ``/v1/validate``
    body: one case, an array of cases, or ``{"cases": [...], "scheme": …, "price": {…}, …}``."""
    if isinstance(body, list):
        cases, envelope, single = body, {}, False
    elif isinstance(body, dict) and "cases" in body:
        cases, envelope, single = body["cases"], {k: v for k, v in body.items() if k != "cases"}, False
        if not isinstance(cases, list):
            raise ServeError(422, "invalid_field", "cases", "cases must be an array of case objects")
    elif isinstance(body, dict):
        cases, envelope, single = [body], {}, True
    else:
        raise ServeError(
            422, "invalid_body", None, 'the body must be a case object, an array of cases, or {"cases": [...]}'
        )
    if len(cases) > max_cases:
        raise ServeError(
            413,
            "too_many_cases",
            "cases",
            f"{len(cases):,} cases in one call; this server takes at "
            f"most {max_cases:,} (split the call, or use /v1/batch)",
        )
    return cases, envelope, single
