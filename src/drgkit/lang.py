"""The words drgkit says to people, in Chinese (the default) or English: one catalogue, ``ui_words.csv``.

Machine outputs (Parquet, ``--json``) keep canonical English names and codes; everything a person reads goes
through :func:`say` with the language the command or API call was given (``--lang zh|en``, ``lang=``; the
``DRGKIT_LANG`` environment variable sets the default).  Nothing here is global state: the language is an
argument every caller passes on.
"""
from __future__ import annotations

import csv
import os
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
    with resources.files("drgkit").joinpath("ui_words.csv").open(encoding="utf-8", newline="") as f:
        return {row["key"]: {"zh": row["zh"], "en": row["en"]} for row in csv.DictReader(f)}


def say(key: str, lang: str, **values: object) -> str:
    """The text of ``key`` in ``lang``, with ``values`` filled in."""
    return _catalogue()[key][lang].format(**values)


def words(prefix: str, lang: str) -> dict[str, str]:
    """{name: text} of every key ``prefix.name`` (``status`` → {"ok": "入组", …})."""
    return {key[len(prefix) + 1:]: texts[lang] for key, texts in _catalogue().items()
            if key.startswith(prefix + ".")}


def reason_text(text: str | None, lang: str) -> str | None:
    """A reason as ``group`` writes it (``V05 no principal diagnosis: …``) in ``lang``: the code and the detail
    after it stay as they are."""
    if text is None or lang == "en":
        return text
    from .schemes import program as P

    for code, en, zh in P.REASONS.values():
        if code and text.startswith(f"{code} {en}"):
            return f"{code} {zh}" + text[len(f"{code} {en}"):]
    return text
