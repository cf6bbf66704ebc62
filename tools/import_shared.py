"""Copy the public scheme tables, ICD code sets and oracle cases from ../shared into the project.

A maintainer's tool, run by hand when ../shared changes; nothing at run time or in tests reads ../shared.
Scheme folders keep the source's storage: complete tables as CSV, `.delta.csv` files (rows removed/added
against a national base) resolved when a scheme is compiled, so what ships stays small and diffable.
"""
from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def scheme_id(src: str) -> str:
    if src.startswith("chs_drg_"):
        v = src.removeprefix("chs_drg_")
        return f"chs-drg-{v[0]}.{v[1]}"
    return src.replace("_", "-")


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main() -> None:
    src = SHARED / "chs-drg"
    dst = ROOT / "grouper"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    with open(src / "schemes.csv", encoding="utf-8") as fh:
        schemes = list(csv.DictReader(fh))
    with open(src / "manifest.csv", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    icd_tables = {"icd_dx", "icd_px", "map_dx", "map_px"}
    # shared ICD dictionaries of the national schemes go to icd/chs-v2/
    icd_dst = ROOT / "icd" / "chs-v2"
    icd_dst.mkdir(parents=True, exist_ok=True)
    for t in sorted(icd_tables):
        shutil.copyfile(src / "chs_drg_11" / f"{t}.csv", icd_dst / f"{t}.csv")
    for s in schemes:
        sid = scheme_id(s["scheme"])
        folder = dst / sid
        folder.mkdir()
        lines = [
            f"id = {toml_str(sid)}",
            f"name = {toml_str(s['label'])}",
            f"source_scheme = {toml_str(s['scheme'])}",
            f"names_from = {toml_str(s['names_from'])}",
            f"validity_check = {toml_str(s['validity_check'])}",
            f"retry_0000_with_each_other_proc = {'true' if s['retry_0000_with_each_other_proc'] == '1' else 'false'}",
            f"fail_drg_codes = [{', '.join(toml_str(c) for c in s['fail_drg_codes'].split(';'))}]",
            f"extra_record_fields = [{', '.join(toml_str(c) for c in s['extra_record_fields'].split(';') if c)}]",
            'icd = "chs-v2"',
            'licence = "Apache-2.0"',
            (
                'source = "CHS-DRG 2.0 (NHSA), tables reconstructed from the public OpenDRG web grouper '
                '(OpenDRG/OpenDRG.github.io e0d74f2d); facts only"'
                if s["scheme"] == "chs_drg_20"
                else 'source = "OpenDRG/DRG_Python 5d523a26 (Apache-2.0), drg_group/' + s["scheme"] + '"'
            ),
            "",
        ]
        for m in (m for m in manifest if m["scheme"] == s["scheme"] and m["table"] not in icd_tables):
            t = m["table"]
            lines.append(f"[tables.{t}]")
            if m["storage"] == "file":
                shutil.copyfile(src / m["path"], folder / f"{t}.csv")
                lines.append(f'file = "{t}.csv"')
            elif m["storage"] == "same_as":
                base_scheme = scheme_id(m["path"].split("/")[0])
                lines.append(f'file = "../{base_scheme}/{t}.csv"')
            else:
                shutil.copyfile(src / m["path"], folder / f"{t}.delta.csv")
                base_scheme = scheme_id(m["base_path"].split("/")[0])
                lines.append(f'delta = "{t}.delta.csv"')
                lines.append(f'base = "../{base_scheme}/{t}.csv"')
            lines.append(f"rows = {m['rows']}")
            lines.append(f'sha256 = "{m["sha256"]}"')
            lines.append("")
        (folder / "scheme.toml").write_text("\n".join(lines), encoding="utf-8")
    # oracle cases for the golden tests
    tdata = ROOT / "tests" / "data"
    tdata.mkdir(parents=True, exist_ok=True)
    for f in (SHARED / "oracle").iterdir():
        shutil.copyfile(f, tdata / f.name)
    # ICD code sets used by conversion, edits and DIP
    icd_src = SHARED / "icd"
    for name in ["icd10_chs_v2.csv", "icd9cm3_chs_v2.csv", "map_dx_clinical_v2_to_chs_v2.csv",
                 "map_px_clinical_v3_to_chs_v2.csv", "grey_dx_chs_v2.csv", "grey_px_chs_v2.csv",
                 "px_treatment_type_chs_v2.csv", "LICENSE-OpenDRG-DRG_Datas.txt"]:
        shutil.copyfile(icd_src / name, ROOT / "icd" / name)
    print("imported", len(schemes), "schemes", file=sys.stderr)


if __name__ == "__main__":
    main()
