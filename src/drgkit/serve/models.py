"""The request and response shapes of the service, for its OpenAPI document (every field described in Chinese
and English).  Requests are read by :mod:`drgkit.serve.cases` through drgkit's field vocabulary, not validated by
these models: a case may use any header ``drgkit group`` reads (Chinese labels, interface codes), and a bad
value makes that case ``invalid`` instead of failing the call.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


def _f(zh: str, en: str, **kw: Any) -> Any:
    return Field(default=kw.pop("default", None), description=f"{zh} / {en}", **kw)


class Case(BaseModel):
    """一份病案（病案首页 / 结算清单的字段；中文表头、国家接口字段代码与英文名均可） / One discharge abstract: any
    field name `drgkit group` reads — canonical names below, Chinese labels (性别, 主要诊断编码, 其他诊断编码1 …) or
    national interface codes (gend, dscg_way, diag_code1 …)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "case_id": "ZY2024000123",
                "gender": "男",
                "age": 65,
                "los": 8,
                "leaving_type": 1,
                "dx": ["I21.000x005", "E11.900"],
                "px": ["36.0601"],
                "total_cost": 36512.4,
            }
        },
    )

    case_id: Optional[str] = _f("结算ID / 病案号", "stay id (settlement id or medical record number)")
    gender: Optional[Union[str, int]] = _f("性别：1 男 2 女（男/女、M/F 亦可）", "sex: 1 male, 2 female (男/女, M/F)")
    age: Optional[Union[str, int]] = _f("年龄（岁；82岁、3月、15天 亦可）", "age in years (82岁, 3月, 15天 read too)")
    age_days: Optional[Union[str, int]] = _f("年龄不足1周岁的天龄", "age in days (under one year)")
    birth_weight: Optional[Union[str, int]] = _f("新生儿出生体重（克）", "newborn birth weight (g)")
    los: Optional[Union[str, int]] = _f("实际住院天数", "length of stay (days)")
    leaving_type: Optional[Union[str, int]] = _f(
        "离院方式：1 医嘱离院 2 医嘱转院 3 转社区 4 非医嘱离院 5 死亡 9 其他",
        "discharge disposition (1-5, 9; or its Chinese words)",
    )
    dept: Optional[str] = _f("出院科别", "discharge department")
    icu_hours: Optional[Union[str, int]] = _f("重症监护时长（小时）", "ICU hours")
    dx: Optional[Union[str, list[str]]] = _f(
        "诊断编码（ICD-10 医保版），主要诊断在前；列表或以 | , ; 分隔",
        "diagnoses (ICD-10, NHSA edition), principal first: a list or '|'-separated text",
    )
    px: Optional[Union[str, list[str]]] = _f(
        "手术操作编码（ICD-9-CM-3 医保版），主要手术在前", "procedures (ICD-9-CM-3, NHSA edition), main first"
    )
    total_cost: Optional[Union[str, float]] = _f(
        "总费用（元），计价时判定病例类型", "total cost (yuan), for the case type when priced"
    )
    hospital_level: Optional[str] = _f("医院等级（计价用）", "hospital level (pricing)")
    insurance_type: Optional[str] = _f(
        "险种类型：职工 / 居民（计价用）", "insurance type: employee / resident (pricing)"
    )


class Diagnosis(BaseModel):
    model_config = ConfigDict(extra="allow")
    diag_code: str = Field(description="诊断代码 / diagnosis code")
    diag_name: Optional[str] = _f("诊断名称", "diagnosis name (not read)")
    maindiag_flag: Optional[str] = _f("主诊断标志：1 是 0 否", "principal-diagnosis flag: 1 yes, 0 no")
    diag_type: Optional[str] = _f(
        "诊断类别：1 西医 2 中医主病 3 中医主证（中医诊断不参与分组）",
        "diagnosis type: 1 western, 2/3 TCM (TCM diagnoses are not grouped)",
    )


class Procedure(BaseModel):
    model_config = ConfigDict(extra="allow")
    oprn_oprt_code: str = Field(description="手术操作代码 / procedure code")
    oprn_oprt_name: Optional[str] = _f("手术操作名称", "procedure name (not read)")
    main_oprn_flag: Optional[str] = _f(
        "主要手术标志：1 是 0 否（无此字段时第一条为主要手术）",
        "main-procedure flag: 1 yes (without it the first listed is the main one)",
    )


class SettlementCase(BaseModel):
    """医保结算清单结构（4101 / 4101A），可包在 {"infno": "4101", "input": {…}} 中 / The national settlement-list
    structure (interface 4101 / 4101A), optionally wrapped in {"infno": "4101", "input": {…}}."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "setlinfo": {"setl_id": "S20240001", "gend": "1", "age": 65, "act_ipt_days": 8, "dscg_way": "1"},
                "diseinfo": [
                    {"diag_code": "E11.900", "maindiag_flag": "0", "diag_type": "1"},
                    {"diag_code": "I21.000x005", "maindiag_flag": "1", "diag_type": "1"},
                ],
                "oprninfo": [{"oprn_oprt_code": "36.0601", "main_oprn_flag": "1"}],
            }
        },
    )

    setlinfo: dict[str, Any] = Field(
        description="结算清单主信息（gend、age、nwb_age、nwb_bir_wt、act_ipt_days、"
        "dscg_way、setl_id …） / the stay: interface field codes"
    )
    diseinfo: list[Diagnosis] = Field(default_factory=list, description="诊断信息 / diagnoses")
    oprninfo: list[Procedure] = Field(default_factory=list, description="手术操作信息 / procedures")


class PriceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    table: str = Field(description="支付表 id（见 GET /v1/tables） / payment table id (GET /v1/tables)")
    level: Optional[str] = _f("医院等级：level1 / level2 / level3 …", "hospital level: level1 / level2 / level3 …")
    insurance: Optional[str] = _f("险种：employee 职工 / resident 居民", "insurance type: employee / resident")
    base_rate: Optional[float] = _f("基础费率（元/RW），覆盖支付表", "base rate (yuan per RW), overrides the table")
    allow_scheme_mismatch: bool = Field(
        False, description="允许用其他方案的支付表计价 / price groups of another scheme"
    )


class CaseOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strict_gender: bool = Field(False, description="性别只接受 1/2 / accept only 1/2 as sex")
    convert_codes: bool = Field(False, description="国临版编码转医保版 / translate clinical-edition codes to NHSA")
    fix_case: bool = Field(False, description="未知编码改为大写 / upper-case unknown codes")


class GroupEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cases: list[Union[Case, SettlementCase]] = Field(
        description="病案（最多 10,000 份，可配置） / cases (at most 10,000 by default)"
    )
    scheme: Optional[str] = _f("分组方案 id（服务已加载的）", "scheme id (one the server loaded)")
    price: Optional[PriceSpec] = _f("计价（可选）", "pricing (optional)")
    options: Optional[CaseOptions] = None
    mapping: Optional[dict[str, str]] = _f("字段映射 {来源字段: 字段}", "field mapping {source: field}, as --map")
    allow_unmapped: bool = Field(False, description="含编码但未读取的字段只提示不报错 / carry unread code fields")


class ApiError(BaseModel):
    code: str = Field(description="错误代码（稳定） / stable error code")
    field: Optional[str] = Field(description="出错的字段 / the field at fault")
    message: str = Field(description="说明（一行） / one-line message")


class CaseResult(BaseModel):
    case_id: Optional[str] = _f("病案号", "stay id")
    status: Literal["ok", "ungroupable", "ambiguous", "invalid"] = Field(
        description="状态：ok 入组 / ungroupable 未入组 0000 / ambiguous 歧义组 QY / invalid 无效病案"
    )
    status_zh: str = Field(description="状态（中文） / status in Chinese")
    reason: Optional[str] = _f("原因（代码 + 说明，如 V01、U05）", "reason: code and message (V01, U05 …)")
    reason_zh: Optional[str] = _f("原因（中文）", "reason in Chinese")
    warnings: Optional[str] = _f("提示（未知编码、编码清理等，不影响分组）", "warnings (unknown codes, clean-ups)")
    mdc: Optional[str] = _f("主要诊断大类", "major diagnostic category")
    mdc_name: Optional[str] = _f("MDC 名称", "MDC name")
    adrg: Optional[str] = _f("核心疾病诊断相关组", "ADRG")
    adrg_name: Optional[str] = _f("ADRG 名称", "ADRG name")
    drg: Optional[str] = _f("DRG 组", "DRG")
    drg_name: Optional[str] = _f("DRG 名称", "DRG name")
    cc_level: Optional[str] = _f("并发症等级：none / cc / mcc", "complication level")
    cc_level_zh: Optional[str] = _f("并发症等级（中文）", "complication level in Chinese")
    cc_code: Optional[str] = _f("决定并发症等级的诊断", "the diagnosis that set the level")
    cc_name: Optional[str] = _f("该诊断名称", "its name")
    weight: Optional[float] = _f(
        "权重 RW（支付表的，或方案自带的参考权重）", "weight RW (the table's, or the scheme's reference weight)"
    )
    scheme: str = Field(description="分组方案 / scheme")
    scheme_checksum: str = Field(description="方案校验码 / scheme checksum")
    standard_payment: Optional[float] = _f("标准支付（元，计价时）", "standard payment (yuan, when priced)")
    case_type: Optional[str] = _f("病例类型：normal / high_ratio / low_ratio / special / unpriced", "case type")
    case_type_zh: Optional[str] = _f("病例类型（中文）", "case type in Chinese")
    payment: Optional[float] = _f("支付金额（元）", "payment (yuan)")
    fund_payment: Optional[float] = _f("统筹支付（元）", "fund payment (yuan)")
    patient_payment: Optional[float] = _f("个人支付（元）", "patient payment (yuan)")
    margin: Optional[float] = _f("结余（元）= 支付 − 总费用", "margin = payment − total cost")
    price_reason: Optional[str] = _f("计价说明", "pricing note")
    error: Optional[ApiError] = _f("本病例无法读取时：出错的字段", "when this case could not be read: the field")


class GroupResponse(BaseModel):
    scheme: str
    scheme_checksum: str
    count: int = Field(description="病例数 / cases")
    statuses: dict[str, int] = Field(description="各状态病例数 / cases by status")
    priced: bool
    ignored_fields: list[str] = Field(description="未读取的字段（原样忽略） / fields not read")
    notes: list[str] = Field(description="读取说明 / reader notes")
    results: list[CaseResult]


class ExplainBody(Case):
    """一份病案（同 /v1/group 的病案，或 CLI 的 dx/px/age/sex/weight） / One case, as for /v1/group or as the CLI's
    options (dx, px, age, sex, age_days, weight, los, leaving_type)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"example": {"dx": "I21.000x005|E11.900", "px": "36.0601", "age": 65, "sex": 1}},
    )
    sex: Optional[Union[str, int]] = _f("性别（同 gender）", "sex (as gender)")
    weight: Optional[Union[str, int]] = _f("出生体重（克，同 birth_weight）", "birth weight (g), as --weight")
    scheme: Optional[str] = _f("分组方案 id", "scheme id")
    options: Optional[CaseOptions] = None


class WhatIfBody(ExplainBody):
    model_config = ConfigDict(
        extra="allow", json_schema_extra={"example": {"dx": "J18.900|I50.900|E11.900", "age": 75, "sex": 2}}
    )
    add_dx: Optional[Union[str, list[str]]] = _f("试加的诊断", "diagnoses to try adding")
    add_px: Optional[Union[str, list[str]]] = _f("试加的手术", "procedures to try adding")
    table: Optional[str] = _f("支付表（按标准支付排序）", "payment table (rank by standard payment)")
    level: Optional[str] = _f("医院等级", "hospital level")
    insurance: Optional[str] = _f("险种", "insurance type")


class SchemeOut(BaseModel):
    id: str
    name: str = Field(description="方案名称 / scheme name")
    validity_check: Optional[str] = None
    checksum: str
    served: bool = Field(description="本服务已加载 / loaded by this server")
    default: bool = Field(description="默认方案 / the default scheme")
    has_weights: bool = Field(description="方案自带参考权重 / ships reference weights")


class CodeOut(BaseModel):
    code: str
    name: str = Field(description="中文名称 / Chinese name")
    kind: Literal["dx", "px"] = Field(description="dx 诊断 ICD-10 / px 手术操作 ICD-9-CM-3")
    grey: bool = Field(description="灰码：不能用于结算，应编码到细目 / grey code: not valid for settlement")
    cc: Optional[bool] = _f("一般并发症 CC（诊断）", "a CC (diagnoses)")
    mcc: Optional[bool] = _f("严重并发症 MCC（诊断）", "an MCC (diagnoses)")
    or_procedure: Optional[bool] = _f("手术室操作（手术）", "OR procedure (procedures)")


class Health(BaseModel):
    status: str
    version: str
    schemes: list[str]
    default_scheme: str
    auth: bool = Field(description="需要 Bearer 令牌 / a bearer token is required")
    uptime_s: float
