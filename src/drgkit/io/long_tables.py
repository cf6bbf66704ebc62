"""Three-table input: the national interface sends diagnoses (diseinfo) and procedures (oprninfo) as long
tables keyed by the stay; they become one code list per stay, flagged principal / main code first."""
from __future__ import annotations

import pyarrow as pa

from drgkit.io.codelists import code_lists, plain_strings
from drgkit.io.columns import ALIASES, LONG_CODE_ALIASES, LONG_FLAG_ALIASES, find_header
from drgkit.io.errors import InputError
from drgkit.io.formats import PathLike, read_file

_TRUE_FLAGS = ["1", "1.0", "y", "yes", "true", "t", "是"]


def long_codes(path: PathLike, kind: str, case_ids: pa.ChunkedArray | pa.Array,
                key_hint: str | None) -> pa.ListArray:
    """Per-stay code lists from a long table: flagged principal/main code first, then file order."""
    import polars as pl

    long = read_file(path)
    names = long.column_names
    key = key_hint if key_hint in names else find_header(names, ("case_id", *ALIASES["case_id"]))
    code = find_header(names, LONG_CODE_ALIASES[kind])
    flag = find_header(names, LONG_FLAG_ALIASES[kind])
    what = "diagnoses" if kind == "dx" else "procedures"
    if key is None:
        raise InputError(f"{path}: {what} table has no stay key column (setl_id, mdtrt_id, 结算ID, 就诊ID or case_id)")
    if code is None:
        raise InputError(f"{path}: {what} table has no code column (expected one of {', '.join(LONG_CODE_ALIASES[kind])})")
    frame = pl.from_arrow(pa.table({
        "key": plain_strings(long.column(key).combine_chunks()),
        "code": plain_strings(long.column(code).combine_chunks()),
        "flag": plain_strings(long.column(flag).combine_chunks()) if flag else pa.nulls(long.num_rows, pa.string()),
    }))
    grouped = (
        frame.with_row_index("row")
        .with_columns(
            code=pl.col("code").str.strip_chars(),
            main=pl.col("flag").str.strip_chars().str.to_lowercase().is_in(_TRUE_FLAGS).fill_null(False),
        )
        .filter(pl.col("code").is_not_null() & (pl.col("code") != "") & pl.col("key").is_not_null())
        .sort(["main", "row"], descending=[True, False])
        .group_by("key", maintain_order=True)
        .agg(pl.col("code"))
    )
    if isinstance(case_ids, pa.ChunkedArray):
        case_ids = case_ids.combine_chunks()
    stays = pl.from_arrow(pa.table({"key": plain_strings(case_ids)}))
    joined = stays.join(grouped, on="key", how="left", maintain_order="left")
    return code_lists(joined.get_column("code").to_arrow())

