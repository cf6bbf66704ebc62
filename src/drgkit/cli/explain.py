"""``drgkit explain``: one case, its group and the rule path in sentences."""

from __future__ import annotations

import json
from typing import Optional

import typer

from ..cli_options import (
    Age,
    AgeDays,
    AsJson,
    Dx,
    Lang,
    LeavingType,
    Los,
    Px,
    SchemeId,
    Sex,
    Weight,
    case_values,
)
from ..lang import resolve
from ..schemes import DEFAULT_SCHEME

app = typer.Typer()


@app.command()
def explain(
    dx: Dx,
    px: Px = "",
    age: Age = None,
    sex: Sex = None,
    age_days: AgeDays = None,
    weight: Weight = None,
    los: Los = None,
    leaving_type: LeavingType = None,
    dept: Optional[str] = typer.Option(None, "--dept", help="Department code"),
    icu_hours: Optional[int] = typer.Option(None, "--icu-hours", help="ICU hours"),
    scheme: SchemeId = DEFAULT_SCHEME,
    as_json: AsJson = False,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every rule tried"),
    convert_codes: bool = typer.Option(False, help="Translate unknown 国临版 codes to 医保版"),
    fix_case: bool = typer.Option(False, help="Upper-case unknown codes"),
    lang: Lang = None,
) -> None:
    """Group one case and show why: every MDC and rule that decided it, with Chinese names."""
    from ..api import Options
    from ..api import explain as do_explain

    read = case_values(age, age_days, weight, los, leaving_type)
    if scheme.startswith("dip:"):  # a DIP catalogue: same command, DIP's own explanation
        from ..dip import explain as dip_explain

        d = dip_explain(
            scheme[len("dip:") :],
            dx=dx,
            px=px,
            age=read["age"],
            age_days=read["age_days"],
            leaving_type=read["leaving_type"],
        )
        typer.echo(json.dumps(d, ensure_ascii=False, indent=2, default=str) if as_json else d["text"])
        return
    e = do_explain(
        dx,
        px,
        age=read["age"],
        sex=sex,
        age_days=read["age_days"],
        birth_weight=read["birth_weight"],
        los=read["los"],
        leaving_type=read["leaving_type"],
        dept=dept,
        icu_hours=icu_hours,
        scheme=scheme,
        options=Options(convert_codes=convert_codes, fix_case=fix_case),
    )
    if as_json:
        typer.echo(json.dumps(e.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(e.text(verbose=verbose, lang=resolve(lang)))
