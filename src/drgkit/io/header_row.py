"""Which row of a sheet or text file is the header: exports put titles, notes and blank rows above it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: How many rows from the top are looked at for the header.
HEADER_SCAN_ROWS = 30


def choose_header_row(rows: Sequence[Sequence[str | None]], is_known_header: Callable[[str], bool] | None) -> int:
    """Index of the header among ``rows`` (the first rows of a file; blank rows as empty lists).

    The first row with at least two cells the field vocabulary knows; else the row with the most known
    cells; else the first non-blank row (a file with headers drgkit does not know still reads, and the
    mapping report says what was not recognised).
    """
    nonblank = [i for i, row in enumerate(rows) if any(str(c).strip() for c in row if c is not None)]
    if not nonblank:
        raise ValueError("no non-blank row")
    if is_known_header is None:
        return nonblank[0]
    best, best_count = nonblank[0], 0
    for i in nonblank:
        count = sum(1 for c in rows[i] if c is not None and str(c).strip() and is_known_header(str(c)))
        if count >= 2:
            return i
        if count > best_count:
            best, best_count = i, count
    return best
