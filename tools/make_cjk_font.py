"""Build the Chinese font subset drgkit's figures use when the machine has no CJK font (run once; the
output is committed as package data).

    python tools/make_cjk_font.py NotoSansCJKsc-Regular.otf

Source: Noto Sans CJK SC Regular 1.004 (© 2014, 2015 Adobe Systems Incorporated; SIL Open Font License 1.1),
as published by Google / Adobe.  Kept: ASCII, Latin-1, general punctuation and symbols, CJK punctuation,
full-width forms, the 6,763 characters of GB 2312, and every character that occurs in the project's own
names (ICD dictionaries, scheme tables, payment tables, the field vocabulary).  The subset is renamed
"drgkit CJK Sans" (OFL reserved-name rule: a modified font does not keep the original name).
"""
from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "drgkit" / "fonts" / "drgkit-cjk-sans.otf"


def gb2312() -> set[str]:
    chars = set()
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    for high in range(0xA1, 0xB0):  # symbols, full-width forms, Roman numerals
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def project_text() -> set[str]:
    chars: set[str] = set()
    for folder in ("icd", "grouper", "tables", "edits", "src/drgkit/io/vocab"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".csv", ".toml", ".md"):
                chars |= set(path.read_text(encoding="utf-8", errors="ignore"))
    return {c for c in chars if ord(c) > 0x7F}


def main(source: str) -> None:
    keep = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x100)}
    keep |= {chr(c) for c in range(0x2000, 0x2070)} | {chr(c) for c in range(0x2100, 0x2300)}
    keep |= {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF00, 0xFFF0)}
    keep |= gb2312() | project_text()
    font = TTFont(source)
    cmap = font.getBestCmap()
    unicodes = sorted(ord(c) for c in keep if ord(c) in cmap)
    options = subset.Options()
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.layout_features = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = "drgkit CJK Sans"
        elif record.nameID == 6:
            record.string = "drgkitCJKSans-Regular"
        elif record.nameID == 3:
            record.string = "drgkit CJK Sans subset of Noto Sans CJK SC 1.004"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(f"{len(unicodes):,} characters, {OUT.stat().st_size / 1e6:.1f} MB → {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
