"""ICD code handling: normalization of code text and case suggestions for unknown codes."""

from __future__ import annotations

from drgkit.codes.normalize import normalize_codes, suggest_case_fix, unique_codes

__all__ = ["normalize_codes", "suggest_case_fix", "unique_codes"]
