"""Three-table input: the national interface sends diagnoses (diseinfo) and procedures (oprninfo) as long
tables keyed by the stay; they become one code list per stay, flagged principal / main code first."""

from __future__ import annotations

import pyarrow as pa

from drgkit.io.codelists import code_lists, plain_strings
from drgkit.io.columns import ALIASES, LONG_CODE_ALIASES, LONG_FLAG_ALIASES, find_header, normalize_header
from drgkit.io.errors import InputError
from drgkit.io.formats import PathLike, read_file

#: the (trimmed, lower-cased) flag values that mark a long table's code as the main one
TRUE_FLAGS = ["1", "1.0", "y", "yes", "true", "t", "是"]


def long_codes(
    path: PathLike,
    kind: str,
    case_ids: pa.ChunkedArray | pa.Array,
    key_hint: str | None,
    main: pa.Table | None = None,
) -> tuple[pa.ListArray, str]:
    """Per-stay code lists from a long table, flagged principal / main code first, then file order; and a
    line for the mapping report saying which columns were read and what was unusual.

    With a flag column, a stay none of whose codes is flagged keeps a blank principal slot (reported as
    missing, never filled with another code); a flag column that flags nothing at all is an error (its
    values are probably written in a way drgkit does not read).  Without one, the first code listed is the
    principal / main one, and the report says so.

    The stays are linked by a stay-id column both tables have under one name (a diagnosis table keyed by
    病案号 links to the main file's 病案号 even when the main file's stay id is its 结算ID), else by the main
    file's stay id (``case_ids``, from ``key_hint``); a table none of whose rows links to a stay is an error
    (every stay would silently lose its codes), and stays or rows left unlinked are counted in the report.
    """
    import polars as pl

    long = read_file(path)
    names = long.column_names
    aliases = ("case_id", *ALIASES["case_id"])
    main_keys = {normalize_header(h): h for h in (main.column_names if main is not None else [])}
    shared = [h for h in names if normalize_header(h) in main_keys]
    key = key_hint if key_hint in names else find_header(shared, aliases) or find_header(names, aliases)
    if main is not None and key is not None and normalize_header(key) in main_keys:
        link = main_keys[normalize_header(key)]
        case_ids = main.column(link)
    else:
        link = key_hint or "stay id"
    code = find_header(names, LONG_CODE_ALIASES[kind])
    flag = find_header(names, LONG_FLAG_ALIASES[kind])
    what = "diagnoses" if kind == "dx" else "procedures"
    first = "principal diagnosis" if kind == "dx" else "main procedure"
    if key is None:
        raise InputError(f"{path}: {what} table has no stay key column (setl_id, mdtrt_id, 结算ID, 就诊ID or case_id)")
    if code is None:
        raise InputError(
            f"{path}: {what} table has no code column (expected one of {', '.join(LONG_CODE_ALIASES[kind])})"
        )
    frame = pl.DataFrame(
        pa.table(
            {
                "key": plain_strings(long.column(key).combine_chunks()),
                "code": plain_strings(long.column(code).combine_chunks()),
                "flag": plain_strings(long.column(flag).combine_chunks())
                if flag
                else pa.nulls(long.num_rows, pa.string()),
            }
        )
    )
    frame = (
        frame.with_row_index("row")
        .with_columns(
            code=pl.col("code").str.strip_chars(),
            main=pl.col("flag").str.strip_chars().str.to_lowercase().is_in(TRUE_FLAGS).fill_null(False),
        )
        .filter(pl.col("code").is_not_null() & (pl.col("code") != "") & pl.col("key").is_not_null())
    )
    note = f"{what}: {path} ({key} → stay by {link}, {code} → codes"
    if flag is None:
        frame = frame.with_columns(main=pl.col("row") == pl.col("row").min().over("key"))
        note += f"; no {first} flag column: the first code listed for a stay is its {first})"
    else:
        if frame.height and not frame["main"].any():
            seen = ", ".join(f"'{v}'" for v in frame["flag"].drop_nulls().unique().head(5).to_list())
            raise InputError(
                f"{path}: {what} table: column '{flag}' flags no code as the {first} "
                f"(values: {seen}); 1 / 是 / Y / true mark it"
            )
        per_stay = frame.group_by("key").agg(pl.col("main").sum().alias("n"))
        unflagged = per_stay.filter(pl.col("n") == 0).height
        doubled = per_stay.filter(pl.col("n") > 1).height
        note += f", {flag} → {first}"
        if unflagged:
            note += f"; {unflagged} stay(s) with no flagged {first}: left blank"
        if doubled:
            note += f"; {doubled} stay(s) with several flagged: the first listed is used"
        note += ")"
        # a stay without a flagged code gets a blank first slot: the grouper reports it missing
        blanks = per_stay.filter(pl.col("n") == 0).select(
            "key", pl.lit(-1, pl.Int64).alias("row"), pl.lit("").alias("code"), pl.lit(True).alias("main")
        )
        frame = pl.concat([frame.select("key", pl.col("row").cast(pl.Int64), "code", "main"), blanks])
        frame = frame.with_columns(
            main=pl.col("main") & (pl.col("row") == pl.col("row").filter(pl.col("main")).min().over("key"))
        )
    grouped = (
        frame.sort(["main", "row"], descending=[True, False]).group_by("key", maintain_order=True).agg(pl.col("code"))
    )
    if isinstance(case_ids, pa.ChunkedArray):
        case_ids = case_ids.combine_chunks()
    stays = pl.DataFrame(pa.table({"key": plain_strings(case_ids)}))
    joined = stays.join(grouped, on="key", how="left", maintain_order="left")
    linked = joined.get_column("code").is_not_null()
    if grouped.height and stays.height and not linked.any():
        theirs = ", ".join(f"'{v}'" for v in grouped["key"].head(3).to_list())
        ours = ", ".join(f"'{v}'" for v in stays["key"].drop_nulls().head(3).to_list())
        raise InputError(
            f"{path}: no row of the {what} table links to a stay: its {key} ({theirs} …) matches no {link} of "
            f"the main file ({ours} …); give both tables the same stay id column"
        )
    unlinked_stays = stays.height - int(linked.sum())
    orphans = grouped.join(stays.unique(), on="key", how="anti").height
    if unlinked_stays or orphans:
        note += (
            f"; {unlinked_stays} stay(s) with no {what} row, "
            f"{orphans} {key} value(s) of the {what} table matching no stay"
        )
    return code_lists(joined.get_column("code").to_arrow(), keep_principal_slot=True), note
