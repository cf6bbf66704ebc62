"""A scheme's manifest (``scheme.toml``): its declared fields, their defaults, and the one reader of them.

Every switch a scheme sets — which record check runs, whether an ungroupable case is retried with each later
procedure, the code of the ungroupable group, the ICD edition — is declared here once with its type, default
and meaning. :func:`problems` validates a manifest against the declaration (an unknown key, a wrong type or a
value outside its choices is an error naming the field; ``scheme_info`` refuses such a scheme) and every
consumer — the compiler, the spec-shaped reference, ``drgkit schemes check``, the CLI and the service — reads
the resulting :class:`Settings`, never the raw TOML with a default of its own.

The naming conventions the grouper reads meaning from are functions here too: :func:`qy_drg_code` (an MDC's
ambiguous group, 歧义组) and :func:`cc_judges_every_diagnosis` (CHS-DRG 2.0's CC level).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VALIDITY_CHECKS = ("gender_age_newborn_dx", "gender_dx")
TABLE_KEYS = ("file", "base", "delta", "rows", "sha256")


@dataclass(frozen=True)
class Field:
    """One manifest key: its TOML type, its default (``REQUIRED`` when it has none) and what it means."""

    kind: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None
    items: type | None = None  # element type of a list


REQUIRED = object()

FIELDS: dict[str, Field] = {
    "id": Field(str, REQUIRED, "the scheme id (``--scheme``); a copied folder needs its own"),
    "name": Field(str, "", "a readable name (中文 allowed)"),
    "source_scheme": Field(str, "", "the source grouper's name for the scheme"),
    "names_from": Field(str, "", "the naming table the DRG names were taken from"),
    "licence": Field(str, "", "the licence of the tables"),
    "source": Field(str, "", "where the tables come from (provenance)"),
    "icd": Field(str, "chs-v2", "the ICD edition (a folder of ``icd/``) the codes are read with"),
    "validity_check": Field(
        str,
        "gender_age_newborn_dx",
        "the record check: sex, age, newborn and diagnosis (1.x) or sex and diagnosis only (2.0)",
        choices=VALIDITY_CHECKS,
    ),
    "retry_0000_with_each_other_proc": Field(
        bool, False, "an ungroupable case is grouped again with each later procedure as the main one"
    ),
    "fail_drg_codes": Field(list, ["0000"], "the ungroupable group's code (the first is reported)", items=str),
    "extra_record_fields": Field(list, [], "fields beyond the standard abstract the source grouper read", items=str),
    "tables": Field(dict, {}, "the scheme's tables: ``[tables.<name>]`` with file (or base + delta), rows, sha256"),
}


@dataclass(frozen=True)
class Settings:
    """A validated manifest, defaults filled in."""

    id: str
    name: str
    icd: str
    validity_check: str
    retry_0000_with_each_other_proc: bool
    fail_drg_codes: tuple[str, ...]
    extra_record_fields: tuple[str, ...]

    @property
    def full_record_check(self) -> bool:
        """True when the record check covers age and the newborn rule too (``gender_age_newborn_dx``)."""
        return self.validity_check == "gender_age_newborn_dx"

    @property
    def fail_drg(self) -> str:
        """The code reported for an ungroupable case."""
        return self.fail_drg_codes[0]


def problems(manifest: dict[str, Any]) -> list[str]:
    """What is wrong with a manifest, one line per field (empty when it is valid)."""
    out: list[str] = []
    for key in manifest:
        if key not in FIELDS:
            out.append(f"unknown key '{key}' (known: {', '.join(FIELDS)})")
    for key, spec in FIELDS.items():
        if key not in manifest:
            if spec.default is REQUIRED:
                out.append(f"'{key}' is missing")
            continue
        value: Any = manifest[key]
        if not isinstance(value, spec.kind) or (spec.kind is not bool and isinstance(value, bool)):
            kind = spec.kind.__name__ if isinstance(spec.kind, type) else "/".join(t.__name__ for t in spec.kind)
            out.append(f"'{key}' must be a {kind}, not {value!r}")
        elif spec.choices is not None and value not in spec.choices:
            out.append(f"'{key}' = {value!r} is not one of {', '.join(spec.choices)}")
        elif spec.items is not None and not all(isinstance(v, spec.items) for v in manifest[key]):
            out.append(f"'{key}' must be a list of {spec.items.__name__}")
        elif key == "fail_drg_codes" and not value:
            out.append("'fail_drg_codes' must name at least one code")
    tables = manifest.get("tables", {})
    for name, table in tables.items() if isinstance(tables, dict) else ():
        if not isinstance(table, dict):
            out.append(f"[tables.{name}] must be a table")
            continue
        extra = [k for k in table if k not in TABLE_KEYS]
        if extra:
            out.append(f"[tables.{name}]: unknown key(s) {', '.join(extra)} (known: {', '.join(TABLE_KEYS)})")
        if "file" not in table and not ("base" in table and "delta" in table):
            out.append(f"[tables.{name}] needs 'file', or 'base' and 'delta'")
    return out


def read_settings(manifest: dict[str, Any]) -> Settings:
    """The settings of a manifest :func:`problems` found valid, defaults filled in."""

    def get(key: str) -> Any:
        return manifest.get(key, FIELDS[key].default)

    return Settings(
        id=get("id"),
        name=get("name") or get("id"),
        icd=get("icd"),
        validity_check=get("validity_check"),
        retry_0000_with_each_other_proc=get("retry_0000_with_each_other_proc"),
        fail_drg_codes=tuple(get("fail_drg_codes")),
        extra_record_fields=tuple(get("extra_record_fields")),
    )


def qy_drg_code(mdc: str) -> str:
    """The ambiguous group (歧义组) of an MDC: its letter and ``QY`` (``MDCF`` → ``FQY``)."""
    return f"{mdc[3:]}QY"


def cc_judges_every_diagnosis(split_names: Iterable[str]) -> bool:
    """The reported CC level judges every diagnosis, the principal one included, when the scheme's DRG splits
    do (CHS-DRG 2.0's ``*_any_dx`` splits); otherwise the secondary diagnoses only."""
    return any(name.endswith("_any_dx") for name in split_names)
