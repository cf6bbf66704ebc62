"""One pickle kept in drgkit's cache folder: read when it is valid, else built and written atomically.

The compiled scheme (:func:`drgkit.schemes.compile.load_compiled`), the kernel's packed form
(:func:`drgkit.grouping.kernel_program.packed`) and the spec reference (:mod:`drgkit.grouping.spec_cache`) are
kept this way: keyed by a file name that holds every input's digest, checked again after loading, written
through a temporary file and ``os.replace`` (a reader never sees half a file), with the files of earlier
versions removed. A file that cannot be read, matched or written costs a build, never the run.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")


def cached(
    path: Path,
    build: Callable[[], T],
    valid: Callable[[Any], bool],
    stale: Callable[[], Iterable[Path]] = lambda: (),
    dump: Callable[[Any, IO[bytes]], None] | None = None,
    on_write_error: Callable[[OSError], None] | None = None,
) -> T:
    """The object pickled at ``path`` when ``valid`` accepts it, else ``build()`` written there. ``stale``: the
    files of earlier versions to remove once written; ``dump``: a pickler of one's own (default
    ``pickle.dump``); ``on_write_error``: told when the cache cannot be written (the object is still returned)."""
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                found = pickle.load(fh)
            if valid(found):
                return found
        except Exception:  # damaged, foreign, or of code that no longer unpickles: built afresh
            pass
    built = build()
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            if dump is None:
                pickle.dump(built, fh, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                dump(built, fh)
        os.replace(tmp, path)
        tmp = None
        for old in stale():
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        if on_write_error is not None:
            on_write_error(exc)
    except (pickle.PicklingError, AttributeError, TypeError):
        pass  # an object that does not pickle is built per process
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return built
