"""Audit figures: peer funnel plot of the CC/MCC share, quarterly CMI and CC/MCC-share trends, risk ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def _cell(value) -> str:
    """Text from the data as a Markdown table cell: HTML escaped, ``|`` and line breaks made harmless."""
    import html

    return html.escape(str(value)).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def write_report(audit, folder: Path) -> list[Path]:
    """Figures (Chinese labels, shares in percent) and report.md in Chinese: the riskiest units, the case flags,
    what each signal means."""
    from .. import figures as ticks
    from ..figures import pyplot
    from ..report_words import fmt, glossary_md, label, value_text

    plt = pyplot()

    written = []
    h = audit.hospitals.filter(pl.col("cc_share").is_not_null())
    # funnel: CC/MCC share against case count, with 95 % / 99.8 % limits around each level's pooled share
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, (level, part) in enumerate(h.sort("level").group_by("level", maintain_order=True)):
        level, color = level[0], f"C{i}"
        n, p = part["cases"].to_numpy(), part["cc_share"].to_numpy()
        pooled = float(np.average(p, weights=n))
        xs = np.linspace(max(n.min() * 0.8, 10), n.max() * 1.2, 200)
        for k, style in ((1.96, "--"), (3.09, ":")):
            se = np.sqrt(pooled * (1 - pooled) / xs)
            ax.plot(xs, pooled + k * se, style, lw=0.8, color=color)
            ax.plot(xs, pooled - k * se, style, lw=0.8, color=color)
        ax.scatter(n, p, label=f"{fmt('level', level)}医院", color=color, s=18)
    ax.set_xscale("log")
    ticks.plain_axis(ax.xaxis)
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ticks.percent_axis(ax.yaxis)
    ax.set_xlabel("病例数（对数刻度）")
    ax.set_ylabel("CC/MCC 占比")
    ax.set_title("CC/MCC 占比与同级医院比较（漏斗图：虚线 95%，点线 99.8% 控制限）", fontsize=10)
    ax.legend(fontsize=7)
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -0.02), min(high, 1.02))  # a share lies in 0–100 %; so do the limits worth drawing
    ticks.point_labels(ax, h["cases"].to_list(), h["cc_share"].to_list(), h["hospital"].to_list(), fontsize=6)
    path = folder / "funnel_cc_share.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)

    q = audit.quarters
    trends = folder / "quarterly_trends.png"
    trends.unlink(missing_ok=True)  # a figure of an earlier run in a reused folder must not be linked
    if q.height:
        top = audit.hospitals.head(5)["hospital"].to_list()
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for hosp, part in q.group_by("hospital", maintain_order=True):
            hosp = hosp[0]
            hl = hosp in top
            kw = {"lw": 1.8, "label": hosp} if hl else {"lw": 0.6, "color": "0.75"}
            axes[0].plot(part["quarter"], part["cmi"], **kw)
            axes[1].plot(part["quarter"], part["cc_share"], **kw)
        axes[0].set_title("各季度 CMI（彩色为风险分最高的医院）")
        axes[1].set_title("各季度 CC/MCC 占比")
        axes[0].set_ylabel("CMI")
        axes[1].set_ylabel("CC/MCC 占比")
        ticks.percent_axis(axes[1].yaxis)
        for ax in axes:
            ax.set_xlabel("季度")
            ax.set_xticks([1, 2, 3, 4], ["第一季度", "第二季度", "第三季度", "第四季度"])
        axes[0].legend(fontsize=7)
        path = folder / "quarterly_trends.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    columns = ("hospital", "level", "cases", "cc_share", "z_cc_share", "cmi", "risk_score", "risk_signals")
    lines = [
        "# 医保基金监管审核报告",
        "",
        "drgkit audit：按医院比较编码与诊疗行为的异常信号，与同级医院比较。"
        "占比为百分比，z 值表示偏离同级医院多少个标准差。",
        "",
    ]
    lines += [f"- {_cell(note)}" for note in getattr(audit, "notes", [])]
    lines += [
        "",
        "## 风险分最高的医院",
        "",
        "| " + " | ".join(label(c) for c in columns) + " |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in audit.hospitals.head(20).iter_rows(named=True):
        lines.append("| " + " | ".join(_cell(fmt(c, r[c])) for c in columns) + " |")
    counts = audit.cases["flags"].explode().drop_nulls().value_counts().sort("count", descending=True)
    lines += ["", "## 病例标记", "", f"| {label('flag')} | 说明 | {label('cases')} |", "|---|---|---:|"]
    from ..report_words import word

    lines += [f"| {_cell(value_text(a))} | {_cell(word(a).note)} | {fmt('cases', b)} |" for a, b in counts.iter_rows()]
    lines += ["", "## 图", "", "![CC/MCC 占比漏斗图](funnel_cc_share.png)", ""]
    if trends.exists():
        lines += ["![季度趋势](quarterly_trends.png)", ""]
    signals = [
        c
        for c in (
            "cc_share",
            "mcc_share",
            "cmi",
            "cmi_change",
            "low_ratio_share",
            "high_ratio_share",
            "alos",
            "death_share",
            "transfer_share",
            "high_rw_share",
            "split_share",
            "readmit_share",
        )
    ]
    lines += ["## 指标说明", ""] + glossary_md(("cases", "z_cc_share", "risk_score", "risk_signals", *signals)) + [""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    written.append(path)
    return written
