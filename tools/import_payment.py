"""Copy the city DRG payment tables from ../shared/data/payment into ``tables/`` (normalized CSV + manifest).

A maintainer's tool, run by hand when ../shared changes; nothing at run time or in tests reads ../shared.

Each table becomes ``tables/<id>.csv`` (id = shared file name with '-' for '_'), holding that table's rows of
the shared long-format ``payment_tables.csv`` with the table-wide columns (city, year) moved to the manifest.
Numbers stay as published text. ``tables/manifest.toml`` records city, year, scheme (a drgkit scheme id,
with the share of the table's DRG codes found in that scheme's DRG list), levels, insurance types, source,
licence and the base rates *derived* from the published standards (``implied_base_rates.csv`` of the shared
folder, re-checked here): these are marked ``source = "derived"`` and are never presented as published.
"""
from __future__ import annotations

import csv
import re
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "payment"
DST = ROOT / "tables"

COLUMNS = ["drg", "drg_name", "basis", "rw", "hospital_level", "insurance_type", "base_rate",
           "level_coefficient", "payment_standard", "low_outlier_threshold", "high_outlier_threshold",
           "mean_cost", "case_volume_cap", "group_type_zh", "flags", "remark_zh"]

# table -> (drgkit scheme id, note). Decided from the shared README's per-table scheme check.
SCHEMES = {
    "linfen_2022": ("linfen-2022", ""),
    "linyi_2022": ("chs-drg-1.1", "no city scheme; national CHS-DRG 1.1 codes"),
    "urumqi_2022": ("wlmq-2022", ""),
    "yunnan_2022": ("yunnan-2022", ""),
    "lanzhou_2022": ("lanzhou-2023", "the 2023 city scheme holds every 2022 code"),
    "lanzhou_2023": ("lanzhou-2023", ""),
    "beijing_2022": ("beijing-2022", "BJ-DRG codes"),
    "nanping_2023": ("", "city scheme nanping_2023 is not shipped by drgkit (its source grouper cannot be imported)"),
    "jilin_2022": ("chs-drg-1.1", "no city scheme; 97 % national CHS-DRG 1.1 codes"),
    "changzhou_2022": ("changzhou-2022", ""),
    "guangxi_2022": ("guangxi-2022", ""),
    "xinjiang_bingtuan_2022": ("chs-drg-1.1", "city scheme xjbt_2022 is not shipped by drgkit; 97 % CHS-DRG 1.1 codes"),
    "wuxi_2022": ("wuxi-2022", ""),
    "wuhan_2022": ("wuhan-2022", ""),
    "taizhou_2022": ("taizhou-2022", ""),
    "yantai_2023": ("yantai-2023", ""),
    "yancheng_2022": ("yancheng-2023", "the 2023 city scheme holds every 2022 code"),
    "yancheng_2023": ("yancheng-2023", ""),
    "fuzhou_2022": ("fuzhou-2022", ""),
    "liaocheng_2022": ("liaocheng-2022", ""),
    "suzhou_2022": ("suzhou-2023", "the 2023 city scheme holds every 2022 code"),
    "suzhou_2023": ("suzhou-2023", ""),
    "xian_2020": ("chs-drg-1.0", "no city scheme; national CHS-DRG 1.0 codes"),
    "tongchuan_2022": ("chs-drg-1.1", "no city scheme; national CHS-DRG 1.1 codes"),
    "yinchuan_2023": ("yinchuan-2023", ""),
    "changsha_2023": ("changsha-2023", ""),
    "qingdao_2023": ("qingdao-2023", ""),
    "harbin_2022": ("haerbin-2022", ""),
    "harbin_2023": ("haerbin-2022", "only part of the codes are in haerbin-2022 (another version of the scheme)"),
    "harbin_2024": ("haerbin-2022", "only part of the codes are in haerbin-2022 (another version of the scheme)"),
}

LICENCES = {
    "OpenDRG": ("Apache-2.0", "LICENSE-OpenDRG-DRG_Datas.txt",
                "OpenDRG/DRG_Datas commit 164c3f6cf898c2a5a2950513a5a7f658fe23f932"),
    "DamageControlStudio": ("MIT", "LICENSE-DamageControlStudio-CHS-DRG.txt",
                            "DamageControlStudio/CHS-DRG commit 3bf781380ca4bdbf76ba4c01a71112ff34742668"),
}


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(items) -> str:
    return "[" + ", ".join(toml_str(i) for i in items) + "]"


def scheme_codes(scheme: str) -> set[str]:
    path = ROOT / "grouper" / scheme / "drg.csv"
    if not path.exists():
        return set()
    return {r["drg"] for r in csv.DictReader(open(path, encoding="utf-8"))}


def main() -> None:
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    sources = dict(re.findall(r"#### `(\w+)`:[^\n]*\n- Source `([^`]+)`", readme))
    rows_by_table: dict[str, list[dict]] = defaultdict(list)
    with open(SHARED / "payment_tables.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            rows_by_table[r["table"]].append(r)
    with open(SHARED / "implied_base_rates.csv", encoding="utf-8") as fh:
        implied = list(csv.DictReader(fh))
    if DST.exists():
        shutil.rmtree(DST)
    DST.mkdir()
    shutil.copy(SHARED / "LICENSE-DamageControlStudio-CHS-DRG.txt", DST)
    shutil.copy(SHARED.parent / "icd" / "LICENSE-OpenDRG-DRG_Datas.txt", DST)
    shutil.copy(SHARED / "conversion_issues.csv", DST / "conversion_issues.csv")

    out = ["# City DRG payment tables shipped with drgkit; written by tools/import_payment.py.",
           "# Rates with source = \"derived\" are NOT published: they reproduce the published standards", ""]
    for table in sorted(rows_by_table):
        rows = rows_by_table[table]
        tid = table.replace("_", "-")
        with open(DST / f"{tid}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow([r[c] for c in COLUMNS])
        first = rows[0]
        levels = sorted({r["hospital_level"] for r in rows if r["hospital_level"]})
        level_zh = {r["hospital_level"]: r["hospital_level_zh"] for r in rows if r["hospital_level"]}
        insurance = sorted({r["insurance_type"] for r in rows if r["insurance_type"]})
        scheme, note = SCHEMES[table]
        src = sources[table]
        owner = "DamageControlStudio" if src.startswith("DamageControlStudio") else "OpenDRG"
        licence, licence_file, commit = LICENCES[owner]
        codes = {r["drg"] for r in rows}
        known = scheme_codes(scheme) if scheme else set()
        published = {c for c in ("rw", "base_rate", "level_coefficient", "payment_standard",
                                 "low_outlier_threshold", "high_outlier_threshold", "mean_cost",
                                 "case_volume_cap") if any(r[c] for r in rows)}
        out += ["[[table]]", f"id = {toml_str(tid)}", f"city = {toml_str(first['city'])}",
                f"city_zh = {toml_str(first['city_zh'])}", f"year = {int(first['year'])}",
                f"scheme = {toml_str(scheme)}",
                f"scheme_code_match = {toml_str(f'{len(codes & known)}/{len(codes)}' if known else '')}",
                f"scheme_note = {toml_str(note)}", f"basis = {toml_str(first['basis'])}",
                f"levels = {toml_list(levels)}",
                f"levels_zh = {toml_list(level_zh[lv] for lv in levels)}",
                f"insurance_types = {toml_list(insurance)}",
                f"published = {toml_list(sorted(published))}",
                f"drgs = {len(codes)}", f"rows = {len(rows)}",
                f"source = {toml_str(src + ' @ ' + commit)}", f"licence = {toml_str(licence)}",
                f"licence_file = {toml_str(licence_file)}"]
        if table == "wuxi_2022":
            # derived: the 25 basic groups are priced at the level-1 rate at every level (implied_base_rates.csv)
            out += ['basic_group_rate_level = "level1"']
        # derived base rates (only the plain 'RW × base_rate [× coef]' checks that reproduce the standards)
        for d in implied:
            if d["table"] != table or not d["base_rate"] or not d["formula"].startswith("RW"):
                continue
            if d["published"].startswith("yes"):
                continue  # the rate is in the table rows themselves
            out += ["[[table.rate]]", f"level = {toml_str(d['hospital_level'])}",
                    f"insurance = {toml_str(d['insurance_type'])}",
                    f"base_rate = {toml_str(str(Decimal(d['base_rate'])))}", 'source = "derived"',
                    f"reproduces = {toml_str(d['rows_reproduced'] + '/' + d['rows_checked'])}"]
        out.append("")
    (DST / "manifest.toml").write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {len(rows_by_table)} tables to {DST}")


if __name__ == "__main__":
    main()
