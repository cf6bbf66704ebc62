"""Grouping schemes as data: locate scheme folders, resolve their tables, compile them to a rule program."""
