"""Rule atoms in plain Chinese, for people: ``main_px_in(px)`` ✓ → 主要手术在本组手术表内.

The phrases are data (``atom_words.csv``: a regular expression per atom shape, the phrase when it holds and when
it does not); ``drgkit explain`` prints them instead of the atoms, ``--json`` keeps the atoms.
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _phrases() -> tuple[tuple[re.Pattern[str], dict[str, tuple[str, str]]], ...]:
    with resources.files("drgkit.schemes").joinpath("atom_words.csv").open(encoding="utf-8", newline="") as f:
        return tuple((re.compile(r["pattern"]), {"zh": (r["yes"], r["no"]), "en": (r["yes_en"], r["no_en"])})
                     for r in csv.DictReader(f))


def phrase(atom: str, holds: bool, lang: str = "zh") -> str:
    """The atom as a phrase in ``lang`` (zh / en; the atom itself when no phrase is known)."""
    for pattern, words in _phrases():
        match = pattern.match(atom)
        if match:
            yes, no = words[lang]
            return (yes if holds else no).format(**match.groupdict())
    return f"{atom}{'' if holds else (' 不成立' if lang == 'zh' else ' does not hold')}"
