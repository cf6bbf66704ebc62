"""Where drgkit finds its shipped data (scheme tables, ICD code sets) and its on-disk cache.

An installed wheel carries the data under ``drgkit/_data``; a source checkout (editable install, tests)
reads the repository's top-level ``grouper/`` and ``icd/`` folders.
"""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parents[1]


def _data_dir(name: str) -> Path:
    for candidate in (_PKG / "_data" / name, _REPO / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"drgkit data folder '{name}' not found (looked in {_PKG / '_data'} and {_REPO})")


def grouper_dir() -> Path:
    """Folder holding one sub-folder per grouping scheme."""
    return _data_dir("grouper")


def icd_dir() -> Path:
    """Folder holding the ICD code sets and maps."""
    return _data_dir("icd")


def cache_dir() -> Path:
    """Cache for compiled schemes; ``DRGKIT_CACHE_DIR`` overrides the default ``~/.cache/drgkit``."""
    root = os.environ.get("DRGKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "drgkit"
    )
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # a file, or a read-only place: schemes are then compiled in memory (load_compiled warns)
        pass
    return path


def tables_dir() -> Path:
    """Folder holding the city DRG payment tables (``manifest.toml`` + one CSV per table)."""
    return _data_dir("tables")


def edits_dir() -> Path:
    """Folder holding the edit (coding-quality check) list and its code sets."""
    return _data_dir("edits")
