"""A DIP catalogue (病种库) on disk: a folder of CSV tables and a TOML manifest, editable by hand.

::

    catalogue/
      manifest.toml     id, build facts, every parameter (with its provenance), point value, file list
      groups.csv        group, kind (core / primary_care / comprehensive), dx4, main_px, related_px ('+'-joined:
                        all required), category, tier, tier_zh, score, n_cases, n_trimmed, mean_cost, cv, mean_los,
                        level1_share
      levels.csv        hospital_level, n_cases, mean_cost, coefficient     (医疗机构调节系数 by level)
      aux.csv           group, dimension, subtype, n_cases, mean_cost, coefficient, cv_group, cv_adjusted  (辅助目录)
      px_exclusions.csv prefix, note       procedures not used for grouping (操作排除表, empty by default)
      cci.csv           prefix, category, weight   (Charlson index map used for the severity subtypes)

Editing a score, a kind (mark a core group ``primary_care``), deleting a group or an aux row, or adding an
exclusion is picked up by :func:`load_catalogue`, which checks every table and names the first bad row.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import DrgkitError
from ..tomlutil import read_toml, toml_value
from .features import TIERS, default_cci_table
from .names import group_names

KINDS = ("core", "primary_care", "comprehensive")


class DipError(DrgkitError, ValueError):
    """A DIP catalogue, history or parameter that cannot be used; the message says which and where."""


#: Parameter defaults, with provenance (spec digest tags). Every local or assumed number is a parameter.
DEFAULTS: dict[str, Any] = {
    "threshold": 15,  # 病例数临界值: typical city-level value [NAT-DIP3 ch.3 §1]
    "coverage": 0.0,  # > 0: choose the threshold so core combinations cover this share [NAT-DIP3]
    "related_min_uplift": 0.10,  # related procedure forms its own group at ≥ +10 % mean cost [NAT-DIP3 t.3-8]
    "years": {},  # year weights on yearly means, e.g. {2022: 1, 2023: 2, 2024: 7} [NAT-DIP3]
    "trim": [2.5, 97.5],  # per-group quantile trimming, percent [NAT-DIP3; IMPL:LQ-karl]
    "trim_min_cases": 25,  # trim only groups with at least this many cases [IMPL:LQ-karl]
    "score_method": "mean",  # mean | benchmark | quota [NAT-DIP3 ch.5 §1]
    "benchmark_group": "",  # group id for score_method = benchmark
    "quota": 0.0,  # yuan per point for score_method = quota
    "scale": 1000,  # score scale ×1000 for DIP [NAT-DIP3; 1 / 100 also seen]
    "comprehensive_min_cases": 1,  # drop comprehensive groups below this count [ASSUMPTION: keep all]
    "primary_care_cv_max": 0.7,  # 基层病种 CV cut-off [NAT-DIP3 ch.3 §4]
    "primary_care_min_level1_share": 0.3,  # share of cases in level-1 hospitals [ASSUMPTION]
    "primary_care_coefficient": 1.0,  # 基层病种: same score at every level [NAT-ADM art.13]
    "level_coefficient": "raw",  # raw: level mean / city mean [NAT-DIP3 ch.5 §2]; casemix: Σcost/Σexpected
    "aux_group_min_cases": 50,  # 辅助目录 trigger: group cases ≥ N [NAT-DIP3: set locally; value ASSUMPTION]
    "aux_subtype_min_cases": 10,  # subtype cases ≥ n [NAT-DIP3: set locally; value ASSUMPTION]
    "aux_min_cv_cut": 0.20,  # keep a coefficient only if it cuts the group CV by ≥ 20 % [NAT-DIP3]
    "tie_break": "score",  # tied core matches: highest score [ASSUMPTION; NAT-DIP3: local rule]
}


@dataclass
class Catalogue:
    groups: pl.DataFrame
    levels: pl.DataFrame
    aux: pl.DataFrame
    exclusions: pl.DataFrame
    cci: pl.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # id, built, rows, reference_mean, pv_initial, ...
    path: Path | None = None

    @property
    def id(self) -> str:
        return str(self.info.get("id") or (self.path.name if self.path else "dip"))

    @property
    def pv_initial(self) -> float:
        return float(self.info.get("pv_initial", math.nan))

    def param(self, name: str) -> Any:
        return self.params.get(name, DEFAULTS[name])

    def exclude_prefixes(self) -> tuple[str, ...]:
        return tuple(p for p in self.exclusions["prefix"].to_list() if p)

    def write(self, folder: str | Path) -> Path:
        """Write the catalogue as a whole: the tables go to a new sibling folder, which then takes the place
        of ``folder`` — a failure midway leaves the old catalogue as it was, never a mix of old and new."""
        import shutil
        import tempfile

        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            self.groups.write_csv(staging / "groups.csv")
            self.levels.write_csv(staging / "levels.csv")
            self.aux.write_csv(staging / "aux.csv")
            self.exclusions.write_csv(staging / "px_exclusions.csv")
            self.cci.write_csv(staging / "cci.csv")
            (staging / "manifest.toml").write_text(self.manifest(), encoding="utf-8")
            if folder.exists():
                if not (folder / "manifest.toml").exists() and any(folder.iterdir()):
                    raise DipError(f"{folder}: exists and is not a DIP catalogue; choose another folder")
                old = folder.with_name(f".{folder.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                folder.rename(old)
                staging.rename(folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.path = folder
        return folder

    def manifest(self) -> str:
        kinds = self.groups["kind"].value_counts()
        count = {k: int(v) for k, v in kinds.iter_rows()}
        lines = [
            "# DIP catalogue (病种库) built by drgkit; edit the CSV tables, keep this manifest.",
            f"id = {toml_value(str(self.id))}",
            f"built = {toml_value(str(self.info.get('built', _dt.date.today().isoformat())))}",
            f"history_rows = {int(self.info.get('history_rows', 0))}",
            f"history_cases_used = {int(self.info.get('history_cases_used', 0))}",
            f"threshold_used = {int(self.info.get('threshold_used', self.param('threshold')))}",
            f"reference_mean = {toml_value(digits=10, v=float(self.info.get('reference_mean', math.nan)))}"
            "   # M (or M_b): yuan of one score unit × scale",
            f"pv_initial = {toml_value(digits=10, v=float(self.info.get('pv_initial', math.nan)))}"
            "   # 年初点值 = reference mean / scale (yuan per point)",
            f"core_groups = {count.get('core', 0) + count.get('primary_care', 0)}",
            f"primary_care_groups = {count.get('primary_care', 0)}",
            f"comprehensive_groups = {count.get('comprehensive', 0)}",
            f"core_case_share = {toml_value(digits=10, v=float(self.info.get('core_case_share', math.nan)))}",
            'files = ["groups.csv", "levels.csv", "aux.csv", "px_exclusions.csv", "cci.csv"]',
            "",
            "[parameters]",
        ]
        for k in DEFAULTS:
            v = self.param(k)
            if k == "years":
                continue
            lines.append(f"{k} = {toml_value(digits=10, v=v)}")
        lines.append("\n[parameters.years]")
        for y, w in sorted(self.param("years").items()):
            lines.append(f'"{y}" = {toml_value(digits=10, v=float(w))}')
        return "\n".join(lines) + "\n"


GROUP_SCHEMA = {
    "group": pl.Utf8,
    "kind": pl.Utf8,
    "dx4": pl.Utf8,
    "main_px": pl.Utf8,
    "related_px": pl.Utf8,
    "category": pl.Utf8,
    "tier": pl.Utf8,
    "tier_zh": pl.Utf8,
    "score": pl.Float64,
    "n_cases": pl.Int64,
    "n_trimmed": pl.Int64,
    "mean_cost": pl.Float64,
    "cv": pl.Float64,
    "mean_los": pl.Float64,
    "level1_share": pl.Float64,
    "name": pl.Utf8,
}
LEVEL_SCHEMA = {"hospital_level": pl.Utf8, "n_cases": pl.Int64, "mean_cost": pl.Float64, "coefficient": pl.Float64}
AUX_SCHEMA = {
    "group": pl.Utf8,
    "dimension": pl.Utf8,
    "subtype": pl.Utf8,
    "n_cases": pl.Int64,
    "mean_cost": pl.Float64,
    "coefficient": pl.Float64,
    "cv_group": pl.Float64,
    "cv_adjusted": pl.Float64,
}


def _read(path: Path, schema: dict[str, Any], required: tuple[str, ...]) -> pl.DataFrame:
    if not path.exists():
        raise DipError(f"{path}: missing catalogue table")
    try:
        raw = pl.read_csv(path, infer_schema_length=0, encoding="utf8")
    except Exception as exc:  # polars raises several types for malformed files
        raise DipError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DipError(f"{path}: missing column {missing[0]} (needs {', '.join(required)})")
    for c in schema:
        if c not in raw.columns:
            raw = raw.with_columns(pl.lit(None, pl.Utf8).alias(c))
    out = raw.select(list(schema)).with_columns(pl.col(c).str.strip_chars() for c in schema)
    for c, t in schema.items():
        if t == pl.Utf8:
            out = out.with_columns(pl.col(c).fill_null(""))
            continue
        typed = pl.col(c).cast(t, strict=False)
        bad = out.with_row_index("_r").filter(pl.col(c).is_not_null() & (pl.col(c) != "") & typed.is_null())
        if bad.height:
            raise DipError(f"{path}: row {bad['_r'][0] + 2}: {c} is not a number: '{bad[c][0]}'")
        out = out.with_columns(typed)
    return out


def load_catalogue(folder: str | Path | Catalogue) -> Catalogue:
    """Read and check a catalogue folder written by :func:`drgkit.dip.build` (possibly edited)."""
    if isinstance(folder, Catalogue):
        return folder
    folder = Path(folder)
    if not folder.is_dir():
        raise DipError(f"{folder}: no such DIP catalogue folder")
    mpath = folder / "manifest.toml"
    if not mpath.exists():
        raise DipError(f"{folder}: not a DIP catalogue (no manifest.toml)")
    manifest = read_toml(mpath, DipError)
    params = dict(manifest.get("parameters", {}))
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise DipError(f"{mpath}: unknown parameter '{unknown[0]}' (known: {', '.join(DEFAULTS)})")
    params["years"] = {int(y): float(w) for y, w in params.get("years", {}).items()}
    info = {k: v for k, v in manifest.items() if k != "parameters"}
    groups = _read(folder / "groups.csv", GROUP_SCHEMA, ("group", "kind", "score"))
    groups = groups.with_columns(group_names(groups))  # the catalogue's own names, else built from the codes
    levels = _read(folder / "levels.csv", LEVEL_SCHEMA, ("hospital_level", "coefficient"))
    aux = _read(folder / "aux.csv", AUX_SCHEMA, ("group", "dimension", "subtype", "coefficient"))
    excl = (
        _read(folder / "px_exclusions.csv", {"prefix": pl.Utf8, "note": pl.Utf8}, ("prefix",))
        if (folder / "px_exclusions.csv").exists()
        else pl.DataFrame(schema={"prefix": pl.Utf8, "note": pl.Utf8})
    )
    cci = (
        _read(
            folder / "cci.csv",
            {"prefix": pl.Utf8, "category": pl.Utf8, "weight": pl.Int64},
            ("prefix", "category", "weight"),
        )
        if (folder / "cci.csv").exists()
        else default_cci_table()
    )
    cat = Catalogue(groups, levels, aux, excl, cci, params, info, folder)
    validate(cat, str(folder))
    return cat


def validate(cat: Catalogue, where: str = "catalogue") -> None:
    g = cat.groups.with_row_index("_r")

    def bad(frame: pl.DataFrame, mask: pl.Expr, what: str, table: str = "groups.csv") -> None:
        hit = frame.filter(mask)
        if hit.height:
            r = hit.row(0, named=True)
            raise DipError(f"{where}/{table}: row {r['_r'] + 2} (group '{r.get('group', '')}'): {what.format(**r)}")

    bad(g, pl.col("group") == "", "missing group id")
    bad(g, ~pl.col("kind").is_in(list(KINDS)), "unknown kind '{kind}' (core, primary_care, comprehensive)")
    bad(
        g,
        pl.col("score").is_null() | (pl.col("score") < 0) | pl.col("score").is_nan(),
        "score must be a number ≥ 0, got {score}",
    )
    bad(g, ~pl.col("group").is_first_distinct(), "group listed twice")
    core = pl.col("kind") != "comprehensive"
    bad(g, core & (pl.col("dx4") == ""), "core group without dx4")
    bad(g, (pl.col("related_px") != "") & (pl.col("main_px") == ""), "related_px without a main_px")
    bad(
        g,
        ~core & ((pl.col("category") == "") | ~pl.col("tier").is_in(list(TIERS[1:]))),
        "comprehensive group needs a category and a tier (conservative, diagnostic, therapeutic, surgery), "
        "got '{category}' / '{tier}'",
    )
    comp = g.filter(~core)
    bad(
        comp, ~pl.struct("category", "tier").is_first_distinct(), "comprehensive group {category} × {tier} listed twice"
    )
    bad(
        g.filter(core),
        ~pl.struct("dx4", "main_px", "related_px").is_first_distinct(),
        "combination {dx4} / {main_px} / {related_px} listed twice",
    )
    lv = cat.levels.with_row_index("_r")
    bad(lv, pl.col("coefficient").is_null() | (pl.col("coefficient") <= 0), "coefficient must be > 0", "levels.csv")
    a = cat.aux.with_row_index("_r")
    bad(a, pl.col("coefficient").is_null() | (pl.col("coefficient") <= 0), "coefficient must be > 0", "aux.csv")
    bad(a, ~pl.col("group").is_in(cat.groups["group"].implode()), "unknown group '{group}'", "aux.csv")
    for k in ("threshold", "scale", "trim_min_cases"):
        if cat.param(k) is None or float(cat.param(k)) <= 0:
            raise DipError(f"{where}: parameter {k} must be positive, got {cat.param(k)}")
