"""Command-line options that describe one case, shared by `drgkit explain` and `drgkit whatif` (typer `Annotated`)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

Dx = Annotated[str, typer.Option("--dx", help="Diagnoses, principal first, separated by | or ,")]
Px = Annotated[str, typer.Option("--px", help="Procedures, main first, separated by | or ,")]
Age = Annotated[Optional[int], typer.Option("--age", help="Age in years")]
Sex = Annotated[Optional[str], typer.Option("--sex", "--gender", help="1 male / 2 female (男/女, M/F accepted)")]
AgeDays = Annotated[Optional[int], typer.Option("--age-days", help="Age in days (required at age 0)")]
Weight = Annotated[Optional[int], typer.Option("--weight", "--birth-weight", help="Birth weight in grams")]
Los = Annotated[Optional[int], typer.Option("--los", help="Length of stay in days")]
LeavingType = Annotated[Optional[int], typer.Option("--leaving-type", help="Discharge type 1-5 (离院方式)")]
SchemeId = Annotated[str, typer.Option("--scheme", "-s")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
