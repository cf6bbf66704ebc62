"""``drgkit fund …``: the pooled fund's sustainability (基金运行). ``fund forecast`` projects income, spending and
the reserve year by year per scenario (drgkit.benefits.fund). The policy what-if is ``drgkit benefits STAYS
--policy A --against B`` (:mod:`drgkit.cli.benefits`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import Lang
from . import common
from .common import CliError

app = typer.Typer(no_args_is_help=True, help="Fund sustainability (基金运行): income, spending, reserve months.")


@app.command("forecast")
def forecast(
    fund_file: Optional[str] = typer.Argument(
        None, help="Fund TOML (base year, reserve, income, spending, growth, scenarios) or a shipped example's name"
    ),
    output: Path = typer.Option(Path("fund-results"), "-o", "--output", help="Folder for the results"),
    example: bool = typer.Option(
        False, "--example", help="Run the shipped example fund (tables/fund/example-employees.toml)"
    ),
    draws: Optional[int] = typer.Option(None, "--draws", "-d", min=0, help="Monte Carlo draws (default: the file)"),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Monte Carlo seed (default: the file)"),
    lang: Lang = None,
) -> None:
    """Project the pooled fund year by year: 当期结余, 当期结余率, 累计结余, 累计结余可支付月数 per scenario, with
    Monte Carlo bands on the growth rates and a warning for each threshold a year crosses. Writes years.parquet,
    years.csv, figures/*.png and report.html into -o."""
    from ..benefits.fund import EXAMPLE
    from ..benefits.fund import forecast as run
    from ..benefits.fund_report import warning_lines, write
    from ..lang import resolve, say

    language = resolve(lang)
    if example and fund_file is not None:
        raise CliError("give a fund file or --example, not both")
    if not example and fund_file is None:
        raise CliError(f"give a fund TOML file (or --example to run the shipped {EXAMPLE})")
    start = time.perf_counter()
    source = EXAMPLE if example or fund_file is None else fund_file  # both None: refused above
    table, projections = run(source, draws=draws, seed=seed)
    write(output, table, projections, language)
    common.out.print(months_table(projections, output, language))
    for line in warning_lines(projections, language):
        common.out.print(line, soft_wrap=True, markup=False)
    if projections[0].fund.example:
        common.out.print(say("fund.example_banner", language), soft_wrap=True, markup=False)
    common.out.print(
        say(
            "fund.done",
            language,
            scenarios=len(projections),
            years=len(projections[0].years),
            seconds=f"{time.perf_counter() - start:.1f}",
            output=output,
        ),
        soft_wrap=True,
        markup=False,
    )


def months_table(projections, output: Path, language: str):
    """Years down, scenarios across (side by side): the months the reserve covers, then the year it runs out
    and, with draws, the chance it has by the last year. Scenario names are the headers, which fold onto two
    lines before a scenario is left out, so four scenarios fit 80 columns."""
    from rich.markup import escape

    from ..benefits.fund_report import scenario_label
    from ..lang import say
    from ..terminal import Col, fit_table

    years = projections[0].years.tolist()
    cols = [
        Col(say("fund.col.year", language), "id", keep=True),
        # a scenario is named by the user: "[reform] …" must print as text, not as a rich style tag
        *[Col(escape(scenario_label(p.fund, language)), "number", keep=k == 0) for k, p in enumerate(projections)],
    ]
    rows = [(str(y), *[f"{p.central['months'][t]:.1f}" for p in projections]) for t, y in enumerate(years)]
    never = say("fund.never", language)
    rows.append((say("fund.row.exhausted", language), *[str(p.exhausted_year() or never) for p in projections]))
    if projections[0].draws:
        rows.append(
            (
                say("fund.row.p_exhausted", language, last=years[-1]),
                *[f"{100 * float((p.draws['reserve'] < 0).any(axis=1).mean()):.1f}%" for p in projections],
            )
        )
    return fit_table(
        say("fund.table_title", language),
        cols,
        rows,
        common.out.width,
        hint=str(output / "report.html"),
        lang=language,
    )
