"""End-to-end Parquet → Parquet grouping against the pyarrow I/O floor, and peak memory vs input size.

    python benchmarks/bench_end_to_end.py [--rows 5000000] [--rss 1000000,10000000] [--repeat 3]
        [--workdir /tmp/drgkit-bench] [--input realistic|synth] [--format parquet|csv] [--floor input|output]
        [--floor-writer pyarrow|drgkit]

--input realistic (the default) times the wide settlement-list export of benchmarks/realistic.py, every row a
fresh combination of real codes; synth the `drgkit synth` cases. --format csv times CSV → Parquet (the floor
then reads the CSV with pyarrow's streaming reader).

(a) `drgkit group` on the N-row input, and in the same run the floor: pyarrow reading that file batch by batch
    and writing it back as read (--floor input, the default), or writing a table of the output's shape (same
    columns and types, values of the same kind; --floor output, a looser floor). The two alternate --repeat
    times (the machine is shared and noisy); prints every run, the best of each and their ratio, and the median
    of the per-run ratios. --floor-writer drgkit gives the floor drgkit's Parquet encodings (plain for
    mostly-distinct columns) instead of pyarrow's defaults, separating the writer's settings from the rest of
    the difference.

(d) Peak RSS of `drgkit group` (a fresh process each) for each size in --rss; prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def synth(path: Path, rows: int) -> None:
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    subprocess.run([sys.executable, "-m", "drgkit.cli", "synth", "-n", str(rows), "-o", str(path), "-q"], check=True)


def run_group(src: Path, dst: Path, batch: int) -> tuple[float, int]:
    """Wall time and peak RSS (kB) of `drgkit group` in a fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "drgkit.cli", "group", str(src), "-o", str(dst), "-q", "--batch-size", str(batch)]
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"drgkit group failed with status {status}")
    return time.perf_counter() - t, usage.ru_maxrss


def _template_values(template: pa.Table, name: str, k: int) -> pa.Array:
    """``k`` values of a template column (repeated when the template is shorter)."""
    col = template.column(name)
    reps = -(-k // template.num_rows)
    if reps > 1:
        return pa.concat_arrays([c for _ in range(reps) for c in col.chunks])[:k]
    return col.slice(0, k).combine_chunks()


def _batches(src: Path, batch: int):
    if src.suffix == ".csv":
        import pyarrow.csv as pacsv

        yield from pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=1 << 24))
    else:
        yield from pq.ParquetFile(src).iter_batches(batch_size=batch)


def _schema(src: Path) -> pa.Schema:
    if src.suffix == ".csv":
        import pyarrow.csv as pacsv

        return pacsv.open_csv(src).schema
    return pq.ParquetFile(src).schema_arrow


def make_input(work: Path, rows: int, kind: str, fmt: str) -> Path:
    """The benchmark input (made once per size, kind and format)."""
    if kind == "synth":
        src = work / f"cases-{rows}.parquet"
        synth(src, rows)
        if fmt == "csv":
            csv = src.with_suffix(".csv")
            if not csv.exists():
                import pyarrow.csv as pacsv

                table = pq.read_table(src)
                table = (
                    table.select([n for n in table.column_names if not pa.types.is_list(table.schema.field(n).type)])
                    .append_column("dx", pa.compute.binary_join(table.column("dx"), "|"))
                    .append_column("px", pa.compute.binary_join(table.column("px"), "|"))
                )
                pacsv.write_csv(table, csv)
            return csv
        return src
    sys.path.insert(0, str(Path(__file__).parent))
    from realistic import write

    base = work / f"realistic-{rows}"
    parquet, csv = base.with_suffix(".parquet"), base.with_suffix(".csv")
    if not (parquet.exists() and pq.ParquetFile(parquet).metadata.num_rows == rows and csv.exists()):
        write(rows, base)
    return csv if fmt == "csv" else parquet


def _writer(dst: Path, schema: pa.Schema, first: pa.Table, kind: str) -> pq.ParquetWriter:
    """The floor's Parquet writer: pyarrow's defaults (with zstd, as drgkit writes), or ``drgkit``'s choice of
    encodings (drgkit.io.write.parquet_writer), to show how much of the difference is the writer's settings."""
    if kind == "drgkit":
        from drgkit.io.write import parquet_writer

        return parquet_writer(dst, schema, first)
    return pq.ParquetWriter(dst, schema, compression="zstd")


def floor(src: Path, dst: Path, template: pa.Table | None, batch: int, writer_kind: str = "pyarrow") -> float:
    """Read the input in batches and write a table of the output's shape: the output's columns with its
    types, in its order. Input columns of the same type are written as read; the others (result columns,
    and dx / px, which the output holds as lists of codes) take values from the output's first row group,
    so nothing is computed. ``template=None``: the input written back as read (``--floor input``)."""
    if template is None:
        t = time.perf_counter()
        writer = None
        for rb in _batches(src, batch):
            if writer is None:
                writer = _writer(dst, rb.schema, pa.Table.from_batches([rb]), writer_kind)
            writer.write_batch(rb)
        writer.close()
        return time.perf_counter() - t
    source = _schema(src)
    as_read = {
        n for n in template.column_names if n in source.names and source.field(n).type == template.schema.field(n).type
    }
    t = time.perf_counter()
    writer = None
    for rb in _batches(src, batch):
        k = rb.num_rows
        table = pa.table(
            {n: rb.column(n) if n in as_read else _template_values(template, n, k) for n in template.column_names}
        )
        if writer is None:
            writer = _writer(dst, table.schema, table, writer_kind)
        writer.write_table(table)
    writer.close()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--rss", default="1000000,10000000")
    ap.add_argument("--batch", type=int, default=125_000)
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs of drgkit and the floor")
    ap.add_argument("--workdir", default="/tmp/drgkit-bench")
    ap.add_argument("--input", choices=("realistic", "synth"), default="realistic")
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument(
        "--floor",
        choices=("output", "input"),
        default="input",
        help="input: read + write the input back as read (the issue's floor; default); output: read + write a "
        "table of the output's columns and types (more columns: a looser floor)",
    )
    ap.add_argument(
        "--floor-writer",
        choices=("pyarrow", "drgkit"),
        default="pyarrow",
        help="pyarrow: the floor writes with pyarrow's defaults and zstd (default); drgkit: with drgkit's choice of "
        "encodings (plain for mostly-distinct columns)",
    )
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = make_input(work, args.rows, args.input, args.format)
    print(f"input: {src} ({args.input}, {args.format})")
    warm = work / "warm.parquet"
    synth(warm, 10_000)
    run_group(warm, work / "warm-out.parquet", args.batch)  # numba / scheme caches
    out = work / "grouped.parquet"
    ours, floors, ratios = [], [], []
    for r in range(args.repeat):  # alternate the two, so both see the same (shared, noisy) machine
        t_drgkit, rss = run_group(src, out, args.batch)
        template = pq.ParquetFile(out).read_row_group(0)
        t_floor = floor(
            src, work / "floor.parquet", template if args.floor == "output" else None, args.batch, args.floor_writer
        )
        ours.append(t_drgkit)
        floors.append(t_floor)
        ratios.append(t_drgkit / t_floor)
        print(
            f"(a) run {r + 1}: {args.rows:,} rows: drgkit group {t_drgkit:.2f} s ({args.rows / t_drgkit:,.0f} "
            f"rows/s, peak RSS {rss / 1024:.0f} MB); pyarrow read+write floor {t_floor:.2f} s; "
            f"ratio {t_drgkit / t_floor:.2f}x"
        )
    if ours:  # --repeat 0: peak memory only
        print(
            f"(a) best of {args.repeat}: drgkit group {min(ours):.2f} s, floor {min(floors):.2f} s, ratio of the bests "
            f"{min(ours) / min(floors):.2f}x; median of the run ratios {statistics.median(ratios):.2f}x"
        )
    sizes = [int(s) for s in args.rss.split(",") if s]
    peaks = []
    for n in sizes:
        path = make_input(work, n, args.input, args.format)
        seconds, peak = run_group(path, work / f"rss-{n}.parquet", args.batch)
        peaks.append(peak)
        print(f"(d) {n:,} rows: {seconds:.1f} s, peak RSS {peak / 1024:.0f} MB")
    if len(peaks) >= 2:
        print(f"(d) peak RSS ratio {sizes[-1]:,} / {sizes[0]:,} rows: {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
