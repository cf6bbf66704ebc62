"""drgkit: CHS-DRG / DIP grouping, payment and payment-reform simulation for Chinese discharge abstracts.

Everything loads on first use (PEP 562): ``import drgkit`` alone imports no numpy or pyarrow, so
``drgkit --help`` and the commands that need little start fast; ``drgkit.group`` loads the grouping API,
``drgkit.price`` payment, and so on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import DrgkitError

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from .api import Explanation, Options, column_mapping, explain, group
    from .schemes.tables import list_schemes

_LAZY = {
    "Explanation": ("api", "Explanation"),
    "Options": ("api", "Options"),
    "column_mapping": ("api", "column_mapping"),
    "explain": ("api", "explain"),
    "group": ("api", "group"),
    "list_schemes": ("schemes.tables", "list_schemes"),
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
