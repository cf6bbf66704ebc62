"""Indicators of grouped (and priced) cases by hospital or department (spec digest §5).

Per unit: cases, 入组率 (grouping rate = status ok / all), CMI (mean RW of cases with a weight), 时间消耗指数
(mean over cases of LOS ÷ the area's mean LOS of the case's DRG), 费用消耗指数 (same with cost), payment and
total margin; and the DRGs losing most (sum of margin). Figures (PNG) with matplotlib.

:func:`indicators` keeps canonical English column names (the API, ``dip`` metrics); :func:`write_report` writes
the human files: ``report.html`` (Chinese, money in 万元, a CMI / 入组率 section), ``indicators.csv`` (UTF-8 with
BOM) and ``indicators.xlsx`` under Chinese headers with units, ``losing_drgs.csv``, and the figures.  Labels and
explanations come from :mod:`drgkit.report_words`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..arrowutil import polars_frame
from ..errors import DrgkitError
from ..io.results import LeftOut


class ReportError(DrgkitError, ValueError):
    pass


#: the result fields a report reads (besides the column it reports by)
FIELDS = ("status", "drg", "drg_name", "los", "total_cost", "rw", "payment", "margin")


def report_frame(data: Any, by: str) -> tuple[pl.DataFrame, LeftOut]:
    """The result's report fields under canonical names, whatever shape it was saved in (the coder's workbook
    with Chinese headers and status texts included: one reader for pay, audit and report), without its totals
    rows (合计 … as stay id, hospital or department: :func:`drgkit.io.results.totals_rows`) and blank rows
    (:func:`drgkit.io.results.blank_rows`) — and how many it left out. Neither is a stay: a totals row's cost
    is the sum of the others'."""
    from ..io.results import as_arrow, canonical_results, stay_rows, stays

    if isinstance(data, pl.DataFrame) and {"status", "drg", by} <= set(data.columns):
        # already canonical (the API and write_report's own second call)
        keep, left_out = stay_rows(data.to_arrow())
        return (data.filter(pl.Series(keep)) if left_out else data), left_out
    table, left_out = stays(as_arrow(data))
    return polars_frame(canonical_results(table, (*FIELDS, by), keep=(by,))), left_out


def _frame(data: Any, by: str) -> pl.DataFrame:
    return report_frame(data, by)[0]


def indicators(data: Any, by: str = "hospital", rw_column: str = "rw") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per-unit indicators, DRGs by total margin ascending). ``rw`` comes from ``drgkit pay`` output."""
    df = _frame(data, by)
    for c in ("status", "drg"):
        if c not in df.columns:
            raise ReportError(f"data has no '{c}' column: run `drgkit group` (and `drgkit pay`) first")
    if by not in df.columns:
        raise ReportError(f"data has no '{by}' column to report by")

    def num(c: str) -> pl.Expr:
        if c not in df.columns:
            return pl.lit(None, pl.Float64)
        col = pl.col(c)
        if isinstance(df.schema[c], (pl.Categorical, pl.Enum)):
            col = col.cast(pl.Utf8)  # a dictionary-encoded column (a Parquet export's text) casts via its text
        return col.cast(pl.Float64, strict=False)

    d = df.select(
        pl.col(by).cast(pl.Utf8).fill_null("").alias("unit"),
        pl.col("status").cast(pl.Utf8),
        pl.col("drg").cast(pl.Utf8),
        num("los").alias("los"),
        num("total_cost").alias("cost"),
        num(rw_column).alias("rw"),
        num("payment").alias("payment"),
        num("margin").alias("margin"),
    )
    ok = pl.col("status") == "ok"
    d = d.with_columns(
        (pl.col("los") / pl.col("los").filter(ok).mean().over("drg")).alias("_t"),
        (pl.col("cost") / pl.col("cost").filter(ok).mean().over("drg")).alias("_c"),
    )
    per = (
        d.group_by("unit")
        .agg(
            pl.len().alias("cases"),
            ok.sum().alias("grouped"),
            (ok.sum() / pl.len()).alias("grouping_rate"),
            pl.col("rw").filter(ok).mean().alias("cmi"),
            pl.col("_t").filter(ok).mean().alias("time_index"),
            pl.col("_c").filter(ok).mean().alias("cost_index"),
            pl.col("cost").sum().alias("total_cost"),
            pl.col("payment").sum().alias("payment"),
            pl.col("margin").sum().alias("margin"),
        )
        .sort("unit")
        .rename({"unit": by})
    )
    losing = (
        d.filter(ok & pl.col("margin").is_not_null())
        .group_by("drg")
        .agg(
            pl.len().alias("cases"),
            pl.col("margin").sum().alias("margin"),
            pl.col("margin").mean().alias("margin_per_case"),
        )
        .sort("margin")
    )
    return per, losing


#: per-unit indicator columns in the order the human files show them
INDICATOR_COLUMNS = (
    "cases",
    "grouped",
    "grouping_rate",
    "cmi",
    "time_index",
    "cost_index",
    "total_cost",
    "payment",
    "margin",
)
LOSING_COLUMNS = ("drg", "drg_name", "cases", "margin", "margin_per_case")


def human_table(df: pl.DataFrame, columns: list[str] | tuple[str, ...]) -> pl.DataFrame:
    """``df``'s ``columns`` under Chinese headers with units (``总费用（万元）``), values in those units (money in
    万元 to two decimals, counts as integers, shares in percent): the CSV / Excel a person opens."""
    from ..report_words import label, number, word

    out = {}
    for c in columns:
        if c not in df.columns:
            continue
        kind = word(c).kind
        values = [number(c, v) for v in df[c].to_list()]
        dtype = (
            pl.Int64
            if kind in ("count", "yuan")
            else pl.Float64
            if kind in ("money", "share", "pct", "rate", "index", "z")
            else pl.Utf8
        )
        out[label(c)] = pl.Series(values, dtype=dtype)
    return pl.DataFrame(out)


def _unit_label(by: str) -> str:
    from ..report_words import word

    return word(by).zh


def _overall(df: pl.DataFrame) -> dict:
    """The indicators of all cases together (same definitions as per unit)."""
    per, _ = indicators(df.with_columns(pl.lit("全部").alias("_all")), "_all")
    return per.row(0, named=True)


def write_report(data: Any, out_dir: str | Path, by: str = "hospital", top: int = 20) -> list[Path]:
    """Write report.html, indicators.csv / .xlsx, losing_drgs.csv and PNG figures to ``out_dir`` (Chinese
    headers, money in 万元); returns the files written."""
    import base64

    from .. import figures as ticks
    from ..figures import pyplot
    from ..io import write_table

    plt = pyplot()
    df = _frame(data, by)
    per, losing = indicators(df, by)
    if "drg_name" in df.columns and losing.height:
        names = (
            df.select(pl.col("drg").cast(pl.Utf8), pl.col("drg_name").cast(pl.Utf8))
            .drop_nulls("drg")
            .unique("drg", keep="first")
        )
        losing = losing.join(names, on="drg", how="left", maintain_order="left")
    unit = _unit_label(by)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.html", out / "indicators.csv", out / "indicators.xlsx", out / "losing_drgs.csv"]
    shown = human_table(per, (by, *INDICATOR_COLUMNS))
    write_table(shown.to_arrow(), files[1])  # UTF-8 with BOM: opened by people in Excel on Chinese Windows
    write_table(shown.to_arrow(), files[2])
    worst = losing.head(top)
    write_table(human_table(worst, LOSING_COLUMNS).to_arrow(), files[3])
    figures: dict[str, Path] = {}

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path)
        figures[name] = path

    has_cmi = per["cmi"].is_not_null().any()
    if per["margin"].is_not_null().any():
        fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * per.height)))
        ranked = per.sort("margin", nulls_last=True)  # the largest loss on top
        margins = ranked["margin"].fill_null(0).to_list()[::-1]
        ax.barh(ranked[by].to_list()[::-1], margins, color=["tab:red" if m < 0 else "tab:green" for m in margins])
        ax.axvline(0, color="black", lw=0.6)
        ticks.wan_axis(ax.xaxis)
        ax.set_xlabel("结余（DRG 支付 − 医疗总费用，万元）")
        ax.set_title(f"各{unit}结余（亏损最多的在上）")
        save(fig, f"margin_by_{by}")
    if worst.height:
        fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * worst.height)))
        ax.barh(worst["drg"].to_list()[::-1], worst["margin"].to_list()[::-1], color="tab:red")
        ticks.wan_axis(ax.xaxis)
        ax.set_xlabel("结余合计（万元）")
        ax.set_title(f"亏损最多的 {worst.height} 个 DRG 组")
        save(fig, "losing_drgs")
    fig, axes = plt.subplots(
        1, 2 if has_cmi else 1, figsize=(11 if has_cmi else 6, max(3, 0.3 * per.height)), squeeze=False
    )
    by_rate = per.sort("grouping_rate", nulls_last=True)  # each panel sorted by its own value, lowest on top
    rates = [100 * (v or 0) for v in by_rate["grouping_rate"].to_list()[::-1]]
    bars = axes[0][0].barh(by_rate[by].to_list()[::-1], rates, color="tab:blue")
    axes[0][0].bar_label(bars, labels=[f"{r:.1f}" for r in rates], fontsize=7, padding=2)
    axes[0][0].set_xlabel("入组率（%）")
    axes[0][0].set_xlim(0, 110)  # from 0: a cut axis makes 95 % look like half of 100 %
    axes[0][0].set_title(f"各{unit}入组率（最低的在上）")
    if has_cmi:
        by_cmi = per.sort("cmi", descending=True, nulls_last=True)
        axes[0][1].barh(
            by_cmi[by].to_list()[::-1],
            [v if v is not None else float("nan") for v in by_cmi["cmi"].to_list()[::-1]],
            color="tab:purple",
        )
        axes[0][1].set_xlabel("CMI")
        ticks.plain_axis(axes[0][1].xaxis, decimals=2)
        axes[0][1].set_title(f"各{unit} CMI（病例组合指数，最高的在上）")
    save(fig, "cmi_grouping_rate")
    if has_cmi and per["cost_index"].is_not_null().any():
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(per["cmi"].to_list(), per["cost_index"].to_list())
        ticks.point_labels(ax, per["cmi"].to_list(), per["cost_index"].to_list(), per[by].to_list())
        ax.axhline(1.0, color="grey", lw=0.5)
        ax.set_xlabel("CMI（病例组合指数）")
        ax.set_ylabel("费用消耗指数")
        ax.set_title("CMI 与费用消耗指数（高于 1 为费用偏高）")
        save(fig, "cmi_vs_cost_index")
    html_text = report_html(
        per, worst, _overall(df), by, {k: base64.b64encode(p.read_bytes()).decode() for k, p in figures.items()}
    )
    files[0].write_text(html_text, encoding="utf-8")
    return files


FIGURE_TITLES = {
    "cmi_grouping_rate": "CMI 与入组率",
    "cmi_vs_cost_index": "CMI 与费用消耗指数",
    "losing_drgs": "亏损最多的 DRG 组",
}


def _table(df: pl.DataFrame, columns) -> str:
    import html

    from ..report_words import fmt, label_html, word

    cols = [c for c in columns if c in df.columns]
    head = "".join(f"<th>{label_html(c)}</th>" for c in cols)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=n' if word(c).kind not in ('text', 'bool') else ''}>{html.escape(fmt(c, r[c]))}</td>"
            for c in cols
        )
        + "</tr>"
        for r in df.iter_rows(named=True)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"


def report_html(per: pl.DataFrame, losing: pl.DataFrame, overall: dict, by: str, images: dict[str, str]) -> str:
    """The page a director reads: 总体, CMI / 入组率, indicators per unit, losing DRGs, figures (PNG as base64)."""
    import html

    from ..report_words import fmt, glossary_html, label

    unit = _unit_label(by)
    facts = [
        ("病例数", fmt("cases", overall["cases"]) + " 例"),
        ("入组病例数", fmt("grouped", overall["grouped"]) + " 例"),
        ("入组率", fmt("grouping_rate", overall["grouping_rate"]) + "%"),
    ]
    if overall["cmi"] is not None:
        facts.append(("CMI（全部入组病例）", fmt("cmi", overall["cmi"])))
    if overall["payment"] is not None and per["payment"].is_not_null().any():
        facts += [
            (label("total_cost"), fmt("total_cost", overall["total_cost"])),
            (label("payment"), fmt("payment", overall["payment"])),
            (label("margin"), fmt("margin", overall["margin"])),
        ]
    facts_html = "".join(f"<li>{html.escape(k)}：<b>{html.escape(v)}</b></li>" for k, v in facts)
    has_cmi = per["cmi"].is_not_null().any()
    ranked = per.sort("cmi", descending=True, nulls_last=True) if has_cmi else per.sort("grouping_rate")
    cmi_cols = (
        (by, "cases", "grouping_rate", "cmi", "time_index", "cost_index")
        if has_cmi
        else (by, "cases", "grouped", "grouping_rate")
    )
    cmi_note = (
        "本数据没有权重（RW）列，无法计算 CMI：先运行 <code>drgkit pay</code> 计价。"
        if not has_cmi
        else f"按 CMI 从高到低排列。CMI 越高，{unit}收治的病例越复杂；入组率低说明病案首页质量需要改进，"
        "未入组病例无法按 DRG 支付。"
    )

    def img(name: str) -> str:
        if name not in images:
            return ""
        return (
            f'<h3>{html.escape(FIGURE_TITLES.get(name, name))}</h3><img alt="{html.escape(name)}" '
            f'src="data:image/png;base64,{images[name]}">'
        )

    margin_fig = next((n for n in images if n.startswith("margin_by_")), None)
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>DRG 运行指标报告</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#f4f4f4}}
th small,li small{{color:#777;font-weight:normal}}td.n{{text-align:right}}img{{max-width:100%}}
.glossary{{font-size:13px}}</style></head><body>
<h1>DRG 运行指标报告（按{html.escape(unit)}） <small>(indicators by {html.escape(by)})</small></h1>
<p>金额单位为万元（保留两位小数），例均金额为元，占比为百分比。完整数据见 indicators.csv / indicators.xlsx。</p>
<h2>总体情况</h2><ul>{facts_html}</ul>
<h2>CMI 与入组率</h2><p>{cmi_note}</p>{_table(ranked, cmi_cols)}{img("cmi_grouping_rate")}{img("cmi_vs_cost_index")}
<h2>各{html.escape(unit)}指标</h2>{_table(per, (by, *INDICATOR_COLUMNS))}
{
        f'<h3>各{html.escape(unit)}结余</h3><img alt="{margin_fig}" src="data:image/png;base64,{images[margin_fig]}">'
        if margin_fig
        else ""
    }
<h2>亏损最多的 DRG 组</h2>{_table(losing, LOSING_COLUMNS) if losing.height else "<p>没有计价数据（无结余列）。</p>"}
{img("losing_drgs")}
<h2>指标说明</h2>{glossary_html((by, *INDICATOR_COLUMNS, "margin_per_case"))}
</body></html>"""
