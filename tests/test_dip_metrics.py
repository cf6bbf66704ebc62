"""DIP indicators on a hand-computed example."""

from __future__ import annotations

import polars as pl
import pytest

from drgkit.dip import DipError
from drgkit.dip.metrics import metrics


def test_metrics_hand_computed() -> None:
    df = pl.DataFrame(
        {
            "hospital": ["A", "A", "A", "B", "B"],
            "status": ["ok", "ok", "ungroupable", "ok", "ok"],
            "dip_group": ["g1", "g2", None, "g1", "g1"],
            "dip_kind": ["core", "comprehensive", None, "core", "primary_care"],
            "score": [1000.0, 500.0, None, 1000.0, 1000.0],
            "los": [10, 4, 3, 6, 8],
            "total_cost": [10000.0, 3000.0, 100.0, 8000.0, 12000.0],
        }
    )
    m = {r["hospital"]: r for r in metrics(df).to_dicts()}
    # g1: mean LOS (10+6+8)/3 = 8, mean cost 10,000; g2: LOS 4, cost 3,000
    assert m["A"]["grouping_rate"] == pytest.approx(2 / 3)
    assert m["A"]["core_rate"] == pytest.approx(1 / 3)
    assert m["A"]["cmi"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["A"]["time_index"] == pytest.approx((10 / 8 + 4 / 4) / 2)
    assert m["A"]["cost_index"] == pytest.approx(1.0)
    assert m["B"]["core_rate"] == pytest.approx(1.0)
    assert m["B"]["time_index"] == pytest.approx((6 / 8 + 8 / 8) / 2)
    assert m["B"]["cost_index"] == pytest.approx((0.8 + 1.2) / 2)


def test_metrics_needs_dip_output() -> None:
    with pytest.raises(DipError, match="dip_group"):
        metrics(pl.DataFrame({"hospital": ["A"], "status": ["ok"]}))


def test_metrics_of_an_export_with_text_values_through_the_cli(tmp_path) -> None:
    """An export whose LOS is written as text (``12天``, stored dictionary-encoded as Parquet does) grouped
    with `drgkit dip group`: the output carries the values as read (LOS 12, typed like `drgkit group`'s), and
    `dip metrics` prints a table that fits 80 columns — it stopped with a traceback ("cannot cast categorical
    types to Float64") — with no made-up payment or margin when nothing was settled."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from drgkit.cli import app

    n = 40
    los_text = pa.array([f"{4 + i % 9}天" for i in range(n)]).dictionary_encode()
    pq.write_table(
        pa.table(
            {
                "case_id": [str(i) for i in range(n)],
                "hospital": ["H1" if i % 2 else "H2" for i in range(n)],
                "gender": ["1" if i % 3 else "2" for i in range(n)],
                "age": [f"{30 + i}岁" for i in range(n)],
                "los": los_text,
                "dx": ["J18.900|I10.x00" if i % 4 else "K35.800" for i in range(n)],
                "px": ["" if i % 4 else "47.0100" for i in range(n)],
                "total_cost": [5000.0 + 100 * i for i in range(n)],
            }
        ),
        tmp_path / "cases.parquet",
    )
    runner = CliRunner()
    done = runner.invoke(
        app, ["dip", "build", str(tmp_path / "cases.parquet"), "-o", str(tmp_path / "cat"), "--threshold", "5"]
    )
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app,
        [
            "dip",
            "group",
            str(tmp_path / "cases.parquet"),
            "-c",
            str(tmp_path / "cat"),
            "-o",
            str(tmp_path / "g.parquet"),
        ],
    )
    assert done.exit_code == 0, done.output
    grouped = pq.read_table(tmp_path / "g.parquet")
    assert grouped.schema.field("los").type == pa.int32()
    assert grouped.column("los").to_pylist() == [4 + i % 9 for i in range(n)]
    done = runner.invoke(
        app, ["dip", "metrics", str(tmp_path / "g.parquet"), "-o", str(tmp_path / "m.csv")], env={"COLUMNS": "80"}
    )
    assert done.exit_code == 0 and done.exception is None, done.output
    lines = done.output.splitlines()
    from rich.cells import cell_len

    assert max(cell_len(line) for line in lines) <= 80 and "入组率" in done.output and "H1" in done.output
    written = pl.read_csv(tmp_path / "m.csv")
    assert "payment" not in written.columns and "margin" not in written.columns
    assert written.filter(pl.col("hospital") == "H1")["cases"].item() == n // 2
