"""TOML in and out for the configuration files (payment policies, DIP catalogue manifests, scenarios)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any


def read_toml(path: Path, error: type[Exception]) -> dict:
    """Parse a TOML file; a folder, an unreadable or binary file or a syntax error becomes one ``error`` line
    naming the file."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder, not a TOML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not a TOML file (not UTF-8 text)") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def toml_value(v: Any, digits: int | None = None) -> str:
    """A Python value as a TOML literal (floats rounded to ``digits`` when given; nan/inf as TOML spells them)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(round(v, digits) if digits is not None else v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # JSON's string escapes are TOML's (\\", \\\\, \\n, \\uXXXX): quotes and control characters cannot break out
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x, digits) for x in v) + "]"
    raise TypeError(v)
