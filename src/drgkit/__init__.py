"""drgkit: CHS-DRG / DIP grouping, payment and payment-reform simulation for Chinese discharge abstracts."""
from __future__ import annotations

__version__ = "0.1.0"

from .api import Explanation, Options, explain, group  # noqa: E402
from .schemes.tables import list_schemes  # noqa: E402
from .payment import Policy, list_tables, load_policy, load_table, price  # noqa: E402
from . import simulate  # noqa: E402  (drgkit.simulate.run(history, scenarios))
from .monitor import audit, validate, whatif  # noqa: E402
from . import dip  # noqa: E402  (drgkit.dip.build / group / settle / explain)

__all__ = ["audit", "Explanation", "Options", "Policy", "explain", "group", "list_schemes", "list_tables", "load_policy",
           "load_table", "price", "validate", "whatif", "__version__"]
