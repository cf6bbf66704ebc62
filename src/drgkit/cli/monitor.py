"""``drgkit validate`` (edits on every abstract), ``drgkit whatif`` (coder what-if), ``drgkit audit`` (signals)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import (
    Age,
    AgeDays,
    AllowUnmapped,
    AsJson,
    Canonical,
    Dx,
    HeaderRowOption,
    Lang,
    LeavingType,
    Los,
    MapOption,
    Px,
    SchemeId,
    Sex,
    SheetOption,
    Weight,
    case_values,
)
from ..lang import resolve, say
from ..run_output import write_stream
from ..schemes import DEFAULT_SCHEME
from . import common
from .common import CliError, parse_map, report_mapping, sheet_arg

app = typer.Typer()


@app.command()
def validate(
    input: Path = typer.Argument(..., help="Abstracts: .parquet, .csv (UTF-8 or GBK/GB18030), .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Edits file: .parquet, .csv or .xlsx"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s", help="Scheme whose dictionary is checked"),
    map_: MapOption = [],
    edits: Optional[Path] = typer.Option(None, "--edits", help="Own edit table (id,severity,enabled,zh,en)"),
    disable: list[str] = typer.Option([], "--disable", help="Switch an edit off by id (repeatable)"),
    batch_size: int = typer.Option(1_000_000, "--batch-size", min=1, help="Rows per batch"),
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    allow_unmapped: AllowUnmapped = False,
    canonical: Canonical = False,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors"),
    lang: Lang = None,
) -> None:
    """Run the coding-quality edits on every abstract: one row per input row with the edits that fired."""
    common.refuse_overwriting_input(output, input)
    from ..io import open_cases
    from ..io.output import input_shaped
    from ..monitor.edits import load_edits, validate_canonical

    language = resolve(lang)
    try:
        table = load_edits(edits, disable=disable)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    counts: Counter = Counter()
    start = time.perf_counter()

    def results():
        import pyarrow.compute as pc

        source = open_cases(
            input,
            mapping=parse_map(map_),
            sheet=sheet_arg(sheet),
            header_row=header_row,
            allow_unmapped=allow_unmapped,
            batch_size=batch_size,
        )
        if not quiet:
            report_mapping(source, language)
        for batch in source.batches():
            out = validate_canonical(batch, scheme, table)
            out = out if canonical else input_shaped(out, source.plan)
            if not quiet:
                for item in pc.value_counts(pc.list_flatten(out.column("edits"))).to_pylist():
                    counts[item["values"]] += item["counts"]
                counts["__flagged__"] += pc.sum(pc.greater(pc.list_value_length(out.column("edits")), 0)).as_py() or 0
            yield out

    rows = write_stream(output, results(), f"{input}: no rows could be read")
    if quiet:
        return
    flagged = counts.pop("__flagged__", 0)
    seconds = time.perf_counter() - start
    common.out.print(
        say(
            "validate.done",
            language,
            rows=f"{rows:,}",
            seconds=f"{seconds:.2f}",
            k=f"{flagged:,}",
            share=f"{100 * flagged / max(rows, 1):.1f}%",
        ),
        soft_wrap=True,
        markup=False,
    )
    by_id = {e.id: e for e in table}
    for eid, k in sorted(counts.items(), key=lambda kv: -kv[1]):
        e = by_id[eid]
        severity = say(f"severity.{e.severity}", language)
        common.out.print(
            f"  {eid} {severity:<7} {k:>9,}  {e.zh if language == 'zh' else e.en}", soft_wrap=True, markup=False
        )


@app.command()
def whatif(
    dx: Dx,
    px: Px = "",
    age: Age = None,
    sex: Sex = None,
    age_days: AgeDays = None,
    weight: Weight = None,
    los: Los = None,
    leaving_type: LeavingType = None,
    scheme: SchemeId = DEFAULT_SCHEME,
    add_dx: list[str] = typer.Option(
        [], "--add-dx", help="Diagnosis to try adding (repeatable): each alone, then all added codes together"
    ),
    add_px: list[str] = typer.Option([], "--add-px", help="Procedure to try adding (repeatable)"),
    table: Optional[str] = typer.Option(None, "--table", help="Payment table for standard payments"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level for --table"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="Insurance type for --table"),
    as_json: AsJson = False,
) -> None:
    """What-if for coders: the groups this case could get — without each CC/MCC, without all of them, with
    each secondary diagnosis as principal, with the --add-dx / --add-px codes, and for a grey code (灰码)
    with each finer code (细目) — one line per resulting group, ranked by the change of payment (--table) or
    weight. Each holds only if the record documents it: a coding check, not advice to code more. Every
    answer is re-grouped through the engine."""
    from ..monitor.whatif import whatif as do_whatif

    read = case_values(age, age_days, weight, los, leaving_type)
    w = do_whatif(
        dx,
        px,
        age=read["age"],
        sex=sex,
        age_days=read["age_days"],
        birth_weight=read["birth_weight"],
        los=read["los"],
        leaving_type=read["leaving_type"],
        scheme=scheme,
        table=table,
        level=level,
        insurance=insurance,
        add_dx=add_dx,
        add_px=add_px,
    )
    if as_json:
        typer.echo(w.json())
    else:
        common.out.print(w.text(width=common.out.width), soft_wrap=True, markup=False)


@app.command()
def audit(
    input: Path = typer.Argument(..., help="Grouped (ideally priced) cases: .parquet, .csv or .xlsx"),
    output: Path = typer.Option(Path("audit"), "-o", "--output", help="Output folder"),
    readmit_days: int = typer.Option(15, "--readmit-days", min=1, help="Readmission window in days"),
    scheme: Optional[str] = typer.Option(None, "--scheme", "-s", help="Scheme for reference weights"),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write report.md and figures"),
    top: int = typer.Option(5, "--top", min=0, help="How many hospitals to list, highest risk first"),
    lang: Lang = None,
) -> None:
    """Supervision signals: per-case flags (split admissions, readmissions, low/high ratio ...) and per
    hospital / department / doctor signals as z-scores against peers, with a combined risk score."""
    from ..monitor.audit import audit as do_audit
    from ..report_words import terminal_table

    language = resolve(lang)
    if not input.is_file():
        raise CliError(f"{input}: no such file")
    start = time.perf_counter()
    try:
        result = do_audit(input, readmit_days=readmit_days, scheme=scheme)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    for note in result.notes:
        shown = note.text(language) if hasattr(note, "text") else note
        common.err.print(f"{say('audit.note', language)}{shown}", soft_wrap=True, markup=False)
    for line in result.left_out.lines(language):
        common.err.print(line, soft_wrap=True, markup=False)
    files = result.write(output, figures=figures)
    seconds = time.perf_counter() - start
    common.out.print(
        say(
            "audit.done",
            language,
            cases=f"{result.cases.height:,}",
            seconds=f"{seconds:.2f}",
            output=output,
            files=", ".join(p.name for p in files),
        ),
        soft_wrap=True,
        markup=False,
    )
    if top:
        names = [n for n in ("hospital", "level", "risk_score", "risk_signals") if n in result.hospitals.columns]
        common.out.print(
            terminal_table(
                say("audit.top", language, n=top),
                result.hospitals.head(top).to_dicts(),
                names,
                common.out.width,
                language,
                keep=("hospital", "risk_score"),
                hint=str(output),
            )
        )
