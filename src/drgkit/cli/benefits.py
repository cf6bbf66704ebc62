"""``drgkit benefits``: per-stay settlement under a benefit policy (drgkit.benefits)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import Lang
from . import common
from .common import CliError

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
        "assistance_category, annual_income)",
    ),
    sheet: Optional[str] = typer.Option(
        None, "--sheet", help="Excel sheet: name or 1-based number (default: the first)"
    ),
    against: Optional[str] = typer.Option(
        None,
        "--against",
        help="Policy what-if: settle the stays under --policy (A) and this policy (B) and write the change in fund "
        "and patient payments per insurance type and hospital level (-o: .csv, .parquet or .xlsx) instead of the stays",
    ),
    catastrophic: float = typer.Option(
        0.4, "--catastrophic", help="With --against: out-of-pocket above this share of annual income is catastrophic"
    ),
    policies: bool = typer.Option(False, "--policies", help="List the shipped policies and stop"),
    template: bool = typer.Option(False, "--template", help="Print the policy template (TOML) and stop"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    lang: Lang = None,
) -> None:
    """Split every stay's total cost into 全自费, 乙类先行自付, deductible, pooled fund, critical illness, medical
    assistance and the patient's share, in each person's discharge order within the year, with the person's
    year-to-date accumulators; fund + critical illness + assistance + patient = total cost on every row."""
    if output is not None:
        common.refuse_overwriting_input(output, input)
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
    if output is None and against is None:
        raise CliError("give the output file with -o (.parquet, .csv or .xlsx)")
    if against is not None and not catastrophic > 0:
        raise CliError(f"--catastrophic must be a share of income > 0 (0.4 = 40 %), got {catastrophic:g}")
    from ..io import write_table
    from ..io.read import read_file

    start = time.perf_counter()
    chosen = load_benefit_policy(policy)
    other = load_benefit_policy(against) if against is not None else None  # a bad name: said before reading
    is_excel = input.suffix.lower() in (".xlsx", ".xls", ".xlsm")
    data = read_file(input, sheet=common.sheet_arg(sheet) or (1 if is_excel else None))
    if data.num_rows == 0:
        raise CliError(f"{input}: no rows could be read")
    mapping = common.parse_map(map_)
    colon = say("punct.colon", language)
    if not quiet:
        from ..benefits.settle import NEEDED, find_sources

        found = find_sources(data, mapping)
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
    if other is not None:
        compare_cmd(data, chosen, other, catastrophic, level, insurance, mapping, output, quiet, language)
        return
    assert output is not None  # checked above: only a comparison writes nothing without -o
    result = settle(data, chosen, level=level, insurance=insurance, mapping=mapping)
    if output.suffix.lower() == ".xlsx":
        write_table(chinese_sheet(result), output)
    else:
        write_table(result, output)
    if quiet:
        return
    summarize(result, output, time.perf_counter() - start, language)


def compare_cmd(data, a, b, catastrophic, level, insurance, mapping, output, quiet, language) -> None:
    """``drgkit benefits STAYS --policy A --against B``: the what-if table (drgkit.benefits.compare), written to
    ``output`` when given, and its main columns in the terminal."""
    from ..benefits import compare
    from ..benefits.settle import reason_text
    from ..lang import say
    from ..terminal import Col, fit_table

    table = compare(data, a, b, catastrophic=catastrophic, level=level, insurance=insurance, mapping=mapping)
    if output is not None:
        from ..io import write_table

        write_table(table.to_arrow(), output)
    if quiet:
        return

    def named(value: str, kind: str) -> str:
        if value == "all":
            return say("benefits.ins.all", language)
        return say(f"benefits.{kind}.{value}", language)

    def money(v) -> str:
        return "" if v is None else f"{v:,.0f}"

    def pct(v) -> str:
        return "" if v is None else f"{100 * v:.1f}%"

    word = lambda key: say(f"benefits.compare.{key}", language)  # noqa: E731
    keys = [Col(word("insurance"), "id", keep=True), Col(word("level"), "id", keep=True)]
    records = list(table.iter_rows(named=True))
    funds = [
        (
            named(r["insurance"], "ins"),
            named(r["level"], "level"),
            f"{r['stays']:,}",
            money(r["fund_payment_a"]),
            money(r["fund_payment_b"]),
            f"{r['fund_payment_change']:+,.0f}",
            "" if r["fund_change_share"] is None else f"{100 * r['fund_change_share']:+.1f}%",
            f"{r['funds_payment_change']:+,.0f}",
        )
        for r in records
    ]
    cols = [
        *keys,
        Col(word("stays"), "number"),
        Col(word("fund_a"), "number", keep=True),
        Col(word("fund_b"), "number", keep=True),
        Col(word("fund_change"), "number", keep=True),
        Col(word("fund_change_share"), "number", keep=True),
        Col(word("funds_change"), "number"),
    ]
    hint = str(output or "-o FILE")
    title = say("benefits.compare.title", language, a=a.name, b=b.name)
    common.out.print(fit_table(title, cols, funds, common.out.width, hint=hint, lang=language))
    patients = [
        (
            named(r["insurance"], "ins"),
            named(r["level"], "level"),
            f"{r['person_years']:,}",
            money(r["oop_year_mean_a"]),
            money(r["oop_year_mean_b"]),
            money(r["oop_year_p90_a"]),
            money(r["oop_year_p90_b"]),
            pct(r["catastrophic_share_a"]),
            pct(r["catastrophic_share_b"]),
        )
        for r in records
    ]
    cols = [
        *keys,
        Col(word("person_years"), "number"),
        Col(word("oop_mean_a"), "number", keep=True),
        Col(word("oop_mean_b"), "number", keep=True),
        Col(word("oop_p90_a"), "number"),
        Col(word("oop_p90_b"), "number"),
        Col(word("catastrophic_a"), "number", keep=True),
        Col(word("catastrophic_b"), "number", keep=True),
    ]
    title = say("benefits.compare.patients_title", language)
    common.out.print(fit_table(title, cols, patients, common.out.width, hint=hint, lang=language))
    total = table.filter(table["insurance"] == "all").row(0, named=True)
    k = total["person_years_with_income"]
    income = say("benefits.compare.income", language, share=f"{100 * catastrophic:g}%", k=f"{k:,}")
    common.out.print(income if k else say("benefits.compare.no_income", language), soft_wrap=True, markup=False)
    if total["stays_not_compared"]:
        common.out.print(
            say(
                "benefits.compare.dropped",
                language,
                k=f"{total['stays_not_compared']:,}",
                why="; ".join(reason_text(w, language) or w for w in (total["not_compared_why"] or "").split("; ")),
            ),
            soft_wrap=True,
            markup=False,
        )
    if output is not None:
        common.out.print(
            say("benefits.compare.done", language, rows=f"{total['stays']:,}", output=output),
            soft_wrap=True,
            markup=False,
        )


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

    from ..benefits.settle import find_sources, reason_text
    from ..lang import say
    from ..terminal import Col, fit_table

    frame = pl.DataFrame(
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
    person = pl.Series(result.column(find_sources(result, None)["patient_id"])).cast(pl.Utf8)
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
