"""Outputs of a simulation: parquet frames, matplotlib figures, one self-contained HTML report, rich summary."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import polars as pl

from .engine import ScenarioResult


def _plt():
    from ..figures import pyplot

    return pyplot()


def _change(hosp: pl.DataFrame, baseline: str) -> pl.DataFrame:
    base = hosp.filter(pl.col("scenario") == baseline).select("hospital", pl.col("revenue").alias("_base"))
    return hosp.join(base, on="hospital", how="left").with_columns(
        revenue_change=(pl.col("revenue") - pl.col("_base")),
        revenue_change_pct=100.0 * (pl.col("revenue") / pl.col("_base") - 1.0)).drop("_base")


def figures(hosp: pl.DataFrame, scen: pl.DataFrame, results: list[ScenarioResult], top: int = 25) -> dict:
    """name -> PNG bytes."""
    plt = _plt()
    out = {}
    names = scen["scenario"].to_list()
    baseline = names[0]
    ch = _change(hosp, baseline)
    biggest = (hosp.filter(pl.col("scenario") == baseline).sort("revenue", descending=True)
               ["hospital"].head(top).to_list())

    def png(fig) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        return buf.getvalue()

    # 1. revenue change per hospital by scenario (vs the first scenario)
    others = names[1:] or names
    fig, ax = plt.subplots(figsize=(max(7, 0.38 * len(biggest) * max(1, len(others)) / 2), 4.2))
    x = np.arange(len(biggest))
    wid = 0.8 / len(others)
    for i, s in enumerate(others):
        d = dict(ch.filter(pl.col("scenario") == s).select("hospital", "revenue_change_pct").iter_rows())
        ax.bar(x + i * wid, [d.get(h, np.nan) for h in biggest], wid, label=s)
    ax.axhline(0, color="black", lw=0.7)
    ax.set_xticks(x + wid * (len(others) - 1) / 2, biggest, rotation=90, fontsize=7)
    ax.set_ylabel(f"revenue change vs '{baseline}' (%)")
    ax.set_title("Revenue change per hospital (largest hospitals)")
    ax.legend(fontsize=7)
    out["revenue_change"] = png(fig)

    # 2. margin distribution (margin / cost per hospital)
    fig, ax = plt.subplots(figsize=(7, 4))
    data = [(hosp.filter(pl.col("scenario") == s).select(100 * pl.col("margin") / pl.col("cost"))
             .to_series().drop_nans().drop_nulls().to_numpy()) for s in names]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
    ax.axhline(0, color="grey", lw=0.7)
    ax.set_ylabel("hospital margin / cost (%)")
    ax.set_title("Margin distribution across hospitals")
    out["margin_distribution"] = png(fig)

    # 3. rate / point value fan chart (percentile bands when drawn)
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.arange(len(results))
    mid = np.array([r.rate for r in results])
    if all(r.draws for r in results):
        for lo, hi, a in ((5, 95, 0.18), (10, 90, 0.25), (25, 75, 0.35)):
            los = [np.nanpercentile(r.draws["rate"], lo) for r in results]
            his = [np.nanpercentile(r.draws["rate"], hi) for r in results]
            ax.fill_between(xs, los, his, alpha=a, color="tab:blue", label=f"p{lo}–p{hi}", step="mid")
        mid = np.array([np.nanpercentile(r.draws["rate"], 50) for r in results])
    ax.plot(xs, [r.rate for r in results], "o", color="black", label="settlement")
    ax.plot(xs, mid, "-", color="tab:blue", lw=1)
    ax.set_xticks(xs, names, rotation=20, fontsize=8)
    ax.set_ylabel("rate / point value (yuan)")
    ax.set_title("Floating rate / point value by scenario")
    ax.legend(fontsize=7)
    out["rate_fan"] = png(fig)

    # 4. winners and losers of each scenario vs the first one
    n = max(1, len(others))
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 4.2 * nrow), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, others):
        d = ch.filter(pl.col("scenario") == s).drop_nulls("revenue_change").sort("revenue_change")
        sel = pl.concat([d.head(8), d.tail(8)]).unique("hospital", keep="first").sort("revenue_change")
        vals = sel["revenue_change"].to_numpy() / 1e4
        ax.barh(sel["hospital"].to_list(), vals, color=np.where(vals >= 0, "tab:green", "tab:red"))
        ax.axvline(0, color="black", lw=0.7)
        ax.set_title(f"{s}: winners and losers", fontsize=9)
        ax.set_xlabel("revenue change (10,000 yuan)")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    out["winners_losers"] = png(fig)
    return out


def _table_html(df: pl.DataFrame, max_rows: int = 60) -> str:
    cols = df.columns
    rows = []
    for r in df.head(max_rows).iter_rows():
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append(f"<td class=n>{v:,.2f}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>{df.height - max_rows} more rows in the parquet file.</p>" if df.height > max_rows else ""
    return ("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>" + "".join(rows)
            + "</table>" + more)


def html_report(hosp: pl.DataFrame, scen: pl.DataFrame, figs: dict, title: str = "drgkit global-budget simulation",
                notes: list[str] | None = None) -> str:
    imgs = "".join(f'<h2>{html.escape(k.replace("_", " "))}</h2><img alt="{k}" src="data:image/png;base64,'
                   f'{base64.b64encode(v).decode()}">' for k, v in figs.items())
    scen_cols = [c for c in ("scenario", "method", "budget", "budget_binding", "rate_or_point_value", "rate_p5",
                             "rate_p50", "rate_p95", "total_payment", "fund_payable", "fund_payment", "cases",
                             "cost") if c in scen.columns]
    h_cols = [c for c in ("scenario", "hospital", "hospital_level", "cases", "revenue", "fund_payable",
                          "sharing_adjustment", "fund_payment", "prepaid", "clearance", "cost", "margin",
                          "revenue_p5", "revenue_p95") if c in hosp.columns]
    note = "".join(f"<li>{html.escape(n)}</li>" for n in (notes or []))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px}}td.n{{text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1><ul>{note}</ul>
<h2>Scenarios</h2>{_table_html(scen.select(scen_cols))}
{imgs}
<h2>Hospitals</h2>{_table_html(hosp.select(h_cols).sort("scenario", "revenue", descending=[False, True]), 200)}
</body></html>"""


def write(out_dir: str | Path, hosp: pl.DataFrame, scen: pl.DataFrame, results: list[ScenarioResult],
          notes: list[str] | None = None) -> dict[str, Path]:
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {"hospitals": out / "hospitals.parquet", "scenarios": out / "scenarios.parquet",
             "report": out / "report.html"}
    hosp.write_parquet(paths["hospitals"])
    scen.write_parquet(paths["scenarios"])
    figs = figures(hosp, scen, results)
    for k, v in figs.items():
        p = out / "figures" / f"{k}.png"
        p.write_bytes(v)
        paths[k] = p
    paths["report"].write_text(html_report(hosp, scen, figs, notes=notes), encoding="utf-8")
    return paths


def summary_table(scen: pl.DataFrame, hosp: pl.DataFrame):
    from rich.table import Table

    t = Table(title="Global-budget simulation")
    for c in ("scenario", "method", "budget", "binding", "rate / PV", "p5–p95", "fund payable", "fund paid",
              "hospitals losing"):
        t.add_column(c, justify="left" if c in ("scenario", "method") else "right")
    for r in scen.iter_rows(named=True):
        h = hosp.filter(pl.col("scenario") == r["scenario"])
        band = f"{r['rate_p5']:,.2f}–{r['rate_p95']:,.2f}" if "rate_p5" in r else "-"
        t.add_row(r["scenario"], r["method"], f"{r['budget']:,.2f}", "yes" if r["budget_binding"] else "no",
                  f"{r['rate_or_point_value']:,.2f}", band, f"{r['fund_payable']:,.2f}", f"{r['fund_payment']:,.2f}",
                  f"{int((h['margin'] < 0).sum())}/{h.height}")
    return t
