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
