"""The vectorized fast paths of reading and preparing give exactly what the general paths give.

Each fast path skips work a cheap check proves to be a no-op (a byte scan, a regex over distinct codes,
numpy on offsets instead of string kernels).  These tests run odd strings through both, or against a
plain-Python model of the documented behaviour, so a fast path that silently diverges fails here.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drgkit
from drgkit.arrowutil import drop_empty_strings, notes_per_row, null_or_empty, spread, string_bytes, take_with
from drgkit.codes import normalize as N
from drgkit.io import canonicalize, code_lists, iter_case_batches, prepare, read_cases
from drgkit.io import codelists as R
from drgkit.io import read as RD
from drgkit.io.codelists import SPACE_BEFORE_CODE

PR = importlib.import_module("drgkit.io.prepare")  # the module (drgkit.io.prepare is also the function)

ASCII_WS = " \t\n\v\f\r"
SEPARATORS = (",", ";", "，", "；", "｜", "、")
# code-ish characters, every separator, ASCII and Unicode whitespace, full-width forms, dots
ODD = "AIK0x.|,;，；｜ \t\v\x1f\u3000\u00a0Ｉ１．。"
cells = st.one_of(st.none(), st.text(alphabet=ODD, max_size=14))


def model_code_list(cell: str | None, keep_principal_slot: bool) -> list[str]:
    """code_lists() of one text cell, as documented: split on every separator, trim ASCII whitespace,
    drop empty pieces; a blank first piece stays as "" when the row has other codes."""
    if cell is None:
        return []
    for sep in SEPARATORS:
        cell = cell.replace(sep, "|")
    cell = re.sub(SPACE_BEFORE_CODE, r"\1|\2", cell)  # whitespace before a code separates two codes
    pieces = [p.strip(ASCII_WS) for p in cell.split("|")]
    rest = [p for p in pieces[1:] if p]
    if pieces[0]:
        return [pieces[0], *rest]
    return ["", *rest] if keep_principal_slot and rest else rest


@settings(max_examples=150, deadline=None)
@given(st.lists(cells, max_size=10), st.booleans(), st.integers(0, 2))
def test_text_code_lists_match_the_model_and_the_general_path(rows: list[str | None], keep: bool, cut: int) -> None:
    text = pa.array([None, "I10.x00|"] + rows, pa.string()).slice(cut)  # sliced: offsets do not start at 0
    expected = [model_code_list(c, keep) for c in text.to_pylist()]
    assert code_lists(text, keep_principal_slot=keep).to_pylist() == expected
    assert R._text_lists(text, keep, R._Scan()).to_pylist() == expected  # every step forced


@settings(max_examples=100, deadline=None)
@given(st.lists(cells, min_size=1, max_size=10))
def test_first_slot_blank_scan_skips_nothing_that_matters(rows: list[str | None]) -> None:
    text = pa.array(rows, pa.string())
    np.testing.assert_array_equal(R._text_first_blank(text), R._text_first_blank(text, R._Scan()))


def test_scan_flags() -> None:
    assert R._scan(pa.array(["I10.x00|E11.900", None])) == R._Scan(False, True, False)
    assert R._scan(pa.array(["I10.x00，E11"])).other_separators
    assert R._scan(pa.array(["I10.x00;E11"])).other_separators
    assert R._scan(pa.array(["I10.x00 "])).whitespace
    assert R._scan(pa.array(["", None])) == R._Scan(False, False, False)


def _without_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every byte scan say "anything may be there": all general steps run."""
    monkeypatch.setattr(R, "_scan", lambda text: R._Scan())
    monkeypatch.setattr(N, "may_change", lambda values: np.ones(len(values), dtype=bool))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=8))
def test_numbered_columns_and_prepare_with_and_without_fast_paths(rows: list[tuple]) -> None:
    """The front-sheet layout (one column per slot) and prepare() over odd codes, scans on and off."""
    table = pa.table(
        {"主要诊断编码": [r[0] for r in rows], "其他诊断编码1": [r[1] for r in rows], "px": [r[2] for r in rows]}
    )

    def run() -> tuple:
        canon = canonicalize(table)
        prep = prepare(canon)
        return (
            canon.column("dx").to_pylist(),
            canon.column("px").to_pylist(),
            prep.dx.to_pylist(),
            prep.px.to_pylist(),
            prep.code_notes.to_pylist(),
        )

    fast = run()
    with pytest.MonkeyPatch.context() as mp:
        _without_scan(mp)
        assert run() == fast


# --------------------------------------------------------------------------- code normalization


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=ODD + "ABx9*+-", max_size=12)), max_size=12))
def test_normalize_distinct_equals_normalize_codes(values: list[str | None]) -> None:
    arr = pa.array(values, pa.string())
    expected, changed = N.normalize_codes(arr)
    got, got_changed = N.normalize_distinct(arr)
    assert got.to_pylist() == expected.to_pylist()
    assert got_changed.tolist() == changed.to_pylist()
    # what may_change clears, normalization leaves alone
    keep = ~N.may_change(arr)
    assert [v for v, k in zip(expected.to_pylist(), keep) if k] == [v for v, k in zip(values, keep) if k]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(alphabet="I10.x .。Ｉ１\u3000", max_size=8), max_size=4), max_size=8))
def test_codes_fast_path_equals_the_general_path(rows: list[list[str]]) -> None:
    lists = pa.array(rows, pa.list_(pa.string()))
    table = pa.table({"dx": lists}, metadata={RD.CANONICAL_KEY: b"1"})
    n = len(rows)
    cleaned, notes, distinct = PR._codes(table, "dx", n)
    general, general_notes, _ = PR._codes_general(lists, n)
    assert cleaned.to_pylist() == general.to_pylist()
    assert PR._notes(n, [notes]).to_pylist() == PR._notes(n, [general_notes]).to_pylist()
    idx, codes = distinct
    assert codes.take(pa.array(idx)).to_pylist() == pc.list_flatten(cleaned).to_pylist()


# --------------------------------------------------------------------------- numbers and problems

numbers = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            " ",
            "49",
            " 65 ",
            "7.0",
            "3.5",
            "-1",
            "-0",
            "1e3",
            "1e12",
            "nan",
            "inf",
            "abc",
            "+5",
            ".5",
            "５",
            "05",
            "1,2",
            "3000000000.5",
        ]
    ),
    st.text(alphabet="0123456789.-+e ", max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(numbers, max_size=12))
def test_int_field_per_distinct_value_equals_per_row(values: list[str | None]) -> None:
    """Parsing each distinct text once and spreading gives the per-row answer and messages."""
    text = pa.array(values, pa.string())
    ints, problems = PR._int_text(text, "age")
    row_ints, row_messages = PR._int_values(text, len(values), "age")
    assert ints.tolist() == row_ints.tolist()
    expected = row_messages.to_pylist() if row_messages is not None else [None] * len(values)
    assert PR._join_problems(len(values), [problems]).to_pylist() == expected


def _old_join(n: int, problems: list[pa.Array | None]) -> pa.Array:
    """The former dense fold of per-row message arrays."""
    joined = pa.nulls(n, pa.string())
    for message in (m for m in problems if m is not None):
        both = pc.binary_join_element_wise(joined, message, "; ")
        joined = pc.if_else(pc.is_null(joined), message, pc.if_else(pc.is_null(message), joined, both))
    return joined


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b c", "; d"])), min_size=6, max_size=6), max_size=4)
)
def test_sparse_problems_join_like_the_dense_fold(columns: list[list[str | None]]) -> None:
    dense = [pa.array(c, pa.string()) for c in columns]
    sparse = [PR._sparse(d) for d in dense]
    assert PR._join_problems(6, sparse).to_pylist() == _old_join(6, dense).to_pylist()


# --------------------------------------------------------------------------- Parquet columns read dictionary-encoded


def _prepared(table: pa.Table) -> tuple:
    p = prepare(table)
    return (
        p.gender.tolist(),
        p.age.tolist(),
        p.los.tolist(),
        p.leaving_type.tolist(),
        p.dept.to_pylist(),
        p.problems.to_pylist(),
        p.dx.to_pylist(),
    )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            numbers,
            st.sampled_from(["1", "2", "男", "X", "", None]),
            st.sampled_from(["内科", " 内科 ", "ＩＣＵ", "", None]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 9),
    st.integers(1, 9),
)
def test_parquet_batches_read_encoded_equal_plain_ones(rows: list[tuple], row_group: int, batch: int) -> None:
    """Few-valued columns come from Parquet dictionary-encoded (prepare() reuses that encoding): the
    batches, the canonical tables and what prepare() makes of them stay as with a plain read, also when
    batches span row groups with different dictionaries."""
    columns = {
        "age": [r[0] for r in rows],
        "los": [r[0] for r in reversed(rows)],
        "leaving_type": [r[0] for r in rows],
        "gender": [r[1] for r in rows],
        "dept": [r[2] for r in rows],
        "dx": ["I10.x00"] * len(rows),
    }
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "few.parquet"
        pq.write_table(table, path, row_group_size=row_group)
        batches = list(iter_case_batches(path, batch_size=batch))
        plain = [b.num_rows for b in pq.ParquetFile(path).iter_batches(batch_size=batch)]
        assert [b.num_rows for b in batches] == plain
        assert _decoded(pa.concat_tables(batches)).equals(_decoded(read_cases(path)))
    for b in batches:
        assert RD.encoded_column(b, "age") is not None and RD.encoded_column(b, "dept") is not None
        copy = _decoded(b)  # the same table without its encoded form
        assert RD.encoded_column(copy, "age") is None
        assert _prepared(b) == _prepared(copy)


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary-encoded columns as plain strings."""
    return pa.table(
        {
            name: (col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col)
            for name, col in zip(table.column_names, table.columns)
        },
        metadata=table.schema.metadata,
    )


# --------------------------------------------------------------------------- Arrow helpers


def _model_notes(n: int, rows: list[int], texts: list[str | None]) -> list[str | None]:
    out: list[list[str | None]] = [[] for _ in range(n)]
    for r, t in zip(rows, texts):
        out[r].append(t)
    return [None if not parts or None in parts else "; ".join(parts) for parts in out]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.one_of(st.none(), st.sampled_from(["x", "y z", ""]))), max_size=10))
def test_notes_per_row_matches_a_model(pairs: list[tuple[int, str | None]]) -> None:
    rows = np.array([r for r, _ in pairs], np.int64)
    texts = pa.array([t for _, t in pairs], pa.string())
    assert notes_per_row(7, rows, texts).to_pylist() == _model_notes(7, rows.tolist(), texts.to_pylist())


def test_spread_take_with_and_drop_empty_strings() -> None:
    assert spread(pa.array(["a", "b"]), np.array([3, 0]), 4).to_pylist() == ["b", None, None, "a"]
    labels = pa.array(["ok", None, "bad"])
    got = take_with(labels, np.array([0, 1, 2, 0]), np.array([2, 3]), pa.array(["X", "Y"]))
    assert got.to_pylist() == ["ok", None, "X", "Y"]
    assert take_with(labels, np.array([2, 0]), np.array([], np.int64), pa.array([], pa.string())).to_pylist() == [
        "bad",
        "ok",
    ]
    values = pa.array(["", "A", "", "", "BC", ""]).slice(1)
    keep = ~null_or_empty(values)
    assert drop_empty_strings(values, keep).to_pylist() == ["A", "BC"]
    with_null = pa.array(["A", None, "B"])
    assert drop_empty_strings(with_null, ~null_or_empty(with_null)).to_pylist() == ["A", "B"]
    assert string_bytes(pa.array(["ab", "cd"]).slice(1)).tobytes() == b"cd"


# --------------------------------------------------------------------------- result columns


def test_reason_and_warnings_text_of_a_mixed_batch() -> None:
    rows = [
        {"case_id": "ok", "gender": "1", "age": "65", "dx": "I21.000x005|E11.900", "px": "36.0601"},
        {"case_id": "bad", "gender": "X", "age": "abc", "dx": "I21.000x005|ZZZ.999", "px": "|36.0601|99.9999"},
        {"case_id": "fw", "gender": "1", "age": "65", "dx": "Ｉ２１．０００ｘ００５|E11.900.", "px": "36.0601"},
    ]
    names = list(rows[0])
    out = drgkit.group(pa.table({k: [r[k] for r in rows] for k in names})).to_pylist()
    assert out[0]["reason"] is None and out[0]["warnings"] is None
    assert out[1]["status"] == "invalid"
    assert out[1]["reason"].endswith(": gender: 'X' is not a recognised sex; age: 'abc' is not a number")
    assert out[1]["warnings"] == (
        "unknown diagnosis code ZZZ.999; unknown procedure code 99.9999; main procedure slot is blank"
    )
    assert out[2]["warnings"] == "I21.000x005 ← 'Ｉ２１．０００ｘ００５'; E11.900 ← 'E11.900.'"
