"""Render the top of each sheet of an .xlsx workbook to a PNG (the walkthrough's screenshots, with no office
suite on the machine): cells as openpyxl reads them, the header row shaded, the bundled CJK font.

    python tools/render_workbook.py 分组结果.xlsx docs/img/walkthrough --rows 12 --columns 病案号,主要诊断编码,…
"""
from __future__ import annotations

import argparse
from pathlib import Path

import openpyxl

from drgkit.figures import pyplot


def render(sheet, path: Path, rows: int, columns: list[str] | None, width: int = 18) -> None:
    values = [list(r) for r in sheet.iter_rows(max_row=rows + 1, values_only=True)]
    if not values:
        return
    header = [str(h) if h is not None else "" for h in values[0]]
    keep = [header.index(c) for c in columns if c in header] if columns else list(range(len(header)))
    if not keep:
        keep = list(range(len(header)))

    def text(v, column: str) -> str:
        limit = 60 if ("说明" in column or "原因" in column) else width  # the sentences get room to be read
        if v is None:
            return ""
        s = f"{v:,.2f}" if isinstance(v, float) else str(v)
        return s if len(s) <= limit else s[: limit - 1] + "…"  # a screenshot crops, as Excel's column does

    cells = [[text(r[i], header[i]) if i < len(r) else "" for i in keep] for r in values[1:]]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(min(2.0 * len(keep) + 1, 24), 0.42 * (len(cells) + 2) + 0.6))
    ax.axis("off")
    table = ax.table(cellText=cells or [[""] * len(keep)], colLabels=[header[i] for i in keep], loc="upper left",
                     cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.auto_set_column_width(list(range(len(keep))))
    for (row, _), cell in table.get_celld().items():
        cell.set_height(0.9 / (len(cells) + 2))
        if row == 0:
            cell.set_facecolor("#dde7f3")
            cell.set_text_props(weight="bold")
    ax.set_title(f"工作表 sheet: {sheet.title}", loc="left", fontsize=11)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("prefix", type=Path, help="output prefix: <prefix>-<sheet>.png")
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--columns", default="", help="comma-separated headers to show on the first sheet")
    parser.add_argument("--problem-columns", default="", help="headers to show on the 问题病例 sheet")
    args = parser.parse_args()
    book = openpyxl.load_workbook(args.workbook, read_only=True)
    args.prefix.parent.mkdir(parents=True, exist_ok=True)
    for i, sheet in enumerate(book.worksheets):
        wanted = args.columns if i == 0 else (args.problem_columns if sheet.title == "问题病例" else "")
        columns = [c for c in wanted.split(",") if c] or None
        out = Path(f"{args.prefix}-{sheet.title}.png")
        render(sheet, out, args.rows, columns)
        print(out)


if __name__ == "__main__":
    main()
