"""The fund forecast written out: one row per scenario × year (Parquet and CSV), Chinese figures (months of
reserve with the thresholds and the Monte Carlo band; income against spending) and an HTML page."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import polars as pl

from .fund import Fund, Projection, warnings_of

_SHOWN = (
    "year",
    "income",
    "spending",
    "balance",
    "balance_rate",
    "reserve",
    "months",
    "income_growth",
    "spending_growth",
    "p_exhausted",
    "warnings",
)


def warning_text(f: Fund, code: str, lang: str = "zh") -> str:
    from ..lang import say

    return say(
        f"fund.warn.{code}", lang, too_little=f.too_little, too_much=f.too_much, low=f.target[0], high=f.target[1]
    )


def warning_lines(projections: list[Projection], lang: str = "zh") -> list[str]:
    """One line per scenario and threshold crossed: the first year it happens (a bureau reads these first)."""
    from ..lang import say

    lines = []
    for p in projections:
        f, c = p.fund, p.central
        seen: dict[str, int] = {}
        for t, year in enumerate(p.years.tolist()):
            for code in warnings_of(f, float(c["months"][t]), float(c["reserve"][t]), float(c["balance"][t])):
                seen.setdefault(code, year)
        for code, year in seen.items():
            lines.append(say("fund.line", lang, scenario=f.scenario, year=year, warning=warning_text(f, code, lang)))
    return lines


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def figures(projections: list[Projection], lang: str = "zh") -> dict[str, bytes]:
    from ..figures import pyplot, wan_axis
    from ..lang import say

    plt = pyplot()
    f0 = projections[0].fund
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for p in projections:
        years = p.years
        (line,) = ax.plot(years, p.central["months"], marker="o", label=p.fund.scenario)
        if p.draws:
            lo, hi = min(p.fund.percentiles), max(p.fund.percentiles)
            import numpy as np

            ax.fill_between(
                years,
                np.percentile(p.draws["months"], lo, axis=0),
                np.percentile(p.draws["months"], hi, axis=0),
                color=line.get_color(),
                alpha=0.15,
                label=f"{p.fund.scenario} {say('fund.band', lang, lo=lo, hi=hi)}",
            )
    ax.axhspan(f0.target[0], f0.target[1], color="#2ca02c", alpha=0.08)
    for value, style in ((f0.too_little, "--"), (f0.target[0], ":"), (f0.target[1], ":"), (f0.too_much, "--")):
        ax.axhline(value, color="#888", linestyle=style, linewidth=1)
    ax.axhline(0, color="#d62728", linewidth=1)
    ax.set_title(say("fund.months_title", lang))
    ax.set_xlabel(say("fund.col.year", lang))
    ax.set_ylabel(say("fund.col.months", lang))
    ax.set_xticks(projections[0].years)
    ax.legend(fontsize=8)
    out = {"months": _png(fig)}
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for p in projections:
        (line,) = ax.plot(
            p.years, p.central["income"], marker="o", label=f"{p.fund.scenario} {say('fund.col.income', lang)}"
        )
        ax.plot(
            p.years,
            p.central["spending"],
            marker="s",
            linestyle="--",
            color=line.get_color(),
            label=f"{p.fund.scenario} {say('fund.col.spending', lang)}",
        )
    wan_axis(ax.yaxis)
    ax.set_title(say("fund.balance_title", lang))
    ax.set_xlabel(say("fund.col.year", lang))
    ax.set_ylabel("万元" if lang == "zh" else "10k yuan")
    ax.set_xticks(projections[0].years)
    ax.legend(fontsize=8)
    out["income_spending"] = _png(fig)
    plt.close(fig)
    return out


def _cell(name: str, value) -> str:
    if value is None:
        return ""
    if name in ("balance_rate", "income_growth", "spending_growth", "p_exhausted"):
        return f"{100 * value:.1f}%"
    if name == "months":
        return f"{value:.1f}"
    if name == "year":
        return str(value)
    if isinstance(value, float):
        return f"{value / 1e4:,.2f}"
    return str(value)


def html_page(
    table: pl.DataFrame, projections: list[Projection], figs: dict[str, bytes], notes: list[str], lang: str = "zh"
) -> str:
    from ..lang import say

    f0 = projections[0].fund
    parts = []
    for p in projections:
        rows = table.filter(pl.col("scenario") == p.fund.scenario)
        cols = [c for c in _SHOWN if c in rows.columns]
        head = "".join(
            f"<th>{html.escape(say(f'fund.col.{c}', lang))}"
            f"{'<small>（万元）</small>' if c in ('income', 'spending', 'balance', 'reserve') else ''}</th>"
            for c in cols
        )
        body = []
        for r in rows.iter_rows(named=True):
            cells = []
            for c in cols:
                value = r[c]
                if c == "warnings":
                    value = "；".join(warning_text(p.fund, w, lang) for w in value.split(";") if w)
                    cells.append(f"<td>{html.escape(value)}</td>")
                else:
                    cells.append(f'<td class="n">{html.escape(_cell(c, value))}</td>')
            body.append("<tr>" + "".join(cells) + "</tr>")
        desc = f"<p>{html.escape(p.fund.description)}</p>" if p.fund.description else ""
        parts.append(f"<h2>{html.escape(p.fund.scenario)}</h2>{desc}<table><tr>{head}</tr>{''.join(body)}</table>")
    imgs = "".join(
        f'<img alt="{html.escape(k)}" src="data:image/png;base64,{base64.b64encode(v).decode()}">'
        for k, v in figs.items()
    )
    warn = "".join(f"<li>{html.escape(line)}</li>" for line in warning_lines(projections, lang)) or "<li>—</li>"
    note = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    title = f"{f0.name}：{say('fund.title', lang)}" if lang == "zh" else f"{f0.name}: {say('fund.title', lang)}"
    return f"""<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#f4f4f4}}
th small{{color:#777;font-weight:normal}}td.n{{text-align:right}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>{"预警" if lang == "zh" else "warnings"}</h2><ul>{warn}</ul>
{imgs}
{"".join(parts)}
<h2>{"说明" if lang == "zh" else "notes"}</h2><ul>{note}</ul>
</body></html>"""


def notes(projections: list[Projection], lang: str = "zh") -> list[str]:
    from ..lang import say

    f0 = projections[0].fund
    out = [
        say(
            "fund.note_thresholds",
            lang,
            too_little=f0.too_little,
            low=f0.target[0],
            high=f0.target[1],
            too_much=f0.too_much,
        ),
        say("fund.note_inputs", lang),
    ]
    if f0.draws and f0.sd:
        out.append(
            say("fund.note_draws", lang, draws=f0.draws, sds=", ".join(f"{k} {v:g}" for k, v in sorted(f0.sd.items())))
        )
    return out


def write(out_dir: str | Path, table: pl.DataFrame, projections: list[Projection], lang: str = "zh") -> dict:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        from .fund import FundError

        raise FundError(f"{out}: is a file; -o names the folder for the results")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {"years": out / "years.parquet", "csv": out / "years.csv", "report": out / "report.html"}
    table.write_parquet(paths["years"])
    table.write_csv(paths["csv"])
    figs = figures(projections, lang)
    for name, png in figs.items():
        path = out / "figures" / f"{name}.png"
        path.write_bytes(png)
        paths[name] = path
    paths["report"].write_text(html_page(table, projections, figs, notes(projections, lang), lang), encoding="utf-8")
    return paths
