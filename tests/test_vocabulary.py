"""The field vocabulary (io/vocab) and what the reader does with it: every label recognised, every numbering
form, names never read as codes, code-like columns never silently dropped, outputs typed and in the
input's shape."""

from __future__ import annotations

import csv
from importlib import resources

import pyarrow as pa
import pytest

import drgkit
from drgkit.io import InputError, canonicalize
from drgkit.io.columns import classify_header, fields, normalize_header, plan_headers
from drgkit.io.output import parse_dates, parse_money


def _labels() -> list[dict[str, str]]:
    with resources.files("drgkit.io").joinpath("vocab", "field_labels.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_label_names_a_field_of_the_vocabulary() -> None:
    known = fields()
    for row in _labels():
        assert row["field"] in known, row
        assert row["source"] in {"settlement_list", "front_sheet", "interface", "export", "english"}, row


def test_every_label_is_recognised_as_its_field_or_a_better_ranked_one() -> None:
    """A label may be shared (诊断编码 is both the one-column dx and a long table's code column); it must
    then resolve to the field listed first for it."""
    first: dict[str, str] = {}
    for row in _labels():
        label = row["label"]
        if label.endswith("N"):
            for n, written in ((1, label[:-1] + "1"), (12, label[:-1] + "_12"), (3, label[:-1] + "(3)")):
                assert classify_header(written) == (row["field"], n), written
            continue
        first.setdefault(normalize_header(label), row["field"])
        expected = first[normalize_header(label)]
        got = classify_header(label)
        if expected.startswith("long_"):
            continue  # long-table roles are looked up in long tables only
        assert got is not None and got[0] == expected, (label, got)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("主要手术及操作编码", ("px_main", None)),
        ("主要手术和操作代码", ("px_main", None)),
        ("其他手术及操作编码1", ("px_other", 1)),
        ("手术及操作编码1", ("px_all", 1)),
        ("其他手术及操作代码（2）", ("px_other", 2)),
        ("其他诊断编码_3", ("dx_other", 3)),
        ("其他诊断编码-4", ("dx_other", 4)),
        ("其他诊断编码 5", ("dx_other", 5)),
        ("其他诊断编码十二", ("dx_other", 12)),
        ("次要诊断编码1", ("dx_other", 1)),
        ("相关手术操作编码2", ("px_other", 2)),
        ("其它诊断编码1", ("dx_other", 1)),
        ("出院诊断编码1", ("dx_all", 1)),
        ("第一诊断编码", ("dx_main", None)),
        ("主要诊断(ICD-10)编码", ("dx_main", None)),
        ("其他诊断1编码", ("dx_other", 1)),
        ("ＤＸ１", ("dx_all", 1)),
        ("oprn_oprt_code2", ("px_all", 2)),
        ("年龄(岁)", ("age", None)),
        ("科室", ("dept", None)),
        ("住院天数（天）", ("los", None)),
    ],
)
def test_header_wordings(header: str, expected: tuple) -> None:
    assert classify_header(header) == expected


@pytest.mark.parametrize(
    "header", ["主要诊断名称", "其他诊断名称1", "手术及操作名称1", "手术操作日期1", "手术医师编码"]
)
def test_names_dates_and_staff_columns_are_not_codes(header: str) -> None:
    assert classify_header(header) is None or not classify_header(header)[0].startswith(("dx", "px"))


def test_numbered_parts_assemble_in_number_order_principal_first() -> None:
    plan = plan_headers(
        ["手术及操作编码(10)", "手术及操作编码(2)", "手术及操作编码(1)", "出院诊断编码2", "出院诊断编码1"]
    )
    assert plan.px_parts == ["手术及操作编码(1)", "手术及操作编码(2)", "手术及操作编码(10)"]
    assert plan.dx_parts == ["出院诊断编码1", "出院诊断编码2"]
    assert plan.principal_part("dx") and plan.principal_part("px")


CAESAREAN = {"病案号": ["A1"], "性别": ["2"], "年龄": ["30"], "主要诊断编码": ["O82.000"], "其他诊断编码1": ["O34.201"]}


def test_an_unknown_procedure_header_is_an_error_naming_it_not_a_vaginal_delivery() -> None:
    table = pa.table({**CAESAREAN, "手术码(主)": ["74.1x01"]})
    with pytest.raises(InputError, match=r"'手术码\(主\)'.*procedure codes.*--map '手术码\(主\)=px_main'"):
        drgkit.group(table)
    # the --map it names fixes it: the caesarean groups as one
    fixed = drgkit.group(table, mapping={"手术码(主)": "px_main"}).to_pylist()[0]
    assert fixed["drg"].startswith("OB")
    # --allow-unmapped groups without it and says so
    loose = drgkit.group(table, allow_unmapped=True).to_pylist()[0]
    assert loose["drg"] != fixed["drg"] and loose["手术码(主)"] == "74.1x01"


def test_a_code_column_with_a_meaningless_header_is_found_by_its_values() -> None:
    table = pa.table({**CAESAREAN, "字段7": ["74.1x01"]})
    with pytest.raises(InputError, match=r"'字段7'.*by its values: '74.1X01'"):
        canonicalize(table)
    table = pa.table({**CAESAREAN, "col_x": ["I10.x00"]})
    with pytest.raises(InputError, match=r"'col_x' looks like diagnosis codes.*--map 'col_x=dx_other'"):
        canonicalize(table)


def test_numbers_that_are_not_codes_are_not_flagged() -> None:
    table = pa.table({**CAESAREAN, "护理费": ["45.00"], "体重": ["65.5"], "床号": ["12"], "科室码": ["A01"]})
    canonicalize(table)  # no error


def test_output_keeps_the_input_columns_in_order_typed_then_results() -> None:
    table = pa.table(
        {
            "住院号": ["1"],
            "年龄": ["82"],
            "性别": ["男"],
            "出院日期": ["2024/5/10"],
            "主要诊断编码": ["I21.000x005"],
            "总费用": ["1,234.50"],
        }
    )
    out = drgkit.group(table)
    assert out.column_names[:6] == table.column_names
    assert out.column_names[6] == "status"
    assert out.schema.field("年龄").type == pa.int32()
    assert out.schema.field("性别").type == pa.int8() and out.column("性别").to_pylist() == [1]
    assert out.schema.field("总费用").type == pa.float64() and out.column("总费用").to_pylist() == [1234.5]
    assert out.schema.field("出院日期").type == pa.timestamp("s")
    canonical = drgkit.group(table, canonical=True)
    assert {"case_id", "age", "gender", "dx", "px", "total_cost"} <= set(canonical.column_names)


def test_dates_in_every_common_form_and_excel_serials() -> None:
    values = pa.array(["2024-05-10", "2024/5/10", "20240510", "2024-05-10 08:30:00", "45422", None, "  "])
    typed, unread = parse_dates(values)
    got = [v.date().isoformat() if v else None for v in typed.to_pylist()]
    assert got == ["2024-05-10"] * 5 + [None, None]
    assert unread.tolist() == []
    typed, unread = parse_dates(pa.array(["2024-13-45", "2024-01-02"]))
    assert unread.tolist() == [0] and typed.to_pylist()[0] is None


def test_money_in_every_common_form() -> None:
    typed, unread = parse_money(pa.array(["12,345.60", "12345.60元", "￥12345.6", "¥ 100 元", "x", None, "1,23"]))
    assert typed.to_pylist() == [12345.6, 12345.6, 12345.6, 100.0, None, None, None]
    assert unread.tolist() == [4, 6]  # 1,23: a decimal comma or a slip, not 123 (as the grouper reads costs)


def test_money_plain_and_written_cells_mixed_in_one_column_each_read_in_place() -> None:
    """Plain numbers take the direct cast, the others the amount pattern: rows keep their places, and the
    unread rows are named by their position in the whole column (also chunked or dictionary-typed)."""
    cells = ["100", " 12.5 ", "１２３.５", "", "  ", None, "abc", "+7", "-0.5", ".5", "3,200元", "1e5", "8"]
    want = [100.0, 12.5, 123.5, None, None, None, None, 7.0, -0.5, 0.5, 3200.0, None, 8.0]
    for column in (
        pa.array(cells),
        pa.chunked_array([cells[:4], cells[4:]]),
        pa.array(cells).dictionary_encode(),
    ):
        typed, unread = parse_money(column)
        assert typed.type == pa.float64() and typed.to_pylist() == want
        assert unread.tolist() == [6, 11]  # abc, 1e5 (an exponent is not how an export writes an amount)
    typed, unread = parse_money(pa.array(["1", "2.50"]))  # all plain: no row unread
    assert typed.to_pylist() == [1.0, 2.5] and unread.tolist() == []


def test_dates_written_in_full_width_digits_or_with_spaces_read_once_normalized() -> None:
    typed, unread = parse_dates(pa.array(["２０２４-05-10", " 2024-05-10 ", "2024-05-10", None, "x"]))
    got = [v.date().isoformat() if v else None for v in typed.to_pylist()]
    assert got == ["2024-05-10"] * 3 + [None, None] and unread.tolist() == [4]


def test_a_date_that_does_not_read_is_named_in_warnings_not_dropped_silently() -> None:
    table = pa.table(
        {"住院号": ["1", "2"], "主要诊断编码": ["I21.000x005", "J18.900"], "出院日期": ["2024-05-10", "2024-13-45"]}
    )
    out = drgkit.group(table).to_pylist()
    assert out[1]["出院日期"] is None and "'2024-13-45' is not a date" in out[1]["warnings"]
    assert out[0]["warnings"] is None


def test_the_api_reports_the_mapping_it_uses() -> None:
    report = drgkit.column_mapping(
        pa.table({"住院号": ["1"], "出院诊断编码1": ["A01.000"], "出院诊断编码2": ["B01.000"], "备注": ["x"]})
    )
    assert (
        report[0] == "columns read: 住院号 → case_id; 出院诊断编码1 + 出院诊断编码2 → dx (2 columns, principal first)"
    )
    assert report[1] == "carried through: 备注"
