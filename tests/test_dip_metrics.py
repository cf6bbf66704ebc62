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
