"""Build the real-shaped export corpus from the shipped labelled dev cases (run once; outputs are committed).

    python tests/data/exports/make_exports.py

Each export holds the same rows as its canonical twin (``*.twin.csv``: canonical columns, the dev cases'
values), written the way hospital and bureau exports write them: 医保结算清单 / 病案首页 / interface / English
headers in every numbering form, values as text (82岁, 医嘱离院, 男, 12,345.60元), CSV in UTF-8 / BOM / GBK /
CRLF / tab, Excel with title rows and notes sheets, .xls, Parquet, three-table sets.  ``manifest.csv`` lists
file, twin, scheme and (three-table sets) the diagnosis and procedure tables.
"""

from __future__ import annotations

import csv
import datetime
import random
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
ROOT = HERE.parents[2]
CANONICAL = [
    "case_id",
    "gender",
    "age",
    "age_days",
    "birth_weight",
    "dept",
    "los",
    "leaving_type",
    "dx",
    "px",
    "total_cost",
]
LEAVING_WORDS = {
    "1": "医嘱离院",
    "2": "医嘱转院",
    "3": "医嘱转社区卫生服务机构/乡镇卫生院",
    "4": "非医嘱离院",
    "5": "死亡",
    "9": "其他",
}
CN_NUMBERS = [
    "一",
    "二",
    "三",
    "四",
    "五",
    "六",
    "七",
    "八",
    "九",
    "十",
    "十一",
    "十二",
    "十三",
    "十四",
    "十五",
    "十六",
]


def dev_rows(name: str, n: int, seed: int) -> list[dict[str, str]]:
    """``n`` rows of a dev file: the most diagnoses and procedures, newborns, no procedure, a blank field
    (gender, age or diagnoses), a gender that is not 1/2, infants aged whole months, then a seeded spread."""
    with open(DATA / name, encoding="utf-8") as f:
        rows = [{k: r[k] for k in CANONICAL} for r in csv.DictReader(f)]
    rng = random.Random(seed)
    by_codes = sorted(range(len(rows)), key=lambda i: -(rows[i]["dx"].count("|") + rows[i]["px"].count("|")))
    newborns = [i for i, r in enumerate(rows) if r["age"] == "0" and r["age_days"]]
    no_px = [i for i, r in enumerate(rows) if not r["px"]]
    blank = [i for i, r in enumerate(rows) if not (r["gender"] and r["age"] and r["dx"])]  # a field left blank
    odd_gender = [i for i, r in enumerate(rows) if r["gender"] not in ("1", "2", "")]  # M, 0, 3, 9
    whole_months = [i for i in newborns if int(rows[i]["age_days"]) % 30 == 0 and rows[i]["age_days"] != "0"]  # 3月
    picked = list(
        dict.fromkeys(
            by_codes[:30]
            + newborns[:25]
            + whole_months[:2]
            + no_px[:20]
            + blank[:8]
            + odd_gender[:4]
            + rng.sample(range(len(rows)), n)
        )
    )
    return [rows[i] for i in sorted(picked[:n])]


def names() -> dict[str, str]:
    out = {}
    for file in ("icd10_chs_v2.csv", "icd9cm3_chs_v2.csv"):
        with open(ROOT / "icd" / file, encoding="utf-8") as f:
            out.update({r["code"]: r["name"] for r in csv.DictReader(f)})
    return out


NAMES = names()


def split(codes: str) -> list[str]:
    return [c for c in codes.split("|") if c] if codes else []


def width(rows: list[dict[str, str]], field: str) -> int:
    return max(len(split(r[field])) for r in rows)


def wide(
    rows,
    *,
    case="病案号",
    sex="性别",
    age="年龄",
    days="年龄不足1周岁的天龄",
    weight="新生儿出生体重",
    dept="出院科别",
    los="实际住院天数",
    leave="离院方式",
    cost="总费用",
    dx_main="主要诊断编码",
    dx_other="其他诊断编码{n}",
    px_main="主要手术及操作编码",
    px_other="其他手术及操作编码{n}",
    dx_start=1,
    px_start=1,
    numbers=None,
    with_names=False,
    values=None,
) -> list[dict[str, object]]:
    """Rows in a wide layout: ``dx_main`` (None: numbered from ``dx_start`` with the principal first) and
    numbered other columns, names beside codes if asked, values rewritten by ``values(field, value)``."""
    values = values or (lambda field, value: value)
    nd, npx = width(rows, "dx"), width(rows, "px")
    label = (lambda n: numbers[n - 1]) if numbers else (lambda n: str(n))
    out = []
    for r in rows:
        row: dict[str, object] = {case: r["case_id"], sex: values("gender", r["gender"]), age: values("age", r["age"])}
        if days:
            row[days] = values("age_days", r["age_days"])
        row[weight] = r["birth_weight"]
        row[dept] = r["dept"]
        row[los] = values("los", r["los"])
        row[leave] = values("leaving_type", r["leaving_type"])
        dx, px = split(r["dx"]), split(r["px"])
        if dx_main is None:
            for k in range(nd):
                row[dx_other.format(n=label(k + dx_start))] = dx[k] if k < len(dx) else ""
        else:
            row[dx_main] = dx[0] if dx else ""
            if with_names:
                row["主要诊断名称"] = NAMES.get(dx[0], "") if dx else ""
            for k in range(1, nd):
                row[dx_other.format(n=label(k - 1 + dx_start))] = dx[k] if k < len(dx) else ""
                if with_names:
                    row[f"其他诊断名称{k}"] = NAMES.get(dx[k], "") if k < len(dx) else ""
        if px_main is None:
            for k in range(npx):
                row[px_other.format(n=label(k + px_start))] = px[k] if k < len(px) else ""
        else:
            row[px_main] = px[0] if px else ""
            if with_names:
                row["主要手术及操作名称"] = NAMES.get(px[0], "") if px else ""
            for k in range(1, npx):
                row[px_other.format(n=label(k - 1 + px_start))] = px[k] if k < len(px) else ""
        row[cost] = values("total_cost", r["total_cost"])
        out.append(row)
    return out


def as_written(field: str, value: str) -> str:
    """Values the way coders type them."""
    if value == "":
        return value
    if field == "gender":
        return {"1": "男", "2": "女"}.get(value, value)
    if field == "age":
        return f"{value}岁"
    if field == "leaving_type":
        return LEAVING_WORDS.get(value, value)
    if field == "los":
        return f"{value}天"
    if field == "total_cost":
        return f"{float(value):,.2f}"
    return value


def as_written_2(field: str, value: str) -> str:
    if value == "":
        return value
    if field == "gender":
        return {"1": "男性", "2": "女性"}.get(value, value)
    if field == "age":
        return value.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if field == "leaving_type":
        return f"{value}.{LEAVING_WORDS[value]}" if value in LEAVING_WORDS else value
    if field == "total_cost":
        return f"{value}元"
    return value


def as_written_3(field: str, value: str) -> str:
    """82.0 (the age a spreadsheet wrote as a float), 12345.60元, 12天, 男/女, 医嘱离院 …"""
    if value == "":
        return value
    if field == "age":
        return f"{value}.0"
    if field == "total_cost":
        return f"{float(value):.2f}元"
    if field in ("gender", "leaving_type", "los"):
        return as_written(field, value)
    return value


def newborn_age(age: str, age_days: str) -> str:
    """年龄 as the front sheet writes an age under one year: 15天, 3月, 3月5天 (30 days a month); 82岁 above."""
    if age == "0" and age_days:
        months, days = divmod(int(age_days), 30)
        if not months:
            return f"{days}天"
        return f"{months}月" if not days else f"{months}月{days}天"
    return f"{age}岁" if age else ""


def ages_twin(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The twin of an export whose only age columns is 年龄 (15天 / 3月 / 82岁): age in days kept under one
    year (the 年龄 value says it), blank above (no column holds it)."""
    return [{**r, "age_days": r["age_days"] if r["age"] == "0" else ""} for r in rows]


def newborn_ages(rows: list[dict[str, str]]) -> list[dict[str, object]]:
    out = wide(rows, days=None, values=as_written)
    for row, r in zip(out, rows):
        row["年龄"] = newborn_age(r["age"], r["age_days"])
    return out


def as_mf(field: str, value: str) -> str:
    if field == "gender":
        return {"1": "M", "2": "F"}.get(value, value)
    return value


def write_csv(
    path: Path,
    rows: list[dict[str, object]],
    *,
    encoding="utf-8",
    newline="\n",
    delimiter=",",
    title_lines: tuple[str, ...] = (),
) -> None:
    header = list(rows[0])
    with open(path, "w", encoding=encoding, newline="") as f:
        for line in title_lines:
            f.write(line + newline)
        writer = csv.writer(f, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        for r in rows:
            writer.writerow([r.get(h, "") for h in header])


def write_xlsx(
    path: Path,
    rows: list[dict[str, object]],
    *,
    title: bool = False,
    notes: bool = False,
    typed: bool = False,
    sheet_name: str = "病案首页",
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    if notes:
        sheet.title = "说明"
        sheet.append(["本文件由病案管理系统导出；字段说明：性别 1 男 2 女；离院方式 1 医嘱离院 …"])
        sheet = book.create_sheet(sheet_name)
    else:
        sheet.title = sheet_name
    header = list(rows[0])
    if title:
        sheet.append(["住院病案首页数据导出（2024年）"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        sheet.append([])
    sheet.append(header)
    for r in rows:
        values = []
        for h in header:
            v = r.get(h, "")
            if typed and isinstance(v, str) and v and h in ("年龄", "实际住院天数", "总费用", "新生儿出生体重"):
                v = float(v) if "." in v else int(v)
            values.append(None if v == "" else v)
        sheet.append(values)
    book.save(path)


def write_xls(path: Path, rows: list[dict[str, object]]) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("病案首页")
    header = list(rows[0])
    for c, h in enumerate(header):
        sheet.write(0, c, h)
    for i, r in enumerate(rows, start=1):
        for c, h in enumerate(header):
            v = r.get(h, "")
            if v != "":
                sheet.write(i, c, v)
    book.save(str(path))


def single_column(rows, sep_dx: str, sep_px: str, dx_header="诊断编码", px_header="手术操作编码"):
    out = []
    for r in rows:
        out.append(
            {
                "病案号": r["case_id"],
                "性别": r["gender"],
                "年龄": r["age"],
                "年龄(天)": r["age_days"],
                "新生儿出生体重(克)": r["birth_weight"],
                "科室": r["dept"],
                "住院天数": r["los"],
                "离院方式": r["leaving_type"],
                dx_header: sep_dx.join(split(r["dx"])),
                px_header: sep_px.join(split(r["px"])),
                "住院总费用": r["total_cost"],
            }
        )
    return out


def three_tables(folder: Path, stem: str, rows, chinese: bool) -> tuple[str, str, str]:
    key, code_d, flag_d = ("结算ID", "诊断代码", "主诊断标志") if chinese else ("setl_id", "diag_code", "maindiag_flag")
    code_p, flag_p = ("手术操作代码", "主要手术标志") if chinese else ("oprn_oprt_code", "main_oprn_flag")
    stays = [
        {
            key: r["case_id"],
            ("性别" if chinese else "gend"): r["gender"],
            ("年龄" if chinese else "age"): r["age"],
            ("年龄不足1周岁的天龄" if chinese else "nwb_age"): r["age_days"],
            ("新生儿出生体重" if chinese else "nwb_bir_wt"): r["birth_weight"],
            ("出院科别" if chinese else "dscg_caty"): r["dept"],
            ("实际住院天数" if chinese else "act_ipt_days"): r["los"],
            ("离院方式" if chinese else "dscg_way"): r["leaving_type"],
            ("医疗费总额" if chinese else "medfee_sumamt"): r["total_cost"],
        }
        for r in rows
    ]
    rng = random.Random(7)
    diag, oprn = [], []
    for r in rows:
        dx = [(c, "1" if k == 0 else "0") for k, c in enumerate(split(r["dx"]))]
        if len(dx) > 1:  # the principal is not always listed first: its flag says which it is
            dx = dx[1:2] + dx[:1] + dx[2:]
        diag += [
            {key: r["case_id"], code_d: c, ("诊断名称" if chinese else "diag_name"): NAMES.get(c, ""), flag_d: f}
            for c, f in dx
        ]
        px = [(c, "1" if k == 0 else "0") for k, c in enumerate(split(r["px"]))]
        if len(px) > 1 and rng.random() < 0.5:
            px = px[1:] + px[:1]
        oprn += [{key: r["case_id"], code_p: c, flag_p: f} for c, f in px]
    rng.shuffle(diag)  # long tables come in any stay order
    names = (f"{stem}.stays.csv", f"{stem}.diseinfo.csv", f"{stem}.oprninfo.csv")
    for name, table in zip(names, (stays, diag, oprn)):
        write_csv(folder / name, table)
    return names


def write_twin(path: Path, rows: list[dict[str, str]]) -> str:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, CANONICAL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path.name


def main() -> None:
    out = HERE
    for old in out.glob("*"):
        if old.name not in ("make_exports.py", "README.md"):
            old.unlink()
    manifest = []
    sets = {
        "chs-drg-1.1": dev_rows("chs-drg-1.1-dev.csv", 200, 11),
        "chs-drg-2.0": dev_rows("chs-drg-2.0-dev.csv", 150, 20),
    }
    for scheme, rows in sets.items():
        tag = scheme.replace("chs-drg-", "v").replace(".", "")
        twin = write_twin(out / f"{tag}.twin.csv", rows)
        ages = write_twin(out / f"{tag}_ages.twin.csv", ages_twin(rows))

        def add(name: str, note: str, twin: str = twin, scheme: str = scheme, **extra: str) -> None:
            manifest.append(
                {
                    "file": name,
                    "twin": twin,
                    "scheme": scheme,
                    "diagnoses": extra.get("diagnoses", ""),
                    "procedures": extra.get("procedures", ""),
                    "notes": note,
                }
            )

        # settlement list: 代码 wording, names beside codes
        f = f"{tag}_settlement_list.csv"
        write_csv(
            out / f,
            wide(
                rows,
                case="结算ID",
                dx_main="主要诊断代码",
                dx_other="其他诊断代码{n}",
                px_main="主要手术及操作代码",
                px_other="其他手术及操作代码{n}",
                with_names=True,
            ),
        )
        add(f, "医保结算清单 labels (代码), names beside codes, UTF-8")
        f = f"{tag}_front_sheet_gbk.csv"
        write_csv(out / f, wide(rows, dx_main="出院主要诊断编码", with_names=True), encoding="gbk", newline="\r\n")
        add(f, "病案首页 labels, GBK, CRLF")
        f = f"{tag}_discharge_numbered_bom.csv"
        write_csv(
            out / f,
            wide(rows, dx_main=None, dx_other="出院诊断编码{n}", px_main=None, px_other="手术及操作编码{n}"),
            encoding="utf-8-sig",
        )
        add(f, "出院诊断编码1…N (1 = principal), 手术及操作编码1…N (1 = main), UTF-8 with BOM")
        f = f"{tag}_values_as_written.csv"
        write_csv(out / f, wide(rows, values=as_written))
        add(f, "82岁, 男/女, 医嘱离院, 12天, 12,345.60")
        f = f"{tag}_three_tables_interface"
        stays, diag, oprn = three_tables(out, f, rows, chinese=False)
        add(stays, "three tables, interface field codes, principal flagged not first", diagnoses=diag, procedures=oprn)
        f = f"{tag}_front_sheet.xlsx"
        write_xlsx(out / f, wide(rows, with_names=True), title=True, notes=True)
        add(f, "xlsx: notes sheet first, merged title row and a blank row above the header")
        if scheme != "chs-drg-1.1":
            # the 2.0 cases again: newborn ages in an xlsx with a title row only, values and one code column
            f = "v20_newborn_ages.xlsx"
            write_xlsx(out / f, newborn_ages(rows), title=True, sheet_name="Sheet1")
            add(f, "年龄 as 15天 / 3月 / 3月5天 / 82岁 (no 天龄 column), xlsx with a merged title row", twin=ages)
            f = "v20_values_2_crlf.csv"
            write_csv(out / f, wide(rows, dx_other="次要诊断编码{n}", values=as_written_2), newline="\r\n")
            add(f, "男性/女性, full-width ages, 1.医嘱离院, 元; 次要诊断编码N; UTF-8 CRLF")
            f = "v20_single_fullwidth_gbk.csv"
            write_csv(out / f, single_column(rows, "，", "，"), encoding="gbk")
            add(f, "one column joined by ，, GBK")
            f = "v20_interface_wide.xls"
            write_xls(
                out / f,
                wide(
                    rows,
                    case="setl_id",
                    sex="gend",
                    age="age",
                    days="nwb_age",
                    weight="nwb_bir_wt",
                    dept="dscg_caty",
                    los="act_ipt_days",
                    leave="dscg_way",
                    cost="medfee_sumamt",
                    dx_main=None,
                    dx_other="diag_code{n}",
                    px_main=None,
                    px_other="oprn_oprt_code{n}",
                ),
            )
            add(f, ".xls with interface field codes, numbered diag_code1… / oprn_oprt_code1…")
            continue
        # the rest: every other family, on the 1.1 cases
        for f, kw, note in [
            (
                "v11_and_wording.csv",
                dict(px_main="主要手术和操作编码", px_other="其他手术和操作编码{n}", dx_other="次要诊断编码{n}"),
                "手术和操作, 次要诊断",
            ),
            (
                "v11_underscore.csv",
                dict(dx_other="其他诊断编码_{n}", px_other="其他手术及操作编码_{n}"),
                "numbering _1",
            ),
            ("v11_dash.csv", dict(dx_other="其他诊断编码-{n}", px_other="其他手术操作编码-{n}"), "numbering -1"),
            ("v11_parens.csv", dict(dx_other="其他诊断编码({n})", px_other="其他手术及操作编码({n})"), "numbering (1)"),
            (
                "v11_fullwidth_parens.csv",
                dict(
                    dx_other="其他诊断编码（{n}）",
                    px_other="其他手术及操作编码（{n}）",
                    dx_main="主要诊断编码 ",
                    px_main="主要手术及操作编码　",
                ),
                "numbering （1）, spaces in headers",
            ),
            (
                "v11_chinese_numerals.csv",
                dict(dx_other="其他诊断编码{n}", px_other="其他手术及操作编码{n}", numbers=CN_NUMBERS),
                "numbering 一, 二 …",
            ),
            (
                "v11_spaced_numbers.csv",
                dict(dx_other="其他诊断编码 {n}", px_other="其他手术操作代码 {n}"),
                "其他诊断编码 1",
            ),
            (
                "v11_first_wording.csv",
                dict(
                    dx_main="第一诊断编码",
                    dx_other="相关诊断编码{n}",
                    px_main="第一手术操作编码",
                    px_other="相关手术操作编码{n}",
                ),
                "第一 / 相关",
            ),
            (
                "v11_icd_in_label.csv",
                dict(dx_main="主要诊断(ICD-10)编码", dx_other="其他诊断ICD编码{n}"),
                "ICD named inside the label",
            ),
            (
                "v11_interface_wide.csv",
                dict(
                    case="setl_id",
                    sex="gend",
                    age="age",
                    days="nwb_age",
                    weight="nwb_bir_wt",
                    dept="dscg_caty",
                    los="act_ipt_days",
                    leave="dscg_way",
                    cost="medfee_sumamt",
                    dx_main=None,
                    dx_other="diag_code{n}",
                    px_main=None,
                    px_other="oprn_oprt_code{n}",
                ),
                "interface field codes, numbered",
            ),
            (
                "v11_english.csv",
                dict(
                    case="case_id",
                    sex="gender",
                    age="age",
                    days="age_days",
                    weight="birth_weight",
                    dept="dept",
                    los="los",
                    leave="leaving_type",
                    cost="total_cost",
                    dx_main=None,
                    dx_other="dx{n}",
                    px_main=None,
                    px_other="px{n}",
                ),
                "English dx1…, px1…",
            ),
            ("v11_values_2.csv", dict(values=as_written_2), "男性/女性, full-width ages, 1.医嘱离院, 元"),
            ("v11_values_mf.csv", dict(values=as_mf, sex="性别代码"), "M/F"),
        ]:
            write_csv(out / f, wide(rows, **kw))
            add(f, note)
        for f, sep_dx, sep_px, note in [
            ("v11_single_pipe.csv", "|", "|", "one column, |"),
            ("v11_single_comma.csv", ",", ",", "one column, ,"),
            ("v11_single_semicolon.csv", ";", ";", "one column, ;"),
            ("v11_single_fullwidth.csv", "，", "；", "one column, ，and ；"),
            ("v11_single_space.csv", " ", "、", "one column, spaces and 、"),
        ]:
            write_csv(out / f, single_column(rows, sep_dx, sep_px))
            add(f, note)
        f = "v11_tab.tsv"
        write_csv(out / f, wide(rows), delimiter="\t")
        add(f, "tab-separated .tsv")
        f = "v11_tab.txt"
        write_csv(out / f, wide(rows), delimiter="\t", encoding="gbk")
        add(f, "tab-separated .txt, GBK")
        f = "v11_title_lines_gbk.csv"
        write_csv(
            out / f, wide(rows), encoding="gbk", title_lines=("某某医院住院病案首页导出", "导出时间：2024-06-01", "")
        )
        add(f, "GBK, title and blank lines above the header")
        f = "v11_typed.xlsx"
        write_xlsx(out / f, wide(rows), typed=True)
        add(f, "xlsx with ages, days and costs stored as numbers")
        f = "v11_values.xlsx"
        write_xlsx(out / f, wide(rows, values=as_written))
        add(f, "xlsx with values as written")
        f = "v11_newborn_ages_crlf.csv"
        write_csv(out / f, newborn_ages(rows), newline="\r\n")
        add(f, "年龄 as 15天 / 3月 / 3月5天 / 82岁 (no 天龄 column), UTF-8 CRLF", twin=ages)
        f = "v11_values_3.csv"
        write_csv(out / f, wide(rows, values=as_written_3, dx_other="其他诊断编码（{n}）"), encoding="utf-8-sig")
        add(f, "年龄 82.0, 12345.60元, 12天, 男/女, 医嘱离院; numbering （1）; UTF-8 with BOM")
        f = "v11_old.xls"
        write_xls(out / f, wide(rows, dx_main="主要诊断代码", dx_other="其他诊断代码{n}"))
        add(f, ".xls (Excel 97-2003)")
        f = "v11_chinese.parquet"
        table = wide(rows)
        pq.write_table(pa.table({h: [str(r.get(h, "")) or None for r in table] for h in table[0]}), out / f)
        add(f, "Parquet with Chinese headers")
        stays, diag, oprn = three_tables(out, "v11_three_tables_chinese", rows, chinese=True)
        add(stays, "three tables, Chinese labels (结算ID, 诊断代码, 主诊断标志)", diagnoses=diag, procedures=oprn)
    with open(out / "manifest.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["file", "twin", "scheme", "diagnoses", "procedures", "notes"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)
    print(f"{len(manifest)} exports written to {out} on {datetime.date.today()}")


if __name__ == "__main__":
    main()
