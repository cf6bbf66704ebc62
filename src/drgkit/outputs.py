"""The names of the columns drgkit adds to a table, per stage (one place: the stages and the reader use them).

The reader drops these from an input that already carries them — a file grouped or priced before and fed in
again — so that stale payments never sit beside a new group.
"""

from __future__ import annotations

#: ``group`` with a CHS-DRG scheme.
DRG_COLUMNS = (
    "status",
    "reason",
    "warnings",
    "mdc",
    "adrg",
    "drg",
    "drg_name",
    "cc_level",
    "cc_code",
    "scheme",
    "scheme_checksum",
)
#: ``group`` with a DIP catalogue.
DIP_COLUMNS = (
    "status",
    "reason",
    "warnings",
    "dip_group",
    "dip_group_name",
    "dip_kind",
    "dip_tier",
    "aux_subtype",
    "aux_coefficient",
    "score",
    "dip_catalogue",
)
#: ``pay`` / ``group --price``.
PRICE_COLUMNS = (
    "pay_table",
    "pay_level",
    "pay_insurance",
    "rw",
    "base_rate",
    "level_coefficient",
    "standard_payment",
    "cost_ratio",
    "case_type",
    "payment",
    "patient_payment",
    "fund_payment",
    "patient_basis",
    "margin",
    "price_reason",
)
#: ``group --explain``.
EXPLAIN_COLUMNS = ("explanation",)
#: ``group --edits`` / ``validate``.
EDIT_COLUMNS = ("edits",)
#: Every column a stage adds.
ALL_RESULT_COLUMNS = tuple(dict.fromkeys(DRG_COLUMNS + DIP_COLUMNS + PRICE_COLUMNS + EDIT_COLUMNS + EXPLAIN_COLUMNS))
