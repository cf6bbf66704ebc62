"""``drgkit pay`` / ``calibrate`` / ``report``: payment from grouped cases."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import (
    AllowSchemeMismatch,
    BaseRate,
    Lang,
)
from ..lang import price_reason_text, resolve, say, words
from ..terminal import Col, fit_table
from . import common
from .common import CliError

app = typer.Typer()


@app.command()
def pay(
    input: Path = typer.Argument(..., help="Grouped cases (output of `drgkit group`): .parquet, .csv, .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Priced result: .parquet, .csv or .xlsx"),
    table: str = typer.Option(..., "--table", help="Payment table id (see `drgkit tables list`) or a table CSV"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level (default: the hospital_level column)"),
    insurance: Optional[str] = typer.Option(
        None, "--insurance", help="employee / resident (default: column or policy)"
    ),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy TOML (thresholds, formulas, rates)"),
    benefits: Optional[str] = typer.Option(
        None,
        "--benefits",
        help="Benefit policy (TOML or a shipped name: example-national): the "
        "patient pays by person and year under it (fund = payment − "
        "patient) instead of the flat patient share",
    ),
    base_rate: BaseRate = None,
    allow_scheme_mismatch: AllowSchemeMismatch = False,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    lang: Lang = None,
) -> None:
    """Price every grouped case: standard payment, case type, payment, fund and patient shares, margin."""
    common.refuse_overwriting_input(output, input)
    import pyarrow.compute as pc

    from ..io import write_table
    from ..io.read import read_file
    from ..payment import CASE_TYPES, price

    language = resolve(lang)
    colon = say("punct.colon", language)
    start = time.perf_counter()
    chosen = payment_policy(policy, benefits)  # a bad policy is said before the data is read
    data = read_file(input)
    if data.num_rows == 0:
        raise CliError(f"{input}: no rows could be read")
    if not quiet:  # which columns pricing reads (a result may keep the coder's own headers: 总费用 …)
        from ..io.columns import field_sources
        from ..payment.price import NEEDED

        found = field_sources(data.column_names, NEEDED)
        common.err.print(
            say("read.columns", language)
            + colon
            + "; ".join(src if src == f else f"{src} → {f}" for f, src in found.items()),
            soft_wrap=True,
            markup=False,
        )
    result = price(
        data,
        table,
        level=level,
        insurance=insurance,
        policy=chosen,
        allow_scheme_mismatch=allow_scheme_mismatch,
        base_rate=base_rate,
    )
    if not quiet:
        assumed = chosen.with_base_rate(base_rate).assumptions(language)
        common.err.print(say("pay.policy", language) + colon + "; ".join(assumed), soft_wrap=True, markup=False)
        common.err.print(patient_basis(result, language), soft_wrap=True, markup=False)
    write_table(result, output)
    if quiet:
        return
    seconds = time.perf_counter() - start
    common.out.print(
        say("pay.done", language, rows=f"{result.num_rows:,}", table=table, seconds=f"{seconds:.2f}", output=output),
        soft_wrap=True,
        markup=False,
    )
    ct = result.column("case_type")
    type_words = words("case_type", language)
    lines = []
    for name in CASE_TYPES:
        mask = pc.equal(ct, name)
        k = pc.sum(mask).as_py() or 0
        if not k:
            continue
        pay_ = pc.sum(pc.filter(result.column("payment"), mask)).as_py() or 0.0
        mar = pc.sum(pc.filter(result.column("margin"), mask)).as_py() or 0.0
        lines.append((type_words[name], f"{k:,}", f"{pay_:,.2f}", f"{mar:,.2f}"))
    common.out.print(
        fit_table(
            say("pay.case_types_title", language),
            [
                Col(say("col.case_type", language), "id", keep=True),
                Col(say("col.cases", language), "number", keep=True),
                Col(say("col.payment", language), "number", keep=True),
                Col(say("col.margin", language), "number"),
            ],
            lines,
            common.out.width,
        )
    )
    unpriced = result.filter(pc.equal(ct, "unpriced"))
    if unpriced.num_rows:
        counts = Counter(unpriced.column("price_reason").to_pylist()).most_common(5)
        for why, k in counts:
            common.out.print(
                say("pay.unpriced", language, k=f"{k:,}", why=price_reason_text(why, language)),
                soft_wrap=True,
                markup=False,
            )


@app.command()
def calibrate(
    input: Path = typer.Argument(..., help="Grouped history (output of `drgkit group`): .parquet, .csv, .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="New payment table (.csv, the format `pay` reads)"),
    trim: str = typer.Option("iqr", "--trim", help="iqr | sd3 | pct5_95 | pct2_5_97_5 | none"),
    years: Optional[str] = typer.Option(None, "--years", help="Year weights, e.g. 2022:1,2023:2,2024:7"),
    budget: Optional[float] = typer.Option(None, "--budget", help="DRG fund budget (yuan): sets the base rate"),
    fund_ratio: float = typer.Option(1.0, "--fund-ratio", help="Fund payment ratio (budget ÷ ratio = total cost)"),
    min_cases: int = typer.Option(100, "--min-cases", help="Flag groups with fewer cases as low_volume"),
    reference: Optional[str] = typer.Option(
        None,
        "--reference",
        help="Compare with a scheme's reference weights (chs-drg-2.0) or a "
        "payment table: reference_rw, rw_vs_reference",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Derive weights (RW = trimmed group mean ÷ overall mean), CV before and after trimming, RIV, LOS
    statistics and a base rate from history; every row left out is counted by reason."""
    from ..payment.calibrate import CalibrationError, parse_years
    from ..payment.calibrate import calibrate as do_calibrate

    try:
        cal = do_calibrate(
            input,
            trim=trim,
            years=parse_years(years),
            budget=budget,
            fund_ratio=fund_ratio,
            min_cases=min_cases,
            reference=reference,
        )
    except CalibrationError as exc:
        raise CliError(str(exc)) from None
    files = cal.write(output)
    if quiet:
        return
    t = cal.table
    left = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in cal.excluded.items() if v)
    common.out.print(
        f"calibrated {t.height} DRGs from {cal.cases_used:,} usable of {cal.cases:,} rows"
        + (f" (left out: {left})" if left else "")
        + f"; {cal.cases_kept:,} kept after trim {trim}",
        soft_wrap=True,
    )
    common.out.print(
        f"overall mean cost {cal.overall_mean:,.2f}; RIV {cal.riv:.3f} after trimming, {cal.riv_all:.3f} before",
        soft_wrap=True,
    )
    common.out.print(
        f"groups with CV > 1: {int(t['cv_over_1'].sum())}; low volume (< {min_cases} cases): "
        f"{int(t['low_volume'].sum())}" + (f"; base rate {cal.base_rate:,.2f}" if cal.base_rate is not None else ""),
        soft_wrap=True,
    )
    if reference:
        ratio = t["rw_vs_reference"].drop_nulls()
        common.out.print(
            f"against {reference}: {ratio.len():,} of {t.height} groups have a reference weight"
            + (
                f"; calibrated ÷ reference median {float(ratio.median()):.3f}, "  # type: ignore[arg-type]
                f"P10–P90 {float(ratio.quantile(0.1)):.3f}–{float(ratio.quantile(0.9)):.3f}"  # type: ignore[arg-type]
                if ratio.len()
                else ""
            ),
            soft_wrap=True,
        )
    common.out.print(
        f"written: {', '.join(str(f) for f in files)} (use: drgkit pay … --table {output})", soft_wrap=True
    )


@app.command()
def report(
    input: Path = typer.Argument(..., help="Grouped (and priced) cases: .parquet, .csv, .xlsx"),
    by: str = typer.Option("hospital", "--by", help="Column to report by: hospital, dept, …"),
    output: Path = typer.Option(Path("drgkit-report"), "-o", "--output", help="Folder for CSV and PNG files"),
    top: int = typer.Option(20, "--top", help="How many losing DRGs to list"),
    lang: Lang = None,
) -> None:
    """Indicators by hospital or department: 入组率, CMI, time/cost consumption indices, margin, losing DRGs."""
    from ..io.read import read_file
    from ..payment.report import ReportError, indicators, report_frame, write_report
    from ..report_words import fmt, label, terminal_table

    language = resolve(lang)
    data = read_file(input)
    try:
        frame, left_out = report_frame(data, by)
        files = write_report(frame, output, by=by, top=top)
        per, losing = indicators(frame, by)
    except ReportError as exc:
        raise CliError(str(exc)) from None
    for line in left_out.lines(language):
        common.err.print(line, soft_wrap=True, markup=False)
    common.out.print(
        terminal_table(
            say("report.title", language, by=label(by, with_unit=False, lang=language)),
            per.to_dicts(),
            [c for c in (by, *TERMINAL_ORDER) if c in per.columns],
            common.out.width,
            language,
            keep=(by, "cmi"),
            hint=str(output / "report.html"),
        )
    )
    if losing.height:
        most = say("punct.list", language).join(
            f"{d} {fmt('margin', m, language)}" for d, m in losing.head(min(top, 5)).select("drg", "margin").iter_rows()
        )
        common.out.print(say("report.losing", language, drgs=most), soft_wrap=True, markup=False)
    common.out.print(
        say("report.written", language, files=", ".join(str(f) for f in files)), soft_wrap=True, markup=False
    )


def payment_policy(policy: Optional[Path], benefits: Optional[str]):
    """The payment policy of ``--policy``, with the benefit policy of ``--benefits`` (checked here, so a bad name
    or file is one line before any work). ``--policy`` is the payment policy (thresholds, formulas, rates): a
    benefit policy given there is refused with the option that takes it."""
    from ..benefits.policy import list_policies, load_benefit_policy
    from ..payment.policy import load_policy

    if policy is not None and not policy.exists() and str(policy) in {n for n, _ in list_policies()}:
        raise CliError(
            f"--policy {policy}: --policy is the payment policy TOML; give a benefit policy as --benefits {policy}"
        )
    chosen = load_policy(policy)
    if benefits:
        chosen = chosen.replace(benefits=benefits)
    if chosen.benefits:
        load_benefit_policy(chosen.benefits)
    return chosen


def patient_basis(result, language: str) -> str:
    """The one line saying how the patients' payments were found (by person and year under a benefit policy,
    or the flat share, and for how many cases), from the priced result's ``drgkit.pricing`` metadata."""
    import json

    from ..payment.price import PRICING_METADATA_KEY, patient_basis_counts, patient_basis_line

    meta = json.loads((result.schema.metadata or {}).get(PRICING_METADATA_KEY, b"{}"))
    return patient_basis_line({**meta, **patient_basis_counts(result.column("patient_basis"))}, language)


#: the indicators in the order a narrow terminal keeps them (the last ones are left out first)
TERMINAL_ORDER = (
    "cases",
    "grouping_rate",
    "cmi",
    "margin",
    "payment",
    "total_cost",
    "time_index",
    "cost_index",
    "grouped",
)
