"""The ``drgkit`` command line: thin wrappers over the API. Errors are one line on stderr, exit code 2."""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Group Chinese discharge abstracts (病案首页 / 医保结算清单) into CHS-DRG groups.")
out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """An error already phrased for the user."""


def _fail(message: str) -> None:
    err_console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _run(fn):
    """Call ``fn`` turning expected errors into one clear line."""
    from .io import InputError
    from .schemes.expr import ExprError
    from .schemes.tables import SchemeError

    try:
        return fn()
    except (InputError, SchemeError, ExprError, CliError, FileNotFoundError, PermissionError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except UnicodeDecodeError as exc:
        _fail(f"cannot decode input text: {exc.reason}")


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        if "=" not in item:
            raise CliError(f"--map takes SRC=canonical, got '{item}'")
        src, dst = item.split("=", 1)
        mapping[src.strip()] = dst.strip()
    return mapping


def _summary(counts: Counter, drgs: Counter, rows: int, seconds: float, scheme: str) -> None:
    rate = rows / seconds if seconds > 0 else float("inf")
    out_console.print(f"grouped {rows:,} abstracts with {scheme} in {seconds:.2f} s ({rate:,.0f} rows/s)")
    t = Table(title="status")
    t.add_column("status")
    t.add_column("rows", justify="right")
    t.add_column("share", justify="right")
    for status in ("ok", "ambiguous", "ungroupable", "invalid"):
        t.add_row(status, f"{counts.get(status, 0):,}", f"{100 * counts.get(status, 0) / max(rows, 1):.1f}%")
    out_console.print(t)
    if drgs:
        t = Table(title="top DRGs")
        t.add_column("DRG")
        t.add_column("name")
        t.add_column("rows", justify="right")
        for (drg, name), k in drgs.most_common(10):
            t.add_row(drg, name or "", f"{k:,}")
        out_console.print(t)


@app.command()
def group(
    input: Path = typer.Argument(..., help="Abstracts: .parquet, .csv (UTF-8 or GBK/GB18030), .xlsx"),
    output: Path = typer.Option(..., "-o", "--output", help="Result file: .parquet, .csv or .xlsx"),
    scheme: str = typer.Option("chs-drg-1.1", "--scheme", "-s", help="Scheme id (see `drgkit schemes`)"),
    map_: list[str] = typer.Option([], "--map", help="Rename a column: SRC=canonical (repeatable)"),
    diagnoses: Optional[Path] = typer.Option(None, help="Long diagnosis table (one row per code)"),
    procedures: Optional[Path] = typer.Option(None, help="Long procedure table (one row per code)"),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", help="Kernel threads (default: all cores)"),
    batch_size: int = typer.Option(1_000_000, help="Rows per streamed batch"),
    strict_gender: bool = typer.Option(False, help="Accept only 1/2 as gender (as the reference groupers)"),
    convert_codes: bool = typer.Option(False, help="Translate unknown 国临版 codes to 医保版 via the maps"),
    fix_case: bool = typer.Option(False, help="Upper-case unknown codes the scheme knows in canonical case"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors"),
) -> None:
    """Group every abstract of INPUT; one output row per input row, same order."""
    from .api import Options, group_canonical
    from .io import IncrementalWriter, iter_case_batches, read_cases, total_rows
    from .schemes.compile import load_compiled

    def work() -> None:
        mapping = _parse_map(map_)
        compiled = load_compiled(scheme)
        options = Options(strict_gender=strict_gender, convert_codes=convert_codes, fix_case=fix_case)
        if diagnoses or procedures:
            batches = iter([read_cases(input, mapping=mapping, diagnoses=diagnoses, procedures=procedures)])
            total = None
        else:
            batches = iter_case_batches(input, batch_size=batch_size, mapping=mapping)
            total = total_rows(input)
        counts: Counter = Counter()
        drgs: Counter = Counter()
        rows = 0
        start = time.perf_counter()
        show = not quiet and sys.stderr.isatty()
        writer = None
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(TextColumn("grouping"), BarColumn(), TextColumn("{task.completed:,} rows"),
                            TimeRemainingColumn(), console=err_console, disable=not show, transient=True)
        try:
            with progress:
                task = progress.add_task("group", total=total)
                for batch in batches:
                    result = group_canonical(batch, compiled, options, threads)
                    if writer is None:
                        writer = IncrementalWriter(output, result.schema)
                    writer.write(result)
                    rows += result.num_rows
                    if not quiet:
                        counts.update(result.column("status").to_pylist())
                        ok = result.filter(result.column("status").to_numpy(zero_copy_only=False) != "invalid")
                        drgs.update(zip(ok.column("drg").to_pylist(), ok.column("drg_name").to_pylist()))
                    progress.update(task, advance=result.num_rows)
            if writer is None:
                raise CliError(f"{input}: no rows could be read")
            writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if not quiet:
            _summary(counts, drgs, rows, time.perf_counter() - start, compiled.id)

    _run(work)


@app.command()
def explain(
    dx: str = typer.Option(..., "--dx", help="Diagnoses, principal first, separated by | or ,"),
    px: str = typer.Option("", "--px", help="Procedures, main first, separated by | or ,"),
    age: Optional[int] = typer.Option(None, "--age", help="Age in years"),
    sex: Optional[str] = typer.Option(None, "--sex", "--gender", help="1 male / 2 female (男/女, M/F accepted)"),
    age_days: Optional[int] = typer.Option(None, "--age-days", help="Age in days (required at age 0)"),
    weight: Optional[int] = typer.Option(None, "--weight", "--birth-weight", help="Birth weight in grams"),
    los: Optional[int] = typer.Option(None, "--los", help="Length of stay in days"),
    leaving_type: Optional[int] = typer.Option(None, "--leaving-type", help="Discharge type 1-5 (离院方式)"),
    dept: Optional[str] = typer.Option(None, "--dept", help="Department code"),
    icu_hours: Optional[int] = typer.Option(None, "--icu-hours", help="ICU hours"),
    scheme: str = typer.Option("chs-drg-1.1", "--scheme", "-s"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every rule tried"),
    convert_codes: bool = typer.Option(False, help="Translate unknown 国临版 codes to 医保版"),
    fix_case: bool = typer.Option(False, help="Upper-case unknown codes"),
) -> None:
    """Group one case and show why: every MDC and rule that decided it, with Chinese names."""
    from .api import Options
    from .api import explain as do_explain

    def work() -> None:
        e = do_explain(dx, px, age=age, sex=sex, age_days=age_days, birth_weight=weight, los=los,
                       leaving_type=leaving_type, dept=dept, icu_hours=icu_hours, scheme=scheme,
                       options=Options(convert_codes=convert_codes, fix_case=fix_case))
        if as_json:
            typer.echo(json.dumps(e.as_dict(), ensure_ascii=False, indent=2))
        else:
            typer.echo(e.text(verbose=verbose))

    _run(work)


@app.command()
def schemes(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the grouping schemes that ship with drgkit."""
    from .schemes.tables import list_schemes

    def work() -> None:
        infos = list_schemes()
        rows = [{"id": s.id, "name": s.name, "validity_check": s.manifest.get("validity_check"),
                 "checksum": s.checksum} for s in infos]
        if as_json:
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        t = Table(title=f"{len(rows)} schemes")
        for col in ("id", "name", "checksum"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["id"], r["name"], r["checksum"])
        out_console.print(t)

    _run(work)


@app.command()
def demo(
    rows: int = typer.Option(200_000, "--rows", "-n", help="Synthetic abstracts to generate"),
    scheme: str = typer.Option("chs-drg-1.1", "--scheme", "-s"),
    output: Path = typer.Option(Path("demo-grouped.parquet"), "-o", "--output"),
    seed: int = typer.Option(0, "--seed"),
    threads: Optional[int] = typer.Option(None, "--threads", "-t"),
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
        ok = result.filter(result.column("status").to_numpy(zero_copy_only=False) != "invalid")
        _summary(Counter(result.column("status").to_pylist()),
                 Counter(zip(ok.column("drg").to_pylist(), ok.column("drg_name").to_pylist())),
                 rows, seconds, compiled.id)

    _run(work)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
