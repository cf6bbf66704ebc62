"""Coding-quality and fund-supervision monitors: edits on every abstract, a what-if for coders, audit signals."""

from __future__ import annotations

from .audit import Audit, audit
from .edits import Edit, load_edits, sex_codes, validate
from .plant import planted_year
from .whatif import WhatIf, whatif

__all__ = ["Audit", "Edit", "WhatIf", "audit", "load_edits", "planted_year", "sex_codes", "validate", "whatif"]
