"""The words and number formats of the human-facing reports (``drgkit report``, ``drgkit audit``,
``drgkit simulate``): one mapping, field → Chinese label, readable English name, kind and one explaining line.

Parquet files and ``--json`` keep the canonical English field names; only the pages and CSV/Excel files a
person reads go through :func:`label` and :func:`fmt`.  Money is shown in 万元 (10,000 yuan) with thousands
separators and at most two decimals, counts as integers, shares as percent.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: kinds of values and how they are shown
#: money: 万元 (10,000 yuan), 2 decimals · yuan: 元 per case / per weight, thousands separators
#: count: integer · share: 0–1 shown as percent · pct: already in percent · index: 2–3 decimals
#: z: z-score · points: DIP 分值, 2 decimals · bool: 是/否 · text: as is
KINDS = ("money", "yuan", "rate", "count", "share", "pct", "index", "z", "points", "bool", "text")
UNITS = {"money": "万元", "yuan": "元", "rate": "元", "share": "%", "pct": "%"}
#: the same units in English (万元 is "10k yuan": the numbers are the same in both languages)
UNITS_EN = {"money": "10k yuan", "yuan": "yuan", "rate": "yuan", "share": "%", "pct": "%"}


@dataclass(frozen=True)
class Word:
    zh: str  #: Chinese label
    en: str  #: readable English name (never the raw field name)
    kind: str = "text"
    note: str = ""  #: one short line saying what it is / how to read it


WORDS: dict[str, Word] = {
    # --- units and groups
    "scenario": Word(
        "情景", "scenario", "text", "情景文件中的一套政策假设，按文件中的顺序列出；第一个情景是比较的基准。"
    ),
    "method": Word("结算方式", "method", "text", "DRG 费率浮动、DRG 点数法或 DIP 分值法。"),
    "hospital": Word("医院", "hospital"),
    "dept": Word("科室", "department"),
    "doctor": Word("医生", "doctor"),
    "level": Word("医院等级", "hospital level", "text", "同等级医院互为比较对象（同级比较）。"),
    "hospital_level": Word("医院等级", "hospital level"),
    "drg": Word("DRG 组", "DRG"),
    "drg_name": Word("DRG 名称", "DRG name"),
    "quarter": Word("季度", "quarter"),
    # --- simulate: scenarios
    "budget": Word("基金预算", "budget", "money", "当年 DRG/DIP 医保基金预算总额（区域总额预算）。"),
    "budget_binding": Word(
        "预算封顶",
        "budget cap binds",
        "bool",
        "“是”：费率/点值浮动，使全部医院的基金应付合计正好等于预算（总额封顶）；"
        "“否”：按公布的费率结算，基金应付可以高于或低于预算。",
    ),
    "rate_or_point_value": Word(
        "结算费率/点值", "rate / point value", "rate", "每权重的费率（元）或每点的点值（元）；预算封顶时是浮动后的值。"
    ),
    "rate_p5": Word("费率 P5", "rate p5", "rate", "模拟病例量随机波动时，费率/点值的第 5 百分位（偏低情形）。"),
    "rate_p50": Word("费率 P50", "rate p50", "rate", "费率/点值的中位数。"),
    "rate_p95": Word("费率 P95", "rate p95", "rate", "费率/点值的第 95 百分位（偏高情形）。"),
    "total_payment": Word("DRG 支付总额", "total payment", "money", "按 DRG/DIP 支付给医院的总额，含患者自付部分。"),
    "fund_payable": Word(
        "基金应付", "fund payable", "money", "按结算费率/点值算出的医保基金应付金额；预算封顶时合计等于预算。"
    ),
    "fund_payment": Word(
        "基金实付",
        "fund payment",
        "money",
        "基金应付经结余留用/超支分担调整后的实际支付。超支分担时基金替医院承担部分超支，所以实付合计可以高于预算。",
    ),
    "cases": Word("病例数", "cases", "count", "出院病例数（模拟中为加权病例数，取整显示）。"),
    "cost": Word("医疗总费用", "cost", "money", "病例的医疗总费用（按项目计算），即医院的成本口径。"),
    "hospitals_losing": Word("亏损医院数", "hospitals losing", "text", "结余为负的医院数 / 医院总数。"),
    # --- simulate: hospitals
    "revenue": Word("医院收入", "revenue", "money", "基金实付 + 患者自付。"),
    "sharing_adjustment": Word(
        "结余留用/超支分担",
        "surplus / overspend sharing",
        "money",
        "基金应付之外的调整：正数为基金分担医院超支的部分（受调剂金上限约束），负数为医院结余中基金收回的部分。",
    ),
    "prepaid": Word(
        "月度预付", "monthly prepayment", "money", "全年月度预付合计：预付比例 × 按暂定（年初公布）费率算出的基金应付。"
    ),
    "clearance": Word(
        "年终清算", "year-end settlement", "money", "基金实付 − 月度预付：正数为年终补付给医院，负数为医院应退回。"
    ),
    "margin": Word("结余", "margin", "money", "收入 − 医疗总费用；负数为亏损。"),
    "revenue_p5": Word("收入 P5", "revenue p5", "money", "病例量随机波动时医院收入的第 5 百分位。"),
    "revenue_p95": Word("收入 P95", "revenue p95", "money", "医院收入的第 95 百分位。"),
    "revenue_change": Word("收入变化", "revenue change", "money", "与第一个情景（基准）相比的医院收入变化。"),
    "revenue_change_pct": Word("收入变化率", "revenue change", "pct", "与第一个情景（基准）相比的医院收入变化百分比。"),
    "margin_ratio": Word("结余率", "margin / cost", "pct", "结余 ÷ 医疗总费用。"),
    # --- report: indicators
    "grouped": Word("入组病例数", "grouped cases", "count", "成功分入 DRG 组的病例数。"),
    "grouping_rate": Word("入组率", "grouping rate", "share", "入组病例数 ÷ 全部病例数；未入组病例无法按 DRG 支付。"),
    "core_rate": Word(
        "核心病种占比", "core-group share", "share", "入组为核心病种（含基层病种）的病例 ÷ 全部病例数（DIP）。"
    ),
    "cmi": Word(
        "CMI", "case mix index", "index", "病例组合指数：入组病例权重（RW）的平均值；越高说明收治的病例越复杂、越重。"
    ),
    "time_index": Word(
        "时间消耗指数",
        "time consumption index",
        "index",
        "病例住院日 ÷ 同组全地区平均住院日的均值；大于 1 表示住院时间偏长。",
    ),
    "cost_index": Word(
        "费用消耗指数", "cost consumption index", "index", "病例费用 ÷ 同组全地区平均费用的均值；大于 1 表示费用偏高。"
    ),
    "total_cost": Word("医疗总费用", "total cost", "money", "病例的医疗总费用（按项目计算）。"),
    "payment": Word("DRG 支付", "payment", "money", "按 DRG 支付标准计算的支付金额（含患者自付）。"),
    "margin_per_case": Word("例均结余", "margin per case", "yuan", "每个病例的平均结余（元）；负数为例均亏损。"),
    # --- audit: signals
    "grouped_share": Word("入组率", "grouped share", "share"),
    "cc_share": Word(
        "CC/MCC 占比",
        "CC/MCC share",
        "share",
        "有并发症/合并症（CC 或 MCC）的病例占比；明显高于同级医院可能存在高套编码。",
    ),
    "mcc_share": Word("MCC 占比", "MCC share", "share", "有严重并发症/合并症（MCC）的病例占比。"),
    "cmi_change": Word("CMI 变化", "CMI change", "index", "最后一个季度 CMI − 第一个季度 CMI；快速上升值得核查。"),
    "low_ratio_share": Word("低倍率病例占比", "low-ratio share", "share", "费用低于标准一定比例的病例占比。"),
    "high_ratio_share": Word("高倍率病例占比", "high-ratio share", "share", "费用高于标准一定倍数的病例占比。"),
    "alos": Word("平均住院日", "average length of stay", "index", "偏低可能提示分解住院或提前出院。"),
    "death_share": Word("死亡率", "death share", "share", "离院方式为死亡的病例占比；偏低可能提示推诿重症。"),
    "transfer_share": Word("转院占比", "transfer share", "share", "离院方式为转院的病例占比。"),
    "high_rw_share": Word("高权重病例占比", "high-RW share", "share", "权重 ≥ 2 的病例占比；下降可能提示推诿重症。"),
    "split_share": Word("分解住院占比", "split-admission share", "share", "被标记为分解住院的病例占比。"),
    "readmit_share": Word("短期再入院占比", "readmission share", "share", "短期内再次入院的病例占比。"),
    "z_cc_share": Word(
        "CC/MCC 占比 z 值",
        "z of CC/MCC share",
        "z",
        "与同级医院相比偏离多少个标准差；|z| ≥ 2 为明显异常；病例不足 30 例不计算。",
    ),
    "risk_score": Word(
        "风险分", "risk score", "z", "各项信号在风险方向上超过 1 个标准差的部分之和；越高越值得优先核查。"
    ),
    "risk_signals": Word("风险信号", "risk signals", "text", "在风险方向上 z ≥ 2 的信号。"),
    # --- audit: case flags
    "split_admission": Word(
        "分解住院", "split admission", note="同一患者在同一医院短期内再次入院，且两次住院属同一 ADRG 或 MDC。"
    ),
    "short_readmission": Word("短期再入院", "short readmission", note="出院后短期内再次入院（任何医院、任何组）。"),
    "low_ratio": Word("低倍率病例", "low ratio", note="费用明显低于 DRG 支付标准的病例（按暂定费率判定）。"),
    "high_ratio": Word("高倍率病例", "high ratio", note="费用明显高于 DRG 支付标准的病例（按暂定费率判定）。"),
    "cc_only_from_unusual_code": Word(
        "异常并发症编码",
        "CC only from an unusual code",
        note="只因本院异常常用（≥ 其他医院 5 倍）的并发症编码而达到 CC/MCC 级别。",
    ),
    "death": Word("死亡", "death", note="离院方式为死亡。"),
    "transfer": Word("转院", "transfer", note="离院方式为转院。"),
    "flag": Word("病例标记", "case flag"),
    # --- dip settle: hospitals
    "total_score": Word(
        "总分值", "total score", "points", "医院全部病例的分值合计（病种分值 × 辅助目录系数 × 医院系数）。"
    ),
    "evaluation": Word("考核系数", "evaluation", "index", "年度考核系数：医院应付 = 考核前应付 × 考核系数 − 扣减。"),
    "deduction": Word("扣减", "deduction", "money", "年度扣减金额（违规、考核扣款等）。"),
    "payable_before_evaluation": Word(
        "考核前应付", "payable before evaluation", "money", "按结算点值算出的基金应付，未乘考核系数、未扣减。"
    ),
    "payable": Word("医院应付", "payable", "money", "考核前应付 × 考核系数 − 扣减：基金全年应付医院的金额。"),
    # --- values
    "drg_rate": Word("DRG 费率浮动", "DRG rate"),
    "drg_points": Word("DRG 点数法", "DRG points"),
    "dip": Word("DIP 分值法", "DIP points"),
}


#: hospital levels as the data writes them (1-3, level1-level3) → 一级 … 三级
LEVELS = {"1": "一级", "2": "二级", "3": "三级", "all": "全部"}


def word(name: str) -> Word:
    """The entry of ``name``; an unknown name is shown as itself (never an error in a report)."""
    return WORDS.get(name) or Word(name, name)


def unit(name: str, lang: str = "zh") -> str:
    return (UNITS if lang == "zh" else UNITS_EN).get(word(name).kind, "")


def label(name: str, with_unit: bool = True, lang: str = "zh") -> str:
    """Label with its unit: ``基金应付（万元）``, or ``fund payable (10k yuan)`` with ``lang="en"``."""
    w = word(name)
    u = unit(name, lang) if with_unit else ""
    if lang != "zh":
        return f"{w.en} ({u})" if u else w.en
    return f"{w.zh}（{u}）" if u else w.zh


def label_html(name: str) -> str:
    """Chinese label and unit, the English name in small text under it."""
    w = word(name)
    return f"{html.escape(label(name))}<br><small>{html.escape(w.en)}</small>"


def value_text(value: str, lang: str = "zh") -> str:
    """A value that is itself a field name / code (a risk signal, a flag, a method) in words."""
    if value not in WORDS:
        return value
    return WORDS[value].zh if lang == "zh" else WORDS[value].en


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def wan(yuan: float | None, decimals: int = 2) -> str:
    """Yuan as 万元 text: 12,345,678.9 → ``1,234.57``."""
    return "" if yuan is None or _missing(yuan) else f"{yuan / 1e4:,.{decimals}f}"


def integer(value: float | None) -> str:
    return "" if value is None or _missing(value) else f"{round(value):,}"


def percent(share: float | None, decimals: int = 1) -> str:
    """A share 0–1 as percent text: 0.9784 → ``97.8%``."""
    return "" if share is None or _missing(share) else f"{100 * share:.{decimals}f}%"


def fmt(name: str, value, lang: str = "zh") -> str:
    """``value`` of field ``name`` as a person reads it (units are in the label, not repeated in the cell)."""
    if _missing(value):
        return ""
    kind = word(name).kind
    if kind == "money":
        return wan(value)
    if kind == "yuan":
        return integer(value)
    if kind == "rate":
        return f"{value:,.2f}"
    if kind == "count":
        return integer(value)
    if kind == "share":
        return f"{100 * value:.1f}"
    if kind == "pct":
        return f"{value:.1f}"
    if kind == "index":
        return f"{value:,.3f}"
    if kind == "z":
        return f"{value:.2f}"
    if kind == "points":
        return f"{value:,.2f}"
    if kind == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if isinstance(value, (list, tuple)):
        return ("、" if lang == "zh" else ", ").join(value_text(str(v), lang) for v in value)
    if name in ("level", "hospital_level") and lang == "zh":
        return LEVELS.get(str(value).removeprefix("level"), str(value))
    return value_text(str(value), lang) if name in ("method",) else str(value)


def number(name: str, value):
    """``value`` of ``name`` as a number for a CSV / Excel cell, in the unit of :func:`label` (万元, %, integer),
    rounded to two decimals; text and lists as text."""
    if _missing(value):
        return None
    kind = word(name).kind
    if kind == "money":
        return round(value / 1e4, 2)
    if kind in ("count", "yuan"):
        return round(value)
    if kind == "share":
        return round(100 * value, 2)
    if kind in ("pct", "rate", "z", "points"):
        return round(value, 2)
    if kind == "index":
        return round(value, 3)
    if kind == "bool":
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return "、".join(value_text(str(v)) for v in value)
    return value


def glossary(names) -> list[tuple[str, str, str]]:
    """(Chinese label, English name, explaining line) of every name that has an explanation, in order."""
    seen, out = set(), []
    for n in names:
        w = word(n)
        if w.note and w.zh not in seen:
            seen.add(w.zh)
            out.append((label(n), w.en, w.note))
    return out


def glossary_html(names) -> str:
    rows = "".join(
        f"<li><b>{html.escape(zh)}</b> <small>({html.escape(en)})</small>：{html.escape(note)}</li>"
        for zh, en, note in glossary(names)
    )
    return f"<ul class=glossary>{rows}</ul>" if rows else ""


def glossary_md(names) -> list[str]:
    return [f"- **{zh}**（{en}）：{note}" for zh, en, note in glossary(names)]


def terminal_table(
    title: str | None,
    rows: list[dict],
    names: Sequence[str],
    width: int,
    lang: str = "zh",
    keep: tuple[str, ...] = (),
    hint: str = "--json",
):
    """A terminal table of ``rows`` (dicts of canonical field → raw value) under the report labels of
    ``names``, formatted like the pages (万元, integers, percent) and fitted to ``width`` without cutting a
    number or a name (:func:`drgkit.terminal.fit_table`); ``keep`` columns are never left out."""
    from rich.cells import cell_len

    from .terminal import Col, fit_table

    cells = [[fmt(n, r.get(n), lang) for n in names] for r in rows]

    def kind(i: int, n: str) -> str:
        if word(n).kind != "text":
            return "number"
        # a kept name (医院 示例市第七人民医院) reads whole on one line when it is short enough; columns go first
        short = max((cell_len(row[i]) for row in cells), default=0) <= 24
        return "id" if n in keep and short else "text"

    cols = [Col(label(n, lang=lang), kind(i, n), keep=n in keep) for i, n in enumerate(names)]
    return fit_table(title, cols, cells, width, hint=hint, lang=lang)
