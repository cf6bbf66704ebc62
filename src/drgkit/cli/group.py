"""``drgkit group``: every abstract of a file (or a Parquet dataset folder) into its group."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from ..cli_options import (
    AllowSchemeMismatch,
    AllowUnmapped,
    BaseRate,
    Canonical,
    HeaderRowOption,
    Lang,
    MapOption,
    SheetOption,
)
from ..lang import reason_text, resolve, say, words
from ..run_output import tally, write_stream
from ..schemes import DEFAULT_SCHEME
from ..terminal import Col, fit_table
from . import common
from .common import CliError, parse_map, report_mapping, sheet_arg

app = typer.Typer()


def summary(
    counts: Counter,
    drgs: Counter,
    rows: int,
    seconds: float,
    scheme: str,
    reasons: Counter | None = None,
    lang: str = "zh",
) -> None:
    rate = rows / seconds if seconds > 0 else float("inf")
    common.out.print(
        say("group.done", lang, rows=f"{rows:,}", scheme=scheme, seconds=f"{seconds:.2f}", rate=f"{rate:,.0f}"),
        soft_wrap=True,
        markup=False,
    )
    w = common.out.width
    status_words = words("status", lang)
    rows_col = Col(say("col.rows", lang), "number", keep=True)
    common.out.print(
        fit_table(
            say("group.status_title", lang),
            [Col(say("col.status", lang), "id", keep=True), rows_col, Col(say("col.share", lang), "number")],
            [
                (
                    status_words[status],
                    f"{counts.get(status, 0):,}",
                    f"{100 * counts.get(status, 0) / max(rows, 1):.1f}%",
                )
                for status in ("ok", "ambiguous", "ungroupable", "invalid")
            ],
            w,
        )
    )
    if reasons:
        common.out.print(
            fit_table(
                say("group.reasons_title", lang),
                [Col(say("col.reason", lang), keep=True), rows_col],
                [(reason_text(reason, lang), f"{k:,}") for reason, k in reasons.most_common(8)],
                w,
            )
        )
    if drgs:
        common.out.print(
            fit_table(
                say("group.groups_title", lang),
                [Col(say("col.group", lang), "id", keep=True), Col(say("col.name", lang), keep=True), rows_col],
                [(drg, name or "", f"{k:,}") for (drg, name), k in drgs.most_common(10)],
                w,
            )
        )


@app.command()
def group(
    input: Path = typer.Argument(..., help="Abstracts: .parquet, .csv (UTF-8 or GBK/GB18030), .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Result file: .parquet, .csv or .xlsx"),
    scheme: str = typer.Option(
        DEFAULT_SCHEME, "--scheme", "-s", help="Scheme id (see `drgkit schemes`), or dip:CATALOGUE_FOLDER for DIP"
    ),
    map_: MapOption = [],
    diagnoses: Optional[Path] = typer.Option(None, help="Long diagnosis table (one row per code)"),
    procedures: Optional[Path] = typer.Option(None, help="Long procedure table (one row per code)"),
    threads: Optional[int] = typer.Option(
        None, "--threads", "-t", help="Cores to use (default: all); 1 = one batch at a time"
    ),
    batch_size: int = typer.Option(125_000, min=1, help="Rows per streamed batch (memory grows with it)"),
    strict_gender: bool = typer.Option(False, help="Accept only 1/2 as gender (as the reference groupers)"),
    convert_codes: bool = typer.Option(False, help="Translate unknown 国临版 codes to 医保版 via the maps"),
    fix_case: bool = typer.Option(False, help="Upper-case unknown codes the scheme knows in canonical case"),
    price_table: Optional[str] = typer.Option(None, "--price", help="Also price with this payment table (one pass)"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level for --price (level1, level2, ...)"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="employee / resident for --price"),
    allow_scheme_mismatch: AllowSchemeMismatch = False,
    policy: Optional[Path] = typer.Option(None, "--policy", help="Payment policy TOML for --price"),
    benefits: Optional[str] = typer.Option(
        None,
        "--benefits",
        help="Benefit policy for --price (TOML or a shipped name: example-national): patients pay by person and "
        "year under it (fund = payment − patient) instead of the flat share; the input is read twice",
    ),
    base_rate: BaseRate = None,
    edits: bool = typer.Option(False, "--edits", help="Also run the coding edits (drgkit validate): column `edits`"),
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    allow_unmapped: AllowUnmapped = False,
    canonical: Canonical = False,
    explain_rows: Optional[str] = typer.Option(
        None, "--explain", help="Add a column saying why, in one sentence: 'problems' (rows not grouped) or 'all'"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors"),
    lang: Lang = None,
) -> None:
    """Group every abstract of INPUT; one output row per input row, same order: the input's columns (numbers
    typed), then status, reason, warnings and the group."""
    common.refuse_overwriting_input(output, input, diagnoses, procedures)
    from ..api import Options, group_canonical
    from ..io import open_cases
    from ..io.output import input_shaped
    from ..io.pipeline import ordered_map, prefetch
    from ..schemes.compile import load_compiled

    # Two batches are in flight at once (their Arrow work runs on two cores); each batch's kernel gets its
    # share of the cores — on two cores a serial kernel per batch, with no parallel launch to coordinate.
    cores = threads or os.cpu_count() or 1
    workers = 2 if cores > 1 else 1
    batch_threads = max(1, cores // workers)

    mapping = parse_map(map_)
    if explain_rows not in (None, "problems", "all"):
        raise CliError(f"--explain takes problems or all, not {explain_rows!r}")
    options = Options(strict_gender=strict_gender, convert_codes=convert_codes, fix_case=fix_case)
    if scheme.startswith("dip:"):  # a DIP catalogue folder instead of a DRG scheme
        from ..dip import load_catalogue
        from ..dip.grouper import group as dip_group

        catalogue = load_catalogue(scheme[len("dip:") :])

        def group_batch(batch):
            return dip_group(batch, catalogue)

        label = f"DIP catalogue {scheme[len('dip:') :]}"
    else:
        compiled = load_compiled(scheme)
        if not _small_input(input):  # (a small one is grouped without the kernel: grouping.batch.SMALL_BATCH)
            from ..grouping.batch import warm_kernel

            # the kernel loads (≈ 0.5 s) while the first batch is read
            threading.Thread(
                target=warm_kernel, args=(compiled, batch_threads), name="drgkit-warm", daemon=True
            ).start()

        def group_batch(batch):
            return group_canonical(batch, compiled, options, batch_threads, explain=explain_rows)

        label = compiled.id
    language = resolve(lang)
    pairs = _dataset_pairs(input, output) if input.is_dir() else [(input, output)]
    pricing = None
    if price_table:
        from functools import partial

        from ..payment import load_table as load_payment_table
        from ..payment import price

        payment_table = load_payment_table(price_table)
        grouped_with = scheme if not scheme.startswith("dip:") else ""
        if (
            payment_table.info.scheme
            and grouped_with
            and not allow_scheme_mismatch
            and load_compiled(grouped_with).id != payment_table.info.scheme
        ):
            raise CliError(
                f"table {payment_table.id} prices the groups of {payment_table.info.scheme}, not "
                f"{grouped_with}: add --scheme {payment_table.info.scheme}, or "
                f"--allow-scheme-mismatch to price them anyway"
            )
        from .pay import payment_policy

        price_policy = payment_policy(policy, benefits).with_base_rate(base_rate)
        pricing = partial(
            price,
            table=payment_table,
            level=level,
            insurance=insurance,
            policy=price_policy,
            allow_scheme_mismatch=allow_scheme_mismatch,
        )
    elif level or insurance or policy or benefits or base_rate is not None:
        raise CliError("--level, --insurance, --policy, --benefits and --base-rate need --price TABLE")
    basis_counts: Counter = Counter()  # patient_basis of the priced rows, over every batch
    basis_meta: dict = {}
    counts: Counter = Counter()
    drgs: Counter = Counter()
    reasons: Counter = Counter()
    start = time.perf_counter()
    show = not quiet and sys.stderr.isatty()
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("grouping"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeRemainingColumn(),
        console=common.err,
        disable=not show,
        transient=True,
    )

    def process(batch, source, split=None):
        result = group_batch(batch)
        if edits:
            from ..monitor.edits import validate_canonical

            found = validate_canonical(batch, scheme if not scheme.startswith("dip:") else DEFAULT_SCHEME)
            result = result.append_column("edits", found.column("edits"))
        if pricing is not None:
            result = pricing(result, **({"benefit_patient": split} if split is not None else {}))
        return result if canonical else input_shaped(result, source.plan)

    def results(source, settled=None):
        task = progress.add_task("group", total=source.total_rows)

        def batches():  # each batch with its slice of the payments settled over the whole file
            offset = 0
            for batch in source.batches():
                split = None
                if settled is not None:
                    split = (settled[0][offset : offset + batch.num_rows], settled[1])
                offset += batch.num_rows
                yield batch, split

        # output keeps input order
        for result in ordered_map(lambda item: process(item[0], source, item[1]), prefetch(batches()), workers=workers):
            if not quiet:
                tally(result, counts, drgs, reasons)
            if pricing is not None and not quiet:
                import json

                import pyarrow.compute as pc

                from ..payment.price import PRICING_METADATA_KEY

                for item in pc.value_counts(result.column("patient_basis")).to_pylist():
                    basis_counts[item["values"]] += item["counts"]
                if not basis_meta:
                    basis_meta.update(json.loads(result.schema.metadata[PRICING_METADATA_KEY]))
            progress.update(task, advance=result.num_rows)
            yield result

    from .startup import resume_gc

    resume_gc()  # start-up is over (drgkit.cli.startup): collection back on for the batches
    rows = 0
    with progress:
        for k, (file_in, file_out) in enumerate(pairs):  # a dataset: each file into its mirror, in order
            opened: dict[str, Any] = dict(
                path=file_in,
                mapping=mapping,
                sheet=sheet_arg(sheet),
                header_row=header_row,
                diagnoses=diagnoses,
                procedures=procedures,
                allow_unmapped=allow_unmapped,
            )
            source = open_cases(**opened, batch_size=batch_size)
            if not quiet and k == 0:
                report_mapping(source, language)
            settled = None
            if pricing is not None and price_policy.benefits:
                # a person's stays of the year may sit in different batches: settled over the whole file first
                settled = settle_file(open_cases(**opened, batch_size=batch_size), price_policy, level, insurance)
            file_out.parent.mkdir(parents=True, exist_ok=True)
            rows += write_stream(
                file_out,
                results(source, settled),
                f"{file_in}: no rows could be read",
                workbook=not scheme.startswith("dip:"),
            )
    if not quiet:
        summary(counts, drgs, rows, time.perf_counter() - start, label, reasons, language)
        if pricing is not None:
            from ..payment.price import patient_basis_line

            basis = {
                **basis_meta,
                "benefit_rows": basis_counts.get("benefits", 0),
                "flat_share_rows": basis_counts.get("flat_share", 0),
            }
            common.out.print(patient_basis_line(basis, language), soft_wrap=True, markup=False)


def settle_file(source, policy, level: str | None, insurance: str | None) -> tuple:
    """The patient payments of every row of a file under the payment policy's benefit policy (NaN where a stay
    cannot be settled) and why some were not: the fields settlement reads, taken from every batch of one
    pass over the file, settled together — each person's year in one run whatever the batch size."""
    import pyarrow as pa

    from ..benefits.settle import NEEDED, patient_payments

    parts = [batch.select([c for c in NEEDED if c in batch.column_names]) for batch in source.batches()]
    if not parts:
        return np.zeros(0), None
    table = pa.concat_tables(parts, promote_options="permissive")
    assumed = insurance or (None if "insurance_type" in table.column_names else policy.default_insurance)
    return patient_payments(table, policy.benefits, level=level, insurance=assumed)


#: Below this size an input file is read in a moment, so loading the kernel early, in parallel with reading it,
#: would save nothing; and it most likely holds no more than ``grouping.batch.SMALL_BATCH`` rows, which are
#: grouped without the kernel at all (a file that holds more loads the kernel when its batch comes).
SMALL_INPUT_BYTES = 1 << 20


def _small_input(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size < SMALL_INPUT_BYTES
    except OSError:
        return False


def _dataset_pairs(folder: Path, output: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) for every Parquet file of a (hive-partitioned) dataset folder, the output
    mirroring the input's layout under ``output`` (``year=2024/part-0.parquet`` → ``OUT/year=2024/…``)."""
    files = sorted(
        p
        for p in folder.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )
    if not files:
        raise CliError(f"{folder}: a folder with no .parquet files (a dataset is a folder of Parquet files)")
    if output.exists() and not output.is_dir():
        raise CliError(f"{output}: is a file; the output of a dataset folder is a folder")
    if output.suffix.lower() in (".parquet", ".csv", ".xlsx", ".xls", ".tsv", ".txt"):
        raise CliError(f"{output}: the output of a dataset folder is a folder (the same partitions), not a file")
    if output.resolve() == folder.resolve() or folder.resolve() in output.resolve().parents:
        raise CliError(f"{output}: inside the input dataset; write the grouped dataset elsewhere")
    return [(f, output / f.relative_to(folder)) for f in files]
