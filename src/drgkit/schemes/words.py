"""Rule atoms in plain Chinese, for people: ``main_px_in(px)`` ✓ → 主要手术在本组手术表内.

The phrases are data (``atom_words.csv``: per atom of the registry :data:`drgkit.schemes.atoms.ATOMS`, by its
name, the phrase when it holds and when it does not, in Chinese and English; ``when`` narrows a row to one
operand value such as ``n=1``; ``{op}`` / ``{n}`` / ``{a}`` are the atom's operands as written). ``drgkit
explain`` prints them instead of the atoms, ``--json`` keeps the atoms.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from .atoms import parse_atom
from .expr import ExprError

Phrases = dict[str, list[tuple[dict[str, str], dict[str, tuple[str, str]]]]]


@lru_cache(maxsize=1)
def phrases() -> Phrases:
    """Atom name → its rows: (operand values the row is for, {lang: (yes, no)})."""
    out: Phrases = {}
    text = resources.files("drgkit.schemes").joinpath("atom_words.csv").read_bytes().decode("utf-8")
    with io.StringIO(text, newline="") as f:
        for r in csv.DictReader(f):
            when = dict(part.split("=", 1) for part in r["when"].split("&") if part)
            out.setdefault(r["atom"], []).append((when, {"zh": (r["yes"], r["no"]), "en": (r["yes_en"], r["no_en"])}))
    return out


def phrase(atom: str, holds: bool, lang: str = "zh") -> str:
    """The atom as a phrase in ``lang`` (zh / en; the atom itself when no phrase is known)."""
    try:
        parsed = parse_atom(atom)
    except ExprError:
        parsed = None
    if parsed is not None:
        for when, words in phrases().get(parsed.name, ()):
            if all(parsed.raw.get(k) == v for k, v in when.items()):
                yes, no = words[lang]
                return (yes if holds else no).format(**parsed.raw)
    return f"{atom}{'' if holds else (' 不成立' if lang == 'zh' else ' does not hold')}"
