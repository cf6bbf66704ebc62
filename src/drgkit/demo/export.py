"""A sample 病案首页 (front-sheet) export shaped as a hospital's coding department saves it, for the walkthrough
and for trying drgkit on something that looks like real data: Chinese headers, one column per code (主要诊断编码,
其他诊断编码1…N, 主要手术操作编码 …), names beside the principal codes, sex as 男/女, age as ``82岁``, 离院方式 in
words, money with 元 — and the problems real exports carry (grey principal codes, a missing sex, a blank
principal diagnosis, text in the stay length).

The abstracts are :func:`drgkit.demo.generate`'s synthetic cases: real codes of the scheme, invented patients.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemes import DEFAULT_SCHEME
from .synth import generate

SEX = {"1": "男", "2": "女"}
LEAVING = {
    "1": "医嘱离院",
    "2": "医嘱转院",
    "3": "医嘱转社区卫生服务机构/乡镇卫生院",
    "4": "非医嘱离院",
    "5": "死亡",
    "9": "其他",
}
DX_COLUMNS, PX_COLUMNS = 8, 4


def coder_export(n: int = 320, *, scheme: str = DEFAULT_SCHEME, seed: int = 2024) -> pa.Table:
    """``n`` abstracts as a coder's export (see the module docstring); the same ``seed`` gives the same file."""
    from ..schemes.compile import load_compiled

    base = generate(n, scheme=scheme, seed=seed, dirty=0.08)
    compiled = load_compiled(scheme)
    dx_name = dict(zip(compiled.dx_codes, compiled.dx_names))
    px_name = dict(zip(compiled.px_codes, compiled.px_names))
    rng = np.random.default_rng(seed)
    rows = base.to_pylist()
    grey = [c for c, flag in zip(compiled.dx_codes, np.asarray(compiled.dx_grey)) if flag][:40]
    out: dict[str, list] = {
        k: []
        for k in (
            "病案号",
            "医疗机构名称",
            "出院科室",
            "性别",
            "年龄",
            "年龄不足1周岁的年龄（天）",
            "新生儿出生体重（克）",
            "入院日期",
            "出院日期",
            "实际住院天数",
            "离院方式",
            "主要诊断编码",
            "主要诊断名称",
            *[f"其他诊断编码{i}" for i in range(1, DX_COLUMNS + 1)],
            "主要手术操作编码",
            "主要手术操作名称",
            *[f"其他手术操作编码{i}" for i in range(1, PX_COLUMNS + 1)],
            "总费用",
        )
    }
    for i, r in enumerate(rows):
        dx = (r["dx"] or "").split("|")
        px = [c for c in (r["px"] or "").split("|") if c]
        if grey and rng.random() < 0.04:  # a grey principal (灰码): the commonest reason a real case fails
            dx[0] = grey[int(rng.integers(len(grey)))]
        out["病案号"].append(f"ZY{2024000000 + i + 1}")
        out["医疗机构名称"].append(f"示例市第{'一二三四五六七八九十'[int(r['hospital'][-2:]) % 10]}人民医院")
        out["出院科室"].append(r["dept"])
        out["性别"].append(SEX.get(r["gender"] or "", r["gender"]))
        age = r["age"]
        out["年龄"].append(f"{age}岁" if age and age.isdigit() and rng.random() < 0.5 else age)
        out["年龄不足1周岁的年龄（天）"].append(r["age_days"])
        out["新生儿出生体重（克）"].append(r["birth_weight"])
        out["入院日期"].append(r["admission_date"].isoformat() if r["admission_date"] else None)
        out["出院日期"].append(r["discharge_date"].isoformat() if r["discharge_date"] else None)
        out["实际住院天数"].append(r["los"])
        out["离院方式"].append(LEAVING.get(r["leaving_type"] or "", r["leaving_type"]))
        out["主要诊断编码"].append(dx[0] or None)
        out["主要诊断名称"].append(dx_name.get(dx[0]))
        for k in range(1, DX_COLUMNS + 1):
            out[f"其他诊断编码{k}"].append(dx[k] if k < len(dx) else None)
        out["主要手术操作编码"].append(px[0] if px else None)
        out["主要手术操作名称"].append(px_name.get(px[0]) if px else None)
        for k in range(1, PX_COLUMNS + 1):
            out[f"其他手术操作编码{k}"].append(px[k] if k < len(px) else None)
        out["总费用"].append(f"{r['total_cost']:.2f}" if r["total_cost"] is not None else None)
    table = pa.table({k: pa.array(v, pa.string()) for k, v in out.items()})
    # the rows with more secondary codes than the export has columns keep the first DX_COLUMNS (as real exports)
    return table.set_column(table.column_names.index("总费用"), "总费用", pc.cast(table.column("总费用"), pa.float64()))
