"""Indicators of grouped (and priced) cases by hospital or department (spec digest §5).

Per unit: cases, 入组率 (grouping rate = status ok / all), CMI (mean RW of cases with a weight), 时间消耗指数
(mean over cases of LOS ÷ the area's mean LOS of the case's DRG), 费用消耗指数 (same with cost), payment and
total margin; and the DRGs losing most (sum of margin). Figures (PNG) with matplotlib.
"""
from __future__ import annotations

from ..errors import DrgkitError

from pathlib import Path
from typing import Any

import polars as pl
from ..arrowutil import as_polars


class ReportError(DrgkitError, ValueError):
    pass


def _frame(data: Any) -> pl.DataFrame:
    return as_polars(data)


def indicators(data: Any, by: str = "hospital", rw_column: str = "rw") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-unit indicators, DRGs by total margin ascending). ``rw`` comes from ``drgkit pay`` output."""
    df = _frame(data)
    for c in ("status", "drg"):
        if c not in df.columns:
            raise ReportError(f"data has no '{c}' column: run `drgkit group` (and `drgkit pay`) first")
    if by not in df.columns:
        raise ReportError(f"data has no '{by}' column to report by")
    num = lambda c: (pl.col(c).cast(pl.Float64, strict=False) if c in df.columns else pl.lit(None, pl.Float64))  # noqa: E731
    d = df.select(pl.col(by).cast(pl.Utf8).fill_null("").alias("unit"), pl.col("status").cast(pl.Utf8),
                  pl.col("drg").cast(pl.Utf8), num("los").alias("los"), num("total_cost").alias("cost"),
                  num(rw_column).alias("rw"), num("payment").alias("payment"), num("margin").alias("margin"))
    ok = pl.col("status") == "ok"
    d = d.with_columns(
        (pl.col("los") / pl.col("los").filter(ok).mean().over("drg")).alias("_t"),
        (pl.col("cost") / pl.col("cost").filter(ok).mean().over("drg")).alias("_c"),
    )
    per = d.group_by("unit").agg(
        pl.len().alias("cases"),
        ok.sum().alias("grouped"),
        (ok.sum() / pl.len()).alias("grouping_rate"),
        pl.col("rw").filter(ok).mean().alias("cmi"),
        pl.col("_t").filter(ok).mean().alias("time_index"),
        pl.col("_c").filter(ok).mean().alias("cost_index"),
        pl.col("cost").sum().alias("total_cost"),
        pl.col("payment").sum().alias("payment"),
        pl.col("margin").sum().alias("margin"),
    ).sort("unit").rename({"unit": by})
    losing = (d.filter(ok & pl.col("margin").is_not_null()).group_by("drg")
              .agg(pl.len().alias("cases"), pl.col("margin").sum().alias("margin"),
                   pl.col("margin").mean().alias("margin_per_case"))
              .sort("margin"))
    return per, losing


def write_report(data: Any, out_dir: str | Path, by: str = "hospital", top: int = 20) -> list[Path]:
    """Write indicators.csv, losing_drgs.csv and PNG figures to ``out_dir``; returns the files written."""
    from ..figures import pyplot

    plt = pyplot()
    per, losing = indicators(data, by)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "indicators.csv", out / "losing_drgs.csv"]
    per.write_csv(files[0], include_bom=True)  # opened by people in Excel on Chinese Windows
    losing.head(top).write_csv(files[1], include_bom=True)
    fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * per.height)))
    ax.barh(per[by].to_list(), per["margin"].fill_null(0).to_list(),
            color=["tab:red" if (m or 0) < 0 else "tab:green" for m in per["margin"].to_list()])
    ax.set_xlabel("total margin (payment − cost, yuan)")
    ax.set_title(f"margin by {by}")
    fig.tight_layout()
    files.append(out / f"margin_by_{by}.png")
    fig.savefig(files[-1], dpi=100)
    plt.close(fig)
    worst = losing.head(top)
    if worst.height:
        fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * worst.height)))
        ax.barh(worst["drg"].to_list()[::-1], worst["margin"].to_list()[::-1], color="tab:red")
        ax.set_xlabel("total margin (yuan)")
        ax.set_title(f"the {worst.height} DRGs losing most")
        fig.tight_layout()
        files.append(out / "losing_drgs.png")
        fig.savefig(files[-1], dpi=100)
        plt.close(fig)
    if per["cmi"].is_not_null().any() and per["cost_index"].is_not_null().any():
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(per["cmi"].to_list(), per["cost_index"].to_list())
        for name, x, y in zip(per[by].to_list(), per["cmi"].to_list(), per["cost_index"].to_list()):
            if x is not None and y is not None:
                ax.annotate(name, (x, y), fontsize=7)
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_xlabel("CMI")
        ax.set_ylabel("cost consumption index")
        fig.tight_layout()
        files.append(out / "cmi_vs_cost_index.png")
        fig.savefig(files[-1], dpi=100)
        plt.close(fig)
    return files
