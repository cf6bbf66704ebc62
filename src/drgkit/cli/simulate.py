"""``drgkit simulate``: global-budget scenarios → parquet, figures, HTML report (drgkit.simulate)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import Lang
from . import common

app = typer.Typer()


@app.command()
def simulate(
    scenarios: Optional[Path] = typer.Argument(None, help="Scenario file (TOML); see docs/simulate.md"),
    output: Path = typer.Option(Path("results"), "-o", "--output", help="Directory for the results"),
    draws: Optional[int] = typer.Option(
        None, "--draws", "-d", min=0, help="Monte Carlo draws over case volumes (0 = none)"
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: settlement.seed)"),
    history: Optional[Path] = typer.Option(None, "--history", help="Grouped cases, overriding history.path"),
    example: bool = typer.Option(
        False, "--example", help="Write demo data and a ready scenario file into OUTPUT, then run it"
    ),
    benefits: Optional[str] = typer.Option(
        None,
        "--benefits",
        help="Benefit policy (TOML or a shipped name: example-national): patients pay by person and year under it "
        "(fund = payment − patient) in every scenario that names no other, instead of the flat patient share",
    ),
    lang: Lang = None,
) -> None:
    """Project every hospital's revenue under a global budget: floating DRG rate / DIP point value,
    year-end settlement with surplus/overspend sharing, Monte Carlo bands, figures and an HTML report."""
    from ..lang import resolve, say
    from ..simulate import ScenarioError, frames, load, run_config
    from ..simulate.report import summary_table, write

    language = resolve(lang)
    path = scenarios
    t0 = time.perf_counter()
    if output.exists() and not output.is_dir():  # said before the run, not after it
        raise ScenarioError(f"{output}: is a file; -o names the folder for the results")
    if example:
        from ..simulate.example import write_example

        path = write_example(output)
        common.out.print(say("simulate.example", language, path=path), markup=False)
        n_draws = 200 if draws is None else draws
    else:
        if path is None:
            raise ScenarioError("give a scenario file (or --example)")
        n_draws = draws or 0
    cfg = load(path)
    if benefits:  # a bad name or file: one line before the run, not after it
        from ..benefits import load_benefit_policy

        load_benefit_policy(benefits)
    results = run_config(cfg, history, draws=n_draws, seed=seed, benefits=benefits)
    hosp, scen = frames(results, cfg.settlement.percentiles)
    seconds = time.perf_counter() - t0
    notes = [
        f"scenario file: {path}",
        f"payment table: {cfg.history.table}",
        f"method {cfg.settlement.method}, budget basis {cfg.settlement.basis}",
        f"Monte Carlo draws: {n_draws}" + (f" (volume shock SD {cfg.settlement.volume_shock_sd})" if n_draws else ""),
    ]
    from ..payment.price import patient_basis_line

    # how patients paid, per scenario: by person and year under a benefit policy, or the flat share (always said)
    notes += [f"{r.name}: {patient_basis_line(r.patient_basis, 'en')}" for r in results]
    said: dict[str, list[str]] = {}  # one line per distinct basis, naming its scenarios (not one line each)
    for r in results:
        said.setdefault(patient_basis_line(r.patient_basis, language), []).append(r.name)
    for line, names in said.items():
        common.err.print(
            (line if len(names) == len(results) else ", ".join(names) + say("punct.colon", language) + line),
            soft_wrap=True,
            markup=False,
        )
    for line in results[0].left_out.lines(language) if results else ():
        common.err.print(line, soft_wrap=True, markup=False)
    write(output, hosp, scen, results, notes)
    common.out.print(summary_table(scen, hosp, common.out.width, language))
    common.out.print(
        say(
            "simulate.done",
            language,
            scenarios=len(results),
            hospitals=hosp["hospital"].n_unique(),
            seconds=f"{seconds:.1f}",
            output=output,
        ),
        soft_wrap=True,
        markup=False,
    )
