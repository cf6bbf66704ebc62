"""What a grouping run records for one case: the outcome as kernel ids and the steps that decided it.

Shared by the two readers of a scheme — :mod:`.spec_reference` (reads the tables) and :mod:`.reference` (walks the
compiled program) — so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Step:
    """One evaluated item: an MDC entry, a QY check, an ADRG rule or a DRG split."""

    kind: str  # "check", "mdc", "else_qy", "first_qy", "qy", "rule", "split", "adrg", "retry"
    label: str  # MDC code, rule id, DRG code
    matched: bool
    atoms: list[tuple[str, bool]] = field(default_factory=list)  # atoms of the decisive conjunction


@dataclass
class Result:
    """One case's outcome as the kernel's integer ids (status, DRG, ADRG, rule, reason, CC level and position)
    and, when asked for, the steps that decided it."""

    status: int
    drg: int
    adrg: int
    rule: int
    reason: int
    cc_level: int
    cc_pos: int
    trace: list[Step] = field(default_factory=list)

    def as_tuple(self) -> tuple[int, int, int, int, int, int, int]:
        return (self.status, self.drg, self.adrg, self.rule, self.reason, self.cc_level, self.cc_pos)
