"""Group a canonical table: prepare → repair codes → encode → kernel → result columns.

The one function every entry point runs per batch — :func:`drgkit.group`, ``drgkit group``, the streams of
:mod:`drgkit.stream` and Spark — so they cannot differ; :mod:`drgkit.api` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa

from .arrowutil import join_notes
from .codes.repair import repair_lists
from .grouping.batch import attach, encode, group_encoded, outcome_columns
from .io import prepare
from .io.output import typed_fields
from .io.prepare import PreparedCases
from .schemes.program import CompiledScheme


@dataclass(frozen=True)
class Options:
    """How input is read before grouping.

    ``strict_gender``: accept only 1/2 (as the reference groupers), not 男/女 or M/F.
    ``convert_codes``: translate 国临版 (clinical edition) codes the scheme does not know to 医保版.
    ``fix_case``: upper-case unknown codes whose canonical spelling the scheme knows (``i21.000``).
    """

    strict_gender: bool = False
    convert_codes: bool = False
    fix_case: bool = False


def repair_codes(prep: PreparedCases, scheme: CompiledScheme, options: Options) -> PreparedCases:
    """``prep`` with its dx/px codes repaired as ``options`` ask (``convert_codes``, ``fix_case``) and a note per
    repaired row; ``prep`` itself when neither is asked."""
    if not (options.convert_codes or options.fix_case):
        return prep
    dx, dx_notes = repair_lists(prep.dx, scheme, "dx", convert=options.convert_codes, fix_case=options.fix_case)
    px, px_notes = repair_lists(prep.px, scheme, "px", convert=options.convert_codes, fix_case=options.fix_case)
    notes = prep.code_notes
    if notes is not None and not pa.types.is_string(notes.type):
        import pyarrow.compute as pc

        notes = pc.binary_join(notes, "; ")
    for extra in (dx_notes, px_notes):
        if extra is not None:
            notes = join_notes(notes, extra) if notes is not None else extra
    return replace(prep, dx=dx, px=px, code_notes=notes, dx_distinct=None, px_distinct=None)  # ids follow the repair


def group_canonical(
    table: pa.Table,
    scheme: CompiledScheme,
    options: Options = Options(),
    threads: int | None = None,
    explain: str | None = None,
) -> pa.Table:
    """Group a canonical table (see :mod:`drgkit.io`): its columns plus the result columns.  ``explain``
    (``problems`` or ``all``) adds an ``explanation`` column: why each row got its group, in one sentence."""
    prep = repair_codes(prepare(table, strict_gender=options.strict_gender), scheme, options)
    enc = encode(prep, scheme)
    out = group_encoded(enc, scheme, threads)
    typed, notes = typed_fields(table, prep)
    columns = outcome_columns(prep, enc, out, scheme)
    if explain:
        from .grouping.batch import final_status
        from .grouping.sentences import sentences

        status, reason, _ = final_status(prep, enc, out, scheme)
        columns["explanation"] = sentences(enc, out, scheme, explain, status, reason, prep.problems)
    if notes is not None:
        columns["warnings"] = join_notes(columns["warnings"], notes)
    return attach(typed, columns)
