"""drgkit: CHS-DRG / DIP grouping, payment and payment-reform simulation for Chinese discharge abstracts.

The grouping API loads eagerly; payment, simulation, monitoring and DIP load on first use (PEP 562), so a
one-case ``drgkit explain`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .api import Explanation, Options, column_mapping, explain, group
from .errors import DrgkitError
from .schemes.tables import list_schemes

_LAZY = {
    "Policy": ("payment", "Policy"),
    "list_tables": ("payment", "list_tables"),
    "load_policy": ("payment", "load_policy"),
    "load_table": ("payment", "load_table"),
    "price": ("payment", "price"),
    "calibrate": ("payment.calibrate", "calibrate"),
    "audit": ("monitor", "audit"),
    "validate": ("monitor", "validate"),
    "whatif": ("monitor", "whatif"),
}
_SUBPACKAGES = {"simulate", "dip", "payment", "monitor", "spark", "benefits"}

__all__ = [
    "DrgkitError",
    "Explanation",
    "Options",
    "Policy",
    "__version__",
    "audit",
    "calibrate",
    "column_mapping",
    "dip",
    "explain",
    "group",
    "list_schemes",
    "list_tables",
    "load_policy",
    "load_table",
    "price",
    "simulate",
    "validate",
    "whatif",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'drgkit' has no attribute '{name}'")
    globals()[name] = value
    return value
