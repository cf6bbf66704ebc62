"""Figures render Chinese: no glyph is missing (matplotlib warns per missing glyph; here that fails the test)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from drgkit.figures import chinese_font, pyplot


def test_chinese_labels_render_without_a_missing_glyph(tmp_path: Path) -> None:
    plt = pyplot()
    labels = ["苏州市第一人民医院", "无锡市人民医院", "三级甲等", "心血管内科", "结余留用", "超支分担"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font(s)" is a UserWarning
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.bar(labels, np.arange(len(labels)) - 2.5)
        ax.set_title("各医院收入变化 revenue change −5% (万元)")
        ax.legend(["情景 scenario"])
        fig.savefig(tmp_path / "zh.png", dpi=60)
        plt.close(fig)
    assert (tmp_path / "zh.png").stat().st_size > 1000
    assert chinese_font()


def test_the_shipped_font_covers_the_projects_own_names() -> None:
    from importlib import resources

    from fontTools.ttLib import TTFont

    path = resources.files("drgkit").joinpath("fonts", "drgkit-cjk-sans.otf")
    cmap = TTFont(str(path)).getBestCmap()
    from drgkit.payment import list_tables

    names = "".join(f"{t.city_zh}{t.city}" for t in list_tables())
    missing = {c for c in names + "苏州市第一人民医院结余留用超支分担医嘱离院" if ord(c) > 127 and ord(c) not in cmap}
    assert not missing


@pytest.mark.parametrize("module", ["payment", "simulate", "monitor"])
def test_every_report_module_takes_its_pyplot_from_one_place(module: str) -> None:
    source = (Path(__file__).parents[1] / "src" / "drgkit" / module / "report.py").read_text(encoding="utf-8")
    assert "from ..figures import pyplot" in source and 'matplotlib.use("Agg")' not in source


def test_point_labels_never_overlap() -> None:
    """Ten hospitals bunched at nearly one point: every name is drawn and no two names overlap."""
    from drgkit.figures import point_labels, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    xs = [1.0 + 0.01 * i for i in range(10)] + [2.0]
    ys = [0.93 + 0.002 * (i % 3) for i in range(10)] + [1.2]
    names = [f"示例市第{i}人民医院" for i in range(11)]
    ax.scatter(xs, ys)
    point_labels(ax, xs, ys, names)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in texts) == sorted(names)
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    plt.close(fig)
