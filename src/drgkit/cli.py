"""The ``drgkit`` command line: thin wrappers over the API. Errors are one line on stderr, exit code 2."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import pyarrow as pa
import typer
from rich.console import Console

from .cli_options import (
    Age,
    AgeDays,
    AllowSchemeMismatch,
    AllowUnmapped,
    AsJson,
    BaseRate,
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
)
from .errors import DrgkitError
from .lang import price_reason_text, reason_text, resolve, say, words
from .schemes import DEFAULT_SCHEME
from .terminal import Col, fit_table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Group Chinese discharge abstracts (病案首页 / 医保结算清单) into CHS-DRG groups.")


@app.callback()
def _on_start() -> None:
    """Group Chinese discharge abstracts (病案首页 / 医保结算清单) into CHS-DRG groups."""
    import signal

    # SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C: writers remove their temporary files
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(DrgkitError):
    """An error already phrased for the user."""


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors already phrased for the user: drgkit's own (one error model, :class:`DrgkitError`) and the
    operating system's (a missing file, a read-only folder, a full disk)."""
    return (DrgkitError, OSError)


def _run(fn):
    """Call ``fn`` turning expected errors into one clear line."""
    try:
        return fn()
    except UnicodeDecodeError as exc:
        _fail(f"cannot decode input text: {exc.reason}")
    except Exception as exc:
        if not isinstance(exc, _expected_errors()):
            raise
        if isinstance(exc, OSError) and exc.strerror:  # "out.parquet: Read-only file system"
            where = exc.filename if exc.filename is not None else ""
            _fail(f"{where}: {exc.strerror}" if where else exc.strerror)
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        if "=" not in item:
            raise CliError(f"--map takes SRC=canonical, got '{item}'")
        src, dst = item.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def _write_stream(output: Path, tables, empty_message: str, workbook: bool = False) -> int:
    """Write tables to ``output`` as they come (in a background thread, so writing one batch overlaps
    computing the next); the file appears only when all went well. Returns the number of rows."""
    from .io import IncrementalWriter
    from .io.pipeline import BackgroundWriter

    writer = background = None
    rows = 0
    try:
        for table in tables:
            if writer is None:
                writer = IncrementalWriter(output, table.schema, workbook=workbook)
                background = BackgroundWriter(writer.write)
            assert background is not None
            background.submit(table)
            rows += table.num_rows
        if writer is None or background is None:
            raise CliError(empty_message)
        background.close()
        writer.close()
    except BaseException:
        if background is not None:
            try:
                background.close()
            except BaseException:
                pass
        if writer is not None:
            writer.abort()
        raise
    return rows


def _sheet(value: str | None) -> str | int | None:
    """``--sheet``: a 1-based number or a name."""
    return int(value) if value is not None and value.strip().isdigit() else value


def _report_mapping(source, lang: str = "zh") -> None:
    """Say which column became which field (stderr, so piped output stays clean)."""
    for line in source.mapping_report(lang):
        err_console.print(line, soft_wrap=True, markup=False)


def _tally(result, counts: Counter, drgs: Counter, reasons: Counter | None = None) -> None:
    """Add a batch's status and DRG counts (vectorized: one entry per distinct value)."""
    import pyarrow.compute as pc

    for item in pc.value_counts(result.column("status")).to_pylist():
        counts[item["values"]] += item["counts"]
    if reasons is not None and "reason" in result.column_names:
        # the reason without the values it quotes, so rows failing the same way count together
        shape = pc.replace_substring_regex(result.column("reason"), r"'[^']*'", "<value>")
        shape = pc.replace_substring_regex(shape, r": [A-Z]\d{2}\.\S*$", ": <code>")  # the grey code U05 names
        for item in pc.value_counts(shape).to_pylist():
            if item["values"] is not None:
                reasons[item["values"]] += item["counts"]
    grouped = result.filter(pc.is_in(result.column("status"), value_set=pa.array(["ok", "ambiguous"])))
    code, name = ("drg", "drg_name") if "drg" in result.column_names else ("dip_group", "dip_kind")
    keys = pc.binary_join_element_wise(grouped.column(code), pc.fill_null(grouped.column(name), ""), "\t")
    for item in pc.value_counts(keys).to_pylist():
        drgs[tuple(item["values"].split("\t", 1))] += item["counts"]


def _summary(counts: Counter, drgs: Counter, rows: int, seconds: float, scheme: str,
             reasons: Counter | None = None, lang: str = "zh") -> None:
    rate = rows / seconds if seconds > 0 else float("inf")
    out_console.print(say("group.done", lang, rows=f"{rows:,}", scheme=scheme, seconds=f"{seconds:.2f}",
                          rate=f"{rate:,.0f}"), soft_wrap=True, markup=False)
    w = out_console.width
    status_words = words("status", lang)
    out_console.print(fit_table(say("group.status_title", lang),
                                [Col(say("col.status", lang), "id", keep=True),
                                 Col(say("col.rows", lang), "number", keep=True), Col(say("col.share", lang), "number")],
                                [(status_words[status], f"{counts.get(status, 0):,}",
                                  f"{100 * counts.get(status, 0) / max(rows, 1):.1f}%")
                                 for status in ("ok", "ambiguous", "ungroupable", "invalid")], w))
    if reasons:
        out_console.print(fit_table(say("group.reasons_title", lang),
                                    [Col(say("col.reason", lang), keep=True), Col(say("col.rows", lang), "number", keep=True)],
                                    [(reason_text(reason, lang), f"{k:,}") for reason, k in reasons.most_common(8)], w))
    if drgs:
        out_console.print(fit_table(say("group.groups_title", lang),
                                    [Col(say("col.group", lang), "id", keep=True), Col(say("col.name", lang), keep=True),
                                     Col(say("col.rows", lang), "number", keep=True)],
                                    [(drg, name or "", f"{k:,}") for (drg, name), k in drgs.most_common(10)], w))


@app.command()
def group(
    input: Path = typer.Argument(..., help="Abstracts: .parquet, .csv (UTF-8 or GBK/GB18030), .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Result file: .parquet, .csv or .xlsx"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s",
                               help="Scheme id (see `drgkit schemes`), or dip:CATALOGUE_FOLDER for DIP"),
    map_: MapOption = [],
    diagnoses: Optional[Path] = typer.Option(None, help="Long diagnosis table (one row per code)"),
    procedures: Optional[Path] = typer.Option(None, help="Long procedure table (one row per code)"),
    threads: Optional[int] = typer.Option(None, "--threads", "-t",
                                          help="Cores to use (default: all); 1 = one batch at a time"),
    batch_size: int = typer.Option(125_000, min=1, help="Rows per streamed batch (memory grows with it)"),
    strict_gender: bool = typer.Option(False, help="Accept only 1/2 as gender (as the reference groupers)"),
    convert_codes: bool = typer.Option(False, help="Translate unknown 国临版 codes to 医保版 via the maps"),
    fix_case: bool = typer.Option(False, help="Upper-case unknown codes the scheme knows in canonical case"),
    price_table: Optional[str] = typer.Option(None, "--price", help="Also price with this payment table (one pass)"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level for --price (level1, level2, ...)"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="employee / resident for --price"),
    allow_scheme_mismatch: AllowSchemeMismatch = False,
    policy: Optional[Path] = typer.Option(None, "--policy", help="Payment policy TOML for --price"),
    base_rate: BaseRate = None,
    edits: bool = typer.Option(False, "--edits", help="Also run the coding edits (drgkit validate): column `edits`"),
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    allow_unmapped: AllowUnmapped = False,
    canonical: Canonical = False,
    explain_rows: Optional[str] = typer.Option(None, "--explain", help="Add a column saying why, in one sentence: "
                                               "'problems' (rows not grouped) or 'all'"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors"),
    lang: Lang = None,
) -> None:
    """Group every abstract of INPUT; one output row per input row, same order: the input's columns (numbers
    typed), then status, reason, warnings and the group."""
    from .api import Options, group_canonical
    from .io import open_cases
    from .io.output import input_shaped
    from .io.pipeline import ordered_map, prefetch
    from .schemes.compile import load_compiled

    # Two batches are in flight at once (their Arrow work runs on two cores); each batch's kernel gets its
    # share of the cores — on two cores a serial kernel per batch, with no parallel launch to coordinate.
    cores = threads or os.cpu_count() or 1
    workers = 2 if cores > 1 else 1
    batch_threads = max(1, cores // workers)

    def work() -> None:
        mapping = _parse_map(map_)
        if explain_rows not in (None, "problems", "all"):
            raise CliError(f"--explain takes problems or all, not {explain_rows!r}")
        options = Options(strict_gender=strict_gender, convert_codes=convert_codes, fix_case=fix_case)
        if scheme.startswith("dip:"):  # a DIP catalogue folder instead of a DRG scheme
            from .dip import load_catalogue
            from .dip.grouper import group as dip_group

            catalogue = load_catalogue(scheme[len("dip:"):])

            def group_batch(batch):
                return dip_group(batch, catalogue)
            label = f"DIP catalogue {scheme[len('dip:'):]}"
        else:
            compiled = load_compiled(scheme)
            from .grouping.batch import warm_kernel

            # the kernel loads (≈ 0.5 s) while the first batch is read
            threading.Thread(target=warm_kernel, args=(compiled, batch_threads), name="drgkit-warm",
                             daemon=True).start()

            def group_batch(batch):
                return group_canonical(batch, compiled, options, batch_threads, explain=explain_rows)
            label = compiled.id
        language = resolve(lang)
        pairs = _dataset_pairs(input, output) if input.is_dir() else [(input, output)]
        pricing = None
        if price_table:
            from functools import partial

            from .payment import load_table as load_payment_table
            from .payment import price
            from .payment.policy import load_policy

            payment_table = load_payment_table(price_table)
            grouped_with = scheme if not scheme.startswith("dip:") else ""
            if payment_table.info.scheme and grouped_with and not allow_scheme_mismatch and \
                    load_compiled(grouped_with).id != payment_table.info.scheme:
                raise CliError(f"table {payment_table.id} prices the groups of {payment_table.info.scheme}, not "
                               f"{grouped_with}: add --scheme {payment_table.info.scheme}, or "
                               f"--allow-scheme-mismatch to price them anyway")
            pricing = partial(price, table=payment_table, level=level, insurance=insurance,
                              policy=load_policy(policy).with_base_rate(base_rate),
                              allow_scheme_mismatch=allow_scheme_mismatch)
        elif level or insurance or policy or base_rate is not None:
            raise CliError("--level, --insurance, --policy and --base-rate need --price TABLE")
        counts: Counter = Counter()
        drgs: Counter = Counter()
        reasons: Counter = Counter()
        start = time.perf_counter()
        show = not quiet and sys.stderr.isatty()
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(TextColumn("grouping"), BarColumn(), TextColumn("{task.completed:,} rows"),
                            TimeRemainingColumn(), console=err_console, disable=not show, transient=True)

        def process(batch, source):
            result = group_batch(batch)
            if edits:
                from .monitor.edits import validate_canonical

                found = validate_canonical(batch, scheme if not scheme.startswith("dip:") else DEFAULT_SCHEME)
                result = result.append_column("edits", found.column("edits"))
            if pricing is not None:
                result = pricing(result)
            return result if canonical else input_shaped(result, source.plan)

        def results(source):
            task = progress.add_task("group", total=source.total_rows)
            # output keeps input order
            for result in ordered_map(lambda batch: process(batch, source), prefetch(source.batches()),
                                      workers=workers):
                if not quiet:
                    _tally(result, counts, drgs, reasons)
                progress.update(task, advance=result.num_rows)
                yield result

        rows = 0
        with progress:
            for k, (file_in, file_out) in enumerate(pairs):  # a dataset: each file into its mirror, in order
                source = open_cases(file_in, mapping=mapping, sheet=_sheet(sheet), header_row=header_row,
                                    diagnoses=diagnoses, procedures=procedures, allow_unmapped=allow_unmapped,
                                    batch_size=batch_size)
                if not quiet and k == 0:
                    _report_mapping(source, language)
                file_out.parent.mkdir(parents=True, exist_ok=True)
                rows += _write_stream(file_out, results(source), f"{file_in}: no rows could be read",
                                      workbook=not scheme.startswith("dip:"))
        if not quiet:
            _summary(counts, drgs, rows, time.perf_counter() - start, label, reasons, language)

    _run(work)


def _dataset_pairs(folder: Path, output: Path) -> list[tuple[Path, Path]]:
    """(input file, output file) for every Parquet file of a (hive-partitioned) dataset folder, the output
    mirroring the input's layout under ``output`` (``year=2024/part-0.parquet`` → ``OUT/year=2024/…``)."""
    files = sorted(p for p in folder.rglob("*.parquet")
                   if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts))
    if not files:
        raise CliError(f"{folder}: a folder with no .parquet files (a dataset is a folder of Parquet files)")
    if output.exists() and not output.is_dir():
        raise CliError(f"{output}: is a file; the output of a dataset folder is a folder")
    if output.suffix.lower() in (".parquet", ".csv", ".xlsx", ".xls", ".tsv", ".txt"):
        raise CliError(f"{output}: the output of a dataset folder is a folder (the same partitions), not a file")
    if output.resolve() == folder.resolve() or folder.resolve() in output.resolve().parents:
        raise CliError(f"{output}: inside the input dataset; write the grouped dataset elsewhere")
    return [(f, output / f.relative_to(folder)) for f in files]


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
    from .api import Options
    from .api import explain as do_explain

    def work() -> None:
        if scheme.startswith("dip:"):  # a DIP catalogue: same command, DIP's own explanation
            from .dip import explain as dip_explain

            d = dip_explain(scheme[len("dip:"):], dx=dx, px=px, age=age, age_days=age_days,
                            leaving_type=leaving_type)
            typer.echo(json.dumps(d, ensure_ascii=False, indent=2, default=str) if as_json else d["text"])
            return
        e = do_explain(dx, px, age=age, sex=sex, age_days=age_days, birth_weight=weight, los=los,
                       leaving_type=leaving_type, dept=dept, icu_hours=icu_hours, scheme=scheme,
                       options=Options(convert_codes=convert_codes, fix_case=fix_case))
        if as_json:
            typer.echo(json.dumps(e.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(e.text(verbose=verbose, lang=resolve(lang)))

    _run(work)


schemes_app = typer.Typer(help="The grouping schemes: list them (no subcommand), check or seal a scheme folder.",
                          invoke_without_command=True, no_args_is_help=False)
app.add_typer(schemes_app, name="schemes")


@schemes_app.callback()
def schemes(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the grouping schemes that ship with drgkit (``check`` / ``seal`` a scheme folder you write)."""
    from .schemes.tables import list_schemes

    if ctx.invoked_subcommand is not None:
        return

    def work() -> None:
        infos = list_schemes()
        rows = [{"id": s.id, "name": s.name, "validity_check": s.manifest.get("validity_check"),
                 "checksum": s.checksum} for s in infos]
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        out_console.print(fit_table(f"{len(rows)} schemes", [Col("id", "id", keep=True), Col("name", keep=True),
                                                              Col("checksum", "id")],
                                    [(r["id"], r["name"], r["checksum"]) for r in rows], out_console.width))

    _run(work)


@schemes_app.command("check")
def schemes_check(folder: Path = typer.Argument(..., help="A scheme folder (with scheme.toml)")) -> None:
    """Check a scheme folder: it compiles, sealed tables match their hashes, derived columns agree with their
    expressions, naming conventions hold, and (warnings) every table code is in the ICD dictionary."""
    from .schemes.authoring import check, summary

    def work() -> None:
        problems = check(folder)
        for line in summary(problems):
            out_console.print(line, soft_wrap=True, markup=False)
        errors = sum(p.is_error for p in problems)
        warnings_ = len(problems) - errors
        if errors:
            raise CliError(f"{folder}: {errors:,} problem(s) to fix, {warnings_:,} warning(s)")
        out_console.print(f"{folder}: sound ({warnings_:,} warning(s))", markup=False)

    _run(work)


@schemes_app.command("seal")
def schemes_seal(folder: Path = typer.Argument(..., help="A scheme folder (with scheme.toml)")) -> None:
    """Record each table's content hash and row count in scheme.toml: an edit is then refused until sealed
    again (run `drgkit schemes check` first)."""
    from .schemes.authoring import seal

    def work() -> None:
        hashes = seal(folder)
        out_console.print(f"sealed {len(hashes)} tables of {folder}", markup=False)

    _run(work)


@app.command()
def sample(
    output: Path = typer.Option(Path("病案首页示例.xlsx"), "-o", "--output", help=".xlsx, .csv or .parquet"),
    rows: int = typer.Option(320, "--rows", "-n", min=1, help="Abstracts"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s"),
) -> None:
    """Write a sample 病案首页 export as a coding department saves it (Chinese headers, one column per code,
    男/女, 82岁, 医嘱离院, some grey codes and blanks) to try `drgkit group` on; synthetic patients."""
    from .demo.export import coder_export
    from .io import write_table

    def work() -> None:
        write_table(coder_export(rows, scheme=scheme), output)
        out_console.print(f"{rows:,} sample abstracts written to {output}; next: drgkit group {output} "
                          f"-o 分组结果.xlsx --explain problems", soft_wrap=True, markup=False)

    _run(work)


@app.command()
def demo(
    rows: int = typer.Option(200_000, "--rows", "-n", help="Synthetic abstracts to generate"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s"),
    output: Path = typer.Option(Path("demo-grouped.parquet"), "-o", "--output"),
    seed: int = typer.Option(0, "--seed"),
    threads: Optional[int] = typer.Option(None, "--threads", "-t"),
    lang: Lang = None,
) -> None:
    """Generate a realistic synthetic sample, group it and print a summary (no data needed)."""
    from .api import group_canonical
    from .demo import generate
    from .io import canonicalize, write_table
    from .schemes.compile import load_compiled

    def work() -> None:
        compiled = load_compiled(scheme)
        t0 = time.perf_counter()
        table = canonicalize(generate(rows, scheme=scheme, seed=seed))
        gen = time.perf_counter() - t0
        group_canonical(table.slice(0, min(1000, rows)), compiled)  # warm the numba cache
        t1 = time.perf_counter()
        result = group_canonical(table, compiled, threads=threads)
        seconds = time.perf_counter() - t1
        write_table(result, output)
        out_console.print(f"generated {rows:,} synthetic abstracts in {gen:.2f} s; results in {output}")
        counts: Counter = Counter()
        drgs: Counter = Counter()
        _tally(result, counts, drgs)
        _summary(counts, drgs, rows, seconds, compiled.id, lang=resolve(lang))

    _run(work)


@app.command()
def synth(
    rows: int = typer.Option(1_000_000, "--rows", "-n", help="Abstracts to write (any size: written in chunks)"),
    output: Path = typer.Option(..., "-o", "--output", help=".parquet or .csv"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s"),
    seed: int = typer.Option(1, "--seed"),
    dirty: float = typer.Option(0.03, "--dirty", help="Share of rows with planted data errors"),
    chunk: int = typer.Option(1_000_000, "--chunk", help="Rows generated per chunk (bounds memory)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Write realistic synthetic abstracts drawn from a scheme's own tables (demo, tests, benchmarks)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .demo import generate

    def work() -> None:
        if rows < 0 or chunk <= 0:
            raise CliError("--rows must be >= 0 and --chunk > 0")
        t0 = time.perf_counter()

        def chunks():
            for k, start in enumerate(range(0, max(rows, 1), chunk)):
                n = min(chunk, rows - start)
                table = generate(n, scheme=scheme, seed=seed * 100_003 + k, dirty=dirty)
                # ids unique across chunks
                ids = pc.utf8_lpad(pc.cast(pa.array(range(start + 1, start + n + 1), pa.int64()), pa.string()), 9, "0")
                table = table.set_column(table.column_names.index("case_id"), "case_id",
                                         pc.binary_join_element_wise("D", ids, ""))
                if "patient_id" in table.column_names:
                    pid = table.column("patient_id")
                    table = table.set_column(table.column_names.index("patient_id"), "patient_id",
                                             pc.binary_join_element_wise(f"C{k}-", pc.cast(pid, pa.string()), ""))
                yield table

        _write_stream(output, chunks(), "no rows generated")
        if not quiet:
            out_console.print(f"wrote {rows:,} synthetic abstracts ({scheme}) to {output} "
                              f"in {time.perf_counter() - t0:.1f} s")

    _run(work)


# ---------------------------------------------------------------- payment: tables, pay
tables_app = typer.Typer(no_args_is_help=True, help="City DRG payment tables (list, show, check).")
app.add_typer(tables_app, name="tables")


def _run_pay(fn):
    """Like ``_run``, also turning payment table / policy errors into one clear line."""
    from .payment import PolicyError, TableError

    def guarded():
        try:
            return fn()
        except (TableError, PolicyError) as exc:
            raise CliError(str(exc).splitlines()[0]) from None

    return _run(guarded)


@tables_app.command("list")
def tables_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the shipped payment tables: city, year, scheme, levels, insurance types, what they publish."""
    from .payment import list_tables

    def work() -> None:
        infos = list_tables()
        rows = [{"id": i.id, "city": f"{i.city_zh} {i.city}", "year": i.year, "scheme": i.scheme,
                 "basis": i.basis, "drgs": i.drgs, "levels": ",".join(i.levels), "insurance":
                 ",".join(i.insurance_types), "published": ",".join(i.published), "licence": i.licence}
                for i in infos]
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        # ids, schemes and numbers are never cut: at a narrow terminal the lower-priority columns go, and say so
        cols = [Col("id", "id", keep=True), Col("city"), Col("year", "number"), Col("scheme", "id", keep=True),
                Col("drgs", "number", keep=True), Col("levels"), Col("insurance"), Col("published")]
        out_console.print(fit_table(f"{len(rows)} payment tables", cols,
                                    [[str(r[c.name]) for c in cols] for r in rows], out_console.width))

    _run_pay(work)


@tables_app.command("show")
def tables_show(
    table_id: str = typer.Argument(..., help="Table id (see `drgkit tables list`) or a table CSV"),
    level: Optional[str] = typer.Option(None, "--level", help="Only this hospital level"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="Only this insurance type"),
    drg: Optional[str] = typer.Option(None, "--drg", help="Only DRG codes starting with this"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy TOML (rates for weight-only tables)"),
    limit: int = typer.Option(20, "--limit", "-n", help="Rows to print (0 = all)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the standards to a file"),
) -> None:
    """Show a table's manifest and its payment standards (computed where only RW, rate and coefficient are given)."""
    import polars as pl

    from .io import write_table
    from .payment import load_table, standards

    def work() -> None:
        t = load_table(str(table_id))
        i = t.info
        out_console.print(f"[bold]{i.id}[/bold] {i.city_zh} {i.city} {i.year or ''}  scheme {i.scheme or '-'} "
                          f"({i.scheme_code_match or '?'} codes)  basis {i.basis}")
        out_console.print(f"levels: {', '.join(i.levels) or '-'}  insurance: {', '.join(i.insurance_types) or '-'}"
                          f"  publishes: {', '.join(i.published)}")
        out_console.print(f"source: {i.source}  licence: {i.licence or '-'}")
        for r in i.rates:
            out_console.print(f"rate {r.get('level') or '-'} / {r.get('insurance') or '-'}: {r['base_rate']} "
                              f"({r.get('source')}, reproduces {r.get('reproduces', '?')})")
        for note in t.notes:
            out_console.print(f"[yellow]note:[/yellow] {note}")
        s = standards(t, policy)
        if level:
            s = s.filter(pl.col("hospital_level") == level)
        if insurance:
            s = s.filter(pl.col("insurance_type") == insurance)
        if drg:
            s = s.filter(pl.col("drg").str.starts_with(drg))
        s = s.select("drg", "drg_name", "hospital_level", "insurance_type", "rw", "rate", "coef",
                     "payment_standard", "standard", "flags")
        if output:
            write_table(s.to_arrow(), output)
            out_console.print(f"{s.height} rows written to {output}")
            return
        kinds = {"drg": "id", "drg_name": "text", "flags": "text", "hospital_level": "id", "insurance_type": "id"}
        out_console.print(fit_table(f"{s.height} rows", [Col(c, kinds.get(c, "number"), keep=c in ("drg", "standard"))
                                                         for c in s.columns],
                                    [["" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v))
                                      for v in row] for row in s.head(limit or s.height).iter_rows()],
                                    out_console.width, hint="-o FILE"))

    _run_pay(work)


@tables_app.command("check")
def tables_check(
    table_id: str = typer.Argument(..., help="Table id or a table CSV"),
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(20, "--limit", "-n", help="Rows not following the rate to list per level"),
) -> None:
    """Derive the base rate implied by the published standards and list the rows that do not follow it."""
    from .payment import check_table, load_table

    def work() -> None:
        t = load_table(str(table_id))
        checks = check_table(t)
        if as_json:
            typer.echo(json.dumps([{"level": c.level, "insurance": c.insurance, "formula": c.formula,
                                    "rate": c.rate, "published_rate": c.published_rate,
                                    "manifest_rate": c.manifest_rate, "rows_checked": c.rows_checked,
                                    "rows_reproduced": c.rows_reproduced,
                                    "outliers": c.outliers.to_dicts()} for c in checks],
                                  ensure_ascii=False, indent=2))
            return
        if not checks:
            out_console.print(f"{t.id}: publishes no payment standards with weights; nothing to check")
        for note in t.notes:
            out_console.print(f"[yellow]note:[/yellow] {note}")
        for c in checks:
            src = "published" if c.published_rate is not None and c.rate == c.published_rate else "implied"
            out_console.print(f"{t.id} {c.level or '-'} / {c.insurance or '-'}: standard = {c.formula}, "
                              f"{src} rate {c.rate} reproduces {c.rows_reproduced}/{c.rows_checked} rows to 0.01 yuan")
            if c.outliers.height:
                out_console.print(fit_table(
                    f"{c.outliers.height} rows not following rate {c.rate}",
                    [Col(col, "id" if col == "drg" else ("text" if col == "drg_name" else "number"), keep=col == "drg")
                     for col in c.outliers.columns],
                    [["" if v is None else str(v) for v in row]
                     for row in c.outliers.head(limit or c.outliers.height).iter_rows()], out_console.width))

    _run_pay(work)


@app.command()
def pay(
    input: Path = typer.Argument(..., help="Grouped cases (output of `drgkit group`): .parquet, .csv, .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Priced result: .parquet, .csv or .xlsx"),
    table: str = typer.Option(..., "--table", help="Payment table id (see `drgkit tables list`) or a table CSV"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level (default: the hospital_level column)"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="employee / resident (default: column or policy)"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Policy TOML (thresholds, formulas, rates)"),
    base_rate: BaseRate = None,
    allow_scheme_mismatch: AllowSchemeMismatch = False,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    lang: Lang = None,
) -> None:
    """Price every grouped case: standard payment, case type, payment, fund and patient shares, margin."""
    import pyarrow.compute as pc

    from .io import write_table
    from .io.read import read_file
    from .payment import CASE_TYPES, price

    def work() -> None:
        language = resolve(lang)
        colon = say("punct.colon", language)
        start = time.perf_counter()
        data = read_file(input)
        if data.num_rows == 0:
            raise CliError(f"{input}: no rows could be read")
        if not quiet:  # which columns pricing reads (a result may keep the coder's own headers: 总费用 …)
            from .io.columns import field_sources
            from .payment.price import NEEDED

            found = field_sources(data.column_names, NEEDED)
            err_console.print(say("read.columns", language) + colon + "; ".join(src if src == f else f"{src} → {f}"
                                                          for f, src in found.items()), soft_wrap=True, markup=False)
        result = price(data, table, level=level, insurance=insurance, policy=policy,
                       allow_scheme_mismatch=allow_scheme_mismatch, base_rate=base_rate)
        if not quiet:
            from .payment.policy import load_policy

            assumed = load_policy(policy).with_base_rate(base_rate).assumptions(language)
            err_console.print(say("pay.policy", language) + colon + "; ".join(assumed), soft_wrap=True, markup=False)
        write_table(result, output)
        if quiet:
            return
        seconds = time.perf_counter() - start
        out_console.print(say("pay.done", language, rows=f"{result.num_rows:,}", table=table, seconds=f"{seconds:.2f}",
                              output=output), soft_wrap=True, markup=False)
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
        out_console.print(fit_table(say("pay.case_types_title", language),
                                    [Col(say("col.case_type", language), "id", keep=True),
                                     Col(say("col.cases", language), "number", keep=True),
                                     Col(say("col.payment", language), "number", keep=True),
                                     Col(say("col.margin", language), "number")], lines, out_console.width))
        unpriced = result.filter(pc.equal(ct, "unpriced"))
        if unpriced.num_rows:
            counts = Counter(unpriced.column("price_reason").to_pylist()).most_common(5)
            for why, k in counts:
                out_console.print(say("pay.unpriced", language, k=f"{k:,}", why=price_reason_text(why, language)),
                                  soft_wrap=True, markup=False)

    _run_pay(work)


@app.command()
def calibrate(
    input: Path = typer.Argument(..., help="Grouped history (output of `drgkit group`): .parquet, .csv, .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="New payment table (.csv, the format `pay` reads)"),
    trim: str = typer.Option("iqr", "--trim", help="iqr | sd3 | pct5_95 | pct2_5_97_5 | none"),
    years: Optional[str] = typer.Option(None, "--years", help="Year weights, e.g. 2022:1,2023:2,2024:7"),
    budget: Optional[float] = typer.Option(None, "--budget", help="DRG fund budget (yuan): sets the base rate"),
    fund_ratio: float = typer.Option(1.0, "--fund-ratio", help="Fund payment ratio (budget ÷ ratio = total cost)"),
    min_cases: int = typer.Option(100, "--min-cases", help="Flag groups with fewer cases as low_volume"),
    reference: Optional[str] = typer.Option(None, "--reference",
                                            help="Compare with a scheme's reference weights (chs-drg-2.0) or a "
                                                 "payment table: reference_rw, rw_vs_reference"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Derive weights (RW = trimmed group mean ÷ overall mean), CV before and after trimming, RIV, LOS
    statistics and a base rate from history; every row left out is counted by reason."""
    from .payment.calibrate import CalibrationError, parse_years
    from .payment.calibrate import calibrate as do_calibrate

    def work() -> None:
        try:
            cal = do_calibrate(input, trim=trim, years=parse_years(years), budget=budget,
                               fund_ratio=fund_ratio, min_cases=min_cases, reference=reference)
        except CalibrationError as exc:
            raise CliError(str(exc)) from None
        files = cal.write(output)
        if quiet:
            return
        t = cal.table
        left = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in cal.excluded.items() if v)
        out_console.print(f"calibrated {t.height} DRGs from {cal.cases_used:,} usable of {cal.cases:,} rows"
                          + (f" (left out: {left})" if left else "")
                          + f"; {cal.cases_kept:,} kept after trim {trim}", soft_wrap=True)
        out_console.print(f"overall mean cost {cal.overall_mean:,.2f}; RIV {cal.riv:.3f} after trimming, "
                          f"{cal.riv_all:.3f} before", soft_wrap=True)
        out_console.print(f"groups with CV > 1: {int(t['cv_over_1'].sum())}; low volume (< {min_cases} cases): "
                          f"{int(t['low_volume'].sum())}"
                          + (f"; base rate {cal.base_rate:,.2f}" if cal.base_rate is not None else ""), soft_wrap=True)
        if reference:
            ratio = t["rw_vs_reference"].drop_nulls()
            out_console.print(f"against {reference}: {ratio.len():,} of {t.height} groups have a reference weight"
                              + (f"; calibrated ÷ reference median {float(ratio.median()):.3f}, "  # type: ignore[arg-type]
                                 f"P10–P90 {float(ratio.quantile(0.1)):.3f}–{float(ratio.quantile(0.9)):.3f}"  # type: ignore[arg-type]
                                 if ratio.len() else ""),
                              soft_wrap=True)
        out_console.print(f"written: {', '.join(str(f) for f in files)} (use: drgkit pay … --table {output})",
                          soft_wrap=True)

    _run_pay(work)


@app.command()
def report(
    input: Path = typer.Argument(..., help="Grouped (and priced) cases: .parquet, .csv, .xlsx"),
    by: str = typer.Option("hospital", "--by", help="Column to report by: hospital, dept, …"),
    output: Path = typer.Option(Path("drgkit-report"), "-o", "--output", help="Folder for CSV and PNG files"),
    top: int = typer.Option(20, "--top", help="How many losing DRGs to list"),
    lang: Lang = None,
) -> None:
    """Indicators by hospital or department: 入组率, CMI, time/cost consumption indices, margin, losing DRGs."""
    from .io.read import read_file
    from .payment.report import ReportError, indicators, write_report
    from .report_words import fmt, terminal_table

    def work() -> None:
        language = resolve(lang)
        data = read_file(input)
        try:
            files = write_report(data, output, by=by, top=top)
            per, losing = indicators(data, by)
        except ReportError as exc:
            raise CliError(str(exc)) from None
        out_console.print(terminal_table(say("report.title", language, by=fmt_label(by, language)),
                                         per.to_dicts(), [c for c in (by, *TERMINAL_ORDER) if c in per.columns],
                                         out_console.width, language,
                                         keep=(by, "cmi"), hint=str(output / "report.html")))
        if losing.height:
            most = ", ".join(f"{d} {fmt('margin', m, language)}"
                             for d, m in losing.head(min(top, 5)).select("drg", "margin").iter_rows())
            out_console.print(say("report.losing", language, drgs=most), soft_wrap=True, markup=False)
        out_console.print(say("report.written", language, files=", ".join(str(f) for f in files)),
                          soft_wrap=True, markup=False)

    _run_pay(work)


#: the indicators in the order a narrow terminal keeps them (the last ones are left out first)
TERMINAL_ORDER = ("cases", "grouping_rate", "cmi", "margin", "payment", "total_cost", "time_index", "cost_index",
                  "grouped")


def fmt_label(name: str, lang: str) -> str:
    """A field's report label without its unit (医院, department …)."""
    from .report_words import label

    return label(name, with_unit=False, lang=lang)


from .commands import register_all  # noqa: E402  (after the core commands, so they list first)

register_all(app)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
