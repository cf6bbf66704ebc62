"""What a ``drgkit`` process that must start fast leaves out: pandas, unless something asks for it, and garbage
collection while it starts.

pyarrow imports pandas (≈ 0.2 s, a fifth of a small ``drgkit group``) the first time it converts Python or
NumPy values — ``pa.array``, ``pa.scalar``, a compute function given a Python number — only to ask whether the
values are pandas objects. ``drgkit group`` and ``drgkit explain`` never give pyarrow a pandas object (they
read files and arguments), so in their processes the imports pyarrow makes on its own are refused, as if pandas
were not installed, and pyarrow carries on without it. An ``import pandas`` in Python code (a statement, or
``importlib.import_module``) still loads pandas as usual, and pyarrow is then told to look for it again, so any
code that does use pandas gets the whole of it.

Start-up (the command's imports, the compiled scheme, the spec reference) makes some 10^5 long-lived objects
and no garbage, so collecting during it only scans them over and over (≈ 8 % of a small ``drgkit group``):
:func:`pause_gc` turns collection off for it, :func:`resume_gc` freezes what it made (never scanned again)
and turns collection back on — ``drgkit group`` before its batches, at the latest when the command returns.

A batch command also tells Arrow's allocator (mimalloc) to keep the memory a batch frees for the next batch
instead of handing it back to the system after 10 ms (:func:`keep_freed_memory`): handed back, every batch
faulted its pages in afresh — 144k page faults and 2.6 s of system time on 5M rows, a sixth of the run's CPU.
The process's peak memory is about the same (the batches are alike: 1,003 vs 938 MB on 10M rows); it stays
until exit.

Only the command line's own process does this (from ``app()``), never a program or a test that imports drgkit.
"""

from __future__ import annotations

import gc
import opcode
import os
import sys
from types import FrameType, ModuleType
from typing import Any

_IMPORT_NAME = opcode.opmap["IMPORT_NAME"]


def keep_pandas_out() -> None:
    """Refuse the pandas imports that pyarrow makes on its own (see the module docstring); idempotent."""
    # how an import was asked for is read from the caller's bytecode, a CPython detail checked on 3.11–3.13:
    # elsewhere pandas is simply loaded as usual (0.2 s slower, never wrong)
    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return
    if "pandas" in sys.modules or any(isinstance(f, _PandasWhenAsked) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _PandasWhenAsked())


def keep_freed_memory() -> None:
    """Arrow's allocator keeps freed memory for reuse (see the module docstring). It reads its options when
    pyarrow loads, so this must run first; a value the user set is kept."""
    if "pyarrow" not in sys.modules:
        os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")


_paused = False


def pause_gc() -> None:
    """Collection off while a lean command starts (see the module docstring)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    """Start-up is over: what it made is frozen (no collection scans it again) and collection is back on;
    nothing if :func:`pause_gc` did not turn it off."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def _asked_in_python(frame: FrameType | None) -> bool:
    """Whether the import running above ``frame`` was asked for by Python code — an import statement, or
    importlib — rather than by compiled code during some other call (pyarrow converting values)."""
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    if frame is None or str(frame.f_globals.get("__name__", "")).startswith("importlib"):
        return True
    return frame.f_lasti >= 0 and frame.f_code.co_code[frame.f_lasti] == _IMPORT_NAME


class _PandasWhenAsked:
    """A meta path finder (duck-typed: subclassing ``importlib.abc`` costs 30 ms of ABC registration)."""

    def find_spec(self, name: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if name != "pandas":
            return None
        if not _asked_in_python(sys._getframe(1)):
            raise ModuleNotFoundError("pandas is not loaded for pyarrow's own checks in this process", name=name)
        # asked for: load it as usual, then let pyarrow (which may have been told "no pandas") look again
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenTellPyarrow(spec.loader)  # type: ignore[assignment]  # a Loader, typeshed disagrees
        return spec


class _ThenTellPyarrow:
    """pandas' own loader, and once pandas is loaded, pyarrow's pandas checks reset to find it."""

    def __init__(self, loader: Any):
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        lib = sys.modules.get("pyarrow.lib")
        if lib is not None:
            lib._pandas_api.pd  # noqa: B018 - asking for pandas by name makes pyarrow import (find) it again

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...: pandas' own loader's
        return getattr(self._loader, name)
