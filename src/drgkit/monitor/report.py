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
    from ..figures import pyplot

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
        ax.scatter(n, p, label=f"level {level}", color=color, s=18)
        for name, x, y in zip(part["hospital"], n, p):
            ax.annotate(name, (x, y), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("cases")
    ax.set_ylabel("CC/MCC share")
    ax.set_title("CC/MCC share against peers of the same level (funnel: 95% / 99.8%)")
    ax.legend(fontsize=7)
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
        axes[0].set_title("CMI by quarter (highest risk scores in colour)")
        axes[1].set_title("CC/MCC share by quarter")
        for ax in axes:
            ax.set_xlabel("quarter")
            ax.set_xticks([1, 2, 3, 4])
        axes[0].legend(fontsize=7)
        path = folder / "quarterly_trends.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)

    lines = ["# drgkit audit", ""] + [f"- {_cell(note)}" for note in getattr(audit, "notes", [])]
    lines += ["", "| hospital | level | cases | CC/MCC share | z | CMI | risk score | signals |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in audit.hospitals.head(20).iter_rows(named=True):
        def f(v, d=3):
            return "" if v is None else f"{v:.{d}f}"
        lines.append(f"| {_cell(r['hospital'])} | {_cell(r['level'])} | {r['cases']} | {f(r['cc_share'])} "
                     f"| {f(r['z_cc_share'], 2)} | {f(r['cmi'])} | {f(r['risk_score'], 2)} "
                     f"| {', '.join(r['risk_signals'] or [])} |")
    counts = audit.cases["flags"].explode().drop_nulls().value_counts().sort("count", descending=True)
    lines += ["", "| case flag | cases |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in counts.iter_rows()]
    lines += ["", "![funnel](funnel_cc_share.png)", ""]
    if trends.exists():
        lines += ["![trends](quarterly_trends.png)", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    written.append(path)
    return written
