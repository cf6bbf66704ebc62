"""``drgkit benefits``: per-stay settlement under a benefit policy (drgkit.benefits)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import Lang
from . import common
from .common import CliError
from .fund import app as fund_app  # `drgkit fund whatif` (below) belongs to the `drgkit fund` group

app = typer.Typer()


@app.command()
def benefits(
    input: Optional[Path] = typer.Argument(
        None, help="Stays: .parquet, .csv or .xlsx (人员编号, 出院日期, 险种类型, 医院等级, 医疗费总额 …)"
    ),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Settled stays: .parquet, .csv or .xlsx"),
    policy: Optional[str] = typer.Option(
        None, "--policy", "-p", help="Benefit policy: a TOML file or a shipped name (example-national)"
    ),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level of every stay (default: the column)"),
    insurance: Optional[str] = typer.Option(
        None, "--insurance", help="Insurance type of every stay: employee / resident (default: column)"
    ),
    map_: list[str] = typer.Option(
        [],
        "--map",
        help="Read a column as a field: SRC=field (repeatable; fields: "
        "patient_id, discharge_date, insurance_type, hospital_level, "
        "total_cost, full_self_pay_amount, over_limit_amount, "
        "class_b_self_pay_amount, class_b_amount, age, "
        "assistance_category)",
    ),
    sheet: Optional[str] = typer.Option(
        None, "--sheet", help="Excel sheet: name or 1-based number (default: the first)"
    ),
    policies: bool = typer.Option(False, "--policies", help="List the shipped policies and stop"),
    template: bool = typer.Option(False, "--template", help="Print the policy template (TOML) and stop"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    lang: Lang = None,
) -> None:
    """Split every stay's total cost into 全自费, 乙类先行自付, deductible, pooled fund, critical illness, medical
    assistance and the patient's share, in each person's discharge order within the year, with the person's
    year-to-date accumulators; fund + critical illness + assistance + patient = total cost on every row."""
    from ..benefits import list_policies, load_benefit_policy, settle, template_text
    from ..lang import resolve, say

    language = resolve(lang)
    if template:
        typer.echo(template_text(), nl=False)
        return
    if policies:
        common.out.print(say("benefits.policies", language), markup=False)
        for name, title in list_policies():
            common.out.print(f"  {name}  {title}", markup=False, soft_wrap=True)
        return
    if input is None:
        raise CliError(say("benefits.no_input", "en"))
    if policy is None:
        raise CliError(say("benefits.no_policy", "en", names=", ".join(n for n, _ in list_policies())))
    if output is None:
        raise CliError("give the output file with -o (.parquet, .csv or .xlsx)")
    from ..io import write_table
    from ..io.read import read_file

    start = time.perf_counter()
    chosen = load_benefit_policy(policy)
    is_excel = input.suffix.lower() in (".xlsx", ".xls", ".xlsm")
    data = read_file(input, sheet=common.sheet_arg(sheet) or (1 if is_excel else None))
    if data.num_rows == 0:
        raise CliError(f"{input}: no rows could be read")
    mapping = common.parse_map(map_)
    colon = say("punct.colon", language)
    if not quiet:
        from ..benefits.settle import NEEDED, _sources

        found = _sources(data, mapping)
        common.err.print(
            say("read.columns", language)
            + colon
            + "; ".join(src if src == f else f"{src} → {f}" for f, src in found.items() if f in NEEDED),
            soft_wrap=True,
            markup=False,
        )
        common.err.print(
            say("benefits.policy", language)
            + colon
            + chosen.name
            + (
                f"（{say('benefits.example', language)}）"
                if language == "zh" and chosen.example
                else f" ({say('benefits.example', language)})"
                if chosen.example
                else ""
            ),
            soft_wrap=True,
            markup=False,
        )
    result = settle(data, chosen, level=level, insurance=insurance, mapping=mapping)
    if output.suffix.lower() == ".xlsx":
        write_table(chinese_sheet(result), output)
    else:
        write_table(result, output)
    if quiet:
        return
    summarize(result, output, time.perf_counter() - start, language)


def chinese_sheet(result):
    """The settled stays with the added columns under Chinese headers and the notes in Chinese (the workbook)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..benefits import OUTPUT_COLUMNS
    from ..benefits.settle import reason_text
    from ..lang import say

    columns = {}
    for name, column in zip(result.column_names, result.columns):
        header = name
        if name in OUTPUT_COLUMNS:
            header = say(f"benefits.header.{name}", "zh")
            if name == "benefit_reason":
                encoded = pc.dictionary_encode(column.combine_chunks())
                words = pa.array([reason_text(v, "zh") for v in encoded.dictionary.to_pylist()], pa.string())
                column = words.take(encoded.indices)
        while header in columns:  # an input column may already carry the name
            header += "(结算)"
        columns[header] = column
    return pa.table(columns)


def summarize(result, output: Path, seconds: float, language: str) -> None:
    """Rows and persons settled, the split by insurance type, persons at the ceiling, rows not settled."""
    import polars as pl

    from ..benefits.settle import _sources, reason_text
    from ..lang import say
    from ..terminal import Col, fit_table

    frame = pl.from_arrow(
        result.select(
            [
                "benefit_reason",
                "benefit_insurance",
                "benefit_year",
                "at_ceiling",
                "fund_payment",
                "critical_illness_payment",
                "assistance_payment",
                "patient_payment",
            ]
        )
    )
    person = pl.from_arrow(result.column(_sources(result, None)["patient_id"])).cast(pl.Utf8)
    frame = frame.with_columns(
        _ins=pl.col("benefit_insurance"), _person=person, _settled=pl.col("fund_payment").is_not_null()
    )
    ok = frame.filter(pl.col("_settled"))
    total = ok["fund_payment"] + ok["critical_illness_payment"] + ok["assistance_payment"] + ok["patient_payment"]
    ok = ok.with_columns(_total=total)
    common.out.print(
        say(
            "benefits.done",
            language,
            rows=f"{ok.height:,}",
            persons=f"{ok['_person'].n_unique():,}",
            seconds=f"{seconds:.2f}",
            output=output,
        ),
        soft_wrap=True,
        markup=False,
    )
    names = ("fund_payment", "critical_illness_payment", "assistance_payment", "patient_payment")
    shown = [c for c in names if c in ("fund_payment", "patient_payment") or (ok[c] > 0).any()]
    by = ok.group_by("_ins").agg(pl.len().alias("n"), pl.col("_total").sum(), *[pl.col(c).sum() for c in names])
    by = pl.concat(
        [
            by.sort("_ins"),
            ok.select(
                pl.lit("all").alias("_ins"),
                pl.len().alias("n"),
                pl.col("_total").sum(),
                *[pl.col(c).sum() for c in names],
            ),
        ],
        how="vertical_relaxed",
    )
    rows = []
    for r in by.iter_rows(named=True):
        label = (
            say(f"benefits.ins.{r['_ins']}", language)
            if r["_ins"] in ("employee", "resident", "all")
            else str(r["_ins"])
        )
        share = r["patient_payment"] / r["_total"] if r["_total"] else 0.0
        rows.append(
            (label, f"{r['n']:,}", f"{r['_total']:,.2f}", *[f"{r[c]:,.2f}" for c in shown], f"{100 * share:.1f}%")
        )
    cols = [
        Col(say("benefits.col.insurance", language), "id", keep=True),
        Col(say("benefits.col.stays", language), "number", keep=True),
        Col(say("benefits.col.total_cost", language), "number", keep=True),
        *[
            Col(say(f"benefits.col.{c}", language), "number", keep=c in ("fund_payment", "patient_payment"))
            for c in shown
        ],
        Col(say("benefits.col.patient_share", language), "number"),
    ]
    common.out.print(
        fit_table(say("benefits.by_insurance", language), cols, rows, common.out.width, hint=str(output), lang=language)
    )
    at_ceiling = ok.filter(pl.col("at_ceiling")).select("_person", "benefit_year").unique().height
    if at_ceiling:
        common.out.print(say("benefits.ceiling", language, k=f"{at_ceiling:,}"), soft_wrap=True, markup=False)
    unsettled = frame.filter(~pl.col("_settled") & pl.col("benefit_reason").is_not_null())
    if unsettled.height:
        for why, k in unsettled.group_by("benefit_reason").len().sort("len", descending=True).head(5).iter_rows():
            common.out.print(
                say("benefits.unsettled", language, k=f"{k:,}", why=reason_text(why, language)),
                soft_wrap=True,
                markup=False,
            )


@fund_app.command("whatif")
def fund_whatif(
    input: Path = typer.Argument(..., help="Stays (history): .parquet, .csv or .xlsx, as for `drgkit benefits`"),
    policy: str = typer.Option(..., "--policy", "-p", help="Benefit policy now (TOML or a shipped name)"),
    against: str = typer.Option(..., "--against", help="Benefit policy to compare with"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Comparison table: .csv, .parquet or .xlsx"),
    catastrophic: float = typer.Option(
        0.4, "--catastrophic", min=0.0, help="Out-of-pocket above this share of annual income is catastrophic"
    ),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level of every stay (default: the column)"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="employee / resident for every stay"),
    map_: list[str] = typer.Option([], "--map", help="Read a column as a field: SRC=field (annual_income …)"),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Excel sheet (default: the first)"),
    lang: Lang = None,
) -> None:
    """Settle the same stays under two benefit policies: the change in fund payments and in patients'
    out-of-pocket payments (per stay, per person-year, catastrophic share) by insurance type and hospital level."""
    import pyarrow as pa

    from ..benefits.whatif import compare
    from ..io.read import read_file
    from ..lang import resolve, say
    from ..terminal import Col, fit_table

    language = resolve(lang)
    is_excel = input.suffix.lower() in (".xlsx", ".xls", ".xlsm")
    data = read_file(input, sheet=common.sheet_arg(sheet) or (1 if is_excel else None))
    if data.num_rows == 0:
        raise CliError(f"{input}: no rows could be read")
    if catastrophic <= 0:
        raise CliError("--catastrophic must be a share of income > 0 (0.4 = 40 %)")
    table = compare(
        data,
        policy,
        against,
        catastrophic=catastrophic,
        level=level,
        insurance=insurance,
        mapping=common.parse_map(map_),
    )
    if output is not None:
        from ..io import write_table

        write_table(pa.Table.from_pandas(table.to_pandas(), preserve_index=False), output)

    def named(value: str, kind: str) -> str:
        if value == "all":
            return say("fund.all", language)
        return say(f"benefits.ins.{value}", language) if kind == "insurance" else value

    def pct(v) -> str:
        return "" if v is None else f"{100 * v:+.1f}%" if v != 0 else "0.0%"

    rows = []
    for r in table.iter_rows(named=True):
        cat = (
            ""
            if r["catastrophic_share_a"] is None
            else f"{100 * r['catastrophic_share_a']:.1f}% → {100 * r['catastrophic_share_b']:.1f}%"
        )
        rows.append(
            (
                named(r["insurance"], "insurance"),
                named(r["level"], "level"),
                f"{r['stays']:,}",
                f"{r['fund_payment_change']:+,.2f}",
                pct(r["fund_change_share"]),
                f"{r['patient_mean_a']:,.0f} → {r['patient_mean_b']:,.0f}",
                f"{r['oop_year_mean_a']:,.0f} → {r['oop_year_mean_b']:,.0f}",
                cat,
            )
        )
    cols = [
        Col(say("fund.col.insurance", language), "id", keep=True),
        Col(say("fund.col.level", language), "id", keep=True),
        Col(say("fund.col.stays", language), "number"),
        Col(say("fund.col.fund_change", language), "number", keep=True),
        Col(say("fund.col.fund_change_share", language), "number", keep=True),
        Col(say("fund.col.patient_mean", language), "number"),
        Col(say("fund.col.oop_year", language), "number"),
        Col(say("fund.col.catastrophic", language), "number"),
    ]
    title = say("fund.whatif_title", language, a=table["policy"][0], b=table["against"][0])
    common.out.print(fit_table(title, cols, rows, common.out.width, hint=str(output or "-o FILE"), lang=language))
    k = int(table.filter(table["insurance"] == "all")["person_years_with_income"][0])
    common.out.print(
        say("fund.whatif_income", language, share=f"{100 * catastrophic:g}%", k=f"{k:,}")
        if k
        else say("fund.whatif_no_income", language),
        soft_wrap=True,
        markup=False,
    )
    if output is not None:
        common.out.print(
            say("fund.whatif_done", language, rows=f"{data.num_rows:,}", output=output), soft_wrap=True, markup=False
        )
