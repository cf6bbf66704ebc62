"""Global-budget simulator: floating DRG rate / DIP point value, hospital settlement with sharing bands,
Monte Carlo over volumes, figures and an HTML report. See ``docs/simulate.md``.

``drgkit.simulate(history, scenarios)`` (or ``drgkit.simulate.run``) → ``(hospitals, scenarios)`` polars frames.
"""

from __future__ import annotations

import sys
import types

from .engine import SimulationError, frames, run, run_config
from .result import ScenarioResult
from .scenario import Config, Scenario, ScenarioError, Settlement, Sharing, load
from .sharing import apportion_cents, share

__all__ = [
    "Config",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "Settlement",
    "Sharing",
    "SimulationError",
    "apportion_cents",
    "frames",
    "load",
    "run",
    "run_config",
    "share",
]


class _CallableModule(types.ModuleType):
    """Lets ``drgkit.simulate(history, scenarios)`` call :func:`run` while ``drgkit.simulate.*`` stays a package."""

    def __call__(self, history, scenarios, **kwargs):
        return run(history, scenarios, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
