"""Build the hostile-input corpus (run once; the files are committed): small files a tester who wants to break
drgkit would try.  ``manifest.csv`` says, per file, how many data rows it holds (blank: it is not a readable
table, so one error line is the only right answer).

    python tests/data/hostile/make_hostile.py
"""

from __future__ import annotations

import csv
import datetime
import gzip
import random
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
GOOD = "case_id,gender,age,dx,px,total_cost\n1,1,65,I21.000x005|E11.900,36.0601,35000\n2,2,30,O82.000,74.1x01,8000\n"


def main() -> None:
    for old in HERE.glob("*"):
        if old.name not in ("make_hostile.py", "README.md"):
            old.unlink()
    rng = random.Random(3)
    files: list[tuple[str, bytes, int | None, str]] = [
        ("empty.csv", b"", None, "0 bytes"),
        ("whitespace.csv", b" \n\t\n\r\n", None, "blank lines only"),
        ("bom_only.csv", b"\xef\xbb\xbf", None, "a BOM and nothing else"),
        ("blank_before_header.csv", b"\n" + GOOD.encode(), 2, "a blank line before the header"),
        ("crlf_blank_before_header.csv", b"\r\n" + GOOD.replace("\n", "\r\n").encode(), 2, "CRLF, blank line first"),
        ("bom_blank_header.csv", b"\xef\xbb\xbf\n" + GOOD.encode(), 2, "BOM then a blank line"),
        ("header_only.csv", b"case_id,gender,age,dx\n", 0, "a header and no rows"),
        ("title_rows.csv", "某医院病案首页导出\n导出日期 2024-06-01\n\n".encode() + GOOD.encode(), 2, "title lines"),
        ("blank_line_between_rows.csv", GOOD.replace("\n2,", "\n\n2,").encode(), 2, "a blank line between rows"),
        ("whitespace_last_line.csv", GOOD.encode() + b"   \n", 2, "a whitespace-only last line"),
        ("no_trailing_newline.csv", GOOD.rstrip("\n").encode(), 2, "no newline at the end"),
        (
            "unterminated_quote.csv",
            b'case_id,gender,age,dx\n1,1,65,"I21.000x005\n2,2,30,O82.000\n3,1,40,J18.900"\n',
            None,
            "a quote that swallows rows",
        ),
        ("too_many_fields.csv", GOOD.encode() + b"3,1,40,J18.900,,1,extra,fields\n", None, "a row with extra fields"),
        (
            "duplicate_headers.csv",
            b"case_id,dx,dx,age\n1,I21.000x005,E11.900,65\n",
            None,
            "two dx columns: the second would go unread, so it is named (dx_1) and refused",
        ),
        ("emoji_headers.csv", "病案号😀,性别,年龄,主要诊断编码\n1,1,65,I21.000x005\n".encode(), 1, "emoji in a header"),
        ("long_cell.csv", b"case_id,dx,note\n1,I21.000x005," + b"x" * 100_000 + b"\n", 1, "a 100,000-character cell"),
        (
            "control_chars.csv",
            b"case_id,dx,age\n1,I21.000\x01x005,65\n2,\x1bJ18.900,70\n3,\xe2\x80\xaeI10.x00,60\n",
            3,
            "control characters (SOH, ESC, U+202E) inside codes",
        ),
        (
            "numbers_odd.csv",
            b"case_id,gender,age,los,dx,total_cost\n1,1,200,1e9,I21.000x005,inf\n2,1,-5,3,J18.900,nan\n"
            b"3,2,1e309,2,O82.000,1e309\n4,1,65,3.5,I10.x00,-30000\n",
            4,
            "age 200, LOS 1e9, inf/nan/1e309, negatives",
        ),
        ("separators_only.csv", b"case_id,dx,px\n1,|||,\n2,;;,|\n", 2, "codes that are only separators"),
        ("leading_separator.csv", b"case_id,gender,age,dx\n1,1,65,|J18.900|I50.900\n", 1, "a blank principal slot"),
        (
            "full_width_everything.csv",
            "ｃａｓｅ＿ｉｄ,性别,年龄,主要诊断编码\n１,男,６５,Ｉ２１．０００ｘ００５\n".encode(),
            1,
            "full-width header, digits and codes",
        ),
        ("gzip.csv", gzip.compress(GOOD.encode()), None, "a gzip file named .csv"),
        ("random.csv", bytes(rng.getrandbits(8) for _ in range(20_000)), None, "random bytes"),
        ("nul.csv", b"\x00" * 4096, None, "NUL bytes"),
        ("utf16.csv", GOOD.encode("utf-16"), 2, "UTF-16 text with a BOM (Excel's Unicode text export): read"),
        ("png.tsv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, None, "a PNG named .tsv"),
        ("parquet_named.csv", b"", None, "a Parquet file named .csv (filled below)"),
        ("text_named.parquet", GOOD.encode(), None, "a CSV named .parquet"),
        ("random.xlsx", bytes(rng.getrandbits(8) for _ in range(5_000)), None, "random bytes named .xlsx"),
        (
            "html.xls",
            b"<html><body><table><tr><td>case_id</td><td>dx</td></tr></table></body></html>",
            None,
            "an HTML page saved as .xls",
        ),
        ("no_dx.csv", b"case_id,gender,age\n1,1,65\n", None, "no diagnosis column"),
        (
            "unmapped_px.csv",
            "病案号,性别,年龄,主要诊断编码,手术码\n1,2,30,O82.000,74.1x01\n".encode(),
            None,
            "a procedure column with an unknown header",
        ),
        (
            "gbk_late_chinese.csv",
            (
                "case_id,gender,age,dx\n" + "".join(f"{i},1,65,I21.000x005\n" for i in range(3)) + "x,女,30,O82.000\n"
            ).encode("gbk"),
            4,
            "GBK whose only Chinese is 女",
        ),
    ]
    manifest = []
    for name, content, rows, note in files:
        (HERE / name).write_bytes(content)
        manifest.append({"file": name, "rows": "" if rows is None else rows, "note": note})
    pq.write_table(pa.table({"case_id": ["1"], "dx": ["I21.000x005"]}), HERE / "parquet_named.csv")
    # Parquet shapes
    pq.write_table(
        pa.table(
            {
                "case_id": ["1", "2"],
                "dx": pa.array([["I21.000x005", "E11.900"], None]),
                "age": pa.array([2**60, 65], pa.int64()),
            }
        ),
        HERE / "list_dx_big_int.parquet",
    )
    manifest.append({"file": "list_dx_big_int.parquet", "rows": 2, "note": "list dx, an int64 age of 2^60"})
    pq.write_table(
        pa.table({"case_id": ["1"], "dx": pa.array([{"a": "I21.000"}]), "age": [65]}), HERE / "struct_dx.parquet"
    )
    manifest.append({"file": "struct_dx.parquet", "rows": "", "note": "a struct where codes belong"})
    pq.write_table(
        pa.table(
            {
                "case_id": ["1"],
                "dx": ["I21.000x005"],
                "admitted": pa.array([datetime.datetime(2024, 5, 1, 8, 0)], pa.timestamp("s", tz="Asia/Shanghai")),
            }
        ),
        HERE / "tz_time.parquet",
    )
    manifest.append({"file": "tz_time.parquet", "rows": 1, "note": "a time-zone-aware timestamp column"})
    pq.write_table(
        pa.table({"case_id": pa.array([], pa.string()), "dx": pa.array([], pa.string())}), HERE / "empty.parquet"
    )
    manifest.append({"file": "empty.parquet", "rows": 0, "note": "a Parquet file with no rows"})
    # Excel shapes
    book = openpyxl.Workbook()
    book.active.title = "空"
    data = book.create_sheet("数据")
    data.append(["病案号", "性别", "年龄", "主要诊断编码", "备注"])
    data.append(["1", "1", 65, "I21.000x005", '=HYPERLINK("http://x","click")'])
    data.append([None, None, None, None, None])
    data.append(["2", "2", "30岁", "O82.000", "\x01ctl"[1:]])
    book.save(HERE / "empty_first_sheet.xlsx")
    manifest.append(
        {
            "file": "empty_first_sheet.xlsx",
            "rows": 3,
            "note": "data on the second sheet, a formula-looking cell, an empty middle row",
        }
    )
    book = openpyxl.Workbook()
    book.active.append(["nothing", "here"])
    book.save(HERE / "no_codes.xlsx")
    manifest.append({"file": "no_codes.xlsx", "rows": "", "note": "a workbook without a diagnosis column"})
    with open(HERE / "manifest.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["file", "rows", "note"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)
    print(f"{len(manifest)} hostile files in {HERE}")


if __name__ == "__main__":
    main()
