"""Writing a scheme: check a scheme folder before it is used, and seal it (record its tables' hashes).

:func:`check` reads a folder as the compiler does and lists every problem it can find, each naming the table,
row and value:

* the scheme does not compile (an atom outside the vocabulary, a missing table);
* a sealed table's content differs from the hash its manifest records;
* a derived column disagrees with the expression it summarises: ``adrg.age_day_max`` with ``newborn(N)``,
  ``adrg.weight_min`` / ``weight_max`` with the ``weight`` bounds of ``entry_expr``, ``adrg.n_drg`` with the
  DRGs of the rule, ``mdc.n_adrg_rules`` with the rules of the MDC;
* a code in a table is not in the scheme's ICD dictionary (``icd/<set>/icd_dx.csv`` / ``icd_px.csv``) — a
  warning: such a code never matches a case;
* a naming convention the grouper reads meaning from is broken: a DRG code starts with its ADRG code, an ADRG
  code with the letter of its MDC (``MDCF`` → ``F…``).

:func:`seal` writes each table's hash (and row count) into ``scheme.toml``; from then on an edited table is
refused with one line until the scheme is sealed again.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .manifest import problems as manifest_problems
from .manifest import read_settings
from .tables import SchemeError, read_csv, table_digest

#: Problems listed per kind before "… N more" (the count is always exact).
SHOWN = 5


#: Kinds that make a scheme unusable or misleading; ``code`` is a warning — a table code outside the dictionary
#: can never match a case (the shipped schemes carry a few from their source groupers: K43.900 …).
ERRORS = ("manifest", "compile", "hash", "derived", "convention")


@dataclass(frozen=True)
class Problem:
    kind: str  # manifest | compile | hash | derived | code | convention
    where: str  # table and row
    message: str

    @property
    def is_error(self) -> bool:
        return self.kind in ERRORS

    def __str__(self) -> str:
        return f"{'error' if self.is_error else 'warning'} {self.kind}: {self.where}: {self.message}"


def _manifest(folder: Path) -> dict[str, Any]:
    import tomllib

    path = folder / "scheme.toml"
    if not path.is_file():
        raise SchemeError(f"{folder}: no scheme.toml (not a scheme folder)")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _resolved(folder: Path, spec: dict[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """(header, rows, hash) of one table entry, as :func:`drgkit.schemes.tables.load_table` resolves it."""
    import hashlib

    if "file" in spec:
        path = (folder / spec["file"]).resolve()
        header, rows = read_csv(path)
        return header, rows, hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    header, rows = read_csv((folder / spec["base"]).resolve())
    _dheader, drows = read_csv(folder / spec["delta"])
    remove = {tuple(r[1:]) for r in drows if r[0] == "-"}
    rows = sorted([r for r in rows if tuple(r) not in remove] + [r[1:] for r in drows if r[0] == "+"])
    return header, rows, table_digest(header, rows)


def _tables(folder: Path, manifest: dict[str, Any]) -> tuple[dict[str, list[dict[str, str]]], dict[str, str]]:
    tables, hashes = {}, {}
    for name, spec in manifest.get("tables", {}).items():
        header, rows, digest = _resolved(folder, spec)
        tables[name] = [dict(zip(header, r)) for r in rows]
        hashes[name] = digest
    return tables, hashes


_WEIGHT = re.compile(r"weight\s*(>=|<)\s*(\d+(?:\.\d+)?)")
_NEWBORN = re.compile(r"newborn\((\d+)\)")


def _number(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def _derived(tables: dict[str, list[dict[str, str]]]) -> list[Problem]:
    out: list[Problem] = []
    adrg, drg, mdc = tables.get("adrg", []), tables.get("drg", []), tables.get("mdc", [])
    drgs_per_rule = Counter(r.get("rule_id") for r in drg)
    rules_per_mdc = Counter(r.get("mdc") for r in adrg)
    for i, r in enumerate(adrg, start=2):
        expr = r.get("entry_expr", "")
        where = f"adrg.csv row {i} ({r.get('rule_id')})"
        newborn = _NEWBORN.search(expr)
        if "age_day_max" in r and _number(r["age_day_max"]) != (float(newborn.group(1)) if newborn else None):
            out.append(Problem("derived", where, f"age_day_max {r['age_day_max']!r} but entry_expr {expr!r}"))
        bounds = {op: float(v) for op, v in _WEIGHT.findall(expr)}
        for column, op in (("weight_min", ">="), ("weight_max", "<")):
            if column in r and _number(r[column]) != bounds.get(op):
                out.append(Problem("derived", where, f"{column} {r[column]!r} but entry_expr {expr!r}"))
        if "n_drg" in r and r["n_drg"].strip() and int(float(r["n_drg"])) != drgs_per_rule[r.get("rule_id")]:
            n = drgs_per_rule[r.get("rule_id")]
            out.append(
                Problem("derived", where, f"n_drg {r['n_drg']} but drg.csv has {n} DRG(s) of rule {r.get('rule_id')}")
            )
    for i, r in enumerate(mdc, start=2):
        if (
            "n_adrg_rules" in r
            and r["n_adrg_rules"].strip()
            and int(float(r["n_adrg_rules"])) != rules_per_mdc[r.get("mdc")]
        ):
            out.append(
                Problem(
                    "derived",
                    f"mdc.csv row {i} ({r.get('mdc')})",
                    f"n_adrg_rules {r['n_adrg_rules']} but adrg.csv has {rules_per_mdc[r.get('mdc')]}",
                )
            )
    return out


def _conventions(tables: dict[str, list[dict[str, str]]]) -> list[Problem]:
    out: list[Problem] = []
    for i, r in enumerate(tables.get("drg", []), start=2):
        if r.get("adrg") and r.get("drg") and not r["drg"].startswith(r["adrg"]):
            out.append(
                Problem("convention", f"drg.csv row {i}", f"DRG {r['drg']} does not start with its ADRG {r['adrg']}")
            )
    for i, r in enumerate(tables.get("adrg", []), start=2):
        m, a = r.get("mdc", ""), r.get("adrg", "")
        if m.startswith("MDC") and len(m) == 4 and a and a[0] != m[3]:
            out.append(Problem("convention", f"adrg.csv row {i}", f"ADRG {a} is in {m} but does not start with {m[3]}"))
    return out


def _codes(tables: dict[str, list[dict[str, str]]], manifest: dict[str, Any]) -> list[Problem]:
    from ..paths import icd_dir

    icd = icd_dir() / read_settings(manifest).icd
    known = {}
    for domain in ("dx", "px"):
        _header, rows = read_csv(icd / f"icd_{domain}.csv")
        known[domain] = {r[0] for r in rows}
    where_codes = [
        ("mdc_dx", "dx", "dx"),
        ("mdc_px", "px", "px"),
        ("cc", "code", "dx"),
        ("cc_exclusion", "pdx", "dx"),
        ("or_procedures", "code", "px"),
    ]
    out: list[Problem] = []
    for table, column, domain in where_codes:
        for i, r in enumerate(tables.get(table, []), start=2):
            code = r.get(column, "")
            if code and code not in known[domain]:
                out.append(Problem("code", f"{table}.csv row {i}", f"{code} is not in the ICD dictionary ({domain})"))
    for table in ("adrg_codes", "drg_codes"):
        for i, r in enumerate(tables.get(table, []), start=2):
            domain = "dx" if r.get("list", "").startswith("dx") else "px"
            code = r.get("code", "")
            if code and code not in known[domain]:
                out.append(Problem("code", f"{table}.csv row {i}", f"{code} is not in the ICD dictionary ({domain})"))
    return out


def check(folder: str | Path) -> list[Problem]:
    """Every problem of the scheme folder (empty: it is sound); see the module docstring."""
    folder = Path(folder)
    manifest = _manifest(folder)
    bad_manifest = manifest_problems(manifest)
    if bad_manifest:  # the tables cannot be read with an invalid manifest: say what is wrong with it first
        return [Problem("manifest", str(folder / "scheme.toml"), p) for p in bad_manifest]
    try:
        tables, hashes = _tables(folder, manifest)
    except (OSError, SchemeError) as exc:
        return [Problem("compile", str(folder), str(exc))]
    problems = [
        Problem("hash", f"{name} table", f"content hash {hashes[name]}, manifest says {spec['sha256']}")
        for name, spec in manifest.get("tables", {}).items()
        if spec.get("sha256") and spec["sha256"] != hashes[name]
    ]
    problems += _derived(tables) + _conventions(tables) + _codes(tables, manifest)
    if not any(p.kind == "hash" for p in problems):  # a hash mismatch stops the compiler with its own message
        from .compile import compile_scheme
        from .expr import ExprError

        try:
            compile_scheme(folder)
        except (ExprError, SchemeError, KeyError, ValueError) as exc:
            problems.insert(0, Problem("compile", str(folder), str(exc)))
    return problems


def summary(problems: list[Problem]) -> list[str]:
    """The problems as lines: up to :data:`SHOWN` per kind, then how many more."""
    lines: list[str] = []
    seen: Counter[str] = Counter()
    for p in problems:
        seen[p.kind] += 1
        if seen[p.kind] <= SHOWN:
            lines.append(str(p))
    lines += [f"{kind}: … {k - SHOWN} more of this kind" for kind, k in seen.items() if k > SHOWN]
    return lines


def seal(folder: str | Path) -> dict[str, str]:
    """Write every table's content hash and row count into ``scheme.toml`` (replacing earlier ones); returns
    {table: hash}."""
    folder = Path(folder)
    manifest = _manifest(folder)
    path = folder / "scheme.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    hashes, counts = {}, {}
    for name, spec in manifest.get("tables", {}).items():
        _header, rows, digest = _resolved(folder, spec)
        hashes[name], counts[name] = digest, len(rows)
    out: list[str] = []
    section = None

    def close() -> None:
        if section in hashes:
            blank = False
            while out and not out[-1].strip():  # the hash goes under the section's keys, before its blank line
                out.pop()
                blank = True
            out.extend([f"rows = {counts[section]}", f'sha256 = "{hashes[section]}"'] + ([""] if blank else []))

    for line in lines:
        head = re.match(r"^\[tables\.([^\]]+)\]\s*$", line)
        if head or re.match(r"^\[", line):
            close()
            section = head.group(1) if head else None
        elif section in hashes and re.match(r"^(sha256|rows)\s*=", line):
            continue
        out.append(line)
    close()
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return hashes
