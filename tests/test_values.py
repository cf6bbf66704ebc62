"""Values as exports write them (io/values.py, io/vocab/*.csv): each form reads as its plain twin, and a
value that cannot be read makes the row invalid with a reason naming the field and the value."""
from __future__ import annotations

import pyarrow as pa
import pytest

import drgkit
from drgkit.io import canonicalize, prepare
from drgkit.io.values import ages, amounts, lookup, strip_unit, vocabulary
from drgkit.payment.tables import INSURANCE, LEVELS, normalize_insurance, normalize_level


@pytest.mark.parametrize("written, years, days", [
    ("82", "82", None), ("82岁", "82", None), ("82 岁", "82", None), ("８２岁", "82", None),
    ("3月", "0", 90), ("3个月", "0", 90), ("15天", "0", 15), ("2月15天", "0", 75), ("1岁2月", "1", None),
    ("0岁", "0", None),
])
def test_ages(written: str, years: str, days: int | None) -> None:
    assert ages([written]) == [(years, days)]


def test_an_age_that_is_not_one_comes_back_as_written() -> None:
    assert ages(["abc岁", "82.5x", None]) == [("abc岁", None), ("82.5x", None), (None, None)]


@pytest.mark.parametrize("written, code", [
    ("医嘱离院", "1"), ("医嘱转院", "2"), ("医嘱转社区卫生服务机构/乡镇卫生院", "3"), ("非医嘱离院", "4"), ("死亡", "5"),
    ("其他", "9"), ("1.医嘱离院", "1"), ("5-死亡", "5"), ("（2）医嘱转院", "2"), ("２", "2"), ("1.0", "1"),
])
def test_leaving_type_words(written: str, code: str) -> None:
    assert lookup("leaving_type", written) == code


def test_a_code_that_contradicts_its_text_is_not_read() -> None:
    assert lookup("leaving_type", "1.死亡") is None


def test_units_and_money() -> None:
    assert strip_unit("los", ["12天", "3日", "7", "x天"]) == ["12", "3", "7", "x天"]
    assert strip_unit("birth_weight", ["3200克", "3200g", "3200 G"]) == ["3200", "3200", "3200"]
    assert amounts(["12,345.60", "12345.60元", "￥12345.6", "１２３４５.６", "1,23"]) == \
        ["12345.60", "12345.60", "12345.6", "12345.6", "1,23"]


def test_every_vocabulary_maps_to_a_valid_value() -> None:
    assert set(vocabulary("gender").values()) <= {"0", "1", "2"}
    assert set(vocabulary("leaving_type").values()) <= {"1", "2", "3", "4", "5", "9"}
    assert set(vocabulary("hospital_level").values()) <= set(LEVELS)
    assert set(vocabulary("insurance").values()) <= set(INSURANCE)


@pytest.mark.parametrize("written, level", [("三级甲等", "level3a"), ("三甲", "level3a"), ("三级", "level3"),
                                            ("Ⅲ级", "level3"), ("3", "level3"), ("二级乙等", "level2")])
def test_hospital_levels(written: str, level: str) -> None:
    assert normalize_level(written) == level


@pytest.mark.parametrize("written, insurance", [("310", "employee"), ("390", "resident"),
                                                ("职工基本医疗保险", "employee"), ("城乡居民基本医疗保险", "resident")])
def test_insurance_types(written: str, insurance: str) -> None:
    assert normalize_insurance(written) == insurance


def _group(**columns: list[str]) -> list[dict]:
    n = len(next(iter(columns.values())))
    base = {"case_id": [str(i) for i in range(n)], "dx": ["I21.000x005|E11.900"] * n}
    return drgkit.group(pa.table({**base, **columns}), canonical=True).to_pylist()


def test_written_values_group_exactly_as_their_plain_twins() -> None:
    written = _group(gender=["男", "女性", "M"], age=["82岁", "６５", "70.0"], leaving_type=["医嘱离院", "死亡", "1.医嘱离院"],
                     los=["12天", "3日", "7"], total_cost=["12,345.60", "800元", "￥100"])
    plain = _group(gender=["1", "2", "1"], age=["82", "65", "70"], leaving_type=["1", "5", "1"],
                   los=["12", "3", "7"], total_cost=["12345.6", "800", "100"])
    for w, p in zip(written, plain):
        assert (w["status"], w["drg"], w["reason"]) == (p["status"], p["drg"], p["reason"])
        assert (w["age"], w["gender"], w["leaving_type"], w["los"], w["total_cost"]) == \
            (p["age"], p["gender"], p["leaving_type"], p["los"], p["total_cost"])


def test_an_age_in_months_gives_the_age_in_days_it_implies() -> None:
    table = canonicalize(pa.table({"case_id": ["a", "b", "c"], "dx": ["P07.100"] * 3, "age": ["3月", "15天", "3月"],
                                   "age_days": [None, None, "80"]}))
    prepared = prepare(table)
    assert prepared.age.tolist() == [0, 0, 0]
    assert prepared.age_days.tolist() == [90, 15, 80]  # a given age in days is never overwritten


def test_unreadable_values_make_the_row_invalid_naming_field_and_value() -> None:
    rows = _group(gender=["1", "x"], age=["abc岁", "60"])
    assert rows[0]["status"] == "invalid" and "age: 'abc岁'" in rows[0]["reason"]
    assert rows[1]["status"] == "invalid" and "gender: 'x'" in rows[1]["reason"]


def test_implausible_values_are_read_but_warned() -> None:
    rows = _group(gender=["1", "1"], age=["200", "65"], los=["1000000000", "3"])
    assert rows[0]["status"] == rows[1]["status"] == "ok"
    assert "age: 200 years is outside the plausible 0–120" in rows[0]["warnings"]
    assert "los: 1000000000 days is outside" in rows[0]["warnings"]
    assert rows[1]["warnings"] is None
