"""Code text normalization and case suggestions (drgkit.codes)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from drgkit.codes import normalize_codes, suggest_case_fix, unique_codes


def test_full_width_whitespace_and_dots_on_strings() -> None:
    raw = pa.array(
        [
            "Ｉ２１．０００",
            " I21.000 ",
            "I21 .000",
            "I21.000\u3000",
            "K35.8.",
            "K35..8",
            "I21。000",
            "i21.000",
            None,
            "",
            "A01.000x005+J17.0*",
        ]
    )
    normalized, changed = normalize_codes(raw)
    assert normalized.to_pylist() == [
        "I21.000",
        "I21.000",
        "I21.000",
        "I21.000",
        "K35.8",
        "K35.8",
        "I21.000",
        "i21.000",
        None,
        "",
        "A01.000x005+J17.0*",
    ]
    assert changed.to_pylist() == [True, True, True, True, True, True, True, False, False, False, False]


def test_case_is_not_changed() -> None:
    normalized, changed = normalize_codes(pa.array(["r58.x00x006", "S52.300X011"]))
    assert normalized.to_pylist() == ["r58.x00x006", "S52.300X011"]
    assert not any(changed.to_pylist())


def test_list_input_keeps_shape_and_nulls() -> None:
    lists = pa.array([["Ｋ３５．８００", "E11.900"], None, [], [" 00.0100 ", None]], pa.list_(pa.string()))
    normalized, changed = normalize_codes(lists)
    assert normalized.type == pa.list_(pa.string())
    assert normalized.to_pylist() == [["K35.800", "E11.900"], None, [], ["00.0100", None]]
    assert changed.to_pylist() == [True, False, True, False]  # one flag per code

    sliced, changed = normalize_codes(lists.slice(2))
    assert sliced.to_pylist() == [[], ["00.0100", None]]
    assert changed.to_pylist() == [True, False]

    chunked, _ = normalize_codes(pa.chunked_array([lists.slice(0, 1), lists.slice(1)]))
    assert chunked.to_pylist() == normalized.to_pylist()


def test_large_list_input() -> None:
    lists = pa.array([["Ａ０１．０００"]], pa.large_list(pa.large_string()))
    normalized, changed = normalize_codes(lists)
    assert normalized.to_pylist() == [["A01.000"]] and changed.to_pylist() == [True]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ABIKx0123456789.． 　Ｉ２", max_size=12))
def test_normalization_is_idempotent(code: str) -> None:
    once, _ = normalize_codes(pa.array([code]))
    twice, changed = normalize_codes(once)
    assert twice.to_pylist() == once.to_pylist()
    assert changed.to_pylist() == [False]
    assert " " not in once[0].as_py() and ".." not in once[0].as_py() and not once[0].as_py().endswith(".")


def test_suggest_case_fix() -> None:
    fixes = suggest_case_fix(
        [
            "r58.x00x006",
            "s52.300X011",
            "a01.000x005+j17.0*",
            "x59.900",
            "X59.900",
            "i10.X05",
            "46.0300X003",
            "I21.000",
            "00.0100",
        ]
    )
    assert fixes == {
        "r58.x00x006": "R58.x00x006",
        "s52.300X011": "S52.300x011",
        "a01.000x005+j17.0*": "A01.000x005+J17.0*",
        "x59.900": "X59.900",
        "i10.X05": "I10.x05",
        "46.0300X003": "46.0300x003",
    }


def test_unique_codes_feed_suggestions_once_per_distinct_code() -> None:
    lists = pa.array([["i21.000", "I10.x00"], ["i21.000"], None, ["k35.800"]], pa.list_(pa.string()))
    codes = unique_codes(lists)
    assert sorted(codes) == ["I10.x00", "i21.000", "k35.800"]
    assert suggest_case_fix(codes) == {"i21.000": "I21.000", "k35.800": "K35.800"}


def test_control_and_bidirectional_characters_are_removed_and_reported():
    import drgkit

    t = pa.table(
        {
            "case_id": ["1", "2"],
            "gender": ["1", "1"],
            "age": ["65", "65"],
            "dx": ["I21.000\x01x005", "\u202eJ18.900\u200f"],
        }
    )
    rows = drgkit.group(t).to_pylist()
    assert (
        rows[0]["drg"]
        == drgkit.group(pa.table({"case_id": ["1"], "gender": ["1"], "age": ["65"], "dx": ["I21.000x005"]}))
        .column("drg")[0]
        .as_py()
    )
    assert "I21.000x005 ← " in rows[0]["warnings"] and "J18.900 ← " in rows[1]["warnings"]
    assert rows[1]["status"] == "ok"
