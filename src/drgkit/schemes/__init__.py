"""Grouping schemes as data: locate scheme folders, resolve their tables, compile them to a rule program."""

#: The scheme used when none is named: CHS-DRG 1.1, the national version most published payment tables build on.
DEFAULT_SCHEME = "chs-drg-1.1"
