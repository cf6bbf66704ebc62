"""Invariants on generated input (hypothesis): rows in = rows out in order; a row's result does not depend on
the other rows, the batch size or the thread count; group agrees with explain row by row; pricing a batch
equals pricing each row; every writer's output reads back as written."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import drgkit
from drgkit.cli import app
from drgkit.io import read_cases, write_table

DATA = Path(__file__).parent / "data"
RESULT = ("status", "reason", "warnings", "drg", "cc_level", "cc_code")


@lru_cache(maxsize=1)
def _pool() -> tuple[list[str], list[str]]:
    with open(DATA / "chs-drg-1.1-dev.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dx = sorted({c for r in rows for c in r["dx"].split("|") if c})
    px = sorted({c for r in rows for c in r["px"].split("|") if c})
    return dx + ["I21.000", "Z51.100", "i21.000x005", "Ｉ２１．０００", "X99.999", ""], px + [
        "96.7200",
        "36.06 01",
        "99.9999",
        "",
    ]


def _codes(kind: str):
    pool = _pool()[0 if kind == "dx" else 1]
    seps = st.sampled_from(["|", ",", ";", "，", " ", "、", " | "])
    return st.tuples(st.lists(st.sampled_from(pool), max_size=6), seps).map(lambda t: t[1].join(t[0]))


FIELDS = ("gender", "age", "age_days", "birth_weight", "los", "leaving_type", "dx", "px", "total_cost")
CASE = st.fixed_dictionaries(
    {
        "gender": st.sampled_from(["1", "2", "男", "女", "F", "9", "", "x"]),
        "age": st.sampled_from(["0", "1", "35", "82岁", "3月", "15天", "", "abc", "120", "-1"]),
        "age_days": st.sampled_from(["", "3", "15", "200", "x"]),
        "birth_weight": st.sampled_from(["", "1400", "2600", "3200克"]),
        "los": st.sampled_from(["", "1", "5", "30天", "200"]),
        "leaving_type": st.sampled_from(["1", "5", "死亡", "医嘱离院", "", "7"]),
        "dx": _codes("dx"),
        "px": _codes("px"),
        "total_cost": st.sampled_from(["", "5000", "12,345.60", "x", "-1", "800元"]),
    }
)


def _table(cases: list[dict]) -> pa.Table:
    return pa.table(
        {"case_id": [f"c{i}" for i in range(len(cases))], **{k: [c[k] or None for c in cases] for k in FIELDS}}
    )


def _rows(table: pa.Table) -> list[tuple]:
    return [tuple(r[k] for k in RESULT) for r in table.select(list(RESULT)).to_pylist()]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CASE, min_size=1, max_size=8))
def test_a_row_does_not_depend_on_its_neighbours_and_equals_explain(cases: list[dict]) -> None:
    table = _table(cases)
    whole = drgkit.group(table)
    assert whole.num_rows == table.num_rows
    assert whole.column("case_id").to_pylist() == table.column("case_id").to_pylist()
    together = _rows(whole)
    for i in range(table.num_rows):
        assert _rows(drgkit.group(table.slice(i, 1))) == [together[i]]
    reversed_rows = _rows(drgkit.group(table.take(list(range(table.num_rows))[::-1])))
    assert reversed_rows[::-1] == together
    for case, row in zip(cases, whole.to_pylist()):
        try:
            e = drgkit.explain(
                dx=case["dx"],
                px=case["px"],
                age=int(case["age"]) if case["age"].isdigit() else None,
                sex=case["gender"] or None,
                age_days=int(case["age_days"]) if case["age_days"].isdigit() else None,
                birth_weight=int(case["birth_weight"]) if case["birth_weight"].isdigit() else None,
                los=int(case["los"]) if case["los"].isdigit() else None,
                leaving_type=int(case["leaving_type"]) if case["leaving_type"].isdigit() else None,
            )
        except Exception as exc:
            raise AssertionError(case) from exc
        plain = all(v.isdigit() or v == "" for k, v in case.items() if k not in ("dx", "px", "gender", "total_cost"))
        if plain and case["gender"] in ("1", "2", "男", "女", "F", "9", "") and case["total_cost"] in ("", "5000"):
            d = e.as_dict()
            assert (d["status"], d["drg"]) == (row["status"], row["drg"]), (case, d["reason"], row["reason"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    import random

    rng = random.Random(5)
    dx, px = _pool()
    rows = []
    for i in range(503):
        rows.append(
            {
                "case_id": f"g{i}",
                "gender": rng.choice(["1", "2", "男", ""]),
                "age": rng.choice(["0", "45", "82岁"]),
                "age_days": rng.choice(["", "10"]),
                "birth_weight": rng.choice(["", "3000"]),
                "los": rng.choice(["3", "12天"]),
                "leaving_type": rng.choice(["1", "死亡"]),
                "dx": "|".join(rng.sample(dx, rng.randint(0, 5))),
                "px": "|".join(rng.sample(px, rng.randint(0, 3))),
                "total_cost": rng.choice(["5000", "12,345.60", ""]),
            }
        )
    path = tmp_path_factory.mktemp("gen") / "cases.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_batch_size_and_threads_do_not_change_any_row(generated: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    outs = []
    for batch, threads in (("1000", "2"), ("7", "1"), ("1", "2"), ("100", "1")):
        out = tmp_path / f"o-{batch}-{threads}.parquet"
        result = runner.invoke(
            app, ["group", str(generated), "-o", str(out), "-q", "--batch-size", batch, "--threads", threads]
        )
        assert result.exit_code == 0, result.output
        outs.append(pq.read_table(out))
    assert outs[0].num_rows == 503
    for other in outs[1:]:
        assert other.equals(outs[0])


def test_pricing_a_batch_equals_pricing_each_row(generated: Path) -> None:
    grouped = drgkit.group(generated, scheme="suzhou-2023", canonical=True)
    priced = drgkit.price(grouped, "suzhou-2023", level="level3")
    cols = ["case_type", "payment", "price_reason"]
    for i in range(0, grouped.num_rows, 50):
        alone = drgkit.price(grouped.slice(i, 1), "suzhou-2023", level="level3")
        assert alone.select(cols).to_pylist() == priced.slice(i, 1).select(cols).to_pylist()


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_every_writer_reads_back_what_it_wrote(generated: Path, tmp_path: Path, suffix: str) -> None:
    out = drgkit.group(generated)
    path = tmp_path / f"back{suffix}"
    write_table(out, path)
    back = read_cases(path, allow_unmapped=True) if suffix != ".parquet" else pq.read_table(path)
    assert back.num_rows == out.num_rows
    assert back.column("drg").to_pylist() == out.column("drg").to_pylist() if "drg" in back.column_names else True
    key = "case_id"
    assert [str(v) for v in back.column(key).to_pylist()] == out.column(key).to_pylist()


def test_validate_rows_do_not_depend_on_the_batch_size(generated: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    outs = []
    for batch in ("1000", "7", "1"):
        out = tmp_path / f"v-{batch}.parquet"
        result = runner.invoke(app, ["validate", str(generated), "-o", str(out), "-q", "--batch-size", batch])
        assert result.exit_code == 0, result.output
        outs.append(pq.read_table(out))
    assert outs[0].num_rows == 503
    assert all(other.equals(outs[0]) for other in outs[1:])


def test_dip_group_through_group_and_dip_group_agree_at_any_batch_size(tmp_path: Path) -> None:
    import polars as pl

    from drgkit import dip

    rows = []
    for k, (pdx, px, n) in enumerate(
        [
            ("K35.300", "47.0100", 30),
            ("I21.000", "36.0601", 30),
            ("J18.900", "", 30),
            ("D38.501|Q27.306", "31.9804", 20),
            ("C16.802", "42.9200x007|88.9700", 20),
        ]
    ):
        rows += [
            {
                "case_id": f"c{k}-{i}",
                "gender": "1",
                "age": "60",
                "dx": pdx,
                "px": px,
                "los": "5",
                "total_cost": str(8000 + 37 * i),
            }
            for i in range(n)
        ]
    history = pl.DataFrame(rows)
    folder = dip.build(history, threshold=10).write(tmp_path / "cat")
    src = tmp_path / "cases.csv"
    history.sample(fraction=1.0, shuffle=True, seed=4).write_csv(src)
    runner = CliRunner()
    outs = []
    for args in (
        ["group", str(src), "--scheme", f"dip:{folder}", "--batch-size", "7"],
        ["group", str(src), "--scheme", f"dip:{folder}", "--batch-size", "1000"],
        ["dip", "group", str(src), "--catalogue", str(folder)],
    ):
        out = tmp_path / f"o{len(outs)}.parquet"
        result = runner.invoke(app, [*args, "-o", str(out), "-q"])
        assert result.exit_code == 0, result.output
        outs.append(pq.read_table(out).select(["case_id", "status", "dip_group", "score"]).to_pylist())
    assert outs[0] == outs[1] == outs[2]
