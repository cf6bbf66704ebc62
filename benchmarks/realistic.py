"""A realistic benchmark input: a settlement-list export, wide, every row a fresh combination of real codes.

    python benchmarks/realistic.py --rows 5000000 --out /tmp/drgkit-bench/realistic   # writes .parquet and .csv

`drgkit synth` draws cases from the scheme's own rule tables (few distinct code lists, every case groupable),
which flatters string handling and the kernel. Exports from a hospital look different, and this generator
makes them that way:

* 1–16 diagnoses and 0–8 procedures per row, each drawn from the whole ICD-10 医保版 / ICD-9-CM-3 dictionaries
  shipped in ``icd/`` (so almost every row's code list is unique, and many principals enter no MDC);
* the columns a settlement-list export carries beside the grouping fields: settlement id, person id, hospital
  code, admission and discharge dates, a doctor id, department, four cost columns (总费用, 自费, 自付, 统筹);
* Chinese headers as an export has them (主要诊断编码, 其他诊断编码, …) with codes '|'-joined in one column each
  for diagnoses and procedures (the interface layout), so the reader's code splitting is measured too.

Every benchmark that times a whole run on "realistic" input (bench_end_to_end.py --realistic) uses this.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drgkit.paths import icd_dir


def _codes(name: str) -> np.ndarray:
    return pacsv.read_csv(icd_dir() / name).column("code").to_numpy(zero_copy_only=False).astype(object)


def _joined(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """One '|'-joined string per row: ``counts[i]`` codes drawn from ``codes`` (null when 0)."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = pa.array(codes[rng.integers(0, len(codes), int(offsets[-1]))], pa.string())
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    joined = pc.binary_join(lists, "|")
    return pc.if_else(pc.equal(pa.array(counts), 0), pa.nulls(len(counts), pa.string()), joined)


def generate(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    dx, px = _codes("icd10_chs_v2.csv"), _codes("icd9cm3_chs_v2.csv")
    n_dx = np.clip(rng.geometric(0.22, rows), 1, 16)
    n_px = np.where(rng.random(rows) < 0.45, 0, np.clip(rng.geometric(0.35, rows), 1, 8))
    age = np.clip(rng.normal(55, 20, rows), 0, 100).astype(np.int64)
    los = np.clip(rng.lognormal(2.0, 0.6, rows), 1, 120).astype(np.int64)
    admit = np.datetime64("2024-01-01") + rng.integers(0, 360, rows).astype("timedelta64[D]")
    total = np.round(rng.lognormal(9.3, 0.9, rows), 2)
    own = np.round(total * rng.uniform(0, 0.1, rows), 2)
    copay = np.round((total - own) * rng.uniform(0.05, 0.3, rows), 2)
    ids = np.arange(rows)

    def tagged(prefix: str, values: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pa.array(values).cast(pa.string()), "")

    return pa.table(
        {
            "结算ID": tagged("S", ids),
            "人员编号": tagged("P", rng.integers(0, rows // 2 + 1, rows)),
            "定点医药机构代码": tagged("H", rng.integers(1, 400, rows)),
            "入院科别": pa.array(rng.integers(1, 40, rows)).cast(pa.string()),
            "主诊医师代码": tagged("D", rng.integers(1, 20_000, rows)),
            "性别": pa.array(rng.integers(1, 3, rows)).cast(pa.string()),
            "年龄": pa.array(age),
            "住院天数": pa.array(los),
            "离院方式": pa.array(
                rng.choice(np.array(["1", "1", "1", "1", "2", "3", "4", "5", "9"], dtype=object), rows), pa.string()
            ),
            "入院时间": pa.array(admit),
            "出院时间": pa.array(admit + los.astype("timedelta64[D]")),
            "诊断代码": _joined(dx, n_dx, rng),
            "手术及操作代码": _joined(px, n_px, rng),
            "医疗费总额": pa.array(total),
            "全自费金额": pa.array(own),
            "个人自付": pa.array(copay),
            "统筹基金支出": pa.array(np.round(total - own - copay, 2)),
        }
    )


def write(rows: int, out: Path, seed: int = 7, batch: int = 1_000_000) -> tuple[Path, Path]:
    """``out``.parquet and ``out``.csv with ``rows`` rows (generated in batches: memory stays flat)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    parquet, csv = out.with_suffix(".parquet"), out.with_suffix(".csv")
    pq_writer = csv_writer = None
    try:
        for k, start in enumerate(range(0, rows, batch)):
            table = generate(min(batch, rows - start), seed + k)
            if pq_writer is None:
                pq_writer = pq.ParquetWriter(parquet, table.schema)
                csv_writer = pacsv.CSVWriter(csv, table.schema)
            pq_writer.write_table(table)
            csv_writer.write_table(table)
    finally:
        for w in (pq_writer, csv_writer):
            if w is not None:
                w.close()
    return parquet, csv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/drgkit-bench/realistic"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t = time.perf_counter()
    parquet, csv = write(args.rows, args.out, args.seed)
    print(
        f"{args.rows:,} rows → {parquet} ({parquet.stat().st_size / 1e6:,.0f} MB), {csv} "
        f"({csv.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f} s"
    )


if __name__ == "__main__":
    main()
