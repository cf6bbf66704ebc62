"""``drgkit dip``: build a DIP catalogue from history, group cases into it, settle, explain one case."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

import typer

from ..cli_options import AllowUnmapped, Canonical, HeaderRowOption, Lang, MapOption, SheetOption
from . import common
from .common import CliError, parse_map, report_mapping, sheet_arg

app = typer.Typer(no_args_is_help=True, help="DIP (按病种分值付费): catalogue, grouping, settlement.")


@app.command("metrics")
def metrics_cmd(
    grouped: Path = typer.Argument(..., help="Output of `drgkit dip group` (.parquet, .csv, .xlsx)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the indicators (.csv/.parquet)"),
    by: str = typer.Option("hospital", "--by", help="hospital or dept"),
    lang: Lang = None,
) -> None:
    """Indicators per hospital/department: 入组率, core-group share, CMI, time and cost consumption indices."""
    import polars as pl

    from ..dip.metrics import metrics
    from ..io import write_table
    from ..io.read import read_file
    from ..lang import resolve
    from ..report_words import label, terminal_table

    language = resolve(lang)
    table = metrics(pl.from_arrow(read_file(grouped)), by=by)
    if output:
        write_table(table.to_arrow(), output)
    common.out.print(
        terminal_table(
            f"DIP 指标（按{label(by, with_unit=False, lang=language)}）"
            if language == "zh"
            else f"DIP indicators by {label(by, with_unit=False, lang=language)}",
            table.to_dicts(),
            table.columns,
            common.out.width,
            language,
            keep=(by, "cmi"),
            hint=str(output) if output else "-o FILE",
        )
    )


@app.command("build")
def build_cmd(
    history: Path = typer.Argument(..., help="Discharge history (.parquet, .csv, .xlsx)"),
    output: Path = typer.Option(..., "-o", "--output", help="Catalogue folder to write"),
    threshold: Optional[int] = typer.Option(None, "--threshold", help="Case-count threshold (default 15)"),
    coverage: Optional[float] = typer.Option(None, "--coverage", help="Choose the threshold to cover this share"),
    years: Optional[str] = typer.Option(None, "--years", help="Year weights, e.g. 2022:1,2023:2,2024:7"),
    trim: Optional[str] = typer.Option(None, "--trim", help="Trim percentiles LOW,HIGH (2.5,97.5) or none"),
    scale: int = typer.Option(1000, "--scale", help="Score scale (1, 100, 1000)"),
    benchmark: Optional[str] = typer.Option(None, "--benchmark", help="Score against this benchmark group"),
    exclude_px: list[str] = typer.Option([], "--exclude-px", help="Procedure prefix not used for grouping"),
    catalogue_id: Optional[str] = typer.Option(None, "--id", help="Catalogue id (default: folder name)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Build a DIP catalogue (核心病种 / 综合病种 / 基层病种, scores, coefficients) from history."""
    from ..dip import build

    if threshold is not None and coverage is not None:
        raise CliError("give --threshold or --coverage, not both")
    t0 = time.perf_counter()
    extra: dict[str, Any] = {"scale": scale}
    if benchmark:
        extra.update(score_method="benchmark", benchmark_group=benchmark)
    cat = build(
        history,
        threshold=threshold,
        coverage=coverage,
        years=years,
        trim=trim,
        exclude_px=tuple(exclude_px),
        id=catalogue_id or output.name,
        **extra,
    )
    cat.write(output)
    if not quiet:
        kinds = dict(cat.groups["kind"].value_counts().iter_rows())
        common.out.print(
            f"built {output} from {cat.info['history_cases_used']:,} cases in {time.perf_counter() - t0:.2f} s: "
            f"{kinds.get('core', 0) + kinds.get('primary_care', 0):,} core groups "
            f"({kinds.get('primary_care', 0):,} primary care), {kinds.get('comprehensive', 0):,} comprehensive; "
            f"threshold {cat.info['threshold_used']}, core share {100 * cat.info['core_case_share']:.1f}%, "
            f"PV_initial {cat.pv_initial:.4f}, {cat.aux.height} auxiliary coefficients"
        )


@app.command("group")
def group_cmd(
    input: Path = typer.Argument(..., help="Discharge abstracts (.parquet, .csv, .xlsx)"),
    output: Path = typer.Option(..., "-o", "--output", help="Result file: .parquet, .csv or .xlsx"),
    catalogue: Path = typer.Option(..., "--catalogue", "-c", help="Catalogue folder (drgkit dip build)"),
    map_: MapOption = [],
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    allow_unmapped: AllowUnmapped = False,
    canonical: Canonical = False,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    lang: Lang = None,
) -> None:
    """Group cases into a DIP catalogue: dip_group, dip_kind, aux_coefficient, score, status, reason."""
    common.refuse_overwriting_input(output, input)
    from ..dip import group, load_catalogue
    from ..io import open_cases, write_table
    from ..io.output import input_shaped
    from ..lang import resolve

    language = resolve(lang)
    t0 = time.perf_counter()
    cat = load_catalogue(catalogue)
    source = open_cases(
        input,
        mapping=parse_map(map_),
        sheet=sheet_arg(sheet),
        header_row=header_row,
        allow_unmapped=allow_unmapped,
        batch_size=1 << 62,
    )
    if not quiet:
        report_mapping(source, language)
    import pyarrow as pa  # here, not at import: `drgkit --help` need not load pyarrow

    tables = list(source.batches())
    out = group(tables[0] if len(tables) == 1 else pa.concat_tables(tables), cat)
    out = out if canonical else input_shaped(out, source.plan)
    write_table(out, output)
    if not quiet:
        common.out.print(dip_summary(out, cat.id, time.perf_counter() - t0, language, common.out.width), markup=False)


def dip_summary(out, catalogue: str, seconds: float, lang: str, width: int = 80) -> str:
    """What ``dip group`` ends with: cases by status, then by kind of group, in ``lang``; broken into lines of
    at most ``width`` columns between the counts, never inside one (未入组 (0000) 19 stays on one line)."""
    import pyarrow.compute as pc

    from ..lang import say, words
    from ..terminal import BREAK, packed

    def counted(column: str, order: tuple[str, ...], names: dict[str, str]) -> list[str]:
        counts = {r["values"]: r["counts"] for r in pc.value_counts(out.column(column)).to_pylist() if r["values"]}
        keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
        return [f"{names.get(k, k)} {counts[k]:,}" for k in keys]

    mark = BREAK  # where the text may break: between two counts
    text = say(
        "dip.group_done",
        lang,
        rows=f"{out.num_rows:,}",
        catalogue=catalogue,
        seconds=f"{seconds:.2f}",
        statuses=(say("punct.list", lang) + mark).join(
            counted("status", ("ok", "ambiguous", "ungroupable", "invalid"), words("status", lang))
        ),
        kinds=(say("punct.list", lang) + mark).join(
            counted("dip_kind", ("core", "primary_care", "comprehensive"), words("dip_kind", lang))
        ),
    )
    text = text.replace(say("punct.colon", lang), say("punct.colon", lang) + mark, 1)
    text = text.replace("; " if lang == "en" else "；", ("; " if lang == "en" else "；") + mark, 1)
    return packed(text, width)


@app.command("settle")
def settle_cmd(
    grouped: Path = typer.Argument(..., help="Output of `drgkit dip group`"),
    catalogue: Path = typer.Option(..., "--catalogue", "-c"),
    budget: float = typer.Option(..., "--budget", help="DIP fund available this year (yuan)"),
    fund_ratio: float = typer.Option(..., "--fund-ratio", help="Fund payment ratio (记账 / total cost)"),
    pv_initial: Optional[float] = typer.Option(None, "--pv-initial", help="Initial point value (default: catalogue)"),
    hospitals: Optional[Path] = typer.Option(
        None, "--hospitals", help="CSV: hospital, coefficient, evaluation, deduction"
    ),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Payment policy TOML (DIP defaults)"),
    benefits: Optional[str] = typer.Option(
        None,
        "--benefits",
        help="Benefit policy (TOML or a shipped name: example-national): patients pay by person and year under "
        "it, fund = payment − patient, and a hospital's payable is its cases' fund payments (not --fund-ratio)",
    ),
    prepay_ratio: float = typer.Option(0.9, "--prepay-ratio"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Per-hospital result (.csv/.parquet)"),
    cases_output: Optional[Path] = typer.Option(None, "--cases", help="Also write the scored cases"),
    lang: Lang = None,
) -> None:
    """Case scores, point value, per-hospital payable, monthly pre-payment and clearance."""

    from ..dip import settle
    from ..io import write_table
    from ..lang import resolve, say
    from ..payment.price import patient_basis_line
    from ..report_words import terminal_table

    language = resolve(lang)

    if benefits:  # a bad name or file: one line before the data is read
        from ..benefits import load_benefit_policy

        load_benefit_policy(benefits)
    s = settle(
        grouped,
        catalogue,
        budget=budget,
        fund_ratio=fund_ratio,
        pv_initial=pv_initial,
        hospitals=hospitals,
        policy=policy,
        prepay_ratio=prepay_ratio,
        benefits=benefits,
    )
    common.out.print(
        say(
            "dip.settled",
            language,
            score=f"{s.total_score:,.2f}",
            pv_initial=f"{s.pv_initial:.4f}",
            pv_settle=f"{s.pv_settle:.4f}",
        ),
        markup=False,
    )
    # by person and year under a benefit policy, or the flat share: always said
    line = patient_basis_line(s.patient_basis, language)
    if s.patient_basis.get("patient_basis") != "benefits":  # the hospitals' payable then rests on --fund-ratio
        line += say("dip.fund_ratio", language, ratio=f"{fund_ratio:g}")
    common.err.print(line, soft_wrap=True, markup=False)
    for line in s.left_out.lines(language):
        common.err.print(line, soft_wrap=True, markup=False)
    common.out.print(
        terminal_table(
            say("dip.settle_title", language),
            s.hospitals.to_dicts(),
            s.hospitals.columns,
            common.out.width,
            language,
            keep=("hospital", "payable"),
            hint=str(output) if output else "-o FILE",
        )
    )
    if output:
        write_table(s.hospitals.to_arrow(), output)
    if cases_output:
        write_table(s.cases.to_arrow(), cases_output)


@app.command("explain")
def explain_cmd(
    catalogue: Path = typer.Option(..., "--catalogue", "-c"),
    dx: str = typer.Option(..., "--dx", help="Diagnoses, principal first, separated by | or ,"),
    px: str = typer.Option("", "--px", help="Procedures, main first, separated by | or ,"),
    age: Optional[int] = typer.Option(None, "--age"),
    age_days: Optional[int] = typer.Option(None, "--age-days"),
    leaving_type: Optional[int] = typer.Option(None, "--leaving-type"),
    cost: Optional[float] = typer.Option(None, "--cost"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show how one case is grouped: its keys, the candidate groups, the result and its reason."""
    from ..dip.explain import explain

    e = explain(catalogue, dx=dx, px=px, age=age, age_days=age_days, leaving_type=leaving_type, cost=cost)
    if as_json:
        common.out.print_json(json.dumps(e, ensure_ascii=False, default=str))
    else:
        common.out.print(e["text"])
