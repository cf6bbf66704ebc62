"""Scheme folders: manifest (``scheme.toml``) and tables, with ``.delta.csv`` storage resolved.

A scheme is a folder of CSV tables (see ``grouper/README.md``). A table is stored either as a complete CSV
(``file``), possibly shared with another scheme (``../chs-drg-1.1/cc.csv``), or as a delta against a base
table (``delta`` + ``base``): the base rows minus the ``-`` rows plus the ``+`` rows, sorted. Every resolved
table is checked against the SHA-256 prefix recorded in the manifest, so a damaged table never groups.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from ..errors import DrgkitError
from ..paths import grouper_dir
from .manifest import Settings, problems, read_settings

TABLES = ("mdc", "mdc_dx", "mdc_px", "adrg", "adrg_codes", "drg", "drg_codes", "cc", "cc_exclusion", "or_procedures")


class SchemeError(DrgkitError, ValueError):
    """A scheme id that does not exist or a scheme folder that is inconsistent."""


@dataclass(frozen=True)
class SchemeInfo:
    """One scheme folder and its manifest."""

    id: str
    name: str
    folder: Path
    manifest: dict[str, Any] = field(repr=False)
    settings: Settings = field(repr=False)

    @cached_property
    def checksum(self) -> str:
        """16-hex-digit digest of the manifest and of every file the scheme is compiled from (its tables, the
        bases and deltas they resolve, its ICD dictionary): the compiled-cache key and the ``scheme_checksum``
        of every result.  Content, not the manifest's own ``sha256`` lines, so an edited table is never served
        from a stale cache, sealed or not."""
        from ..paths import icd_dir

        h = hashlib.sha256()
        h.update((self.folder / "scheme.toml").read_bytes())
        for name, spec in sorted(self.manifest.get("tables", {}).items()):
            for key in ("file", "base", "delta"):
                if key in spec:
                    path = (self.folder / spec[key]).resolve()
                    h.update(f"\0{name}.{key}\0".encode())
                    h.update(path.read_bytes() if path.is_file() else b"<missing>")
        icd = icd_dir() / self.settings.icd
        for path in sorted(icd.glob("*.csv")):
            h.update(f"\0icd/{path.name}\0".encode() + path.read_bytes())
        return h.hexdigest()[:16]


def list_schemes() -> list[SchemeInfo]:
    """Every scheme folder under ``grouper/``, sorted by id."""
    root = grouper_dir()
    return [scheme_info(p.name) for p in sorted(root.iterdir()) if (p / "scheme.toml").is_file()]


@cache
def scheme_info(scheme: str | Path) -> SchemeInfo:
    """Manifest of a scheme given its id (``chs-drg-1.1``) or the path of a scheme folder."""
    folder = Path(scheme)
    if not (folder / "scheme.toml").is_file():
        folder = grouper_dir() / str(scheme)
    if not (folder / "scheme.toml").is_file():
        known = ", ".join(p.name for p in sorted(grouper_dir().iterdir()) if (p / "scheme.toml").is_file())
        raise SchemeError(f"unknown scheme '{scheme}'; known schemes: {known}")
    try:
        manifest = tomllib.loads((folder / "scheme.toml").read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SchemeError(f"{folder / 'scheme.toml'}: not valid TOML ({exc})") from None
    found = problems(manifest)
    if found:
        raise SchemeError(f"{folder / 'scheme.toml'}: " + "; ".join(found))
    settings = read_settings(manifest)
    return SchemeInfo(id=settings.id, name=settings.name, folder=folder, manifest=manifest, settings=settings)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """A scheme table's CSV as (header, rows of text); a file without a header is a :class:`SchemeError`."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise SchemeError(f"{path}: empty table (no header)")
    return rows[0], rows[1:]


def table_digest(header: list[str], rows: list[list[str]]) -> str:
    """16 hex digits of SHA-256 over the table written back as CSV: equal content, equal digest."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return hashlib.sha256(buf.getvalue().encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=64)
def load_table(scheme: str | Path, table: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Resolved table ``(header, rows)`` of a scheme; every value is the exact text of the CSV."""
    info = scheme_info(scheme)
    spec = info.manifest.get("tables", {}).get(table)
    if spec is None:
        raise SchemeError(f"scheme {info.id}: table '{table}' missing from scheme.toml")
    if "file" in spec:
        path = (info.folder / spec["file"]).resolve()
        header, rows = read_csv(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    else:
        header, rows = read_csv((info.folder / spec["base"]).resolve())
        dheader, drows = read_csv(info.folder / spec["delta"])
        if dheader[1:] != header or dheader[0] != "op":
            raise SchemeError(f"scheme {info.id}: {spec['delta']} columns do not match its base")
        remove = {tuple(r[1:]) for r in drows if r[0] == "-"}
        rows = sorted([r for r in rows if tuple(r) not in remove] + [r[1:] for r in drows if r[0] == "+"])
        digest = table_digest(header, rows)
    expected = spec.get("sha256")
    if expected and digest != expected:
        raise SchemeError(f"scheme {info.id}: table {table} has checksum {digest}, manifest says {expected}")
    return tuple(header), tuple(tuple(r) for r in rows)


def load_dicts(scheme: str | Path, table: str) -> list[dict[str, str]]:
    """Resolved table as a list of ``{column: text}`` rows (convenient, slower)."""
    header, rows = load_table(scheme, table)
    return [dict(zip(header, r)) for r in rows]


def icd_table(scheme: str | Path, table: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """ICD dictionary of a scheme (``icd_dx``, ``icd_px``, ``map_dx``, ``map_px``) from ``icd/<set>/``."""
    from ..paths import icd_dir

    info = scheme_info(scheme)
    header, rows = read_csv(icd_dir() / info.settings.icd / f"{table}.csv")
    return tuple(header), tuple(tuple(r) for r in rows)
