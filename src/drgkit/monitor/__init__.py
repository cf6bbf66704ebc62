"""Coding-quality and fund-supervision monitors: edits on every abstract, a what-if for coders, audit signals."""
from __future__ import annotations

from .edits import Edit, load_edits, sex_codes, validate
from .whatif import WhatIf, whatif

__all__ = ["Edit", "WhatIf", "load_edits", "sex_codes", "validate", "whatif"]
