"""DIP (按病种分值付费): build a local catalogue (病种库) from history, group cases into it, score and settle.

>>> cat = drgkit.dip.build(history, threshold=15, years="2022:1,2023:2,2024:7")
>>> cat.write("catalogue/")
>>> out = drgkit.dip.group(cases, "catalogue/")       # dip_group, dip_kind, aux_coefficient, score, status …
>>> s = drgkit.dip.settle(out, "catalogue/", budget=26_514, fund_ratio=0.6)
"""

from __future__ import annotations

from .build import build, parse_trim, parse_years
from .catalogue import DEFAULTS, KINDS, Catalogue, DipError, load_catalogue
from .explain import explain
from .grouper import OUTPUT_COLUMNS, REASONS, group
from .settle import DIP_POLICY, Settlement, settle

__all__ = [
    "DEFAULTS",
    "DIP_POLICY",
    "KINDS",
    "OUTPUT_COLUMNS",
    "REASONS",
    "Catalogue",
    "DipError",
    "Settlement",
    "build",
    "explain",
    "group",
    "load_catalogue",
    "parse_trim",
    "parse_years",
    "settle",
]
