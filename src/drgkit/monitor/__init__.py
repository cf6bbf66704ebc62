"""Coding-quality and fund-supervision monitors: edits on every abstract, a what-if for coders, audit signals."""
from __future__ import annotations

from .edits import Edit, load_edits, sex_codes, validate
from .whatif import WhatIf, whatif
from .audit import Audit, audit
from .plant import planted_year

__all__ = ["Audit", "Edit", "WhatIf", "audit", "planted_year", "load_edits", "sex_codes", "validate", "whatif"]
