"""Outputs of a simulation: parquet frames, matplotlib figures, one self-contained HTML report, rich summary."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import polars as pl

from .result import ScenarioResult


def _plt():
    from ..figures import pyplot

    return pyplot()


def _change(hosp: pl.DataFrame, baseline: str) -> pl.DataFrame:
    base = hosp.filter(pl.col("scenario") == baseline).select("hospital", pl.col("revenue").alias("_base"))
    return (
        hosp.join(base, on="hospital", how="left")
        .with_columns(
            revenue_change=(pl.col("revenue") - pl.col("_base")),
            revenue_change_pct=100.0 * (pl.col("revenue") / pl.col("_base") - 1.0),
        )
        .drop("_base")
    )


def figures(hosp: pl.DataFrame, scen: pl.DataFrame, results: list[ScenarioResult], top: int = 25) -> dict:
    """name -> PNG bytes (Chinese titles and labels, money in 万元, scenarios in their file order)."""
    from ..figures import percent_axis, plain_axis, wan_axis

    plt = _plt()
    out = {}
    names = scen["scenario"].to_list()
    baseline = names[0]
    ch = _change(hosp, baseline)
    biggest = (
        hosp.filter(pl.col("scenario") == baseline).sort("revenue", descending=True)["hospital"].head(top).to_list()
    )

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
    ax.set_ylabel(f"与“{baseline}”相比的收入变化（%）")
    percent_axis(ax.yaxis, share=False, decimals=1)
    ax.set_title(f"各医院收入变化（收入最高的 {len(biggest)} 家医院）")
    ax.legend(fontsize=7, title="情景", title_fontsize=7)
    out["revenue_change"] = png(fig)

    # 2. margin distribution (margin / cost per hospital)
    fig, ax = plt.subplots(figsize=(7, 4))
    data = [
        (
            hosp.filter(pl.col("scenario") == s)
            .select(100 * pl.col("margin") / pl.col("cost"))
            .to_series()
            .drop_nans()
            .drop_nulls()
            .to_numpy()
        )
        for s in names
    ]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
    ax.axhline(0, color="grey", lw=0.7)
    ax.set_ylabel("医院结余率（结余 ÷ 医疗总费用，%）")
    percent_axis(ax.yaxis, share=False)
    ax.set_title("各情景下医院结余率的分布（箱线图，三角为均值）")
    out["margin_distribution"] = png(fig)

    # 3. rate / point value fan chart (percentile bands when drawn)
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.arange(len(results))
    mid = np.array([r.rate for r in results])
    if all(r.draws for r in results):
        for lo, hi, a in ((5, 95, 0.18), (10, 90, 0.25), (25, 75, 0.35)):
            los = [np.nanpercentile(r.draws["rate"], lo) for r in results]
            his = [np.nanpercentile(r.draws["rate"], hi) for r in results]
            ax.fill_between(xs, los, his, alpha=a, color="tab:blue", label=f"P{lo}–P{hi} 区间", step="mid")
        mid = np.array([np.nanpercentile(r.draws["rate"], 50) for r in results])
    ax.plot(xs, [r.rate for r in results], "o", color="black", label="结算值")
    ax.plot(xs, mid, "-", color="tab:blue", lw=1)
    ax.set_xticks(xs, names, rotation=20, fontsize=8)
    ax.set_ylabel("结算费率/点值（元）")
    plain_axis(ax.yaxis, decimals=2 if max(abs(r.rate) for r in results) < 100 else 0)
    ax.set_title("各情景的浮动费率/点值（阴影为病例量波动下的区间）")
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
        part = ch.filter(pl.col("scenario") == s).drop_nulls("revenue_change").sort("revenue_change")
        sel = pl.concat([part.head(8), part.tail(8)]).unique("hospital", keep="first").sort("revenue_change")
        vals = sel["revenue_change"].to_numpy()
        ax.barh(sel["hospital"].to_list(), vals, color=np.where(vals >= 0, "tab:green", "tab:red"))
        ax.axvline(0, color="black", lw=0.7)
        ax.set_title(f"{s}：收入增减最多的医院", fontsize=9)
        ax.set_xlabel(f"与“{baseline}”相比的收入变化（万元）")
        wan_axis(ax.xaxis)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    out["winners_losers"] = png(fig)
    return out


#: figure name → its Chinese heading in the page
FIGURE_TITLES = {
    "revenue_change": "各医院收入变化",
    "margin_distribution": "医院结余率分布",
    "rate_fan": "浮动费率/点值",
    "winners_losers": "收入增减最多的医院",
}

SCENARIO_COLUMNS = (
    "scenario",
    "method",
    "budget",
    "budget_binding",
    "rate_or_point_value",
    "rate_p5",
    "rate_p50",
    "rate_p95",
    "total_payment",
    "fund_payable",
    "fund_payment",
    "cases",
    "cost",
    "hospitals_losing",
)
HOSPITAL_COLUMNS = (
    "scenario",
    "hospital",
    "hospital_level",
    "cases",
    "revenue",
    "fund_payable",
    "sharing_adjustment",
    "fund_payment",
    "prepaid",
    "clearance",
    "cost",
    "margin",
    "revenue_p5",
    "revenue_p95",
)


def _table_html(df: pl.DataFrame, max_rows: int = 60) -> str:
    """A table with Chinese headings (English name in small text), each value in its report format."""
    from ..report_words import fmt, label_html, word

    cols = df.columns
    rows = []
    for r in df.head(max_rows).iter_rows():
        cells = []
        for c, v in zip(cols, r):
            numeric = word(c).kind not in ("text", "bool")
            cells.append(f"<td{' class=n' if numeric else ''}>{html.escape(fmt(c, v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>另有 {df.height - max_rows:,} 行见 Parquet 文件。</p>" if df.height > max_rows else ""
    return (
        "<table><tr>" + "".join(f"<th>{label_html(c)}</th>" for c in cols) + "</tr>" + "".join(rows) + "</table>" + more
    )


def _losing(hosp: pl.DataFrame) -> pl.DataFrame:
    return hosp.group_by("scenario").agg(
        pl.format("{} / {}", (pl.col("margin") < 0).sum(), pl.len()).alias("hospitals_losing")
    )


READING = (
    "金额单位为万元（保留两位小数），费率/点值单位为元，病例数取整，占比为百分比。",
    "情景按情景文件中的顺序排列；第一个情景是比较的基准。",
    "预算封顶（总额预算）时，费率/点值浮动使全部医院的基金应付合计正好等于预算；病例量增长越快，费率越低。",
    "基金实付可以高于预算：超支分担时，基金替超支医院承担一部分超支（上限为调剂金）。",
    "高倍率/低倍率病例按暂定（年初公布）费率判定，费率浮动后不重新判定；所以提高高倍率界值等政策"
    "会改变哪些病例按项目支付，从而改变浮动后的费率。",
)


#: the run notes `drgkit simulate` passes (English) → Chinese
_NOTES = (
    (r"^scenario file: ", "情景文件："),
    (r"^payment table: ", "支付表："),
    (r"^method (\S+), budget basis (\S+)$", "结算方式 \\1，预算口径 \\2"),
    (r"^Monte Carlo draws: (\d+)", "蒙特卡洛模拟次数：\\1"),
    (r"\(volume shock SD ([0-9.]+)\)", "（病例量波动标准差 \\1）"),
)


def _note_zh(note: str) -> str:
    import re

    from ..report_words import value_text

    for pattern, zh in _NOTES:
        note = re.sub(pattern, zh, note)
    bases = {"fund": "基金应付 = 预算", "fund_ratio": "基金支付比例 × 支付总额 = 预算"}
    note = re.sub(r"预算口径 (\S+)$", lambda m: f"预算口径 {bases.get(m.group(1), m.group(1))}", note)
    return re.sub(r"结算方式 (\S+)，", lambda m: f"结算方式 {value_text(m.group(1))}，", note)


def html_report(
    hosp: pl.DataFrame,
    scen: pl.DataFrame,
    figs: dict,
    title: str = "区域总额预算模拟报告",
    notes: list[str] | None = None,
) -> str:
    from ..report_words import glossary_html

    imgs = "".join(
        f'<h2>{html.escape(FIGURE_TITLES.get(k, k))}</h2><img alt="{html.escape(k)}" '
        f'src="data:image/png;base64,{base64.b64encode(v).decode()}">'
        for k, v in figs.items()
    )
    order = {s: i for i, s in enumerate(scen["scenario"].to_list())}  # the scenario file's order
    scen = (
        scen.join(_losing(hosp), on="scenario", how="left", maintain_order="left") if "margin" in hosp.columns else scen
    )
    scen_cols = [c for c in SCENARIO_COLUMNS if c in scen.columns]
    if "method" in scen.columns:
        from ..report_words import value_text

        scen = scen.with_columns(pl.col("method").map_elements(value_text, return_dtype=pl.Utf8))
    h_cols = [c for c in HOSPITAL_COLUMNS if c in hosp.columns]
    hosp = hosp.with_columns(
        pl.col("scenario").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_order")
    ).sort("_order", "revenue", descending=[False, True])
    note = "".join(f"<li>{html.escape(_note_zh(n))}</li>" for n in (notes or []))
    reading = "".join(f"<li>{html.escape(n)}</li>" for n in READING)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#f4f4f4}}
th small,li small{{color:#777;font-weight:normal}}td.n{{text-align:right}}img{{max-width:100%}}
.glossary{{font-size:13px}}</style></head><body>
<h1>{html.escape(title)} <small>(global-budget simulation)</small></h1>
<h2>怎么读这份报告</h2><ul>{reading}</ul>
<h2>运行信息</h2><ul>{note}</ul>
<h2>各情景结果</h2>{_table_html(scen.select(scen_cols))}
<h2>指标说明</h2>{glossary_html(dict.fromkeys(scen_cols + h_cols))}
{imgs}
<h2>各医院结果</h2>{_table_html(hosp.select(h_cols), 200)}
</body></html>"""


def write(
    out_dir: str | Path,
    hosp: pl.DataFrame,
    scen: pl.DataFrame,
    results: list[ScenarioResult],
    notes: list[str] | None = None,
) -> dict[str, Path]:
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {
        "hospitals": out / "hospitals.parquet",
        "scenarios": out / "scenarios.parquet",
        "report": out / "report.html",
    }
    hosp.write_parquet(paths["hospitals"])
    scen.write_parquet(paths["scenarios"])
    figs = figures(hosp, scen, results)
    for k, v in figs.items():
        p = out / "figures" / f"{k}.png"
        p.write_bytes(v)
        paths[k] = p
    paths["report"].write_text(html_report(hosp, scen, figs, notes=notes), encoding="utf-8")
    return paths


def summary_table(scen: pl.DataFrame, hosp: pl.DataFrame, width: int = 120, lang: str = "zh"):
    """The scenarios as a terminal table under the report's labels (money in 万元, never cut)."""
    from ..lang import say
    from ..report_words import terminal_table

    losing = _losing(hosp) if "margin" in hosp.columns else None
    rows = (
        scen.join(losing, on="scenario", how="left", maintain_order="left").to_dicts()
        if losing is not None
        else scen.to_dicts()
    )
    names = [
        n
        for n in (
            "scenario",
            "method",
            "budget",
            "budget_binding",
            "rate_or_point_value",
            "rate_p5",
            "rate_p95",
            "fund_payable",
            "fund_payment",
            "hospitals_losing",
        )
        if n in scen.columns or (n == "hospitals_losing" and losing is not None)
    ]
    return terminal_table(
        say("simulate.title", lang),
        rows,
        names,
        width,
        lang,
        keep=("scenario", "rate_or_point_value", "fund_payment"),
        hint="report.html",
    )
