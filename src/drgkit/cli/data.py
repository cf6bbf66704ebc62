"""``drgkit sample`` / ``demo`` / ``synth``: the built-in data."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from ..cli_options import (
    Lang,
)
from ..lang import resolve
from ..run_output import tally, write_stream
from ..schemes import DEFAULT_SCHEME
from . import common
from .common import CliError
from .group import summary

app = typer.Typer()


@app.command()
def sample(
    output: Path = typer.Option(Path("病案首页示例.xlsx"), "-o", "--output", help=".xlsx, .csv or .parquet"),
    rows: int = typer.Option(320, "--rows", "-n", min=1, help="Abstracts"),
    scheme: str = typer.Option(DEFAULT_SCHEME, "--scheme", "-s"),
) -> None:
    """Write a sample 病案首页 export as a coding department saves it (Chinese headers, one column per code,
    男/女, 82岁, 医嘱离院, some grey codes and blanks) to try `drgkit group` on; synthetic patients."""
    from ..demo.export import coder_export
    from ..io import write_table

    write_table(coder_export(rows, scheme=scheme), output)
    common.out.print(
        f"{rows:,} sample abstracts written to {output}; next: drgkit group {output} "
        f"-o 分组结果.xlsx --explain problems",
        soft_wrap=True,
        markup=False,
    )


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
    from ..api import group_canonical
    from ..demo import generate
    from ..io import canonicalize, write_table
    from ..schemes.compile import load_compiled

    compiled = load_compiled(scheme)
    t0 = time.perf_counter()
    table = canonicalize(generate(rows, scheme=scheme, seed=seed))
    gen = time.perf_counter() - t0
    group_canonical(table.slice(0, min(1000, rows)), compiled)  # warm the numba cache
    t1 = time.perf_counter()
    result = group_canonical(table, compiled, threads=threads)
    seconds = time.perf_counter() - t1
    write_table(result, output)
    common.out.print(f"generated {rows:,} synthetic abstracts in {gen:.2f} s; results in {output}")
    counts: Counter = Counter()
    drgs: Counter = Counter()
    tally(result, counts, drgs)
    summary(counts, drgs, rows, seconds, compiled.id, lang=resolve(lang))


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

    from ..demo import generate

    if rows < 0 or chunk <= 0:
        raise CliError("--rows must be >= 0 and --chunk > 0")
    t0 = time.perf_counter()

    def chunks():
        for k, start in enumerate(range(0, max(rows, 1), chunk)):
            n = min(chunk, rows - start)
            table = generate(n, scheme=scheme, seed=seed * 100_003 + k, dirty=dirty)
            # ids unique across chunks
            ids = pc.utf8_lpad(pc.cast(pa.array(range(start + 1, start + n + 1), pa.int64()), pa.string()), 9, "0")
            table = table.set_column(
                table.column_names.index("case_id"), "case_id", pc.binary_join_element_wise("D", ids, "")
            )
            if "patient_id" in table.column_names:
                pid = table.column("patient_id")
                table = table.set_column(
                    table.column_names.index("patient_id"),
                    "patient_id",
                    pc.binary_join_element_wise(f"C{k}-", pc.cast(pid, pa.string()), ""),
                )
            yield table

    write_stream(output, chunks(), "no rows generated")
    if not quiet:
        common.out.print(
            f"wrote {rows:,} synthetic abstracts ({scheme}) to {output} in {time.perf_counter() - t0:.1f} s"
        )
