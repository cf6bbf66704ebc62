"""Values as exports write them (io/values.py, io/vocab/*.csv): each form reads as its plain twin, and a
value that cannot be read makes the row invalid with a reason naming the field and the value."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pyarrow as pa
import pytest

import drgkit
from drgkit.io import canonicalize, prepare
from drgkit.io.prepare import PreparedCases
from drgkit.io.values import ages, amounts, clean, lookup, strip_unit, vocabulary
from drgkit.payment.tables import INSURANCE, LEVELS, normalize_insurance, normalize_level


@pytest.mark.parametrize(
    "written, years, days",
    [
        ("82", "82", None),
        ("82岁", "82", None),
        ("82 岁", "82", None),
        ("８２岁", "82", None),
        ("3月", "0", 90),
        ("3个月", "0", 90),
        ("15天", "0", 15),
        ("2月15天", "0", 75),
        ("1岁2月", "1", None),
        ("0岁", "0", None),
        ("82.0", "82.0", None),
        ("82.0岁", "82", None),
        ("15日", "0", 15),
        ("1岁2个月", "1", None),
        ("１岁２个月", "1", None),
        ("0岁3月", "0", 90),
        ("-3岁", "-3", None),
        ("-2月", "-2", None),
    ],
)
def test_ages(written: str, years: str, days: int | None) -> None:
    assert ages([written]) == [(years, days)]


def test_an_age_that_is_not_one_comes_back_as_written() -> None:
    assert ages(["abc岁", "82.5x", None]) == [("abc岁", None), ("82.5x", None), (None, None)]


@pytest.mark.parametrize(
    "written, code",
    [
        ("医嘱离院", "1"),
        ("医嘱转院", "2"),
        ("医嘱转社区卫生服务机构/乡镇卫生院", "3"),
        ("非医嘱离院", "4"),
        ("死亡", "5"),
        ("其他", "9"),
        ("1.医嘱离院", "1"),
        ("5-死亡", "5"),
        ("（2）医嘱转院", "2"),
        ("２", "2"),
        ("1.0", "1"),
        ("医嘱转社区卫生服务机构", "3"),
        ("医嘱转乡镇卫生院", "3"),
        ("转社区", "3"),
        ("1-医嘱离院", "1"),
        ("1 医嘱离院", "1"),
        ("3.医嘱转社区卫生服务机构/乡镇卫生院", "3"),
    ],
)
def test_leaving_type_words(written: str, code: str) -> None:
    assert lookup("leaving_type", written) == code


def test_a_code_that_contradicts_its_text_is_not_read() -> None:
    assert lookup("leaving_type", "1.死亡") is None


def test_units_and_money() -> None:
    assert strip_unit("los", ["12天", "3日", "7", "x天"]) == ["12", "3", "7", "x天"]
    assert strip_unit("birth_weight", ["3200克", "3200g", "3200 G"]) == ["3200", "3200", "3200"]
    assert strip_unit("icu_hours", ["48小时", "48h", "48.0"]) == ["48", "48", "48.0"]
    assert strip_unit("los", ["-3天"]) == ["-3"]  # then reported as negative, not as "not a number"
    assert amounts(["12,345.60", "12345.60元", "￥12345.6", "１２３４５.６", "1,23", "¥ 12,345.60 元", "12,34,5"]) == [
        "12345.60",
        "12345.60",
        "12345.6",
        "12345.6",
        "1,23",
        "12345.60",
        "12,34,5",
    ]


VALID = {
    "gender": ({"0", "1", "2"}, "code"),
    "leaving_type": ({"1", "2", "3", "4", "5", "9"}, "code"),
    "hospital_level": (set(LEVELS), "level"),
    "insurance": (set(INSURANCE), "insurance"),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_vocabulary_file_rows(name: str) -> None:
    """Each file: a `value,<meaning>` header, two non-blank fields a row, every meaning valid, and no two
    rows that read the same once cleaned (NFKC, spaces, case) but mean different things."""
    valid, meaning = VALID[name]
    with resources.files("drgkit.io").joinpath("vocab", f"{name}.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["value", meaning]
    seen: dict[str, str] = {}
    for row in rows[1:]:
        assert len(row) == 2 and row[0].strip() and row[1] in valid, row
        assert seen.setdefault(clean(row[0]), row[1]) == row[1], row
        assert lookup(name, row[0]) == row[1]


def test_every_vocabulary_maps_to_a_valid_value() -> None:
    assert set(vocabulary("gender").values()) <= {"0", "1", "2"}
    assert set(vocabulary("leaving_type").values()) <= {"1", "2", "3", "4", "5", "9"}
    assert set(vocabulary("hospital_level").values()) <= set(LEVELS)
    assert set(vocabulary("insurance").values()) <= set(INSURANCE)


@pytest.mark.parametrize(
    "written, level",
    [
        ("三级甲等", "level3a"),
        ("三甲", "level3a"),
        ("三级", "level3"),
        ("Ⅲ级", "level3"),
        ("3", "level3"),
        ("二级乙等", "level2"),
    ],
)
def test_hospital_levels(written: str, level: str) -> None:
    assert normalize_level(written) == level


@pytest.mark.parametrize(
    "written, insurance",
    [("310", "employee"), ("390", "resident"), ("职工基本医疗保险", "employee"), ("城乡居民基本医疗保险", "resident")],
)
def test_insurance_types(written: str, insurance: str) -> None:
    assert normalize_insurance(written) == insurance


def _group(**columns: list[str]) -> list[dict]:
    n = len(next(iter(columns.values())))
    base = {"case_id": [str(i) for i in range(n)], "dx": ["I21.000x005|E11.900"] * n}
    return drgkit.group(pa.table({**base, **columns}), canonical=True).to_pylist()


def test_written_values_group_exactly_as_their_plain_twins() -> None:
    written = _group(
        gender=["男", "女性", "M"],
        age=["82岁", "６５", "70.0"],
        leaving_type=["医嘱离院", "死亡", "1.医嘱离院"],
        los=["12天", "3日", "7"],
        total_cost=["12,345.60", "800元", "￥100"],
    )
    plain = _group(
        gender=["1", "2", "1"],
        age=["82", "65", "70"],
        leaving_type=["1", "5", "1"],
        los=["12", "3", "7"],
        total_cost=["12345.6", "800", "100"],
    )
    for w, p in zip(written, plain):
        assert (w["status"], w["drg"], w["reason"]) == (p["status"], p["drg"], p["reason"])
        assert (w["age"], w["gender"], w["leaving_type"], w["los"], w["total_cost"]) == (
            p["age"],
            p["gender"],
            p["leaving_type"],
            p["los"],
            p["total_cost"],
        )


def _prepared(**columns: list) -> PreparedCases:
    n = len(next(iter(columns.values())))
    return prepare(
        canonicalize(pa.table({"case_id": [str(i) for i in range(n)], "dx": ["I21.000x005"] * n, **columns}))
    )


def test_written_forms_read_as_their_numbers() -> None:
    p = _prepared(
        age=["82", "82岁", "82.0", "82 岁", "８２", "1岁2个月"],
        los=["12天", "12日", "12.0", "１２天", "12 天", "12"],
        birth_weight=["3200克", "3200g", "3200G", "3200.0", "3200 g", "3200"],
        icu_hours=["48小时", "48h", "48.0", "48 小时", "４８h", "48"],
        leaving_type=["医嘱离院", "1.医嘱离院", "1-医嘱离院", "1 医嘱离院", "1.0", "1"],
        total_cost=["12345.6", "12,345.60", "12345.60元", "￥12345.6", "¥ 12,345.60 元", "１２，３４５.６"],
    )
    assert p.problems.null_count == 6
    assert p.age.tolist() == [82, 82, 82, 82, 82, 1]
    assert set(p.los.tolist()) == {12} and set(p.birth_weight.tolist()) == {3200} and set(p.icu_hours.tolist()) == {48}
    assert set(p.leaving_type.tolist()) == {1}
    assert np.allclose(p.total_cost, 12345.6)
    assert p.age_days.tolist() == [-1] * 6  # years, or years and months: no age in days


def test_every_leaving_type_word_gives_its_code() -> None:
    words = [
        "医嘱离院",
        "医嘱转院",
        "医嘱转社区卫生服务机构/乡镇卫生院",
        "非医嘱离院",
        "死亡",
        "其他",
        "转社区",
        "医嘱转乡镇卫生院",
    ]
    assert _prepared(leaving_type=words).leaving_type.tolist() == [1, 2, 3, 4, 5, 9, 3, 3]


def test_unreadable_values_are_reported_as_written() -> None:
    p = _prepared(
        age=["82.5岁", "-3岁", "60", "60", "60"],
        los=["5", "-3天", "x天", "5", "5"],
        leaving_type=["1", "1", "1", "1.死亡", "离开"],
        total_cost=["1,23", "100", "100", "100", "¥x"],
    )
    assert p.problems.to_pylist() == [
        "age: '82.5岁' is not a whole number; total_cost: '1,23' is not a number",
        "age: '-3岁' is negative; los: '-3天' is negative",
        "los: 'x天' is not a number",
        # the code and the words disagree: neither is trusted
        "leaving_type: '1.死亡' is not a discharge disposition code (1-5, 9)",
        "leaving_type: '离开' is not a discharge disposition code (1-5, 9); total_cost: '¥x' is not a number",
    ]
    assert p.age.tolist()[:2] == [-1, -1] and p.los.tolist()[1:3] == [-1, -1]
    assert np.isnan(p.total_cost[0]) and np.isnan(p.total_cost[4])


def test_an_age_in_months_gives_the_age_in_days_it_implies() -> None:
    table = canonicalize(
        pa.table(
            {
                "case_id": ["a", "b", "c"],
                "dx": ["P07.100"] * 3,
                "age": ["3月", "15天", "3月"],
                "age_days": [None, None, "80"],
            }
        )
    )
    prepared = prepare(table)
    assert prepared.age.tolist() == [0, 0, 0]
    assert prepared.age_days.tolist() == [90, 15, 80]  # a given age in days is never overwritten


def test_an_age_in_days_groups_a_newborn_as_the_age_in_days_column_does() -> None:
    """Newborn groups (MDCP) hang on the age in days: 15天 is a 15-day-old, 3月 a 90-day-old."""
    rows = _group(
        gender=["1"] * 4,
        age=["15天", "0", "3月", "0"],
        age_days=[None, "15", None, "90"],
        birth_weight=["2000"] * 4,
        dx=["P07.200x011|J18.900"] * 4,
    )
    assert [(r["status"], r["drg"], r["age"], r["age_days"]) for r in rows[:2]] == [("ok", "PS39", 0, 15)] * 2
    assert [(r["status"], r["drg"], r["age"], r["age_days"]) for r in rows[2:]] == [("ok", "PV13", 0, 90)] * 2


def test_death_written_in_words_groups_as_code_5() -> None:
    """changzhou-2022 is the one shipped scheme with 离院方式 rules (BR17 …: 5天内死亡或转院, died or
    transferred within 5 days); 死亡 / 医嘱转院 must group exactly as 5 / 2 there."""

    def run(leaving: list[str]) -> list[tuple]:
        n = len(leaving)
        table = pa.table(
            {
                "case_id": [str(i) for i in range(n)],
                "gender": ["1"] * n,
                "age": ["70"] * n,
                "los": ["3"] * n,
                "leaving_type": leaving,
                "dx": ["I60.000x001"] * n,
            }
        )
        out = drgkit.group(table, "changzhou-2022", canonical=True).to_pylist()
        return [(r["status"], r["drg"], r["leaving_type"]) for r in out]

    written, plain = run(["死亡", "5-死亡", "医嘱转院", "医嘱离院"]), run(["5", "5", "2", "1"])
    assert written == plain
    assert [lt for _, _, lt in written] == [5, 5, 2, 1]


def test_unreadable_values_make_the_row_invalid_naming_field_and_value() -> None:
    rows = _group(
        gender=["1", "x", "1", "1"],
        age=["abc岁", "60", "60", "60"],
        leaving_type=["1", "1", "离开", "1"],
        total_cost=["100", "100", "100", "12,34"],
    )
    assert rows[0]["status"] == "invalid" and "age: 'abc岁'" in rows[0]["reason"]
    assert rows[1]["status"] == "invalid" and "gender: 'x'" in rows[1]["reason"]
    assert rows[2]["status"] == "invalid" and "leaving_type: '离开'" in rows[2]["reason"]
    assert rows[3]["status"] == "invalid" and "total_cost: '12,34'" in rows[3]["reason"]


def test_implausible_values_are_read_but_warned() -> None:
    rows = _group(gender=["1", "1"], age=["200", "65"], los=["1000000000", "3"])
    assert rows[0]["status"] == rows[1]["status"] == "ok"
    assert "age: 200 years is outside the plausible 0–120" in rows[0]["warnings"]
    assert "los: 1000000000 days is outside" in rows[0]["warnings"]
    assert rows[1]["warnings"] is None


def test_every_totals_label_however_written_matches_the_hint_the_reader_filters_by() -> None:
    """The reader looks a column up label by label only where TOTAL_HINT matches: a label it misses would be
    grouped as a stay. Every entry of totals.csv, spaced, upper-case, full-width, with a colon, must match."""
    import csv
    import unicodedata
    from importlib import resources

    import pyarrow as pa
    import pyarrow.compute as pc

    from drgkit.io.values import TOTAL_HINT, TOTAL_MARKS, is_total, may_hold_total

    text = resources.files("drgkit.io").joinpath("vocab", "totals.csv").read_text(encoding="utf-8")
    labels = [row[0] for row in list(csv.reader(text.splitlines()))[1:]]
    assert {"合计", "总计", "小计", "汇总", "total"} <= set(labels)

    def full_width(value: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)

    written = []
    for label in labels:
        written += [label, " ".join(label), label.upper(), label.title(), full_width(label.upper()), label + "："]
    assert all(is_total(value) for value in written)  # what the reader would then find, value by value
    assert all(unicodedata.normalize("NFKC", full_width("total")) == "total" for _ in [0])
    hits = pc.match_substring_regex(pa.array(written), TOTAL_HINT).to_pylist()
    assert all(hits), [value for value, hit in zip(written, hits) if not hit]
    ids = pa.array(["S00012345", "ZY2024-0001", "3201000001", None])  # stay ids: no lookup at all
    assert not any(pc.fill_null(pc.match_substring_regex(ids, TOTAL_HINT), False).to_pylist())
    # the byte scan before the pattern: every label holds a mark, every written form is caught, ids are not
    assert all(any(mark in clean(label) for mark in TOTAL_MARKS) for label in labels)
    assert all(may_hold_total(value.encode()) for value in written)
    assert not may_hold_total("".join(v for v in ids.to_pylist() if v).encode())
