"""The habits the codebase holds itself to, checked with the tests so CI enforces them: ruff's lint rules and its
formatting (``[tool.ruff]``), and mypy (``[tool.mypy]``: strict on ``schemes/`` and ``grouping/``). The import-cycle
check is ``test_import_cycles.py``. Run the tools directly to see or fix what they report::

    ruff check --fix src tests benchmarks && ruff format src tests benchmarks && mypy
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ["src", "tests", "benchmarks"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree")
def test_ruff_lint_is_clean() -> None:
    done = _run("ruff", "check", "--no-cache", *TREES)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree")
def test_ruff_format_is_clean() -> None:
    done = _run("ruff", "format", "--check", "--no-cache", *TREES)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree")
def test_mypy_is_clean() -> None:
    done = _run("mypy", "--no-incremental")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
