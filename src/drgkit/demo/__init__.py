"""Synthetic discharge abstracts (病案首页) for the demo, the tests and the benchmarks."""

from __future__ import annotations

from .synth import COLUMNS, DEFECTS, generate, write_demo

__all__ = ["COLUMNS", "DEFECTS", "generate", "write_demo"]
