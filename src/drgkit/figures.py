"""Figures that render Chinese: one place chooses matplotlib's backend and a font with Chinese glyphs.

Without a CJK font every hospital name, scenario name and 科室 (department) in a figure is an empty box, and
matplotlib warns once per missing glyph.  :func:`pyplot` selects a Chinese font the machine has (Noto Sans CJK
SC, Source Han Sans, WenQuanYi, Microsoft YaHei, SimHei, PingFang …), else the subset of Noto Sans CJK SC that
ships with drgkit (``fonts/drgkit-cjk-sans.otf``, SIL Open Font License; GB 2312 and every character of the
project's own names), and returns ``matplotlib.pyplot``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: System fonts with Chinese glyphs, preferred in this order over the shipped subset.
SYSTEM_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Sarasa Gothic SC",
)
SHIPPED_FONT = "drgkit CJK Sans"


@lru_cache(maxsize=1)
def chinese_font() -> str:
    """The font family figures use for Chinese (registered with matplotlib when it is the shipped one)."""
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK_FONTS:
        if family in installed:
            return family
    with resources.as_file(resources.files("drgkit").joinpath("fonts", "drgkit-cjk-sans.otf")) as path:
        font_manager.fontManager.addfont(str(path))
    return SHIPPED_FONT


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, with a Chinese font first and DejaVu Sans after it
    (matplotlib falls back glyph by glyph), and a real minus sign that the CJK font may lack."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = [chinese_font(), "DejaVu Sans"]  # a list: matplotlib falls back per glyph
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def wan_axis(axis) -> None:
    """Money on ``axis`` (``ax.xaxis`` / ``ax.yaxis``; data in yuan) labelled in 万元 with thousands separators
    and at most two decimals, never with a ``1e8`` offset."""
    from matplotlib.ticker import FuncFormatter

    def text(value: float, _pos: int) -> str:
        wan = value / 1e4
        return f"{wan:,.0f}" if abs(wan) >= 100 or wan == round(wan) else f"{wan:,.2f}".rstrip("0").rstrip(".")

    axis.set_major_formatter(FuncFormatter(text))


def plain_axis(axis, decimals: int = 0) -> None:
    """Numbers on ``axis`` as plain text with thousands separators (no offset, no scientific notation)."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.{decimals}f}"))


def percent_axis(axis, share: bool = True, decimals: int = 0) -> None:
    """Shares (0–1 when ``share``, else already percent) on ``axis`` as ``45%``."""
    from matplotlib.ticker import FuncFormatter

    scale = 100.0 if share else 1.0
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value * scale:.{decimals}f}%"))


def point_labels(ax, xs, ys, names, fontsize: int = 7) -> None:
    """Name every point of a scatter without two names overlapping: each label starts right of its point and
    moves down (then up) in steps of its own height until it touches no label placed before it."""
    fig = ax.figure
    ax.autoscale_view()
    fig.tight_layout()  # fix the axes' limits and size first: the boxes below are in display coordinates
    renderer = fig.canvas.get_renderer()
    placed: list = []
    for name, x, y in sorted(
        ((n, x, y) for n, x, y in zip(names, xs, ys) if x is not None and y is not None), key=lambda p: -p[2]
    ):
        text = ax.annotate(name, (x, y), xytext=(4, 0), textcoords="offset points", fontsize=fontsize, va="center")
        box = text.get_window_extent(renderer)
        step = box.height * 1.05
        for k in range(40):  # 0, -1, +1, -2, +2 … label heights away
            shift = (k + 1) // 2 * (-1 if k % 2 else 1) * step if k else 0.0
            moved = box.translated(0, shift)
            if not any(moved.overlaps(other) for other in placed):
                break
        if shift:
            text.set_position((4, shift * 72 / fig.dpi))
            text.arrow_patch = None
            ax.annotate(
                "",
                (x, y),
                xytext=(4, shift * 72 / fig.dpi),
                textcoords="offset points",
                arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.4},
            )
        placed.append(moved)
