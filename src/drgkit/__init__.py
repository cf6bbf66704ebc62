"""drgkit: CHS-DRG / DIP grouping, payment and payment-reform simulation for Chinese discharge abstracts."""
from __future__ import annotations

__version__ = "0.1.0"
