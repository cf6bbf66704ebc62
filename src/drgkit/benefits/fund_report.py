"""The fund forecast written out: one row per scenario × year (Parquet and CSV), Chinese figures (months of
reserve with the thresholds and the Monte Carlo bands; the current balance; the baseline's income against its
spending) and one HTML page with the warnings, the scenarios side by side and a table per scenario."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import polars as pl

from .fund import BASELINE, Fund, FundError, Projection, warnings_of

#: the columns of a scenario's table on the page, in order (band columns are added when there are draws)
_SHOWN = (
    "year",
    "income",
    "spending",
    "balance",
    "balance_rate",
    "reserve",
    "months",
    "band",
    "p_exhausted",
    "income_growth",
    "spending_growth",
    "retired_share",
    "warnings",
)
_MONEY = ("income", "spending", "balance", "reserve")
_SHARES = ("balance_rate", "income_growth", "spending_growth", "p_exhausted", "retired_share")


def scenario_label(f: Fund, lang: str = "zh") -> str:
    """The name a reader sees: the file's own values are 基准 (baseline) in Chinese."""
    from ..lang import say

    return say("fund.baseline", lang) if f.scenario == BASELINE else f.scenario


def warning_text(f: Fund, code: str, lang: str = "zh") -> str:
    from ..lang import say

    return say(
        f"fund.warn.{code}",
        lang,
        too_little=f.too_little,
        too_much=f.too_much,
        low=f.target[0],
        high=f.target[1],
        rate=100 * (f.min_balance_rate or 0.0),
        gap=100 * (f.max_growth_gap or 0.0),
    )


def _year(p: Projection, t: int) -> dict[str, float]:
    return {k: float(v[t]) for k, v in p.central.items()}


def first_years(p: Projection) -> dict[str, int]:
    """code → the first year the central path crosses that threshold (a bureau reads these first)."""
    seen: dict[str, int] = {}
    for t, year in enumerate(p.years.tolist()):
        for code in warnings_of(p.fund, _year(p, t)):
            seen.setdefault(code, year)
    return seen


def warning_lines(projections: list[Projection], lang: str = "zh") -> list[str]:
    """One line per scenario and threshold crossed, at the first year it happens."""
    from ..lang import say

    lines = []
    for p in projections:
        for code, year in first_years(p).items():
            lines.append(
                say(
                    "fund.line",
                    lang,
                    scenario=scenario_label(p.fund, lang),
                    year=year,
                    warning=warning_text(p.fund, code, lang),
                )
            )
    return lines


# ------------------------------------------------------------------------------------------------- figures


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _band(p: Projection, name: str) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    if not p.draws:
        return None
    lo, hi = min(p.fund.percentiles), max(p.fund.percentiles)
    return lo, hi, np.percentile(p.draws[name], lo, axis=0), np.percentile(p.draws[name], hi, axis=0)


def _legend_below(ax, n: int) -> None:
    # below the axes: inside, the legend would cover the lines of a fund that runs down to 0 months
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(n, 4), frameon=False)


def figures(projections: list[Projection], lang: str = "zh") -> dict[str, bytes]:
    """``months`` (months of reserve per scenario, the Monte Carlo band, the thresholds), ``balance`` (当期结余
    per scenario) and ``income_spending`` (the baseline's income against its spending by kind), as PNG."""
    from ..figures import pyplot, wan_axis
    from ..lang import say

    plt = pyplot()
    f0 = projections[0].fund
    years = projections[0].years
    out = {}

    fig, ax = plt.subplots(figsize=(9, 5))
    ax.axhspan(f0.target[0], f0.target[1], color="#2ca02c", alpha=0.08, zorder=0)
    top = max(float(np.nanmax(p.central["months"])) for p in projections)
    bottom = min(float(np.nanmin(p.central["months"])) for p in projections)
    for p in projections:
        (line,) = ax.plot(years, p.central["months"], marker="o", markersize=4, label=scenario_label(p.fund, lang))
        band = _band(p, "months")
        if band:
            _, _, low, high = band
            ax.fill_between(years, low, high, color=line.get_color(), alpha=0.10, linewidth=0)
            top, bottom = max(top, float(high.max())), min(bottom, float(low.min()))
    # the thresholds are named on the right edge, where no line ends in a label
    marks = (
        (f0.too_much, "--", say("fund.mark.too_much", lang, v=f0.too_much)),
        (f0.target[1], ":", say("fund.mark.target", lang, low=f0.target[0], high=f0.target[1])),
        (f0.target[0], ":", None),
        (f0.too_little, "--", say("fund.mark.too_little", lang, v=f0.too_little)),
    )
    ax.set_ylim(min(bottom, 0.0) - 0.5, max(top, f0.too_much) + 1.0)
    for value, style, text in marks:
        ax.axhline(value, color="#777", linestyle=style, linewidth=1, zorder=1)
        if text:
            y = (f0.target[0] + f0.target[1]) / 2 if value == f0.target[1] else value
            ax.annotate(
                text,
                (1.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="#555",
            )
    ax.axhline(0, color="#d62728", linewidth=1)
    title = say("fund.months_title", lang)
    band = _band(projections[0], "months")
    if band:
        title += "\n" + say("fund.band_note", lang, lo=band[0], hi=band[1], draws=f0.draws)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(say("fund.col.year", lang))
    ax.set_ylabel(say("fund.axis.months", lang))
    ax.set_xticks(years)
    ax.grid(axis="y", alpha=0.3)
    _legend_below(ax, len(projections))
    out["months"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 5))
    width = 0.8 / len(projections)
    for k, p in enumerate(projections):
        ax.bar(
            years + (k - (len(projections) - 1) / 2) * width,
            p.central["balance"],
            width=width,
            label=scenario_label(p.fund, lang),
        )
    ax.axhline(0, color="#333", linewidth=0.8)
    wan_axis(ax.yaxis)
    ax.set_title(say("fund.balance_title", lang), fontsize=11)
    ax.set_xlabel(say("fund.col.year", lang))
    ax.set_ylabel(say("fund.axis.wan", lang))
    ax.set_xticks(years)
    ax.grid(axis="y", alpha=0.3)
    _legend_below(ax, len(projections))
    out["balance"] = _png(fig)
    plt.close(fig)

    p = projections[0]
    c = p.central
    fig, ax = plt.subplots(figsize=(9, 5))
    parts = [
        (c["inpatient"], say("fund.col.inpatient", lang)),
        (c["outpatient"], say("fund.col.outpatient", lang)),
        (c["other_spending"], say("fund.col.other_spending", lang)),
    ]
    parts = [(v, name) for v, name in parts if np.any(v)]
    ax.stackplot(years, *[v for v, _ in parts], labels=[name for _, name in parts], alpha=0.6)
    ax.plot(years, c["income"], color="#111", marker="o", markersize=4, label=say("fund.col.income", lang))
    wan_axis(ax.yaxis)
    ax.set_title(say("fund.income_spending_title", lang, scenario=scenario_label(p.fund, lang)), fontsize=11)
    ax.set_xlabel(say("fund.col.year", lang))
    ax.set_ylabel(say("fund.axis.wan", lang))
    ax.set_xticks(years)
    ax.grid(axis="y", alpha=0.3)
    _legend_below(ax, len(parts) + 1)
    out["income_spending"] = _png(fig)
    plt.close(fig)
    return out


# ---------------------------------------------------------------------------------------------------- page


def _cell(name: str, value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if name in _SHARES:
        return f"{100 * value:.1f}%"
    if name == "months":
        return f"{value:.1f}"
    if name == "year":
        return str(value)
    if isinstance(value, float):
        return f"{value / 1e4:,.0f}"
    return str(value)


def side_by_side(projections: list[Projection], lang: str = "zh") -> list[dict[str, str]]:
    """One row per scenario: what a bureau compares first (the last year's months and balance rate, the first
    year below the target range, the year the reserve runs out, the chance it has by the last year)."""
    from ..lang import say

    rows = []
    for p in projections:
        seen = first_years(p)
        below = min((seen[c] for c in ("below_target", "too_little", "exhausted") if c in seen), default=None)
        rows.append(
            {
                "scenario": scenario_label(p.fund, lang),
                "description": p.fund.description,
                "months_first": f"{p.central['months'][0]:.1f}",
                "months_last": f"{p.central['months'][-1]:.1f}",
                "balance_rate_last": f"{100 * p.central['balance_rate'][-1]:.1f}%",
                "below_year": str(below) if below else say("fund.never_below", lang),
                "exhausted_year": str(p.exhausted_year() or say("fund.never", lang)),
                "p_exhausted": f"{100 * float((p.draws['reserve'] < 0).any(axis=1).mean()):.1f}%" if p.draws else "",
            }
        )
    return rows


def html_page(
    table: pl.DataFrame, projections: list[Projection], figs: dict[str, bytes], notes: list[str], lang: str = "zh"
) -> str:
    from ..lang import say

    esc = html.escape
    f0 = projections[0].fund
    first, last = int(projections[0].years[0]), int(projections[0].years[-1])
    summary = side_by_side(projections, lang)
    keys = list(summary[0])
    if not projections[0].draws:
        keys.remove("p_exhausted")
    head = "".join(f"<th>{esc(say(f'fund.sbs.{k}', lang, first=first, last=last))}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td{'' if k in ('scenario', 'description') else ' class=n'}>{esc(r[k])}</td>" for k in keys)
        for r in summary
    )
    parts = [f"<h2>{esc(say('fund.page.side_by_side', lang))}</h2><table><tr>{head}</tr>{body}</table>"]
    imgs = "".join(
        f'<figure><img alt="{esc(k)}" src="data:image/png;base64,{base64.b64encode(v).decode()}"></figure>'
        for k, v in figs.items()
    )
    for p in projections:
        rows = table.filter(pl.col("scenario") == p.fund.scenario)
        lo, hi = min(p.fund.percentiles), max(p.fund.percentiles)
        has = {
            "band": f"months_p{lo:g}" in rows.columns,
            "retired_share": p.fund.income["active"] > 0,  # a residents' pool has no retirees
        }
        cols = [c for c in _SHOWN if has.get(c, c in rows.columns)]

        def header(c: str, lo: float = lo, hi: float = hi) -> str:
            if c == "band":
                return esc(say("fund.col.band", lang, lo=lo, hi=hi))
            unit = f"<small>{esc(say('fund.unit.wan', lang))}</small>" if c in _MONEY else ""
            return esc(say(f"fund.col.{c}", lang)) + unit

        cells_head = "".join(f"<th>{header(c)}</th>" for c in cols)
        body_rows: list[str] = []
        for r in rows.iter_rows(named=True):
            cells = []
            for c in cols:
                if c == "warnings":
                    text = "；".join(warning_text(p.fund, w, lang) for w in r[c].split(";") if w)
                    cells.append(f"<td>{esc(text)}</td>")
                elif c == "band":
                    band = f"{r[f'months_p{lo:g}']:.1f}–{r[f'months_p{hi:g}']:.1f}"
                    cells.append(f'<td class="n">{esc(band)}</td>')
                else:
                    cells.append(f'<td class="n">{esc(_cell(c, r[c]))}</td>')
            body_rows.append("<tr>" + "".join(cells) + "</tr>")
        desc = f"<p>{esc(p.fund.description)}</p>" if p.fund.description else ""
        parts.append(
            f"<h2>{esc(scenario_label(p.fund, lang))}</h2>{desc}"
            f"<table><tr>{cells_head}</tr>{''.join(body_rows)}</table>"
        )
    warn = "".join(f"<li>{esc(line)}</li>" for line in warning_lines(projections, lang)) or "<li>—</li>"
    note = "".join(f"<li>{esc(n)}</li>" for n in notes)
    title = say("fund.page.title", lang, name=f0.name)
    banner = f'<p class="example">{esc(say("fund.example_banner", lang))}</p>' if f0.example else ""
    return f"""<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px;margin-bottom:1em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
th{{background:#f4f4f4}}th small{{display:block;color:#777;font-weight:normal}}td.n{{text-align:right}}
img{{max-width:100%}}figure{{margin:1em 0}}.example{{background:#fff4d6;padding:.5em 1em;border-left:4px solid #e0a800}}
</style></head><body>
<h1>{esc(title)}</h1>
{banner}
<h2>{esc(say("fund.page.warnings", lang))}</h2><ul>{warn}</ul>
{parts[0]}
{imgs}
{"".join(parts[1:])}
<h2>{esc(say("fund.page.notes", lang))}</h2><ul>{note}</ul>
</body></html>"""


def notes(projections: list[Projection], lang: str = "zh") -> list[str]:
    from ..lang import say

    f0 = projections[0].fund
    out = [
        say("fund.note_indicators", lang),
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
    if f0.example:
        out.append(say("fund.example_banner", lang))
    if projections[0].draws:
        sds = ", ".join(f"{k} {v:g}" for k, v in sorted(f0.sd.items()))
        out.append(say("fund.note_draws", lang, draws=f0.draws, seed=f0.seed, sds=sds))
    return out


def write(out_dir: str | Path, table: pl.DataFrame, projections: list[Projection], lang: str = "zh") -> dict:
    """Write ``years.parquet``, ``years.csv``, ``figures/*.png`` and ``report.html`` into ``out_dir``."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
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
