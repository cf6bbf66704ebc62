"""Rule atoms in plain Chinese: every atom of every shipped scheme has a phrase, and explain prints phrases."""

from __future__ import annotations

import re

import pytest

import drgkit
from drgkit.schemes.compile import load_compiled
from drgkit.schemes.tables import list_schemes
from drgkit.schemes.words import phrase


@pytest.mark.parametrize("scheme", [s.id for s in list_schemes()])
def test_every_atom_of_every_scheme_has_a_phrase(scheme: str) -> None:
    for atom in load_compiled(scheme).atom_text:
        for holds in (True, False):
            text = phrase(atom, holds)
            assert text != atom and "不成立" not in text, atom
            assert not re.search(r"[a-z_]+\(", text), (atom, text)
            english = phrase(atom, holds, "en")
            assert english != atom and "does not hold" not in english and not re.search(r"[\u4e00-\u9fff]", english)


@pytest.mark.parametrize(
    "atom, holds, expected",
    [
        ("main_px_in(px)", True, "主要手术在本组手术表内"),
        ("pdx_in(dx)", False, "主要诊断不在本组诊断表内"),
        ("age<=28", True, "年龄 <= 28 岁"),
        ("weight<1500", False, "出生体重不满足 < 1500 克"),
        ("gender_eq(2)", True, "性别为女"),
        ("leaving_type_in(2;3)", True, "离院方式为 2;3"),
        ("mcc", False, "不伴严重并发症或合并症（MCC）"),
    ],
)
def test_phrases(atom: str, holds: bool, expected: str) -> None:
    assert phrase(atom, holds) == expected


def test_explain_prints_words_not_atoms() -> None:
    text = drgkit.explain(dx="I21.000x005|I50.900", px="36.0601", age=65, sex=1).text(verbose=True)
    assert "主要手术在本组手术表内" in text and "入组规则" in text
    assert "main_px_in" not in text and "pdx_in" not in text and "=✓" not in text


def test_value_problems_in_a_reason_read_in_chinese() -> None:
    """V06's detail names the field and value; the problem itself (written by io.prepare) reads in Chinese."""
    import pyarrow as pa

    from drgkit.lang import reason_text

    out = drgkit.group(
        pa.table(
            {
                "case_id": ["a", "b", "c"],
                "gender": ["1", "X", "2"],
                "age": ["60", "-1", "70"],
                "los": ["3", "5", "abc"],
                "dx": ["J18.900"] * 3,
            }
        ),
        scheme="chs-drg-1.1",
    )
    reasons = out.column("reason").to_pylist()
    assert reasons[0] is None and reasons[1].startswith("V06") and reasons[2].startswith("V06")
    zh = [reason_text(r, "zh") for r in reasons[1:]]
    assert "los: 'abc' 不是数字" in zh[1], zh
    for text in zh:
        assert not re.search(r"\bis (not|negative|too)\b", text), text
