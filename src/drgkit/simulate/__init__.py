"""Global-budget simulator: floating DRG rate / DIP point value, hospital settlement with sharing bands,
Monte Carlo over volumes, figures and an HTML report. See ``docs/simulate.md``.

``drgkit.simulate.run(history, scenarios)`` → ``(hospitals, scenarios)`` polars frames.
"""
from __future__ import annotations

from .engine import ScenarioResult, SimulationError, apportion_cents, frames, run, run_config, share
from .scenario import Config, Scenario, ScenarioError, Settlement, Sharing, load

__all__ = ["Config", "Scenario", "ScenarioError", "ScenarioResult", "Settlement", "Sharing", "SimulationError",
           "apportion_cents", "frames", "load", "run", "run_config", "share"]
