"""Header aliases: map the column names of real exports to drgkit's canonical columns.

Inputs come from two families of exports:

* the 医保结算清单 (medical-insurance settlement list) and the 病案首页 (inpatient front sheet, the
  hospital's discharge abstract), with Chinese labels such as 主要诊断编码 (principal diagnosis code);
* the national medical-insurance interface (国家医保信息平台接口), whose field codes are ASCII
  (``setl_id``, ``dscg_caty``, ...).

Headers are compared after :func:`normalize_header` (Unicode NFKC, which turns full-width brackets
and letters into ASCII; all whitespace removed; case folded), so ``年龄（周岁）`` matches ``年龄(周岁)``.
Diagnosis and procedure codes often arrive spread over numbered columns (其他诊断编码1..N); those are
recognised by pattern and returned as ordered *parts* to be assembled into one list column.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Canonical columns, in the order drgkit writes them.  ``dx``/``px`` are list<string>, principal first.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "case_id",
    "gender",
    "age",
    "age_days",
    "birth_weight",
    "dept",
    "los",
    "leaving_type",
    "icu_hours",
    "dx",
    "px",
    "total_cost",
)

#: Canonical (and well-known pass-through) names → aliases, highest priority first.  When a file has
#: two headers for the same name (say both 结算ID and 就诊ID), the earlier alias wins and the other
#: column passes through under its own name.
ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("结算ID", "结算编号", "就诊ID", "病案号", "住院号", "setl_id", "mdtrt_id", "medcasno", "caseId"),
    "patient_id": ("人员编号", "医保编号", "psn_no"),
    "hospital": ("定点医药机构代码", "定点医药机构编码", "医疗机构代码", "组织机构代码", "fixmedins_code"),
    "gender": ("性别", "性别代码", "gend", "sex"),
    "birth_date": ("出生日期", "brdy"),
    "age": ("年龄", "年龄(岁)", "年龄(周岁)", "age"),
    "age_days": ("年龄(天)", "年龄不足1周岁的天龄", "年龄不足1周岁的年龄(天)", "天龄", "ageDay", "age_day"),
    "birth_weight": ("新生儿出生体重", "新生儿出生体重(克)", "新生儿出生体重(g)", "nwb_bir_wt", "weight"),
    "admission_weight": ("新生儿入院体重", "新生儿入院体重(克)", "nwb_adm_wt"),
    "admission_date": ("入院时间", "入院日期", "adm_time"),
    "discharge_date": ("出院时间", "出院日期", "dscg_time"),
    "dept": ("出院科别", "出院科别代码", "出院科室", "dscg_caty"),
    "los": ("实际住院天数", "住院天数", "act_ipt_days", "inHospitalTime"),
    "leaving_type": ("离院方式", "dscg_way", "leavingType"),
    "ventilator_hours": ("呼吸机使用时间", "vent_used_dura"),
    "icu_hours": ("重症监护时长", "重症监护时长(小时)", "icuHours"),
    "total_cost": ("总费用", "金额合计", "医疗费总额", "住院总费用", "住院费用", "medfee_sumamt", "amount"),
    # Single columns holding every code of the stay, delimited by | , or ;
    "dx": ("诊断编码", "诊断代码", "诊断编码串"),
    "px": ("手术操作编码", "手术操作代码", "手术编码串"),
}

# Principal diagnosis / main procedure columns (one code each).
_DX_MAIN = ("dx_main", "主要诊断编码", "主要诊断代码", "出院主要诊断编码", "出院主要诊断代码", "主诊断编码", "主诊断代码")
_PX_MAIN = ("px_main", "主要手术操作编码", "主要手术操作代码", "主要手术编码", "主要手术代码", "主手术操作编码")
# Un-numbered "other codes" columns (delimited strings) that follow the principal one.
_DX_OTHER = ("其他诊断编码", "其他诊断代码")
_PX_OTHER = ("其他手术操作编码", "其他手术操作代码")

# Numbered columns: the number orders them (numerically, so 10 comes after 9).
_DX_NUMBERED = re.compile(
    r"^(?:其他诊断编码|其他诊断代码|出院诊断编码|出院诊断代码|诊断编码|诊断代码|dx|diag_code|diagcode)_?(\d+)$"
)
_PX_NUMBERED = re.compile(
    r"^(?:其他手术操作编码|其他手术操作代码|手术操作编码|手术操作代码|其他手术编码|手术编码|px|oprn_oprt_code)_?(\d+)$"
)

#: Column roles in the long diagnosis / procedure tables of the three-table layout.
LONG_CODE_ALIASES: dict[str, tuple[str, ...]] = {
    "dx": ("诊断代码", "诊断编码", "diag_code", "dx", "code"),
    "px": ("手术操作代码", "手术操作编码", "oprn_oprt_code", "px", "code"),
}
LONG_FLAG_ALIASES: dict[str, tuple[str, ...]] = {
    "dx": ("主诊断标志", "主要诊断标志", "maindiag_flag", "main_flag", "principal"),
    "px": ("主要手术标志", "主手术标志", "main_oprn_flag", "main_flag", "main"),
}

_SPACE = re.compile(r"\s+")


def normalize_header(header: str) -> str:
    """Comparison key of a header: NFKC (full-width → ASCII), whitespace removed, case folded."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(header))).casefold()


def _lookup() -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for canonical, aliases in ALIASES.items():
        table.setdefault(normalize_header(canonical), (canonical, 0))
        for rank, alias in enumerate(aliases, start=1):
            table.setdefault(normalize_header(alias), (canonical, rank))
    return table


_LOOKUP = _lookup()
_DX_MAIN_KEYS = {normalize_header(h) for h in _DX_MAIN}
_PX_MAIN_KEYS = {normalize_header(h) for h in _PX_MAIN}
_DX_OTHER_KEYS = {normalize_header(h) for h in _DX_OTHER}
_PX_OTHER_KEYS = {normalize_header(h) for h in _PX_OTHER}


@dataclass
class HeaderPlan:
    """How the headers of one file become canonical columns.

    ``rename`` maps every kept source header to its output name (canonical or unchanged).
    ``dx_parts`` / ``px_parts`` list the source headers whose codes are concatenated, in order, into the
    ``dx`` / ``px`` list column; those headers are dropped from the output.  They are empty when a single
    ``dx`` / ``px`` column exists (it is then in ``rename``).
    """

    rename: dict[str, str] = field(default_factory=dict)
    dx_parts: list[str] = field(default_factory=list)
    px_parts: list[str] = field(default_factory=list)

    def source_of(self, canonical: str) -> str | None:
        """The source header that became ``canonical``, if any."""
        for source, target in self.rename.items():
            if target == canonical:
                return source
        return None


def _code_part(key: str) -> tuple[str, int] | None:
    """(``dx``/``px``, order) when the header is a principal, other or numbered code column."""
    if key in _DX_MAIN_KEYS:
        return "dx", -2
    if key in _PX_MAIN_KEYS:
        return "px", -2
    if key in _DX_OTHER_KEYS:
        return "dx", 10**9
    if key in _PX_OTHER_KEYS:
        return "px", 10**9
    for kind, pattern in (("dx", _DX_NUMBERED), ("px", _PX_NUMBERED)):
        match = pattern.match(key)
        if match:
            return kind, int(match.group(1))
    return None


def plan_headers(headers: Iterable[str], mapping: Mapping[str, str] | None = None) -> HeaderPlan:
    """Decide the canonical name of every header.

    ``mapping`` ({source header: canonical name}) wins over the built-in aliases; its keys must be
    headers of the file (compared exactly, then after :func:`normalize_header`), otherwise
    :class:`KeyError` names the first missing one.
    """
    headers = list(headers)
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)

    # (priority, position) of the header currently holding each target name; lower wins.
    claims: dict[str, tuple[tuple[int, int], str]] = {}

    def claim(target: str, header: str, priority: int) -> None:
        rank = (priority, headers.index(header))
        held = claims.get(target)
        if held is None or rank < held[0]:
            claims[target] = (rank, header)

    user_sources: set[str] = set()
    for source, target in (mapping or {}).items():
        header = source if source in headers else by_key.get(normalize_header(source))
        if header is None:
            raise KeyError(source)
        user_sources.add(header)
        claim(target, header, -1)

    parts: dict[str, list[tuple[int, int, str]]] = {"dx": [], "px": []}
    for position, header in enumerate(headers):
        if header in user_sources:
            continue
        key = normalize_header(header)
        hit = _LOOKUP.get(key)
        if hit is not None:
            claim(hit[0], header, hit[1])
            continue
        part = _code_part(key)
        if part is not None:
            parts[part[0]].append((part[1], position, header))

    plan = HeaderPlan()
    winners = {header: target for target, (_, header) in claims.items()}
    # A user mapping onto a code-part name (e.g. "dx3", "dx_main") adds that column to the parts.
    for header, target in list(winners.items()):
        part = _code_part(normalize_header(target))
        if part is not None:
            parts[part[0]].append((part[1], -1, header))
            del winners[header]
    taken = set(winners.values())
    for kind in ("dx", "px"):
        if kind in taken:
            continue  # a single dx/px column wins; part columns pass through untouched
        ordered = [header for _, _, header in sorted(parts[kind])]
        if kind == "dx":
            plan.dx_parts = ordered
        else:
            plan.px_parts = ordered

    consumed = set(plan.dx_parts) | set(plan.px_parts)
    for header in headers:
        if header in consumed:
            continue
        if header in winners:
            plan.rename[header] = winners[header]
        elif header in taken:
            # A loser whose own name is now another column's target keeps its data under a new name.
            plan.rename[header] = f"{header}_source"
        else:
            plan.rename[header] = header
    return plan


def find_header(headers: Iterable[str], aliases: Iterable[str]) -> str | None:
    """The first header (in alias priority order) matching one of ``aliases``."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(normalize_header(header), header)
    for alias in aliases:
        header = by_key.get(normalize_header(alias))
        if header is not None:
            return header
    return None


def expected_dx_headers() -> str:
    """A short human list of recognised diagnosis headers, for error messages."""
    return "dx, 诊断编码, 主要诊断编码, 其他诊断编码1..N, 出院诊断编码1..N, dx1..N, diag_code1..N"
