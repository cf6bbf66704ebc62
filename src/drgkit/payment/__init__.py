"""DRG/DIP payment: city payment tables, policies (TOML), vectorized pricing and table audits."""

from __future__ import annotations

from .check import RateCheck, check_table
from .policy import Policy, PolicyError, load_policy
from .price import CASE_TYPES, OUTPUT_COLUMNS, price, standards
from .tables import PaymentTable, TableError, TableInfo, list_tables, load_table, table_info

__all__ = [
    "CASE_TYPES",
    "OUTPUT_COLUMNS",
    "PaymentTable",
    "Policy",
    "PolicyError",
    "RateCheck",
    "TableError",
    "TableInfo",
    "check_table",
    "list_tables",
    "load_policy",
    "load_table",
    "price",
    "standards",
    "table_info",
]
