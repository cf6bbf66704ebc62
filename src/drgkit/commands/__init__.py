"""Command groups beyond the core ones in :mod:`drgkit.cli`.

Each module here defines ``register(app: typer.Typer) -> None`` adding its commands; every module found is
registered, so a new command family is a new file, with no edit to shared code.
"""
from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}").register(app)
