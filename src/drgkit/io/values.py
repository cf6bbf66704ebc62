"""Field values as exports write them: ``82岁``, ``3月``, ``医嘱离院``, ``三级甲等``, ``职工基本医疗保险``, ``12天``.

Each function takes the *distinct* values of a column (a few hundred at most: ages, days, codes) and
returns what each one means; callers spread the answers over the rows with numpy, so nothing here runs
per row.  The word lists are data (``io/vocab/*.csv``).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Any

_SPACE = re.compile(r"\s+")


def clean(value: str) -> str:
    """Comparison form of a value: NFKC (full-width → ASCII), whitespace removed, case folded."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", value)).casefold()


@cache
def vocabulary(name: str) -> dict[str, str]:
    """``io/vocab/<name>.csv`` as {cleaned value: meaning}."""
    text = resources.files("drgkit.io").joinpath("vocab", f"{name}.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    return {clean(value): meaning for value, meaning in rows[1:]}


# a code written before its text: "1.医嘱离院", "1-医嘱离院", "1 医嘱离院", "(1)医嘱离院"
_CODE_THEN_TEXT = re.compile(r"^\(?(\d{1,3})\)?[.\-、:：)]?(\D.*)$")
_NUMBER = r"\d+(?:\.\d+)?"
# a leading sign is read too, so that "-3天" is reported as negative rather than as not a number
_SIGNED = r"[+-]?\d+(?:\.\d+)?"


def lookup(name: str, value: str | None) -> str | None:
    """The meaning of ``value`` in vocabulary ``name`` (``None`` when it has none).  A value such as
    ``1.医嘱离院`` is read by its text when both agree, else refused (the code and the text contradict)."""
    if value is None:
        return None
    words = vocabulary(name)
    key = clean(value)
    if key in words:
        return words[key]
    if key.endswith(".0") and key[:-2] in words:  # a code stored as a float by a spreadsheet
        return words[key[:-2]]
    if key.isdigit() and key.lstrip("0") in words:  # a code written with leading zeros: 01
        return words[key.lstrip("0")]
    match = _CODE_THEN_TEXT.match(key)
    if match:
        by_code, by_text = words.get(match.group(1)), words.get(match.group(2))
        if by_code is not None and by_code == by_text:
            return by_code
    return None


def is_total(value: str | None) -> bool:
    """Whether a cell labels a totals row (合计, 总计, 小计 …: ``io/vocab/totals.csv``), as spreadsheets put
    at the bottom of an export (``合 计``, ``合计：`` too)."""
    return value is not None and clean(value).rstrip(":") in vocabulary("totals")


#: A pattern every totals label matches however it is written (spaced, upper-case, full-width letters): a
#: column is looked up value by value (:func:`is_total`) only where it matches, since stay ids are all
#: distinct and looking up each would cost more than grouping them. tests/test_values.py checks every entry
#: of ``totals.csv`` against it.
TOTAL_HINT = r"计|汇\s*总|(?i:t\s*o\s*t\s*a\s*l|s\s*u\s*m)|[ｔＴｓＳ]"
#: Characters of which every totals label holds one (checked by the same test): a column whose bytes hold none
#: of them, in either case or width, has no totals label, and one scan of its bytes says so.
TOTAL_MARKS = "计汇tu"


@cache
def _total_mark_lead_bytes() -> Any:
    """A 256-entry mask of the bytes that start a mark's UTF-8 form in either case or width (ｔ Ｔ ｕ Ｕ too)."""
    import numpy as np

    forms = {form for mark in TOTAL_MARKS for form in (mark, mark.upper())}
    forms |= {chr(ord(form) + 0xFEE0) for form in forms if "!" <= form <= "~"}
    mask = np.zeros(256, dtype=bool)
    mask[[form.encode()[0] for form in forms]] = True
    return mask


def may_hold_total(text_bytes: Any) -> bool:
    """False when the UTF-8 bytes of a column's cells (any buffer) hold no byte that starts a
    :data:`TOTAL_MARKS` character: no cell of it is a totals label. One pass over the bytes; True only means
    "look closer" (:data:`TOTAL_HINT`, then :func:`is_total`)."""
    import numpy as np

    return bool(_total_mark_lead_bytes()[np.frombuffer(text_bytes, dtype=np.uint8)].any())


#: The fields whose cell labels an export's totals row (合计 as stay id, hospital or department): read by the
#: grouper (io/prepare) and by every stage that sums stays (io/results.totals_rows).
TOTAL_LABEL_FIELDS = ("case_id", "hospital", "hospital_name", "dept")


def total_labels(column: Any) -> Any:
    """Which cells of a column label a totals row (:func:`is_total`), as a numpy bool array, or ``None`` when
    none does — the usual column, settled by one scan of its bytes (:func:`may_hold_total`) or one pattern
    pass (:data:`TOTAL_HINT`); only the distinct cells the pattern matches are looked up one by one. A column
    that is not text (numbers, dates) labels nothing."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    data = column.buffers()[2]
    if data is None or not may_hold_total(data):
        return None
    hint = pc.fill_null(pc.match_substring_regex(column, TOTAL_HINT), False).to_numpy(zero_copy_only=False)
    if not hint.any():
        return None
    at = np.flatnonzero(hint)
    encoded = pc.dictionary_encode(column.take(pa.array(at)))
    found = np.array([is_total(value) for value in encoded.dictionary.to_pylist()], dtype=bool)
    mask = np.zeros(len(column), dtype=bool)
    mask[at] = found[encoded.indices.to_numpy(zero_copy_only=False)]
    return mask if mask.any() else None


def codes(name: str, values: list[str | None]) -> list[str | None]:
    """:func:`lookup` of every value."""
    return [lookup(name, v) for v in values]


_AGE = re.compile(
    rf"^(?P<sign>[+-])?(?:(?P<y>{_NUMBER})(?:岁|周岁|y|yr|yrs|years?))?(?:(?P<m>{_NUMBER})(?:个月|月|m|mo|months?))?"
    rf"(?:(?P<d>{_NUMBER})(?:天|日|d|days?))?$"
)


def ages(values: list[str | None]) -> list[tuple[str | None, int | None]]:
    """Each age as (years as text for the number parser, derived age in days or ``None``).

    ``82``, ``82岁``, ``82.0``, ``８２`` → ("82", None); ``3月`` → ("0", 90); ``15天`` → ("0", 15); ``1岁2月``
    → ("1", None); ``2月15天`` → ("0", 75).  Age in days is derived only when the years are 0 (the 病案首页
    (front sheet) age-in-days field is for infants under one year), as months × 30 + days: drgkit's own
    convention, as a month-form age has lost its exact days; the newborn window (28 days) is decided the same
    either way, since any whole month is past it.  ``-3岁`` → ("-3", None), reported as negative.
    A value that is not an age comes back unchanged, for the number parser to report.
    """
    out: list[tuple[str | None, int | None]] = []
    for value in values:
        if value is None:
            out.append((None, None))
            continue
        key = clean(value)
        match = _AGE.match(key) if key else None
        if not match or not any(match.group(g) for g in "ymd") or re.fullmatch(_SIGNED, key):
            out.append((value, None))  # the number parser reads it, or reports it as written
            continue
        if match.group("sign") == "-":  # "-3岁", "-2月": the number parser reports it as negative
            out.append(("-" + next(match.group(g) for g in "ymd" if match.group(g)), None))
            continue
        years = float(match.group("y") or 0)
        months = float(match.group("m") or 0)
        days = float(match.group("d") or 0)
        whole = int(years) if years == int(years) else years
        if years == 0 and (match.group("m") or match.group("d")):  # 3月, 15天, and 0天 (born that day)
            out.append(("0", round(months * 30 + days)))
        else:
            out.append((str(whole), None))
    return out


_UNITS = {
    "los": r"天|日|d|days?",
    "age_days": r"天|日|d|days?",
    "birth_weight": r"克|g|grams?",
    "admission_weight": r"克|g|grams?",
    "icu_hours": r"小时|时|h|hours?",
    "ventilator_hours": r"小时|时|h|hours?",
}
#: Larger units a field is also written in, and how many of its own unit each is: a birth weight of
#: ``3.2kg`` / ``3.2千克`` / ``3.2公斤`` is 3200 g (read exactly, as decimal text: ``1.25kg`` → 1250).
_SCALED_UNITS = {
    "birth_weight": (r"千克|公斤|kg|kilograms?", 1000),
    "admission_weight": (r"千克|公斤|kg|kilograms?", 1000),
}
# digits with correct thousands commas (3,200; 1,23 is not read: a decimal comma or a slip)
_GROUPED = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"


def _scaled(number: str, factor: int) -> str:
    """``number × factor`` as exact decimal text (``1.25`` × 1000 → ``1250``; ``1.2345`` → ``1234.5``)."""
    from decimal import Decimal

    value = Decimal(number) * factor
    return format(value.normalize() if value != value.to_integral() else value.to_integral(), "f")


def strip_unit(field: str, values: list[str | None]) -> list[str | None]:
    """Numbers written with their unit (``12天``, ``3200克``, ``48小时``) or in a larger one (``3.2kg`` →
    3200 g), or with thousands commas (``3,200``), as plain numbers; others unchanged."""
    unit = _UNITS.get(field)
    if unit is None:
        return values
    pattern = re.compile(rf"^({_SIGNED}|{_GROUPED})(?:{unit})?$")
    scaled_unit, factor = _SCALED_UNITS.get(field, (None, 1))
    scaled = re.compile(rf"^({_SIGNED}|{_GROUPED})(?:{scaled_unit})$") if scaled_unit else None
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        key = clean(value)
        match = pattern.match(key)
        if match:
            out.append(match.group(1).replace(",", ""))
            continue
        match = scaled.match(key) if scaled is not None else None
        out.append(_scaled(match.group(1).replace(",", ""), factor) if match else value)
    return out


#: An amount as exports write it: an optional ¥ (NFKC turns ￥ into ¥), digits with or without correct
#: thousands commas (``12,345.60``; ``1,23`` is refused: a decimal comma or a typing slip, not 123), an
#: optional 元 (yuan); spaces only next to the ¥ / 元.  Group 1 is the number.  RE2 syntax: prepare()
#: applies it to whole columns with pyarrow, as amounts are nearly all distinct.
#: A number written plainly in ASCII (what nearly every cell of an export's amount or count holds): Arrow casts
#: it as it stands, so only the other cells need the patterns below.
PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)$"
MONEY = r"^¥?\s*([+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?)\s*元?$"
_MONEY = re.compile(MONEY)
#: MONEY with its number group named ``n``, for ``pyarrow.compute.extract_regex``.
MONEY_NAMED = MONEY.replace("(", "(?P<n>", 1)


def amounts(values: list[str | None]) -> list[str | None]:
    """Amounts as written (``12,345.60``, ``12345.60元``, ``￥12345.6``, full-width digits) as plain numbers;
    others unchanged (for the number parser to report)."""
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        match = _MONEY.match(unicodedata.normalize("NFKC", value).strip())
        out.append(match.group(1).replace(",", "") if match else value)
    return out


#: Ranges outside which a value is read but warned about (a typing slip far more often than a real case):
#: (lowest, highest, unit).  Age in days only matters under one year; birth weights from 300 g to 7 kg.
#: Integer fields mark a missing value with -1 (a negative one is already unreadable); the cost with NaN.
PLAUSIBLE = {
    "age": (0, 120, "years"),
    "age_days": (0, 365, "days"),
    "birth_weight": (300, 7000, "g"),
    "los": (0, 3 * 365, "days"),
    "icu_hours": (0, 24 * 3 * 365, "hours"),
    # a negative 总费用 is a reversal (红冲) row of a settlement export or a slip; ten million yuan a stay is
    # past any real one
    "total_cost": (0, 10_000_000, "yuan"),
}
