"""Golden tests: drgkit.group against the reference groupers' labels in tests/data (exp_* columns).

With ``strict_gender=True`` (only the codes 1/2 are a sex, as in the references) the agreement must be
exact, except the one documented row HS2-15 of hongshan-2.0-17.csv.  With the default, lenient gender
reading ('M' is male) the only differences allowed are rows whose gender is 'M'.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import drgkit
from conftest import STATUS, read_oracle

FAIL_DRGS = {"0000", "0000A"}  # yunnan-2022/2023 write FAIL as 0000A

SINGLE_SCHEME_FILES = [
    ("chs-drg-1.1-dev.csv", "chs-drg-1.1"),
    ("opendrg-input-30.csv", "chs-drg-1.1"),
    ("chs-drg-2.0-dev.csv", "chs-drg-2.0"),
    ("hongshan-2.0-17.csv", "chs-drg-2.0"),
]
MULTI_SCHEME_FILES = ["chs-drg-schemes-dev.csv", "chs-drg-schemes-dev-city.csv"]
ALL_FILES = [f for f, _ in SINGLE_SCHEME_FILES] + MULTI_SCHEME_FILES

# The one documented disagreement: age 0 with a blank age_days.  The 2.0 reference reads the blank
# as 0 days (a newborn with a non-P principal diagnosis → PQY); drgkit reads it as unknown and gives
# BB25, which is what the case's authors expect (label_drg).
KNOWN_DIFFERENCES = {("hongshan-2.0-17.csv", "HS2-15")}


def _input_only(table: pa.Table) -> pa.Table:
    drop = [
        c
        for c in table.column_names
        if c.startswith("exp_")
        or c in ("scheme", "label_drg", "string_api_status", "string_api_drg", "source_id", "source_comment")
    ]
    return table.drop_columns(drop)


def _parts(name: str) -> list[tuple[str, pa.Table]]:
    table = read_oracle(name)
    scheme = dict(SINGLE_SCHEME_FILES).get(name)
    if scheme is not None:
        return [(scheme, table)]
    schemes = list(dict.fromkeys(table.column("scheme").to_pylist()))
    return [(s, table.filter(pc.equal(table.column("scheme"), s))) for s in schemes]


@cache
def grouped(name: str, strict: bool) -> tuple[tuple[dict, dict], ...]:
    """(expected row, drgkit result row) pairs of a file, grouped with each row's scheme."""
    pairs = []
    for scheme, table in _parts(name):
        result = drgkit.group(_input_only(table), scheme=scheme, options=drgkit.Options(strict_gender=strict))
        assert result.num_rows == table.num_rows
        assert result.column("case_id").to_pylist() == table.column("case_id").to_pylist()
        assert set(result.column("scheme").to_pylist()) == {scheme}
        pairs.extend(zip(table.to_pylist(), result.to_pylist()))
    return tuple(pairs)


def agrees(expected: dict, got: dict) -> bool:
    status = STATUS[expected["exp_status"]]
    if got["status"] != status:
        return False
    if status == "invalid":
        return True  # yunnan writes blank mdc/adrg/drg for CHECK_FAILED; only the status is compared
    if status == "ungroupable":  # FAIL is 0000 / 00 / 0000 (0000A in yunnan-2022/2023): compared exactly too
        return (
            got["mdc"] == expected["exp_mdc"] == "0000"
            and got["adrg"] == expected["exp_adrg"] == "00"
            and got["drg"] == expected["exp_drg"]
            and got["drg"] in FAIL_DRGS
        )
    return (got["mdc"], got["adrg"], got["drg"]) == (expected["exp_mdc"], expected["exp_adrg"], expected["exp_drg"])


def _show(expected: dict, got: dict) -> str:
    return (
        f"{expected['case_id']}: expected {expected['exp_status']} {expected['exp_mdc']} {expected['exp_adrg']} "
        f"{expected['exp_drg']}, got {got['status']} {got['mdc']} {got['adrg']} {got['drg']} ({got['reason']})"
    )


@pytest.mark.parametrize("name", ALL_FILES)
def test_exact_agreement_with_strict_gender(name: str) -> None:
    pairs = grouped(name, True)
    bad = [_show(e, g) for e, g in pairs if not agrees(e, g) and (name, e["case_id"]) not in KNOWN_DIFFERENCES]
    assert not bad, f"{len(bad)}/{len(pairs)} rows disagree:\n" + "\n".join(bad[:20])


def test_hongshan_blank_age_days_at_age_zero_is_read_as_unknown() -> None:
    row = {e["case_id"]: (e, g) for e, g in grouped("hongshan-2.0-17.csv", True)}
    expected, got = row["HS2-15"]
    assert expected["age"] == "0" and expected["age_days"] == ""
    assert (expected["exp_status"], expected["exp_drg"]) == ("QY", "PQY")  # the reference's reading
    assert (got["status"], got["mdc"], got["adrg"], got["drg"]) == ("ok", "MDCB", "BB2", "BB25")
    assert got["drg"] == expected["label_drg"]


def test_hongshan_every_row_gets_its_label() -> None:
    for expected, got in grouped("hongshan-2.0-17.csv", True):
        assert got["drg"] == expected["label_drg"], _show(expected, got)


def test_opendrg_labels_where_present() -> None:
    labelled = [(e, g) for e, g in grouped("opendrg-input-30.csv", True) if e["label_drg"]]
    assert len(labelled) == 24
    for expected, got in labelled:
        assert got["status"] == "ok" and got["drg"] == expected["label_drg"], _show(expected, got)


@pytest.mark.parametrize("name", ALL_FILES)
def test_lenient_gender_differs_only_on_gender_m(name: str) -> None:
    pairs = grouped(name, False)
    bad = [(e, g) for e, g in pairs if not agrees(e, g) and (name, e["case_id"]) not in KNOWN_DIFFERENCES]
    assert len(pairs) - len(bad) >= 0.995 * len(pairs)
    not_m = [_show(e, g) for e, g in bad if e["gender"].strip() != "M"]
    assert not not_m, "disagreements on rows whose gender is not 'M':\n" + "\n".join(not_m[:20])
    # and on those rows the reference's only complaint is the gender
    for e, g in bad:
        assert e["exp_status"] == "CHECK_FAILED", _show(e, g)


def test_gender_m_rows_are_invalid_when_strict_and_male_when_lenient() -> None:
    strict = {e["case_id"]: g for e, g in grouped("chs-drg-1.1-dev.csv", True)}
    lenient = grouped("chs-drg-1.1-dev.csv", False)
    m_rows = [(e, g) for e, g in lenient if e["gender"] == "M"]
    assert m_rows
    for e, g in m_rows:
        assert strict[e["case_id"]]["status"] == "invalid"
        assert "gender" in strict[e["case_id"]]["reason"]
        assert g["status"] != "invalid" or "gender" not in (g["reason"] or "")


def test_yunnan_fail_code() -> None:
    fails = {
        g["drg"]
        for e, g in grouped("chs-drg-schemes-dev.csv", True)
        if e["exp_status"] == "FAIL" and e["scheme"].startswith("yunnan")
    }
    assert fails == {"0000A"}


def test_status_mix_covers_every_outcome() -> None:
    statuses = {g["status"] for name in ALL_FILES for _, g in grouped(name, True)}
    assert statuses == {"ok", "ungroupable", "ambiguous", "invalid"}
