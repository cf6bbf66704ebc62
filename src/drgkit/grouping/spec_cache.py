"""The spec reference of a scheme kept on disk, beside the compiled schemes, so ``drgkit explain`` does not read
and bind the scheme's tables again in every process (≈ 0.13 s; loading the cached reader ≈ 0.04 s).

The key is the scheme's checksum (its tables, their bases and deltas, its ICD dictionary: what the reader
reads) and a digest of the reader's own code and of the modules that give atoms and expressions their meaning,
so an edited table or an edited reader is never served from a stale file. Atom meanings (functions of the atom
registry, :data:`drgkit.schemes.atoms.ATOMS`) are stored by atom name and looked up again on loading. A file
that cannot be read, written or matched costs a build, never the run.
"""

from __future__ import annotations

import hashlib
import pickle
import types
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..disk_cache import cached
from ..paths import cache_dir
from ..schemes.atoms import ATOMS
from ..schemes.tables import scheme_info
from .spec_reference import SpecReference

_HERE = Path(__file__).resolve().parent


@cache
def _reader_digest() -> str:
    """The reader's code (this file, the spec reference and what it reads atoms, expressions, the CC rule and
    tables with): part of the cache key."""
    h = hashlib.sha256()
    schemes = _HERE.parent / "schemes"
    for path in (
        _HERE / "spec_cache.py",
        _HERE / "spec_reference.py",
        *(schemes / n for n in ("atoms.py", "expr.py", "semantics.py", "tables.py", "program.py")),
    ):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def atom_meaning(name: str) -> Callable[..., bool]:
    """The meaning of atom ``name`` (how a cached reader gets its atoms' functions back)."""
    return ATOMS[name].meaning


@cache
def _meaning_names() -> dict[int, str]:
    return {id(atom.meaning): name for name, atom in ATOMS.items()}


class _Pickler(pickle.Pickler):
    """Pickles atom meanings (lambdas of the registry) as their atom's name; any other function by reference,
    as pickle does (a lambda elsewhere makes the reader unpicklable: it is then simply not cached)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and obj is not atom_meaning:
            name = _meaning_names().get(id(obj))
            if name is not None and ATOMS[name].meaning is obj:
                return atom_meaning, (name,)
        return NotImplemented


def load_or_build(scheme: str | Path) -> SpecReference:
    """The spec reference of ``scheme`` from the disk cache when its key matches, else built (and cached)."""
    info = scheme_info(scheme)
    path = cache_dir() / f"spec-{info.id}-{info.checksum}-{_reader_digest()}.pkl"
    return cached(
        path,
        lambda: SpecReference(scheme),
        lambda c: isinstance(c, SpecReference) and c.id == info.id and c.checksum == info.checksum,
        # readers of earlier versions of this scheme's tables or of the reader will not be asked for again
        lambda: path.parent.glob(f"spec-{info.id}-{'?' * 16}-{'?' * 12}.pkl"),
        dump=lambda obj, fh: _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump(obj),
    )


@lru_cache(maxsize=8)
def spec_reference(scheme: str | Path, checksum: str | None = None) -> SpecReference:
    """The spec reference of a scheme (id or folder), built once per process and ``checksum`` (pass the
    compiled scheme's, so that a scheme compiled again from edited tables gets a reader of the same tables),
    and kept on disk between processes (this module)."""
    import gc

    # reading the tables (or the cached reader) makes some 10^5 small tuples, lists and sets and no cycles: the
    # collector would only scan them over and over (half the build time, which is most of `drgkit explain`)
    paused = gc.isenabled()
    gc.disable()
    try:
        return load_or_build(scheme)
    finally:
        if paused:
            gc.enable()
