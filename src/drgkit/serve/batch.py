"""``POST /v1/batch``: an uploaded export grouped into a file of the same format, as ``drgkit group`` does it —
the same reader (mapping, sheets, title rows, three-column layouts), the same pipeline (batches read, grouped and
written overlapping), the same writer (the coder's workbook for .xlsx), rows in = rows out.

Files live in a private temporary folder per upload, named by the server (``upload.csv``, ``grouped.csv``),
never by the client.  The folder is removed on every path: when grouping fails, and as soon as the result is
opened for sending (the open file is streamed after its name is gone, so a client that hangs up leaves nothing).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from ..canonical import Options, group_canonical
from ..errors import DrgkitError
from ..lang import reason_text, words
from ..schemes.program import CompiledScheme
from .errors import ServeError

#: Upload suffix → output suffix (a format drgkit writes; .xls is read but written as .xlsx).
FORMATS = {
    ".csv": ".csv",
    ".tsv": ".csv",
    ".txt": ".csv",
    ".xlsx": ".xlsx",
    ".xlsm": ".xlsx",
    ".xls": ".xlsx",
    ".parquet": ".parquet",
}
MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PROBLEMS_SHOWN = 20
#: The summary travels in a response header: kept under this many bytes (before base64), problems dropped first.
SUMMARY_BYTES = 4000


@dataclass
class BatchRequest:
    filename: str
    scheme: CompiledScheme
    options: Options
    pricing: Any = None
    mapping: dict[str, str] | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    allow_unmapped: bool = False
    explain: str | None = None
    edits: bool = False
    canonical: bool = False
    out_format: str | None = None
    max_rows: int = 2_000_000


def suffix_of(filename: str) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix not in FORMATS:
        raise ServeError(
            415,
            "unsupported_file",
            "file",
            f"{filename or 'the upload'}: use a .csv, .tsv, .txt, .xlsx, .xls or .parquet file",
        )
    return suffix


def output_suffix(req: BatchRequest) -> str:
    if req.out_format:
        fmt = "." + req.out_format.lower().lstrip(".")
        if fmt not in MEDIA:
            raise ServeError(422, "invalid_field", "format", "format must be csv, xlsx or parquet")
        return fmt
    return FORMATS[suffix_of(req.filename)]


def download_name(filename: str, suffix: str) -> str:
    stem = Path(filename).stem or "cases"
    return f"{stem}-分组结果{suffix}"


def run_batch(upload: BinaryIO, req: BatchRequest, root: Path) -> tuple[BinaryIO, dict[str, Any], str]:
    """Group an uploaded file; returns the open result (its file already unlinked), the summary and the
    result's suffix.  The temporary folder is gone when this returns or raises."""
    in_suffix = suffix_of(req.filename)
    out_suffix = output_suffix(req)
    folder = Path(tempfile.mkdtemp(prefix="batch-", dir=root))
    try:
        source_path = folder / f"upload{in_suffix}"
        with open(source_path, "wb") as fh:
            shutil.copyfileobj(upload, fh, 1 << 20)
        out_path = folder / f"grouped{out_suffix}"
        try:
            summary = _group_file(source_path, out_path, req)
        except DrgkitError as exc:
            message = str(exc).splitlines()[0].replace(str(source_path), req.filename or "upload")
            message = message.replace("--map", "map")
            raise ServeError(422, "input_error", None, message) from None
        result = open(out_path, "rb")  # noqa: SIM115 - handed to the response, which closes it
        return result, summary, out_suffix
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _group_file(source_path: Path, out_path: Path, req: BatchRequest) -> dict[str, Any]:
    from ..io import open_cases
    from ..io.output import input_shaped
    from ..io.pipeline import ordered_map, prefetch
    from ..run_output import tally, write_stream

    cores = os.cpu_count() or 1
    workers = 2 if cores > 1 else 1
    threads = max(1, cores // workers)
    source = open_cases(
        source_path,
        mapping=req.mapping,
        sheet=req.sheet,
        header_row=req.header_row,
        allow_unmapped=req.allow_unmapped,
        batch_size=125_000,
    )
    if source.total_rows is not None and source.total_rows > req.max_rows:
        raise ServeError(
            413,
            "too_many_rows",
            "file",
            f"{source.total_rows:,} rows; this server takes at most {req.max_rows:,} per upload",
        )
    counts: Counter = Counter()
    drgs: Counter = Counter()
    reasons: Counter = Counter()
    problems: list[dict[str, Any]] = []
    seen = [0]

    def process(batch: pa.Table) -> pa.Table:
        result = group_canonical(batch, req.scheme, req.options, threads, explain=req.explain)
        if req.edits:
            from ..monitor.edits import validate_canonical

            found = validate_canonical(batch, req.scheme.id)
            result = result.append_column("edits", found.column("edits"))
        if req.pricing is not None:
            result = req.pricing.apply(result)
        return result

    def results():
        for result in ordered_map(process, prefetch(source.batches()), workers=workers):
            seen[0] += result.num_rows
            if seen[0] > req.max_rows:
                raise ServeError(
                    413,
                    "too_many_rows",
                    "file",
                    f"more than {req.max_rows:,} rows; this server takes at most that many per upload",
                )
            tally(result, counts, drgs, reasons)
            if len(problems) < PROBLEMS_SHOWN:
                _problems(result, problems, seen[0] - result.num_rows)
            yield result if req.canonical else input_shaped(result, source.plan)

    rows = write_stream(out_path, results(), f"{req.filename}: no rows could be read", workbook=True)
    status_zh = words("status", "zh")
    return {
        "rows": rows,
        "scheme": req.scheme.id,
        "scheme_checksum": req.scheme.checksum,
        "statuses": {s: counts.get(s, 0) for s in ("ok", "ambiguous", "ungroupable", "invalid")},
        "statuses_zh": {s: status_zh[s] for s in ("ok", "ambiguous", "ungroupable", "invalid")},
        "top_drgs": [{"drg": d, "name": n, "cases": k} for (d, n), k in drgs.most_common(10)],
        "top_reasons": [
            {"reason": r, "reason_zh": reason_text(r, "zh"), "cases": k} for r, k in reasons.most_common(8)
        ],
        "problems": problems,
        "columns": [line[:400] for line in source.mapping_report("zh")][:6],
    }


def compact(summary: dict[str, Any]) -> bytes:
    """The summary as JSON of at most :data:`SUMMARY_BYTES` (problem cases, then the column report, dropped
    from the end until it fits; the workbook's 汇总 and 问题病例 sheets have them all)."""
    from .engine import dumps

    out = dict(summary)
    data = dumps(out)
    while len(data) > SUMMARY_BYTES and (out["problems"] or out["columns"]):
        key = "problems" if out["problems"] else "columns"
        out[key] = out[key][:-1]
        data = dumps(out)
    return data


def _problems(result: pa.Table, problems: list[dict[str, Any]], offset: int) -> None:
    """The first cases that did not group, with their row number (1 = first data row) and reason."""
    mask = pc.not_equal(result.column("status"), "ok")
    idx = pc.indices_nonzero(pc.fill_null(mask, True)).to_pylist()[: PROBLEMS_SHOWN - len(problems)]
    if not idx:
        return
    taken = result.take(pa.array(idx, pa.int64()))
    ids = taken.column("case_id").to_pylist() if "case_id" in taken.column_names else [None] * len(idx)
    for i, cid, status, reason in zip(idx, ids, taken.column("status").to_pylist(), taken.column("reason").to_pylist()):
        problems.append(
            {
                "row": offset + i + 1,
                "case_id": None if cid is None else str(cid)[:64],
                "status": status,
                "reason_zh": (reason_text(reason, "zh") or "")[:160],
            }
        )
