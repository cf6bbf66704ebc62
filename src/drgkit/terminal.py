"""Terminal tables that never cut a number, a code or an id.

Rich shrinks a table that is wider than the terminal by cutting cells with "…" — which turns ``3,750,000.00``
into ``3,750,…`` and three hospitals into the same ``苏州市第 …``.  :func:`fit_table` builds the table so that
cannot happen: number and id columns are never wrapped or cut (their width is their widest cell), text
columns wrap (fold) into what is left, and when even that does not fit, the least important columns are left
out and the caption says which (with where to see them: ``--json`` or a wider terminal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.table import Table

#: Narrowest a wrapping text column is allowed to become (a Chinese name folds to 3 characters a line).
TEXT_MIN = 6


@dataclass(frozen=True)
class Col:
    """One column: ``kind`` is ``number`` (right-aligned, never cut), ``id`` (never cut) or ``text`` (wraps);
    ``keep`` columns are never left out; the others go last-first when the terminal is too narrow."""

    name: str
    kind: str = "text"
    keep: bool = False


#: Where :func:`packed` may break a text (put between the pieces that must each stay whole).
BREAK = "\x00"


def packed(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` terminal columns only at its :data:`BREAK` marks, so a
    name or a count with a space in it (``费率 P95（元）``, ``未入组 (0000) 65``) never splits across lines; a
    piece wider than ``width`` gets a line of its own (rich wraps it)."""
    lines = [""]
    for piece in text.split(BREAK):
        if lines[-1].strip() and cell_len(lines[-1] + piece.rstrip()) > width:
            lines.append("")
        lines[-1] += piece if lines[-1] else piece.lstrip()
    return "\n".join(line.rstrip() for line in lines)


def _needed(col: Col, cells: list[str], fold_header: bool = False) -> int:
    widest = max([cell_len(col.name)] + [cell_len(c) for c in cells])
    if col.kind == "text":
        return min(widest, max(TEXT_MIN, max((cell_len(w) for w in col.name.split()), default=0)))
    if fold_header:  # a number or id is never cut, but its header may take two lines (基金实付 / （万元）)
        return max([_two_line_width(col.name)] + [cell_len(c) for c in cells])
    return widest


def _two_line_width(header: str) -> int:
    """The narrowest width at which rich wraps ``header`` onto at most two lines."""
    from rich.console import Console
    from rich.text import Text

    if cell_len(header) <= 8:  # 病例数 stays on one line
        return cell_len(header)
    console = Console(width=max(cell_len(header), 1))
    for w in range(-(-cell_len(header) // 2), cell_len(header)):
        if len(Text(header, overflow="fold").wrap(console, w)) <= 2:
            return w
    return cell_len(header)


def fit_table(
    title: str | None,
    columns: Sequence[Col],
    rows: Iterable[Sequence[object]],
    width: int,
    hint: str = "--json",
    lang: str = "zh",
) -> Table:
    """A table of ``rows`` (cells already formatted as text) that fits ``width`` terminal columns without
    cutting any number or id; left-out columns are named in the caption."""
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    shown = list(range(len(columns)))
    needed = [_needed(col, [r[i] for r in cells]) for i, col in enumerate(columns)]

    def total(idx: list[int]) -> int:  # cell padding (2) and a border (1) per column, one more border
        return sum(needed[i] + 3 for i in idx) + 1

    headers = [col.name for col in columns]
    if total(shown) > width:  # first fold the long headers of number and id columns, then leave columns out
        needed = [_needed(col, [r[i] for r in cells], fold_header=True) for i, col in enumerate(columns)]
        for i, col in enumerate(columns):  # 结余 / （万元）: a unit goes to the second line whole
            head, sep, unit = col.name.partition("（") if "（" in col.name else col.name.partition(" (")
            if col.kind != "text" and sep and cell_len(col.name) > 8:
                two = max(cell_len(head), cell_len(sep.strip() + unit))
                if two <= needed[i] + 2:
                    headers[i], needed[i] = f"{head}\n{sep.strip()}{unit}", max(needed[i], two)
    dropped: list[str] = []
    while total(shown) > width:
        droppable = [i for i in shown if not columns[i].keep]
        if not droppable:
            break
        gone = droppable[-1]
        shown.remove(gone)
        dropped.append(columns[gone].name)
    caption = None
    if dropped:
        from .lang import say

        names = (("、" if lang == "zh" else ", ") + BREAK).join(reversed(dropped)) + BREAK
        # broken between names at the table's width (rich centres each line), never inside a name
        caption = packed(say("table.not_shown", lang, width=width, names=names, hint=hint), min(total(shown), width))
    table = Table(title=title, caption=caption)
    for i in shown:
        col = columns[i]
        if col.kind == "text":
            table.add_column(headers[i], overflow="fold")
        else:
            # a fixed width (rich never narrows it) that every cell fits, so only the header can fold
            table.add_column(
                headers[i], overflow="fold", width=needed[i], justify="right" if col.kind == "number" else "left"
            )
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return table
