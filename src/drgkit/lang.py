"""The words drgkit says to people, in Chinese (the default) or English: one catalogue, ``ui_words.csv``.

Machine outputs (Parquet, ``--json``) keep canonical English names and codes; everything a person reads goes
through :func:`say` with the language the command or API call was given (``--lang zh|en``, ``lang=``; the
``DRGKIT_LANG`` environment variable sets the default).  Nothing here is global state: the language is an
argument every caller passes on.
"""

from __future__ import annotations

import csv
import io
import os
import re
from functools import lru_cache
from importlib import resources

from .errors import DrgkitError

LANGS = ("zh", "en")


class LangError(DrgkitError, ValueError):
    """An unknown language."""


def resolve(lang: str | None) -> str:
    """``lang`` checked, else ``DRGKIT_LANG``, else ``zh``."""
    value = (lang or os.environ.get("DRGKIT_LANG") or "zh").strip().lower()
    if value not in LANGS:
        raise LangError(f"language must be one of {', '.join(LANGS)}, got {value!r}")
    return value


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, str]]:
    text = resources.files("drgkit").joinpath("ui_words.csv").read_text(encoding="utf-8")
    return {row["key"]: {"zh": row["zh"], "en": row["en"]} for row in csv.DictReader(io.StringIO(text))}


def say(key: str, lang: str, **values: object) -> str:
    """The text of ``key`` in ``lang``, with ``values`` filled in."""
    return _catalogue()[key][lang].format(**values)


def words(prefix: str, lang: str) -> dict[str, str]:
    """{name: text} of every key ``prefix.name`` (``status`` → {"ok": "入组", …})."""
    return {key[len(prefix) + 1 :]: texts[lang] for key, texts in _catalogue().items() if key.startswith(prefix + ".")}


def reason_text(text: str | None, lang: str) -> str | None:
    """A reason as ``group`` writes it (``V05 no principal diagnosis: …``) in ``lang``: the code and the detail
    after it stay as they are."""
    if text is None or lang == "en":
        return text
    from .schemes import program as P

    for code, en, zh in P.REASONS.values():
        if code and text.startswith(f"{code} {en}"):
            return f"{code} {zh}" + detail_text(text[len(f"{code} {en}") :], lang)
    return text


def detail_text(detail: str, lang: str) -> str:
    """The detail of a reason (``gender: 'X' is not a recognised sex``) with its value problems in ``lang``;
    field names and quoted values stay as written."""
    if lang == "en":
        return detail
    for key, texts in _catalogue().items():  # the value problems in the detail (V06)
        if key.startswith("value."):
            detail = detail.replace(f" {texts['en']}", f" {texts[lang]}")
    return detail


@lru_cache(maxsize=1)
def _price_patterns() -> list[tuple[re.Pattern[str], str]]:
    """(regex of the English wording, key) of every pricing reason: the English text is the canonical form
    stored in files, so the Chinese one is found by reading the English one back."""
    out = []
    for key, texts in _catalogue().items():
        if key.startswith("price."):
            parts = re.split(r"\{(\w+)\}", texts["en"])
            pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
            out.append((re.compile(pattern + "$"), key))
    return out


def price_reason_text(text: str | None, lang: str) -> str | None:
    """A ``price_reason`` as ``pay`` writes it (English, canonical) in ``lang``."""
    if text is None or lang == "en":
        return text
    named = {"how": words("pay_how", lang), "status": words("status", lang)}  # values that are words too
    for pattern, key in _price_patterns():
        m = pattern.match(text)
        if m:
            values = {k: named.get(k, {}).get(v, v) for k, v in m.groupdict().items()}
            return say(key, lang, **values)
    return text
