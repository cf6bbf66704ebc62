"""Parse the rule expressions of the scheme tables into disjunctive normal form.

The tables write every condition in a small vocabulary of atoms (``pdx_in(dx)``, ``main_px_or``,
``weight<1500``, ``px_tables(t1 or (t2 and t3))`` ...), joined by `` & `` (and), `` || `` (or), with one
parenthesised ``(A | B)`` form (CHS-DRG 2.0 MDCP). MDC entries may carry clauses after `` ; ``:
``else_qy(D): E`` and ``first_qy(D): F`` (歧义组 QY, ambiguous group, see ``grouper/README.md``).
An expression becomes a list of conjunctions, each a list of atom strings; the compiler turns atoms into
opcodes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ..errors import DrgkitError

DNF = list[list[str]]


class ExprError(DrgkitError, ValueError):
    """An expression the parser does not understand: compiling stops instead of guessing."""


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_dnf(text: str) -> DNF:
    """``"a & (b | c) || d"`` → ``[["a", "b"], ["a", "c"], ["d"]]``; empty text → ``[[]]`` (true)."""
    text = text.strip()
    if not text:
        return [[]]
    out: DNF = []
    for disjunct in _split_top(text, "||"):
        factors: list[list[list[str]]] = []
        for atom in _split_top(disjunct, "&"):
            if atom.startswith("(") and atom.endswith(")") and "|" in atom:
                inner = atom[1:-1]
                factors.append([c for part in _split_top(inner, "|") for c in parse_dnf(part)])
            else:
                if not atom:
                    raise ExprError(f"empty atom in '{text}'")
                factors.append([[atom]])
        for combo in itertools.product(*factors):
            out.append([a for conj in combo for a in conj])
    return out


@dataclass(frozen=True)
class MdcEntry:
    """An MDC entry rule with its optional QY clauses."""

    entry: DNF
    else_qy: tuple[str, DNF] | None = None
    first_qy: tuple[str, DNF] | None = None


_CLAUSE = re.compile(r"^(else_qy|first_qy)\((\w+)\):\s*(.*)$")


def parse_mdc_entry(text: str) -> MdcEntry:
    """Parse ``entry [; else_qy(D): E] [; first_qy(D): F]``."""
    parts = [p.strip() for p in text.split(" ; ")]
    clauses: dict[str, tuple[str, DNF]] = {}
    for part in parts[1:]:
        m = _CLAUSE.match(part)
        if not m:
            raise ExprError(f"unknown MDC clause '{part}'")
        clauses[m.group(1)] = (m.group(2), parse_dnf(m.group(3)))
    return MdcEntry(parse_dnf(parts[0]), clauses.get("else_qy"), clauses.get("first_qy"))


def parse_px_tables(text: str) -> list[int]:
    """``(t1 and t2) or (t1 and t3 and t4)`` → bit masks ``[0b0011, 0b1101]`` (DNF over tables t1..t4)."""
    tokens = re.findall(r"\(|\)|and|or|t\d", text)
    pos = 0

    def expr() -> list[int]:
        nonlocal pos
        result = term()
        while pos < len(tokens) and tokens[pos] == "or":
            pos += 1
            result = result + term()
        return result

    def term() -> list[int]:
        nonlocal pos
        result = factor()
        while pos < len(tokens) and tokens[pos] == "and":
            pos += 1
            rhs = factor()
            result = [a | b for a in result for b in rhs]
        return result

    def factor() -> list[int]:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            inner = expr()
            if tokens[pos] != ")":
                raise ExprError(f"unbalanced px_tables expression '{text}'")
            pos += 1
            return inner
        if tok.startswith("t"):
            return [1 << (int(tok[1:]) - 1)]
        raise ExprError(f"bad px_tables expression '{text}'")

    masks = expr()
    if pos != len(tokens):
        raise ExprError(f"trailing tokens in px_tables expression '{text}'")
    return masks
