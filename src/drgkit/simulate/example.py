"""``drgkit simulate --example``: demo history (generate + group + price) and a ready scenario file."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_TOML = """# drgkit global-budget simulator: example scenarios over synthetic demo data (docs/simulate.md)
[history]
path = "history.parquet"        # grouped and priced demo cases (drgkit.demo.generate + group + price)
table = "suzhou-2023"           # Suzhou 2023 CHS-DRG weights, rate 8,728.30, level coefficients 0.75/1.02/1.20
hospital_column = "hospital"
level_column = "hospital_level"

[settlement]
method = "drg_rate"
budget_growth = 0.03            # this year's DRG fund budget = last year's fund spending × 1.03 (spec §3.1)
binding = true                  # the rate floats to exhaust the budget (spec §4.1 floating rate)
prepay_ratio = 0.9              # monthly pre-payment 90 % (spec §3.3 example)
volume_shock_sd = 0.05          # Monte Carlo: hospital volume shocks, SD of log volume [ASSUMPTION]
percentiles = [5, 50, 95]

[sharing]                       # 结余留用 / 超支分担, spec §4.7 illustrative defaults [ASSUMPTION]
surplus_share = 1.0
overspend_bands = [[0.10, 0.5]]
reserve_share = 0.05            # 调剂金 5 % of the budget (spec §3.4)

[[scenario]]
name = "baseline"
description = "volumes +3 %, budget +3 %"
volume_growth = 0.03

[[scenario]]
name = "volume +8%"
description = "volumes grow faster than the budget: the rate falls for everyone"
volume_growth = 0.08

[[scenario]]
name = "upcoding H001/H002"
description = "two large hospitals code 10 points more CC/MCC cases; everybody else pays for it"
volume_growth = 0.03
hospital_cc_mcc_shift = { H001 = 0.10, H002 = 0.10 }

[[scenario]]
name = "level3 coef 1.10"
description = "tertiary coefficient 1.20 -> 1.10"
volume_growth = 0.03
level_coefficients = { level3 = 1.10 }

[[scenario]]
name = "strict outliers"
description = "high-ratio threshold 2x for every DRG, low-ratio 0.5"
volume_growth = 0.03
[scenario.policy]
high_bands = [[inf, 2.0]]
low_ratio = 0.5

[[scenario]]
name = "fixed rate"
description = "no global budget: the published rate, volumes +8 %"
binding = false
volume_growth = 0.08
"""


def write_example(out_dir: str | Path, rows: int = 30_000, hospitals: int = 20, seed: int = 7) -> Path:
    """Write ``history.parquet`` and ``scenarios.toml`` into ``out_dir``; returns the scenario file."""

    from ..api import group
    from ..arrowutil import polars_frame
    from ..demo import generate
    from ..payment import price

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: is a file; --example writes a folder (history.parquet, scenarios.toml)")
    existing = [name for name in ("history.parquet", "scenarios.toml") if (out / name).exists()]
    if existing:  # never overwrite the user's own scenarios or history with the example's
        raise FileExistsError(f"{out}: already holds {', '.join(existing)}; give --example an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    raw = generate(rows, scheme="suzhou-2023", seed=seed, dirty=0.0, hospitals=hospitals)
    priced = price(group(raw, scheme="suzhou-2023"), "suzhou-2023")
    df = polars_frame(priced).select(
        "case_id",
        "patient_id",
        "age",
        "hospital",
        "hospital_level",
        "dept",
        "discharge_date",
        "los",
        "total_cost",
        "status",
        "mdc",
        "adrg",
        "drg",
        "rw",
        "case_type",
        "payment",
        "patient_payment",
        "fund_payment",
    )
    df.write_parquet(out / "history.parquet")
    path = out / "scenarios.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")
    return path
