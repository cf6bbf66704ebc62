"""Grey codes (灰码): dictionary codes that may not be used as they stand for settlement, because a finer
code (细目) exists — mostly category-level residual codes such as ``I21.000`` or ``96.7200``.

The lists are data, one per ICD edition (``icd/grey_dx_<edition>.csv``, ``icd/grey_px_<edition>.csv``; a
scheme names its edition in ``scheme.toml`` as ``icd``).  An edition without a list simply has no grey
codes.  The finer codes of a grey code are the dictionary's other, non-grey codes under the same 亚目/细目
stem, its first five characters (``I21.000`` → ``I21.0``: ``I21.000x005``, ``I21.001`` … ``I21.004``;
``96.7200`` → ``96.72``: ``96.7201``).
"""
from __future__ import annotations

import csv
from functools import lru_cache

import numpy as np

from ..paths import icd_dir

#: Characters of a code that name its stem (亚目 ``I21.0``, procedure 细目 ``96.72``).
STEM = 5


@lru_cache(maxsize=None)
def grey_codes(edition: str, domain: str) -> frozenset[str]:
    """The grey codes of an ICD edition (``chs-v2``) for ``dx`` or ``px``; empty when it has no list."""
    path = icd_dir() / f"grey_{domain}_{edition.replace('-', '_')}.csv"
    if not path.exists():
        return frozenset()
    with open(path, encoding="utf-8", newline="") as handle:
        return frozenset(row["code"] for row in csv.DictReader(handle))


def edition(scheme) -> str:
    """The ICD edition a compiled scheme's codes belong to (its ``icd`` setting)."""
    from ..schemes.tables import scheme_info

    try:
        return scheme_info(scheme.id).manifest.get("icd", "chs-v2")
    except Exception:  # noqa: BLE001 - a scheme folder outside grouper/: the national edition
        return "chs-v2"


def grey_flags(scheme, domain: str) -> np.ndarray:
    """One bool per code id of the scheme's ``dx`` or ``px`` universe: is it grey (built once per scheme)."""
    cache = scheme.__dict__.setdefault("_grey_flags", {})
    if domain not in cache:
        grey = grey_codes(edition(scheme), domain)
        codes = scheme.dx_codes if domain == "dx" else scheme.px_codes
        cache[domain] = np.fromiter((c in grey for c in codes), dtype=bool, count=len(codes))
    return cache[domain]


def is_grey(scheme, domain: str, code: str) -> bool:
    return code in grey_codes(edition(scheme), domain)


def finer_codes(scheme, domain: str, code: str) -> list[tuple[str, str]]:
    """(code, Chinese name) of the valid finer codes of a grey code, in dictionary order."""
    grey = grey_codes(edition(scheme), domain)
    codes = scheme.dx_codes if domain == "dx" else scheme.px_codes
    names = scheme.dx_names if domain == "dx" else scheme.px_names
    known = scheme.dx_known if domain == "dx" else scheme.px_known
    stem = code[:STEM]
    return [(c, n or "") for c, n, k in zip(codes, names, known)
            if k and c != code and c.startswith(stem) and c not in grey]
