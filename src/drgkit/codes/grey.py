"""Grey codes (灰码): dictionary codes that may not be used as they stand for settlement, because a finer
code (细目) exists — mostly category-level residual codes such as ``I21.000`` or ``96.7200``.

The lists are data, one per ICD edition (``icd/grey_dx_<edition>.csv``, ``icd/grey_px_<edition>.csv``; a
scheme names its edition in ``scheme.toml`` as ``icd``).  An edition without a list simply has no grey
codes.  Compiling a scheme flags them per code id (``CompiledScheme.dx_grey`` / ``px_grey``).

The finer codes of a grey code are the dictionary's other, non-grey codes under the same stem, its first
five characters (亚目 ``I21.000`` → ``I21.0``: ``I21.000x005``, ``I21.001`` … ``I21.004``; ``96.7200`` →
``96.72``: ``96.7201``).  A grey procedure ``NN.N000`` with nothing under its stem is an ICD-9-CM-3 "site
unspecified" subcategory (``79.3000`` 骨折开放性复位术伴内固定, ``96.7000``): its finer codes are the
subcategory's 4th-digit codes (``79.31…`` … ``79.39…``; ``96.71``, ``96.72``).  See icd/README.md.
"""

from __future__ import annotations

import csv
from functools import cache

import numpy as np

from ..paths import icd_dir

#: Characters of a code that name its stem (亚目 ``I21.0``, procedure 细目 ``96.72``).
STEM = 5


def grey_path(edition: str, domain: str):
    """Where an edition's grey list is (it may not exist)."""
    return icd_dir() / f"grey_{domain}_{edition.replace('-', '_')}.csv"


@cache
def grey_codes(edition: str, domain: str) -> frozenset[str]:
    """The grey codes of an ICD edition (``chs-v2``) for ``dx`` or ``px``; empty when it has no list."""
    path = grey_path(edition, domain)
    if not path.exists():
        return frozenset()
    with open(path, encoding="utf-8", newline="") as handle:
        return frozenset(row["code"] for row in csv.DictReader(handle))


def edition(scheme) -> str:
    """The ICD edition a compiled scheme's codes belong to (its ``icd`` setting, recorded when compiled)."""
    return scheme.icd


def grey_flags(scheme, domain: str) -> np.ndarray:
    """One bool per code id of the scheme's ``dx`` or ``px`` universe: is it grey (compiled in, no copy)."""
    return (scheme.dx_grey if domain == "dx" else scheme.px_grey).view(bool)


def is_grey(scheme, domain: str, code: str) -> bool:
    return code in grey_codes(edition(scheme), domain)


def finer_codes(scheme, domain: str, code: str) -> list[tuple[str, str]]:
    """(code, Chinese name) of the valid finer codes of a grey code, in dictionary order."""
    codes = scheme.dx_codes if domain == "dx" else scheme.px_codes
    names = scheme.dx_names if domain == "dx" else scheme.px_names
    valid = (scheme.dx_known if domain == "dx" else scheme.px_known).astype(bool) & ~grey_flags(scheme, domain)

    def under(stem: str) -> list[tuple[str, str]]:
        return [
            (c, n or "") for c, n, ok in zip(codes, names, valid.tolist()) if ok and c != code and c.startswith(stem)
        ]

    finer = under(code[:STEM])
    if not finer and domain == "px" and code[STEM - 1 : STEM] == "0":  # 79.3000 → 79.31…79.39 (site unspecified)
        finer = under(code[: STEM - 1])
    return finer
