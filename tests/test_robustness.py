"""No input crashes a batch: malformed rows become 'invalid' with a reason, files fail with one clear error."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import drgkit
from conftest import read_oracle
from drgkit.io import InputError, canonicalize, code_lists, iter_case_batches, read_cases

GOOD = {"case_id": "good", "gender": "1", "age": "65", "dx": "I21.000x005|E11.900", "px": "36.0601"}


def table(rows: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([r.get(n) for r in rows], pa.string()) for n in names})


def group_rows(rows: list[dict], **kwargs) -> list[dict]:
    return drgkit.group(table(rows), **kwargs).to_pylist()


def test_reference_case_groups() -> None:
    [row] = group_rows([GOOD])
    assert (row["status"], row["drg"], row["reason"], row["warnings"]) == ("ok", "FM19", None, None)


# --------------------------------------------------------------------------- missing and unknown codes


@pytest.mark.parametrize("dx", [None, "", "   ", "|", " , ;"])
def test_no_diagnosis_at_all_is_invalid_v05(dx: str | None) -> None:
    [row] = group_rows([{**GOOD, "dx": dx}])
    assert row["status"] == "invalid"
    assert row["reason"].startswith("V05")
    assert row["drg"] == "0000" and row["mdc"] == "0000"


def test_unknown_secondary_codes_are_reported_and_grouped_anyway() -> None:
    rows = group_rows([GOOD, {**GOOD, "dx": "I21.000x005|ZZZ.999|E11.900", "px": "36.0601|99.9999"}])
    assert rows[1]["status"] == "ok" and rows[1]["drg"] == rows[0]["drg"] == "FM19"
    assert "unknown diagnosis code ZZZ.999" in rows[1]["warnings"]
    assert "unknown procedure code 99.9999" in rows[1]["warnings"]
    assert rows[0]["warnings"] is None


def test_unknown_principal_diagnosis_is_ungroupable_with_warning() -> None:
    [row] = group_rows([{**GOOD, "dx": "I21.999x999|E11.900"}])
    assert row["status"] == "ungroupable" and row["reason"].startswith("U01")
    assert "unknown diagnosis code I21.999x999" in row["warnings"]
    assert (row["mdc"], row["adrg"], row["drg"]) == ("0000", "00", "0000")


def test_lower_case_codes_are_unknown_unless_fixed() -> None:
    rows = [{**GOOD, "dx": "i21.000x005|E11.900"}]
    [plain] = group_rows(rows)
    assert plain["status"] == "ungroupable" and "i21.000x005" in plain["warnings"]
    [fixed] = group_rows(rows, options=drgkit.Options(fix_case=True))
    assert fixed["status"] == "ok" and fixed["drg"] == "FM19"


def test_full_width_and_spaced_codes_are_normalized() -> None:
    [row] = group_rows([{**GOOD, "dx": "Ｉ２１．０００ｘ００５ ｜ E11.900 "}])
    assert row["status"] == "ok" and row["drg"] == "FM19"


# --------------------------------------------------------------------------- gender and numbers


@pytest.mark.parametrize("sex", ["0", "9", "X", "", None, "3", "unknown"])
def test_bad_or_unknown_sex_is_invalid(sex: str | None) -> None:
    for strict in (False, True):
        [row] = group_rows([{**GOOD, "gender": sex}], options=drgkit.Options(strict_gender=strict))
        assert row["status"] == "invalid", (sex, strict)
        assert row["reason"][:3] in ("V01", "V06"), row["reason"]
        if row["reason"].startswith("V06"):
            assert "gender" in row["reason"]


@pytest.mark.parametrize(
    ("sex", "code"),
    [
        ("男", "M"),
        ("女", "F"),
        ("M", "M"),
        ("F", "F"),
        ("m", "M"),
        ("female", "F"),
        ("1", "M"),
        ("2", "F"),
        (" 男性 ", "M"),
    ],
)
def test_chinese_and_letter_sexes(sex: str, code: str) -> None:
    # C61.x00 prostate cancer + 60.5x02 radical prostatectomy: MDCM for a man, not for a woman
    case = {"case_id": "p", "gender": sex, "age": "70", "dx": "C61.x00", "px": "60.5x02"}
    as_code = {"case_id": "p", "gender": "1" if code == "M" else "2", "age": "70", "dx": "C61.x00", "px": "60.5x02"}
    [row], [expected] = group_rows([case]), group_rows([as_code])
    assert (row["status"], row["mdc"], row["drg"]) == (expected["status"], expected["mdc"], expected["drg"])
    if code == "M":
        assert row["status"] == "ok" and row["mdc"] == "MDCM"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("age", "-1", "negative"),
        ("age", "abc", "not a number"),
        ("age", "3.5", "not a whole number"),
        ("age", "1e12", "too large"),
        ("age", "nan", "not a number"),
        ("los", "x", "not a number"),
        ("los", "-3", "negative"),
        ("age_days", "??", "not a number"),
        ("birth_weight", "3斤", "not a number"),
        ("leaving_type", "出院", "not a discharge disposition code"),
        ("icu_hours", "many", "not a number"),
        ("total_cost", "免费", "not a number"),
    ],
)
def test_text_in_numeric_columns_is_invalid_naming_the_field(field: str, value: str, words: str) -> None:
    rows = group_rows([GOOD, {**GOOD, field: value}, GOOD])
    assert [r["status"] for r in rows] == ["ok", "invalid", "ok"]
    reason = rows[1]["reason"]
    assert reason.startswith("V06") and f"{field}:" in reason and words in reason, reason
    assert rows[1]["drg"] == "0000"


def test_numbers_with_spaces_and_decimals_are_read() -> None:
    rows = group_rows([{**GOOD, "age": " 65 ", "los": "7.0", "total_cost": "1,234.50"}])
    assert rows[0]["status"] == "ok"


def test_missing_age_and_newborn_checks_give_a_reason() -> None:
    rows = group_rows(
        [
            {**GOOD, "age": None},
            {**GOOD, "age": "0", "dx": "P07.100"},
            {**GOOD, "age": "0", "age_days": "3", "dx": "P07.100"},
        ]
    )
    assert all(r["status"] in ("invalid", "ok", "ungroupable", "ambiguous") for r in rows)
    assert rows[0]["status"] == "invalid" and rows[0]["reason"].startswith("V02")
    assert rows[1]["status"] == "invalid" and rows[1]["reason"].startswith("V03")
    assert rows[2]["status"] == "invalid" and rows[2]["reason"].startswith("V04")  # no birth weight


# --------------------------------------------------------------------------- files


def test_header_only_file_gives_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("病案号,性别,年龄,主要诊断编码,其他诊断编码1,主要手术操作编码\n", encoding="utf-8")
    out = drgkit.group(path)
    assert out.num_rows == 0
    assert "status" in out.column_names and "drg" in out.column_names


def test_zero_byte_file_is_one_clear_error(tmp_path: Path) -> None:
    # An empty file has no header: an error, not a silent 0-row result (tests/test_io.py::test_empty_files).
    path = tmp_path / "zero.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        drgkit.group(path)


GARBAGE = {
    "random.csv": np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes(),
    "gzip.csv": gzip.compress(b"case_id,dx\n1,I21.000\n" * 100),
    "nul.csv": b"\x00" * 4096,
    "random.parquet": np.random.default_rng(8).integers(0, 256, 5_000, dtype=np.uint8).tobytes(),
    "random.xlsx": np.random.default_rng(9).integers(0, 256, 5_000, dtype=np.uint8).tobytes(),
    "text.parquet": b"case_id,dx\n1,I21.000\n",
    "png.tsv": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_file_is_one_clear_input_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(GARBAGE[name])
    with pytest.raises(InputError) as info:
        drgkit.group(path)
    message = str(info.value)
    assert name in message and "\n" not in message
    with pytest.raises(InputError):
        list(iter_case_batches(path))


# --------------------------------------------------------------------------- a shuffled mix keeps rows and order

BROKEN = [
    {"dx": None},
    {"dx": ""},
    {"dx": "ZZZ.999"},
    {"dx": "I21.000x005|ZZZ.999"},
    {"px": "99.9999"},
    {"gender": "0"},
    {"gender": "9"},
    {"gender": "X"},
    {"gender": "男"},
    {"gender": "女"},
    {"gender": "M"},
    {"gender": None},
    {"age": "-1"},
    {"age": "abc"},
    {"age": None},
    {"los": "x"},
    {"age": "0"},
    {"age": "0", "age_days": "5", "dx": "P07.100"},
    {"total_cost": "n/a"},
    {"dx": "i21.000x005"},
    {"dx": "I21.000x005||||E11.900"},
    {"dx": "Ｉ２１．０００ｘ００５"},
    {"birth_weight": "-5"},
    {"age": "99999999999"},
    {"leaving_type": "9"},
    {"dept": "ICU"},
    {"dx": "I21.000x005;E11.900,I10.x00"},
]


def _mix(n: int, seed: int) -> pa.Table:
    oracle = read_oracle("chs-drg-1.1-dev.csv").slice(0, n // 2)
    good = [
        {
            k: r[k]
            for k in (
                "case_id",
                "gender",
                "age",
                "age_days",
                "birth_weight",
                "dept",
                "los",
                "leaving_type",
                "dx",
                "px",
                "total_cost",
            )
        }
        for r in oracle.to_pylist()
    ]
    broken = [{**GOOD, **BROKEN[i % len(BROKEN)], "case_id": f"B{i:05d}"} for i in range(n - len(good))]
    rows = good + broken
    order = np.random.default_rng(seed).permutation(len(rows))
    return table([rows[i] for i in order])


def test_rows_in_equal_rows_out_on_a_shuffled_mix() -> None:
    mix = _mix(2000, seed=1)
    out = drgkit.group(mix)
    assert out.num_rows == 2000
    assert out.column("case_id").to_pylist() == mix.column("case_id").to_pylist()
    statuses = set(out.column("status").to_pylist())
    assert statuses == {"ok", "ungroupable", "invalid"}
    invalid = out.filter(pc.equal(out.column("status"), "invalid"))
    assert pc.all(pc.is_valid(invalid.column("reason"))).as_py()
    # each row's result does not depend on its neighbours: group in another order and compare
    order = np.random.default_rng(2).permutation(2000)
    again = drgkit.group(mix.take(pa.array(order)))
    result_cols = ["case_id", "status", "reason", "warnings", "mdc", "adrg", "drg", "cc_level", "cc_code"]
    assert again.select(result_cols).to_pylist() == out.select(result_cols).take(pa.array(order)).to_pylist()
    # and one row at a time gives the same answers (a sample, to stay fast)
    for i in range(0, 2000, 97):
        single = drgkit.group(mix.slice(i, 1))
        assert single.select(result_cols).to_pylist() == out.slice(i, 1).select(result_cols).to_pylist()


def test_mix_through_files_and_batches(tmp_path: Path) -> None:
    mix = _mix(600, seed=3)
    in_memory = drgkit.group(mix).column("drg").to_pylist()
    path = tmp_path / "mix.parquet"
    pq.write_table(mix, path, row_group_size=100)
    assert drgkit.group(path).column("drg").to_pylist() == in_memory
    batches = list(iter_case_batches(path, batch_size=128))
    assert sum(b.num_rows for b in batches) == 600


# --------------------------------------------------------------------------- input types


def test_list_columns_from_arrow() -> None:
    lists = pa.table(
        {
            "case_id": ["a", "b", "c", "d"],
            "gender": pa.array([1, 2, 1, None], pa.int64()),
            "age": pa.array([65, 30, 70, 40], pa.int32()),
            "dx": pa.array(
                [["I21.000x005", "E11.900"], ["K35.301"], [" C61.x00 ", None, ""], None], pa.list_(pa.string())
            ),
            "px": pa.array([["36.0601"], [], ["60.5x02"], None], pa.large_list(pa.string())),
        }
    )
    text = pa.table(
        {
            "case_id": ["a", "b", "c", "d"],
            "gender": ["1", "2", "1", None],
            "age": ["65", "30", "70", "40"],
            "dx": ["I21.000x005|E11.900", "K35.301", "C61.x00", None],
            "px": ["36.0601", "", "60.5x02", None],
        }
    )
    cols = ["status", "mdc", "adrg", "drg", "cc_level"]
    got, expected = drgkit.group(lists), drgkit.group(text)
    assert got.select(cols).to_pylist() == expected.select(cols).to_pylist()
    assert got.column("drg").to_pylist()[0] == "FM19"
    assert got.column("status").to_pylist()[3] == "invalid"


def test_pandas_in_pandas_out_and_polars_in_polars_out() -> None:
    rows = [GOOD, {**GOOD, "case_id": "x", "age": "abc"}, {**GOOD, "case_id": "y", "dx": None}]
    frame = pd.DataFrame(rows)
    out = drgkit.group(frame)
    assert isinstance(out, pd.DataFrame)
    assert len(out) == 3 and list(out["case_id"]) == ["good", "x", "y"]
    assert list(out["status"]) == ["ok", "invalid", "invalid"]
    pframe = pl.DataFrame(rows)
    pout = drgkit.group(pframe)
    assert isinstance(pout, pl.DataFrame)
    assert pout["status"].to_list() == ["ok", "invalid", "invalid"]
    assert pout["drg"].to_list() == list(out["drg"])
    assert isinstance(drgkit.group(table(rows)), pa.Table)
    # numeric dtypes from pandas (ints, floats with NaN) are read too
    typed = pd.DataFrame(
        {"gender": [1, 2], "age": [65.0, np.nan], "dx": ["I21.000x005", "K35.301"], "px": ["36.0601", ""]}
    )
    tout = drgkit.group(typed)
    assert list(tout["status"]) == ["ok", "invalid"]
    assert tout["reason"][1].startswith("V02")


def test_wrong_input_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        drgkit.group([GOOD])


# --------------------------------------------------------------------------- principal slot kept blank (io/read.py)


def test_blank_principal_column_keeps_an_empty_first_slot(tmp_path: Path) -> None:
    path = tmp_path / "front.csv"
    path.write_bytes(
        (
            "病案号,性别,年龄,主要诊断编码,其他诊断编码1,其他诊断编码2,主要手术操作编码,其他手术操作编码1\n"
            "1,1,65,,I10.x00,E11.900,,36.0601\n"
            "2,1,65,I21.000x005,,E11.900,36.0601,\n"
            "3,1,65, ,,,,\n"
            "4,1,65,,,,,\n"
            "5,1,65,I21.000x005,E11.900,,,88.5500\n"
        ).encode("gbk")
    )
    t = read_cases(path)
    assert t.column("dx").to_pylist() == [
        ["", "I10.x00", "E11.900"],
        ["I21.000x005", "E11.900"],
        [],
        [],
        ["I21.000x005", "E11.900"],
    ]
    assert t.column("px").to_pylist() == [["", "36.0601"], ["36.0601"], [], [], ["", "88.5500"]]
    # streamed batches assemble the same lists
    streamed = pa.concat_tables(iter_case_batches(path, batch_size=2))
    assert streamed.column("dx").to_pylist() == t.column("dx").to_pylist()
    assert streamed.column("px").to_pylist() == t.column("px").to_pylist()


def test_leading_separator_keeps_an_empty_first_slot(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "case_id,dx,px\n"
        "1,|I10.x00,|36.0601\n"
        '2," | I10.x00|E11.900",36.0601||88.5500\n'
        "3,I10.x00||E11.900|,\n"
        "4,|,|\n"
        '5,"，I10.x00",\n',
        encoding="utf-8",
    )
    t = read_cases(path)
    assert t.column("dx").to_pylist() == [
        ["", "I10.x00"],
        ["", "I10.x00", "E11.900"],
        ["I10.x00", "E11.900"],
        [],
        ["", "I10.x00"],
    ]
    assert t.column("px").to_pylist() == [["", "36.0601"], ["36.0601", "88.5500"], [], [], []]


def test_list_column_with_blank_first_element(tmp_path: Path) -> None:
    src = pa.table(
        {
            "case_id": ["1", "2", "3", "4", "5"],
            "dx": pa.array(
                [[None, "I10.x00"], [" ", "I10.x00", ""], ["I10.x00", None, "E11.900"], [""], None],
                pa.list_(pa.string()),
            ),
        }
    )
    expected = [["", "I10.x00"], ["", "I10.x00"], ["I10.x00", "E11.900"], [], []]
    assert canonicalize(src).column("dx").to_pylist() == expected
    path = tmp_path / "l.parquet"
    pq.write_table(src, path)
    assert read_cases(path).column("dx").to_pylist() == expected
    assert pa.concat_tables(iter_case_batches(path, batch_size=2)).column("dx").to_pylist() == expected
    # sliced and chunked input
    chunked = pa.chunked_array([src.column("dx").chunk(0).slice(1, 2), pa.array([[None, "A"]], pa.list_(pa.string()))])
    assert code_lists(chunked, keep_principal_slot=True).to_pylist() == [
        ["", "I10.x00"],
        ["I10.x00", "E11.900"],
        ["", "A"],
    ]


def test_only_other_diagnosis_columns_are_refused_not_promoted() -> None:
    # no principal column: the first secondary code must not silently become the principal diagnosis
    table = pa.table({"其他诊断编码1": [None, "I10.x00"], "其他诊断编码2": ["E11.900", None]})
    with pytest.raises(InputError, match=r"no principal diagnosis.*--map 'COLUMN=dx_main'"):
        canonicalize(table)
    t = canonicalize(table, mapping={"其他诊断编码1": "dx_main"})
    assert t.column("dx").to_pylist() == [["", "E11.900"], ["I10.x00"]]


def test_code_lists_default_still_drops_every_empty_piece() -> None:
    assert code_lists(pa.array(["|I10.x00", None])).to_pylist() == [["I10.x00"], []]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.lists(st.sampled_from(["", " ", "I10.x00", "E11.900", "K35.301"]), max_size=4)),
        max_size=12,
    )
)
def test_keep_principal_slot_matches_a_simple_model(rows: list[list[str] | None]) -> None:
    def model(codes: list[str] | None) -> list[str]:
        if not codes:
            return []
        rest = [c.strip() for c in codes[1:] if c.strip()]
        head = codes[0].strip()
        if head:
            return [head, *rest]
        return ["", *rest] if rest else []

    expected = [model(r) for r in rows]
    text = pa.array([None if r is None else "|".join(r) for r in rows], pa.string())
    lists = pa.array(rows, pa.list_(pa.string()))
    assert code_lists(text, keep_principal_slot=True).to_pylist() == expected
    assert code_lists(lists, keep_principal_slot=True).to_pylist() == expected


def test_keep_principal_slot_is_vectorized_on_many_rows() -> None:
    n = 200_000
    text = pa.array(np.where(np.arange(n) % 3 == 0, "|I10.x00|E11.900", "I21.000x005|I10.x00").astype(object))
    lists = code_lists(text, keep_principal_slot=True)
    firsts = pc.list_element(lists, 0).to_numpy(zero_copy_only=False)
    assert (firsts[::3] == "").all() and (firsts[1::3] == "I21.000x005").all()
    assert pc.sum(pc.list_value_length(lists)).as_py() == 3 * len(firsts[::3]) + 2 * (n - len(firsts[::3]))


@pytest.mark.parametrize("dx", ["|I10.x00", "|I21.000x005|E11.900"])
def test_blank_principal_diagnosis_is_invalid_v05(dx: str) -> None:
    [row] = group_rows([{**GOOD, "dx": dx}])
    assert row["status"] == "invalid" and row["reason"].startswith("V05")


def test_blank_principal_column_is_invalid_v05_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "front.csv"
    path.write_bytes("病案号,性别,年龄,主要诊断编码,其他诊断编码1\n1,1,65,,I21.000x005\n".encode("gbk"))
    [row] = drgkit.group(path).to_pylist()
    assert row["status"] == "invalid" and row["reason"].startswith("V05")


def test_blank_main_procedure_is_not_replaced_by_the_next_one() -> None:
    [blank] = group_rows([{**GOOD, "px": "|36.0601"}])
    [none] = group_rows([{**GOOD, "px": ""}])
    assert blank["drg"] == none["drg"] != "FM19"
    assert "main procedure slot is blank" in blank["warnings"]
    assert none["warnings"] is None


def test_fix_case_repairs_codes_before_grouping() -> None:
    """--fix-case: the repaired code is the one grouped (the repair must not be undone by cached code ids)."""
    import drgkit

    t = pa.table({"case_id": ["a"], "gender": ["1"], "age": ["65"], "dx": ["i21.000x005|E11.900"], "px": ["36.0601"]})
    plain = drgkit.group(t).to_pylist()[0]
    fixed = drgkit.group(t, options=drgkit.Options(fix_case=True)).to_pylist()[0]
    assert plain["status"] == "ungroupable" and "unknown diagnosis code i21.000x005" in plain["warnings"]
    assert fixed["status"] == "ok" and fixed["adrg"] == "FM1"
    assert "I21.000x005 ← i21.000x005" in fixed["warnings"]


def test_regrouping_a_priced_file_drops_the_stale_results(tmp_path: Path) -> None:
    """A file grouped and priced before, fed in again: the old payment must not sit beside the new group."""
    from typer.testing import CliRunner

    from drgkit.cli import app

    src = tmp_path / "in.csv"
    src.write_text("case_id,gender,age,dx,total_cost\n1,1,70,J18.900,5000\n", encoding="utf-8")
    runner = CliRunner()
    assert (
        runner.invoke(
            app,
            [
                "group",
                str(src),
                "-o",
                str(tmp_path / "p.parquet"),
                "-q",
                "--price",
                "suzhou-2023",
                "--level",
                "level3",
                "--scheme",
                "suzhou-2023",
            ],
        ).exit_code
        == 0
    )
    stale = pq.read_table(tmp_path / "p.parquet").to_pylist()[0]
    assert stale["payment"] is not None
    changed = pa.table({k: [v] for k, v in {**stale, "dx": "I21.000x005"}.items()})
    pq.write_table(changed, tmp_path / "again.parquet")
    result = runner.invoke(app, ["group", str(tmp_path / "again.parquet"), "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code == 0, result.output
    assert "dropped the result columns of an earlier run" in result.stderr
    out = pq.read_table(tmp_path / "out.parquet")
    assert "payment" not in out.column_names and "rw" not in out.column_names
    assert out.column("drg").to_pylist() != [stale["drg"]]


def test_pandas_results_keep_the_callers_index() -> None:
    frame = pd.DataFrame(
        {"case_id": ["a", "b"], "gender": ["1", "2"], "age": ["60", "30"], "dx": ["I21.000x005", "K35.800"]},
        index=[17, 4],
    )
    out = drgkit.group(frame)
    assert list(out.index) == [17, 4] and list(out["case_id"]) == ["a", "b"]
    joined = frame.join(out[["drg"]])
    assert joined.loc[4, "drg"] == out.loc[4, "drg"]


def test_an_invalid_record_has_no_complication_level_in_group_and_explain() -> None:
    t = pa.table({"case_id": ["1"], "gender": ["1"], "age": ["70"], "dx": ["|J18.900|I50.900"]})
    [row] = drgkit.group(t).to_pylist()
    assert (row["status"], row["cc_level"], row["cc_code"]) == ("invalid", "none", None)
    d = drgkit.explain(dx="|J18.900|I50.900", age=70, sex=1).as_dict()
    assert (d["status"], d["cc_level"], d["cc_code"]) == ("invalid", "none", None)


def test_a_cache_file_of_another_scheme_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from drgkit.schemes import compile as C

    monkeypatch.setenv("DRGKIT_CACHE_DIR", str(tmp_path))
    C.load_compiled.cache_clear()
    one = C.load_compiled("chs-drg-1.1")
    two_info = C.scheme_info("chs-drg-2.0")
    C.load_compiled.cache_clear()
    [pickle_11] = list(tmp_path.glob("chs-drg-1.1-*.pkl"))
    shutil.copy(pickle_11, tmp_path / f"chs-drg-2.0-{two_info.checksum}-{C._compiler_key()}.pkl")
    two = C.load_compiled("chs-drg-2.0")
    assert (two.id, two.checksum) == ("chs-drg-2.0", two_info.checksum) and one.id == "chs-drg-1.1"
    C.load_compiled.cache_clear()


def test_an_unusable_cache_folder_compiles_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drgkit.schemes import compile as C

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("DRGKIT_CACHE_DIR", str(blocker))
    C.load_compiled.cache_clear()
    with pytest.warns(UserWarning, match="compiling in memory"):
        assert C.load_compiled("chs-drg-1.1").id == "chs-drg-1.1"
    C.load_compiled.cache_clear()


def test_api_takes_mixed_object_columns_and_lazy_frames() -> None:
    frame = pd.DataFrame({"case_id": [1, "a"], "gender": ["1", "2"], "age": [65, 30], "dx": ["I21.000x005", 3.5]})
    out = drgkit.group(frame)
    assert list(out["case_id"]) == ["1", "a"] and len(out) == 2
    lazy = pl.DataFrame({"case_id": ["1"], "gender": ["1"], "age": ["65"], "dx": ["I21.000x005"]}).lazy()
    # lazy in, lazy out (drgkit.stream)
    assert drgkit.group(lazy).collect()["drg"].to_list() == drgkit.group(lazy.collect())["drg"].to_list()


def test_a_damaged_numba_cache_is_rebuilt_not_fatal(tmp_path: Path) -> None:
    import subprocess
    import sys

    from drgkit.grouping import kernel

    drgkit.group(pa.table({"case_id": ["1"], "gender": ["1"], "age": ["65"], "dx": ["I21.000x005"]}))
    cache_dir = Path(kernel.__file__).parent / "__pycache__"
    damaged = [f for f in cache_dir.glob("kernel.*.nbi")]
    assert damaged, "the kernel is cached on disk"
    for f in damaged:
        f.write_bytes(b"garbage")
    src = tmp_path / "c.csv"
    src.write_text("case_id,gender,age,dx\n1,1,65,I21.000x005\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "drgkit.cli", "group", str(src), "-o", str(tmp_path / "o.parquet"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert pq.read_table(tmp_path / "o.parquet").column("drg").to_pylist() == ["FR19"]


def test_explain_names_the_unreadable_field_as_group_does() -> None:
    d = drgkit.explain(dx="I21.000x005", age=65, sex="x").as_dict()
    [row] = drgkit.group(
        pa.table({"case_id": ["1"], "gender": ["x"], "age": ["65"], "dx": ["I21.000x005"]})
    ).to_pylist()
    assert d["reason"]["code"] == "V06" and d["reason"]["detail"] == "gender: 'x' is not a recognised sex"
    assert row["reason"].endswith(d["reason"]["detail"])


def _umask() -> int:
    import os

    old = os.umask(0)
    os.umask(old)
    return old


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_outputs_get_ordinary_permissions_and_keep_a_symlink(tmp_path: Path, suffix: str) -> None:
    import os

    from drgkit.io.write import IncrementalWriter, write_table

    table = pa.table({"case_id": ["1"], "drg": ["FR19"]})
    fresh = tmp_path / f"fresh{suffix}"
    write_table(table, fresh)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600
    shared = tmp_path / f"shared{suffix}"
    shared.write_bytes(b"")
    os.chmod(shared, 0o640)
    link = tmp_path / f"link{suffix}"
    link.symlink_to(shared.name)
    with IncrementalWriter(link, table.schema) as writer:
        writer.write(table)
    assert link.is_symlink() and shared.stat().st_size > 0  # written through the link, the link kept
    assert shared.stat().st_mode & 0o777 == 0o640  # the replaced file's mode kept


def test_damaged_or_ambiguous_parquet_and_nested_columns_are_one_line(tmp_path: Path) -> None:
    """Duplicate column names, a damaged page, a struct column written to CSV/Excel: one error naming the file."""
    from typer.testing import CliRunner

    from drgkit.cli import app

    runner = CliRunner()
    dup = tmp_path / "dup.parquet"
    pq.write_table(
        pa.table([pa.array(["1"]), pa.array(["I21.000x005"]), pa.array(["J18.900"])], names=["case_id", "dx", "dx"]),
        dup,
    )
    good = tmp_path / "good.parquet"
    pq.write_table(
        pa.table({"case_id": [str(i) for i in range(5000)], "dx": ["I21.000x005"] * 5000, "age": list(range(5000))}),
        good,
    )
    damaged = bytearray(good.read_bytes())
    damaged[200:1200] = bytes(1000)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(bytes(damaged))
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"case_id": ["1"], "dx": ["I21.000x005"], "extra": [{"a": 1}]}), nested)
    for source, out, words in (
        (dup, "o.csv", "column 'dx' appears 2 times"),
        (corrupt, "o.csv", "cannot read parquet file"),
        (nested, "o.csv", "extra hold nested values"),
        (nested, "o.xlsx", "extra hold nested values"),
    ):
        r = runner.invoke(app, ["group", str(source), "-o", str(tmp_path / out), "-q"])
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output, (source.name, r.output)
        assert not (tmp_path / out).exists()
    r = runner.invoke(app, ["group", str(nested), "-o", str(tmp_path / "o.parquet"), "-q"])
    assert r.exit_code == 0 and pq.read_table(tmp_path / "o.parquet").column("extra").to_pylist() == [{"a": 1}]


def test_codes_that_are_not_text_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="codes must be text"):
        drgkit.explain(dx=["I21.000x005", 5])
    with pytest.raises(TypeError, match="codes must be text"):
        drgkit.whatif(dx=123)
    assert len(repr(drgkit.explain(dx="I21.000x005"))) < 2000  # not the whole compiled scheme


def test_excel_unicode_text_is_read_and_misnamed_files_are_named(tmp_path: Path) -> None:
    """Excel's "Unicode text (*.txt)" export is UTF-16 with a BOM, tab-separated: read like its UTF-8 twin; a
    Parquet, gzip or workbook file named .csv is named for what it is."""
    text = (
        "病案号\t性别\t年龄\t主要诊断编码\t其他诊断编码\t住院天数\n1\t男\t65岁\tI21.000x005\tE11.900\t5\n"
        "2\t女\t70\tJ18.900\tI50.900\t3\n"
    )
    utf16, utf8 = tmp_path / "export.txt", tmp_path / "twin.txt"
    utf16.write_text(text, encoding="utf-16")
    utf8.write_text(text, encoding="utf-8")
    got, twin = drgkit.group(str(utf16)), drgkit.group(str(utf8))
    assert got.column("drg").to_pylist() == twin.column("drg").to_pylist() == ["FR19", "ES31"]
    pq.write_table(pa.table({"dx": ["I21.000x005"]}), tmp_path / "p.csv")
    (tmp_path / "g.csv").write_bytes(gzip.compress(text.encode()))
    for name, words in (("p.csv", "is a Parquet file: rename it to .parquet"), ("g.csv", "is gzip-compressed")):
        with pytest.raises(InputError, match=words):
            drgkit.group(str(tmp_path / name))


def test_an_empty_line_is_said_to_be_one_not_a_missing_sex(tmp_path) -> None:
    """An export's empty line (,,,,) stays in its place, invalid, with the reason that it is empty — not the
    first record check it happens to fail (V01, sex missing). A row with anything in it is not empty."""
    import csv as _csv

    from typer.testing import CliRunner

    from drgkit.cli import app

    src = tmp_path / "x.csv"
    src.write_text(
        "病案号,性别,年龄,主要诊断编码,住院天数\n1,1,60,J18.900,5\n,,,,\n7,,,,\n3,2,70,I21.000x005,7\n",
        encoding="utf-8",
    )
    out = tmp_path / "y.csv"
    assert CliRunner().invoke(app, ["group", str(src), "-o", str(out), "-q"]).exit_code == 0
    rows = list(_csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["病案号"] for r in rows] == ["1", "", "7", "3"]
    assert [r["status"] for r in rows] == ["ok", "invalid", "invalid", "ok"]
    assert rows[1]["reason"] == "V06 unreadable field value: (empty row, not an abstract)"
    assert "empty row" not in rows[2]["reason"]  # a stay id and nothing else: a record, badly filled
