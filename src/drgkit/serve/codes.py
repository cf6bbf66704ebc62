"""Code look-up for autocomplete: the ICD-10 (diagnoses) and ICD-9-CM-3 (procedures) dictionary of a served
scheme — the codes and Chinese names its compiled program carries (``CompiledScheme.dx_codes`` / ``dx_names``,
read from ``icd/`` when the scheme was compiled), with the flags a coder needs beside each code: grey code
(灰码, not valid for settlement), CC / MCC, OR procedure.

A query is matched against the codes by prefix, ignoring case and dots (``i210`` finds ``I21.000``…), and
against the names by substring (``心肌梗死``); code matches come first, then names that start with the query,
then the rest, each in dictionary order.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..codes.grey import grey_flags
from ..schemes.program import CompiledScheme

MAX_LIMIT = 100


def _key(code: str) -> str:
    return unicodedata.normalize("NFKC", code).upper().replace(".", "").replace(" ", "")


@dataclass
class _Domain:
    kind: str
    codes: list[str]
    names: list[str]
    keys: list[tuple[str, int]]  # (dotless upper-case code, position), sorted
    grey: np.ndarray
    cc: np.ndarray | None
    mcc: np.ndarray | None
    is_or: np.ndarray | None

    def info(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.codes[i],
            "name": self.names[i],
            "kind": self.kind,
            "grey": bool(self.grey[i]),
        }
        if self.kind == "dx":
            assert self.cc is not None and self.mcc is not None
            out["mcc"] = bool(self.mcc[i])
            out["cc"] = bool(self.cc[i]) and not out["mcc"]
        else:
            assert self.is_or is not None
            out["or_procedure"] = bool(self.is_or[i])
        return out

    def search(self, q: str, limit: int) -> list[int]:
        found: list[int] = []
        seen: set[int] = set()
        key = _key(q)
        if key and key[0].isalnum() and key.isascii():
            start = bisect.bisect_left(self.keys, (key, -1))
            for k, i in self.keys[start:]:
                if not k.startswith(key) or len(found) >= limit:
                    break
                found.append(i)
                seen.add(i)
        text = unicodedata.normalize("NFKC", q).strip()
        if len(found) < limit and text and not text.isascii():
            later: list[int] = []
            for i, name in enumerate(self.names):
                if text in name and i not in seen:
                    if name.startswith(text):
                        found.append(i)
                        if len(found) >= limit:
                            break
                    elif len(later) < limit:
                        later.append(i)
            found += later[: max(limit - len(found), 0)]
        return found[:limit]


class CodeIndex:
    """The searchable dictionary of one scheme (built once, at start-up)."""

    def __init__(self, scheme: CompiledScheme) -> None:
        self.scheme_id = scheme.id
        self.domains = {}
        for kind in ("dx", "px"):
            codes = scheme.dx_codes if kind == "dx" else scheme.px_codes
            names = scheme.dx_names if kind == "dx" else scheme.px_names
            known = np.asarray(scheme.dx_known if kind == "dx" else scheme.px_known).astype(bool)
            grey = grey_flags(scheme, kind)
            pos = np.flatnonzero(known)
            sub_codes = [codes[i] for i in pos]
            self.domains[kind] = _Domain(
                kind,
                sub_codes,
                [names[i] or "" for i in pos],
                sorted((_key(c), k) for k, c in enumerate(sub_codes)),
                grey[pos],
                (scheme.dx_cc_tab[pos] >= 0) if kind == "dx" else None,
                (scheme.dx_mcc_tab[pos] >= 0) if kind == "dx" else None,
                np.asarray(scheme.px_is_or[pos]).astype(bool) if kind == "px" else None,
            )

    def search(self, q: str, kind: str = "all", limit: int = 20) -> list[dict[str, Any]]:
        limit = max(1, min(limit, MAX_LIMIT))
        kinds = ("dx", "px") if kind == "all" else (kind,)
        out: list[dict[str, Any]] = []
        for k in kinds:
            d = self.domains[k]
            out += [d.info(i) for i in d.search(q, limit - len(out))]
            if len(out) >= limit:
                break
        return out
