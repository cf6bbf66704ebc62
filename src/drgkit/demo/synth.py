"""Realistic synthetic discharge abstracts (病案首页) built from a scheme's own tables.

``generate(n, scheme=..., seed=...)`` returns a :class:`pyarrow.Table` of ``n`` inpatient stays. Each stay
is built around a *target* ADRG rule of the scheme, drawn with a Zipf-like popularity (a few dozen groups
dominate, as in real hospital data): the principal diagnosis comes from the rule's ``dx`` list (or from the
MDC's ``mdc_dx`` list for procedure-defined rules), surgical rules get a main procedure from their ``px``
list (plus the companion lists ``px1``/``px2``/``px_t*`` the entry expression asks for), and every stay
gets 0-8 secondary diagnoses (common chronic comorbidities, ~30 % of stays with a CC and ~20 % with an MCC
from ``cc.csv``). Demographics respect the MDC entry conditions (MDCM male, MDCN/MDCO female, MDCO aged
18-45, MDCP age 0 with age in days and a birth weight in the rule's band); length of stay and total cost
are lognormal around a per-ADRG mean that grows with the ADRG's relative weight, surgery, complications
and the hospital level, with a heavy right tail and a few extreme outliers.

A fraction ``dirty`` of the rows carries exactly one data-quality defect (see :data:`DEFECTS`); when
``dirty > 0`` the numeric columns that can be dirty (age, age_days, birth_weight, los, leaving_type) are
strings, otherwise they are integers. Everything is vectorised with numpy/pyarrow: a million rows take a
few seconds. The output is a pure function of ``(n, scheme, seed, dirty, hospitals)``; the synthetic
"world" (popularity ranking, per-ADRG costs, code preferences) depends only on the scheme.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemes import DEFAULT_SCHEME
from ..schemes.atoms import atoms_in
from ..schemes.expr import parse_dnf
from ..schemes.semantics import excluded, needs_birth_weight
from ..schemes.tables import icd_table, load_table, scheme_info

COLUMNS = (
    "case_id",
    "patient_id",
    "hospital",
    "hospital_level",
    "dept",
    "gender",
    "age",
    "age_days",
    "birth_weight",
    "los",
    "leaving_type",
    "admission_date",
    "discharge_date",
    "dx",
    "px",
    "total_cost",
)

#: Data-quality defects injected into the ``dirty`` fraction of rows (one per dirty row).
DEFECTS = (
    "gender_blank",
    "gender_invalid",
    "age_blank",
    "age_negative",
    "los_text",
    "leaving_invalid",
    "dx_lowercase",
    "dx_unknown",
    "px_unknown",
    "dx_missing",
    "newborn_no_weight",
)

_WORLD_SEED = 0x5EED_D86
_START = np.datetime64("2023-01-01", "D")
_BASE_COST = 11000.0  # yuan for an ADRG of relative weight 1 in a level-2/3 hospital
_LEVEL_COST = np.array([0.0, 0.55, 0.82, 1.15])  # index = hospital level
_LEVEL_LOS = np.array([0.0, 0.9, 0.97, 1.05])

# Popular ADRGs in real Chinese inpatient data, by name fragment: ranked first when present in the scheme.
_POPULAR = (
    "呼吸系统感染",
    "恶性增生性疾患的化学治疗",
    "恶性增生性疾病的化学治疗",
    "脑缺血",
    "阴道分娩",
    "剖宫产",
    "晶体手术",
    "晶状体手术",
    "冠状动脉粥样硬化",
    "心力衰竭",
    "经皮冠状动脉支架",
    "慢性气道阻塞",
    "慢性阻塞",
    "结肠镜治疗",
    "胃镜治疗",
    "高血压",
    "糖尿病",
    "心绞痛",
    "胆囊切除",
    "足月儿",
    "脑卒中",
    "颅内出血",
    "椎间盘",
    "关节置换",
    "消化道出血",
    "支气管炎",
    "阑尾切除",
    "腹股沟",
    "甲状腺",
    "心律失常",
    "肺部肿瘤",
    "泌尿系统感染",
    "结石",
    "骨折",
    "眩晕",
    "头晕",
)
# Common comorbidities (secondary diagnoses), most frequent first.
_COMORBID = (
    "I10",
    "E11.9",
    "E78",
    "I25.1",
    "K76.0",
    "I63.9",
    "E03.9",
    "M81",
    "K29",
    "Z95.5",
    "D64.9",
    "I67.2",
    "R73",
    "E55",
    "K80.2",
    "N28.1",
    "K21",
    "I70",
    "G47",
    "J98.4",
    "Z86",
    "E66",
    "M47",
    "H25",
    "K74",
    "Z92",
    "Z98",
    "E04",
    "K57",
    "N20",
)
_MCC_COMMON = ("J96", "I50", "N17", "A41", "R57", "J80", "I46", "K72", "I21", "I61", "R65", "N18.5", "D65")
_CC_COMMON = ("J18", "E87", "D62", "N39.0", "I48", "E11.6", "K92", "E83", "R09", "I49", "J90", "E86", "D69")
_NONOR_PREFIX = ("87.", "88.", "89.", "93.", "96.", "99.")

_DEPT = {  # MDC letter -> (medical department, surgical department)
    "A": ("重症医学科", "重症医学科"),
    "B": ("神经内科", "神经外科"),
    "C": ("眼科", "眼科"),
    "D": ("耳鼻咽喉科", "耳鼻咽喉科"),
    "E": ("呼吸内科", "胸外科"),
    "F": ("心血管内科", "心脏大血管外科"),
    "G": ("消化内科", "普通外科"),
    "H": ("消化内科", "肝胆外科"),
    "I": ("骨科", "骨科"),
    "J": ("皮肤科", "乳腺外科"),
    "K": ("内分泌科", "普通外科"),
    "L": ("肾内科", "泌尿外科"),
    "M": ("泌尿外科", "泌尿外科"),
    "N": ("妇科", "妇科"),
    "O": ("产科", "产科"),
    "P": ("新生儿科", "小儿外科"),
    "Q": ("血液内科", "血液内科"),
    "R": ("肿瘤科", "肿瘤外科"),
    "S": ("感染科", "感染科"),
    "T": ("精神科", "精神科"),
    "U": ("精神科", "精神科"),
    "V": ("急诊科", "创伤外科"),
    "W": ("烧伤科", "烧伤科"),
    "X": ("康复医学科", "普通外科"),
    "Y": ("感染科", "感染科"),
    "Z": ("创伤外科", "创伤外科"),
}


# --------------------------------------------------------------------------------------------- world model


@dataclass
class _Pool:
    """Variable-length candidate lists, one per rule, flattened: ``flat[start[r]:start[r]+length[r]]``."""

    flat: np.ndarray
    start: np.ndarray
    length: np.ndarray

    @classmethod
    def build(cls, lists: list[np.ndarray]) -> _Pool:
        length = np.array([len(x) for x in lists], dtype=np.int64)
        start = np.zeros(len(lists), dtype=np.int64)
        start[1:] = np.cumsum(length)[:-1]
        flat = np.concatenate(lists).astype(np.int32) if lists and length.sum() else np.zeros(0, np.int32)
        return cls(flat, start, length)

    def pick(self, rule: np.ndarray, u: np.ndarray, skew: float = 2.2) -> np.ndarray:
        """One candidate per row (rows whose rule has an empty list get -1); skewed to the list's head."""
        ln = self.length[rule]
        off = np.minimum((ln * u**skew).astype(np.int64), np.maximum(ln - 1, 0))
        out = np.full(len(rule), -1, dtype=np.int32)
        ok = ln > 0
        out[ok] = self.flat[self.start[rule[ok]] + off[ok]]
        return out


@dataclass
class _World:
    scheme: str
    dx_vocab: pa.Array
    px_vocab: pa.Array
    dx_index: dict
    dx_cat: np.ndarray  # ICD category (first 3 characters) id per dx vocab index
    valid_dx: frozenset
    # rules
    rule_id: np.ndarray
    rule_mdc: np.ndarray
    rule_cls: np.ndarray  # 0 medical, 1 non-OR procedure, 2 surgical (2nd letter of the ADRG code)
    rule_newborn: np.ndarray  # entry needs age_days <= 28 (MDCP newborn)
    rule_infant: np.ndarray  # MDCP rule without a newborn condition: age 0, 29-364 days
    rule_wmin: np.ndarray
    rule_wmax: np.ndarray
    rule_weight: np.ndarray  # relative weight of the ADRG
    rule_dept: np.ndarray  # index into dept_names (medical); +1 gives the surgical dept
    rule_z: np.ndarray  # MDCZ rule (needs two body sites)
    popularity: np.ndarray  # (4, R): probability per hospital level (row 0 unused)
    pdx: _Pool
    main_px: _Pool
    extra_px: list
    sdx: _Pool
    dept_names: np.ndarray
    # secondary diagnoses
    mcc: np.ndarray
    mcc_p: np.ndarray
    cc: np.ndarray
    cc_p: np.ndarray
    cc_excl: np.ndarray  # exclusion table id per dx vocab index (-1 none), for CC/MCC codes
    pdx_excl: np.ndarray  # exclusion table id per dx vocab index (-1 none), for principal dx
    comorb: np.ndarray
    comorb_p: np.ndarray
    tail_dx: np.ndarray
    nonor_px: np.ndarray
    nonor_p: np.ndarray
    z_site: np.ndarray  # body-site id per dx vocab index (-1 none)
    z_by_site: _Pool


def _zipf(k: int, s: float = 1.0, q: float = 1.0) -> np.ndarray:
    p = 1.0 / (np.arange(k) + q) ** s
    return p / p.sum()


def _prefer(codes: list[str], prefixes: tuple[str, ...], rng: np.random.Generator) -> list[str]:
    """Codes ordered by preference: listed prefixes first (in order), base codes before extensions."""
    rank = {}
    for c in codes:
        r = next((i for i, p in enumerate(prefixes) if c.startswith(p)), len(prefixes))
        rank[c] = r
    noise = rng.random(len(codes))
    order = sorted(range(len(codes)), key=lambda i: (rank[codes[i]], "x" in codes[i], noise[i]))
    return [codes[i] for i in order]


def _norm_name(s: str) -> str:
    return re.sub(r"[\s，,、／/（）()＜<＞>≥≤%＋+]", "", s)


def _cls(adrg: str) -> int:
    c = adrg[1:2].upper()
    return 2 if "A" <= c <= "J" else 1 if "K" <= c <= "Q" else 0


def _ref_weights() -> tuple[dict, dict]:
    """Reference ADRG weights from CHS-DRG 2.0 (by normalised name, and mean per (MDC, class))."""
    try:
        _, drg = load_table("chs-drg-2.0", "drg")
        _, adrg = load_table("chs-drg-2.0", "adrg")
    except Exception:  # scheme not shipped: heuristic weights only
        return {}, {}
    w: dict[str, list[float]] = {}
    for r in drg:
        if r[8]:
            w.setdefault(r[2], []).append(float(r[8]))
    mean = {a: float(np.mean(v)) for a, v in w.items()}
    by_name: dict[Any, Any] = {}
    by_cls: dict[Any, Any] = {}
    for r in adrg:
        if r[1] in mean:
            by_name[_norm_name(r[2])] = mean[r[1]]
            by_cls.setdefault((r[4], _cls(r[1])), []).append(mean[r[1]])
    return by_name, {k: float(np.exp(np.mean(np.log(v)))) for k, v in by_cls.items()}


@lru_cache(maxsize=8)
def _world(scheme: str) -> _World:
    info = scheme_info(scheme)
    rng = np.random.default_rng([_WORLD_SEED, zlib.crc32(info.id.encode())])

    icd_dx = [r[0] for r in icd_table(scheme, "icd_dx")[1]]
    icd_px = [r[0] for r in icd_table(scheme, "icd_px")[1]]
    _, mdc_dx = load_table(scheme, "mdc_dx")
    _, adrg_rows = load_table(scheme, "adrg")
    _, codes = load_table(scheme, "adrg_codes")
    _, cc_rows = load_table(scheme, "cc")
    _, excl_rows = load_table(scheme, "cc_exclusion")
    _, or_rows = load_table(scheme, "or_procedures")
    _, drg_rows = load_table(scheme, "drg")
    ahead = load_table(scheme, "adrg")[0]
    col = {c: i for i, c in enumerate(ahead)}

    rule_lists: dict[str, dict[str, list[str]]] = {}
    for r in codes:
        rule_lists.setdefault(r[0], {}).setdefault(r[2], []).append(r[3])
    mdc_codes: dict[str, list[str]] = {}
    z_sites: dict[str, str] = {}
    for m, dx, site in mdc_dx:
        mdc_codes.setdefault(m, []).append(dx)
        if m == "MDCZ" and site:
            z_sites[dx] = site

    # vocabularies
    dx_list = list(
        dict.fromkeys(
            icd_dx + [r[1] for r in mdc_dx] + [r[1] for r in cc_rows] + [r[3] for r in codes if r[2].startswith("dx")]
        )
    )
    px_list = list(dict.fromkeys(icd_px + [r[0] for r in or_rows] + [r[3] for r in codes if r[2].startswith("px")]))
    dx_index = {c: i for i, c in enumerate(dx_list)}
    px_index = {c: i for i, c in enumerate(px_list)}
    valid_dx = frozenset(icd_dx) | frozenset(r[1] for r in mdc_dx)
    valid_px = frozenset(icd_px)
    special: set[str] = set()
    for m in ("MDCM", "MDCN", "MDCO", "MDCP"):
        special.update(mdc_codes.get(m, ()))
    special.update(c for c in dx_list if c[:1] in ("O", "P"))
    cc_level = {r[0]: r[1] for r in cc_rows}
    all_rule_px = {r[3] for r in codes if r[2].startswith("px")}
    or_set = {r[0] for r in or_rows}

    def dx_idx(lst):
        return np.array([dx_index[c] for c in lst], dtype=np.int32)

    def px_idx(lst):
        return np.array([px_index[c] for c in lst], dtype=np.int32)

    def ordered_valid(lst, valid, prefer=()):
        lst = list(dict.fromkeys(lst))
        ok = [c for c in lst if c in valid]
        return _prefer(ok or lst, prefer, rng)

    mdc_sets = {m: set(v) for m, v in mdc_codes.items()}
    mdc_ordered: dict[str, list[str]] = {}

    general = ordered_valid(
        [
            c
            for m, v in mdc_codes.items()
            if m not in ("MDCM", "MDCN", "MDCO", "MDCP", "MDCZ", "MDCY", "MDCA")
            for c in v
        ],
        valid_dx,
    )
    nonor = ordered_valid(
        [c for c in icd_px if c.startswith(_NONOR_PREFIX) and c not in or_set and c not in all_rule_px], valid_px
    )
    or_free = [c for c in or_rows if c[0] not in all_rule_px]
    or_pool = ordered_valid([c[0] for c in (or_free or or_rows)], valid_px)

    # reference weights
    own: dict[str, list[float]] = {}
    for r in drg_rows:
        if len(r) > 8 and r[8]:
            own.setdefault(r[2], []).append(float(r[8]))
    ref_name, ref_cls = _ref_weights()
    default_cls = {0: 0.75, 1: 1.0, 2: 2.0}

    dept_names = []
    for med, surg in _DEPT.values():
        dept_names += [med, surg]
    dept_pos = {k: 2 * i for i, k in enumerate(_DEPT)}

    R = len(adrg_rows)
    rid, rmdc, rcls = [], [], np.zeros(R, np.int8)
    newborn, infant, zrule = np.zeros(R, bool), np.zeros(R, bool), np.zeros(R, bool)
    wmin, wmax, weight = np.zeros(R), np.zeros(R), np.zeros(R)
    dept = np.zeros(R, np.int16)
    pdx_l, main_l, x1_l, x2_l, sdx_l = [], [], [], [], []
    keyrank, tail = np.full(R, len(_POPULAR)), np.zeros(R, bool)
    for i, r in enumerate(adrg_rows):
        rule, adrg, mdc, expr, name = (
            r[col["rule_id"]],
            r[col["adrg"]],
            r[col["mdc"]],
            r[col["entry_expr"]],
            r[col["name"]],
        )
        lists = rule_lists.get(rule, {})
        rid.append(rule)
        rmdc.append(mdc)
        rcls[i] = _cls(adrg)
        # what the rule's expression asks of a case, read with the atom registry
        asks = atoms_in(parse_dnf(expr))
        names = {a.name for a in asks}
        named = {a.arg("list") for a in asks} - {None}
        newborn[i] = "newborn" in names
        infant[i] = mdc == "MDCP" and not newborn[i]
        zrule[i] = mdc == "MDCZ"
        wmin[i] = float(r[col["weight_min"]] or 0) if "weight_min" in col else 0
        wmax[i] = float(r[col["weight_max"]] or 0) if "weight_max" in col else 0
        # principal diagnosis candidates
        mdc_pool = mdc_codes.get(mdc, [])
        if mdc == "MDCZ":
            mdc_pool = [c for c in mdc_pool if c in z_sites]
        asks_own_dx = any(a.name in ("pdx_in", "any_dx_in") and a.arg("list") == "dx" for a in asks)
        if asks_own_dx and "pdx_not_in" not in names and lists.get("dx"):
            own_dx = lists["dx"]
            mset = mdc_sets.get(mdc, set())
            inter = [c for c in own_dx if c in mset and (mdc != "MDCZ" or c in z_sites)]
            cand = ordered_valid(inter or own_dx, valid_dx)
        elif mdc_pool:
            if mdc not in mdc_ordered:
                mdc_ordered[mdc] = ordered_valid(mdc_pool, valid_dx)
            cand = mdc_ordered[mdc]
        else:
            cand = general
        pdx_l.append(dx_idx(cand))
        sdx_l.append(
            dx_idx(ordered_valid(lists["dx1"], valid_dx))
            if "dx1" in named and lists.get("dx1")
            else np.zeros(0, np.int32)
        )
        # procedures
        main: list[str] = []
        if "px_tables" in names:
            main = lists.get("px_t1") or lists.get("px", [])
        elif any(a.name in ("main_px_in", "any_px_in") and a.arg("list") == "px" for a in asks):
            main = lists.get("px", [])
        elif names & {"main_px_or", "main_px_or_in", "any_px_or"}:
            main = or_pool
        elif "main_px_not_or" in names:
            main = [c for c in lists.get("px", []) if c not in or_set] or nonor
        main_l.append(px_idx(ordered_valid(main, valid_px)) if main else np.zeros(0, np.int32))
        x1 = lists.get("px1", []) if "px1" in named else lists.get("px_t2", []) if "px_tables" in names else []
        x2 = lists.get("px2", []) if "px2" in named else []
        x1_l.append(px_idx(ordered_valid(x1, valid_px)) if x1 else np.zeros(0, np.int32))
        x2_l.append(px_idx(ordered_valid(x2, valid_px)) if x2 else np.zeros(0, np.int32))
        if mdc == "MDCR" and adrg[1:2].upper() != "A":  # chemo-/radio-/targeted therapy: not surgery
            rcls[i] = 1 if main else 0
        if main and rcls[i] == 0:
            rcls[i] = 1
        if not main and rcls[i] == 2:
            rcls[i] = 1
        # weight of the ADRG
        if adrg in own:
            weight[i] = float(np.mean(own[adrg]))
        elif _norm_name(name) in ref_name:
            weight[i] = ref_name[_norm_name(name)]
        else:
            base = ref_cls.get((mdc, int(rcls[i])), default_cls[int(rcls[i])])
            weight[i] = base * float(np.exp(rng.normal(0.0, 0.3)))
        if mdc == "MDCA" and weight[i] < 5:
            weight[i] = 5 + 10 * rng.random()
        dept[i] = dept_pos.get(mdc[-1:], dept_pos["X"]) + (1 if rcls[i] == 2 else 0)
        # popularity
        keyrank[i] = next((k for k, kw in enumerate(_POPULAR) if kw in name), len(_POPULAR))
        tail[i] = (
            mdc in ("MDCA", "MDCZ", "MDCY", "MDCW")
            or expr.strip() == "true"
            or (mdc == "MDCP" and keyrank[i] == len(_POPULAR))
        )
    # rules whose principal diagnosis pool is still empty fall back to the general pool
    for i, p in enumerate(pdx_l):
        if len(p) == 0:
            pdx_l[i] = dx_idx(general)

    noise = rng.random(R)
    name_len = np.array([len(r[col["name"]]) for r in adrg_rows])
    order = np.lexsort((noise, name_len, keyrank, tail))
    rank = np.empty(R, np.int64)
    rank[order] = np.arange(R)
    base_p = _zipf(R, 1.1, 4.0)[rank]
    pop = np.zeros((4, R))
    surg, nonor_r, heavy = rcls == 2, rcls == 1, weight > 3
    for level, (fs, fn, fh) in {1: (0.35, 0.7, 0.15), 2: (0.8, 0.95, 0.5), 3: (1.2, 1.0, 1.0)}.items():
        p = base_p * np.where(surg, fs, 1.0) * np.where(nonor_r, fn, 1.0) * np.where(heavy, fh, 1.0)
        pop[level] = p / p.sum()

    # secondary diagnoses
    neutral = [c for c in dx_list if c in valid_dx and c not in special]
    mcc = _prefer([c for c in neutral if cc_level.get(c) == "MCC"], _MCC_COMMON, rng)
    cc = _prefer([c for c in neutral if cc_level.get(c) == "CC"], _CC_COMMON, rng)
    non_cc = [c for c in neutral if c not in cc_level]
    comorb = [c for c in _prefer([c for c in non_cc if c.startswith(_COMORBID)], _COMORBID, rng)]
    tables: dict[str, int] = {}
    cc_excl = np.full(len(dx_list), -1, np.int32)
    for code, _lvl, tab in cc_rows:
        if tab:
            cc_excl[dx_index[code]] = tables.setdefault(tab, len(tables))
    pdx_excl = np.full(len(dx_list), -1, np.int32)
    for code, tab in excl_rows:
        if code in dx_index and tab in tables:
            pdx_excl[dx_index[code]] = tables[tab]
    site_ids: dict[str, int] = {}
    z_site = np.full(len(dx_list), -1, np.int32)
    for code, site in z_sites.items():
        z_site[dx_index[code]] = site_ids.setdefault(site, len(site_ids))
    by_site: list[list[int]] = [[] for _ in site_ids]
    for code, site in z_sites.items():
        if code in valid_dx:
            by_site[site_ids[site]].append(dx_index[code])
    if not any(by_site):
        by_site = [[dx_index[c] for c in z_sites]] if z_sites else []

    return _World(
        scheme=info.id,
        dx_vocab=pa.array(dx_list, pa.string()),
        px_vocab=pa.array(px_list, pa.string()),
        dx_index=dx_index,
        valid_dx=valid_dx,
        dx_cat=np.unique(np.array([c[:3] for c in dx_list]), return_inverse=True)[1].astype(np.int32),
        rule_id=np.array(rid),
        rule_mdc=np.array(rmdc),
        rule_cls=rcls,
        rule_newborn=newborn,
        rule_infant=infant,
        rule_wmin=wmin,
        rule_wmax=wmax,
        rule_weight=weight,
        rule_dept=dept,
        rule_z=zrule,
        popularity=pop,
        pdx=_Pool.build(pdx_l),
        main_px=_Pool.build(main_l),
        extra_px=[_Pool.build(x1_l), _Pool.build(x2_l)],
        sdx=_Pool.build(sdx_l),
        dept_names=np.array(dept_names),
        mcc=dx_idx(mcc),
        mcc_p=_zipf(len(mcc), 1.0, 3.0),
        cc=dx_idx(cc),
        cc_p=_zipf(len(cc), 0.9, 3.0),
        cc_excl=cc_excl,
        pdx_excl=pdx_excl,
        comorb=dx_idx(comorb),
        comorb_p=_zipf(len(comorb), 0.9, 1.0),
        tail_dx=dx_idx(non_cc),
        nonor_px=px_idx(nonor),
        nonor_p=_zipf(len(nonor), 1.0, 2.0),
        z_site=z_site,
        z_by_site=_Pool.build([np.array(s, np.int32) for s in by_site]),
    )


# ------------------------------------------------------------------------------------------------ helpers


def _join(mat: np.ndarray, valid: np.ndarray, vocab: pa.Array) -> pa.Array:
    """'|'-joined codes of each row (``mat`` holds vocabulary indices, ``valid`` marks the used cells)."""
    counts = valid.sum(axis=1)
    offsets = np.zeros(len(mat) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = vocab.take(pa.array(mat[valid], pa.int32()))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), "|")


def _dedupe(mat: np.ndarray, valid: np.ndarray, key: np.ndarray | None = None, first: int = 1) -> None:
    """Drop repeated codes in a row; from column ``first`` on, codes with equal ``key`` (category) too."""
    cat = key[np.maximum(mat, 0)] if key is not None else mat
    for j in range(1, mat.shape[1]):
        m = cat if j >= first else mat
        for i in range(j):
            valid[:, j] &= ~(valid[:, i] & (m[:, i] == m[:, j]))


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, s, "")


def _draw(rng: np.random.Generator, pool: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    if len(pool) == 0:
        return np.full(k, -1, np.int32)
    return pool[rng.choice(len(pool), size=k, p=p)]


# --------------------------------------------------------------------------------------------- generator

_CHUNK = 1 << 20


def generate(
    n: int,
    *,
    scheme: str = DEFAULT_SCHEME,
    seed: int = 0,
    dirty: float = 0.03,
    hospitals: int = 20,
    labels: bool = False,
) -> pa.Table:
    """``n`` synthetic discharge abstracts for ``scheme`` (see the module docstring and :data:`COLUMNS`).

    ``labels=True`` appends two diagnostic columns: ``target_adrg`` (the ADRG rule each stay was built
    around; the grouper may legitimately disagree) and ``defect`` (the injected defect, '' for clean rows).
    Cases are built in chunks of about a million rows, so memory stays proportional to the output.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0 <= dirty <= 1:
        raise ValueError("dirty must be in [0, 1]")
    hospitals = max(int(hospitals), 1)
    w = _world(scheme)
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xD6])
    rng = np.random.default_rng(ss.spawn(1)[0])

    # hospitals: levels and skewed sizes
    n_l3 = max(1, round(0.2 * hospitals))
    n_l2 = round(0.4 * hospitals) if hospitals > 1 else 0
    h_level = np.array([3] * n_l3 + [2] * n_l2 + [1] * (hospitals - n_l3 - n_l2), np.int8)[:hospitals]
    h_size = rng.lognormal(0.0, 0.8, hospitals) * np.array([0, 0.6, 2.0, 6.0])[h_level]
    h_eff = rng.lognormal(0.0, 0.12, hospitals)
    h_p = h_size / h_size.sum()

    parts, ages, males, loss = [], [], [], []
    n_chunks = max(1, -(-n // _CHUNK))
    for k, child in enumerate(ss.spawn(n_chunks + 1)[1:]):
        m = min(_CHUNK, n - k * _CHUNK)
        cols, age, male, los = _cases(w, np.random.default_rng(child), m, h_level, h_eff, h_p, dirty, labels)
        parts.append(pa.table(cols))
        ages.append(age)
        males.append(male)
        loss.append(los)
    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    age, male, los = np.concatenate(ages), np.concatenate(males), np.concatenate(loss)
    patient, n_pat, admission, discharge = _patients(rng, age, male, los)
    pid_perm = rng.permutation(n_pat) + 1
    front = {
        "case_id": _ids("D", np.arange(1, n + 1), 8),
        "patient_id": _ids("P", pid_perm[patient], 9),
    }
    out = {}
    for name in COLUMNS + (("target_adrg", "defect") if labels else ()):
        if name in front:
            out[name] = front[name]
        elif name == "admission_date":
            out[name] = pa.array(admission, pa.date32())
        elif name == "discharge_date":
            out[name] = pa.array(discharge, pa.date32())
        else:
            out[name] = table.column(name)
    return pa.table(out)


def _patients(rng, age, male, los):
    """Patient numbers (~8 % of patients have 2+ stays, same sex and adjacent ages) and chained dates."""
    n = len(age)
    patient = np.empty(n, np.int64)
    adult = np.flatnonzero(age >= 1)
    stays = np.where(rng.random(len(adult)) < 0.08, 1 + rng.geometric(0.6, len(adult)), 1)
    ends = np.cumsum(stays)
    cut = int(np.searchsorted(ends, len(adult))) + 1
    stays = stays[:cut]
    if len(stays):
        stays[-1] -= ends[cut - 1] - len(adult)
    order = adult[np.lexsort((age[adult], male[adult], rng.random(len(adult))))] if len(adult) else adult
    n_pat = len(stays)
    patient[order] = np.repeat(np.arange(n_pat), stays)
    single = np.flatnonzero(age < 1)
    patient[single] = n_pat + np.arange(len(single))
    n_pat += len(single)
    first_day = rng.integers(0, 365, n_pat)
    gap = 1 + rng.geometric(1 / 45, n)
    adm = first_day[patient].astype(np.int64)
    if len(order):  # chain the stays of each patient in order
        step = (los[order] + gap[order]).astype(np.int64)
        csum = np.concatenate(([0], np.cumsum(step)[:-1]))
        run_start = np.repeat(np.concatenate(([0], np.cumsum(stays)[:-1])), stays)
        adm[order] += csum - csum[run_start]
    admission = _START + adm.astype("timedelta64[D]")
    discharge = admission + los.astype("timedelta64[D]")
    return patient, n_pat, admission, discharge


def _cases(w, rng, n, h_level, h_eff, h_p, dirty, labels):
    """Clinical content of ``n`` stays: column dict (without ids and dates) and clean age, sex, LOS."""
    hosp = rng.choice(len(h_level), size=n, p=h_p).astype(np.int32)
    level = h_level[hosp]
    # target rule per case, with level-specific case mix
    rule = np.empty(n, np.int32)
    for lv in (1, 2, 3):
        sel = np.flatnonzero(level == lv)
        if len(sel):
            rule[sel] = rng.choice(len(w.rule_id), size=len(sel), p=w.popularity[lv])
    mdc = w.rule_mdc[rule]
    is_m, is_n, is_o, is_p = (mdc == "MDCM"), (mdc == "MDCN"), (mdc == "MDCO"), (mdc == "MDCP")
    newborn = w.rule_newborn[rule]
    infant = w.rule_infant[rule]
    cls = w.rule_cls[rule]
    surgical = cls == 2
    weight = w.rule_weight[rule]

    # demographics
    male = rng.random(n) < 0.52
    male[is_m] = True
    male[is_n | is_o] = False
    child = rng.random(n) < 0.09
    age = np.where(
        child, 1 + (17 * rng.random(n) ** 1.6).astype(np.int64), np.clip(rng.normal(58, 17, n), 18, 99).astype(np.int64)
    )
    age[is_o] = np.clip(rng.normal(30, 5, is_o.sum()), 18, 45).astype(np.int64)
    age[is_n & (age < 14)] += 20
    age[is_p] = 0
    age_days = np.full(n, -1, np.int64)
    nb = np.flatnonzero(newborn)
    age_days[nb] = (29 * rng.random(len(nb)) ** 2).astype(np.int64)
    inf = np.flatnonzero(infant)
    age_days[inf] = rng.integers(29, 365, len(inf))
    bw = np.full(n, -1, np.int64)
    lo = np.where(w.rule_wmin[rule[nb]] > 0, w.rule_wmin[rule[nb]], 600.0)
    hi = np.where(w.rule_wmax[rule[nb]] > 0, w.rule_wmax[rule[nb]] - 10, 4800.0)
    banded = (w.rule_wmin[rule[nb]] > 0) | (w.rule_wmax[rule[nb]] > 0)
    bw_val = np.where(banded, lo + (hi - lo) * rng.random(len(nb)), np.clip(rng.normal(3150, 520, len(nb)), 1000, 4800))
    bw[nb] = (np.round(bw_val / 10) * 10).astype(np.int64)

    # diagnoses: [pdx, special secondary, mcc, cc, comorbidities x5]
    K = 9
    dxm = np.full((n, K), -1, np.int32)
    dxm[:, 0] = w.pdx.pick(rule, rng.random(n))
    dxm[:, 1] = w.sdx.pick(rule, rng.random(n), 1.0)
    zz = np.flatnonzero(w.rule_z[rule])
    if len(zz) and len(w.z_by_site.length) > 1:
        s1 = w.z_site[dxm[zz, 0]]
        ns = len(w.z_by_site.length)
        s2 = (np.maximum(s1, 0) + 1 + rng.integers(0, ns - 1, len(zz))) % ns
        dxm[zz, 1] = w.z_by_site.pick(s2, rng.random(len(zz)), 1.0)
    older = np.clip(age, 0, 90) / 58.0
    p_mcc = np.clip(0.2 * (0.35 + 0.65 * older) * np.where(surgical, 1.15, 1.0), 0, 0.6)
    p_cc = np.clip(0.3 * (0.45 + 0.55 * older), 0, 0.7)
    p_mcc[is_p], p_cc[is_p] = 0.12, 0.2
    has_mcc = rng.random(n) < p_mcc
    has_cc = rng.random(n) < p_cc
    for j, (flag, pool, p) in enumerate(((has_mcc, w.mcc, w.mcc_p), (has_cc, w.cc, w.cc_p)), start=2):
        idx = np.flatnonzero(flag)
        codes = _draw(rng, pool, p, len(idx))
        excl = excluded(w.cc_excl[codes], w.pdx_excl[dxm[idx, 0]])  # the CC rule (schemes.semantics)
        if excl.any():  # redraw once when the complication is excluded by the principal diagnosis
            codes[excl] = _draw(rng, pool, p, int(excl.sum()))
        dxm[idx, j] = codes
    lam = np.where(is_p, 0.4, 0.3 + 2.5 * np.clip(older, 0, 1.5))
    n_other = np.minimum(rng.poisson(lam), K - 4)
    for j in range(4, K):
        idx = np.flatnonzero(n_other > j - 4)
        tail = rng.random(len(idx)) < 0.25
        codes = _draw(rng, w.comorb, w.comorb_p, len(idx))
        if len(w.tail_dx):
            codes[tail] = w.tail_dx[rng.integers(0, len(w.tail_dx), int(tail.sum()))]
        dxm[idx, j] = codes
    dx_valid = dxm >= 0
    _dedupe(dxm, dx_valid, w.dx_cat, first=2)
    has_mcc &= dx_valid[:, 2]
    has_cc &= dx_valid[:, 3]

    # procedures: [main, companion 1, companion 2, non-OR x2]
    pxm = np.full((n, 5), -1, np.int32)
    pxm[:, 0] = w.main_px.pick(rule, rng.random(n))
    pxm[:, 1] = w.extra_px[0].pick(rule, rng.random(n))
    pxm[:, 2] = w.extra_px[1].pick(rule, rng.random(n))
    has_main = pxm[:, 0] >= 0
    n_nonor = np.where(has_main, rng.integers(0, 3, n), (rng.random(n) < 0.35) * rng.integers(1, 3, n))
    for j in (3, 4):
        idx = np.flatnonzero(n_nonor > j - 3)
        pxm[idx, j] = _draw(rng, w.nonor_px, w.nonor_p, len(idx))
    px_valid = pxm >= 0
    _dedupe(pxm, px_valid)

    # length of stay
    los_med = 6.8 * weight**0.35 * np.where(surgical, 1.15, 1.0) * _LEVEL_LOS[level]
    los_med *= np.where(has_mcc, 1.4, 1.0) * np.where(has_cc, 1.15, 1.0) * np.where(age >= 70, 1.1, 1.0)
    los_f = np.exp(np.log(los_med) + 0.55 * rng.standard_normal(n))
    # discharge status: 1 routine, 2 transfer to hospital, 3 to community, 4 against advice, 5 death
    p5 = 0.011 * (1 + 2.5 * has_mcc) * (1 + (age >= 75)) * np.where(is_o | (age < 14) & ~is_p, 0.05, 1.0)
    u = rng.random(n)
    leaving = np.ones(n, np.int64)
    leaving[u < p5 + 0.12] = 2
    leaving[u < p5 + 0.09] = 3
    leaving[u < p5 + 0.065] = 4
    leaving[u < p5] = 5
    los_f = np.where(leaving == 4, los_f * 0.6, los_f)
    los = np.clip(np.round(los_f), 1, 365).astype(np.int64)

    # total cost
    mu = _BASE_COST * weight * _LEVEL_COST[level] * h_eff[hosp]
    cost = mu * (los / los_med) ** 0.6 * np.where(has_mcc, 1.35, 1.0) * np.where(has_cc, 1.1, 1.0)
    cost *= np.exp(0.3 * rng.standard_normal(n) - 0.045) * np.where(leaving == 5, 1.25, 1.0)
    outlier = rng.random(n) < 0.004
    cost[outlier] *= np.minimum(np.exp(rng.normal(1.3, 0.35, int(outlier.sum()))), 8.0)
    cost = np.round(np.maximum(cost, 200.0), 2)

    dept_idx = w.rule_dept[rule].astype(np.int64)
    peds = (age < 14) & ~is_p & (cls != 2) & (rng.random(n) < 0.7)
    dept = pa.array(w.dept_names, pa.string()).take(pa.array(dept_idx))
    if peds.any():
        dept = pc.replace_with_mask(dept, pa.array(peds), pa.array(["儿科"] * int(peds.sum()), pa.string()))

    gender = np.where(male, "1", "2").astype(object)
    dx = _join(dxm, dx_valid, w.dx_vocab)
    px = _join(pxm, px_valid, w.px_vocab)

    # defects
    defect = np.full(n, "", dtype=object)
    n_dirty = round(dirty * n)
    if n_dirty:
        rows = rng.choice(n, size=n_dirty, replace=False)
        kinds = np.array(DEFECTS[:-1], dtype=object)[rng.integers(0, len(DEFECTS) - 1, n_dirty)]
        # a newborn whose record check asks for a birth weight (schemes.semantics)
        nb_rows = needs_birth_weight(age[rows], age_days[rows]) & (rng.random(n_dirty) < 0.5)
        kinds[nb_rows] = "newborn_no_weight"
        defect[rows] = kinds
    cols = _assemble(n, w, rng, dirty > 0, defect, gender, age, age_days, bw, los, leaving, dx, px)

    tbl = {
        "hospital": _ids("H", hosp + 1, 3),
        "hospital_level": pa.array(level.astype(np.int8), pa.int8()),
        "dept": dept,
        **{c: cols[c] for c in ("gender", "age", "age_days", "birth_weight", "los", "leaving_type")},
        "dx": cols["dx"],
        "px": cols["px"],
        "total_cost": pa.array(cost, pa.float64()),
    }
    if labels:
        tbl["target_adrg"] = pa.array(w.rule_id, pa.string()).take(pa.array(rule))
        tbl["defect"] = pa.array(defect, pa.string())
    return tbl, age.astype(np.int16), male, los


def _assemble(n, w, rng, as_text, defect, gender, age, age_days, bw, los, leaving, dx, px) -> dict:
    """Final column arrays, with the defects applied to the rows that carry one."""

    def num(values, null):
        arr = pa.array(values, pa.int64(), mask=null)
        return pc.cast(arr, pa.string()) if as_text else arr

    out = {
        "gender": None,
        "age": num(age, None),
        "age_days": num(age_days, age_days < 0),
        "birth_weight": num(bw, bw < 0),
        "los": num(los, None),
        "leaving_type": num(leaving, None),
        "dx": dx,
        "px": px,
    }

    def patch(name, kind_rows, values):
        if len(kind_rows) == 0:
            return
        mask = np.zeros(n, bool)
        mask[kind_rows] = True
        order = np.argsort(kind_rows)
        vals = [values[i] for i in order] if isinstance(values, list) else np.asarray(values)[order]
        out[name] = pc.replace_with_mask(out[name], pa.array(mask), pa.array(vals, out[name].type))

    def rows_of(kind):
        return np.flatnonzero(defect == kind)

    g = gender.copy()
    g[rows_of("gender_blank")] = ""
    r = rows_of("gender_invalid")
    g[r] = np.array(["0", "9", "X"], dtype=object)[rng.integers(0, 3, len(r))]
    out["gender"] = pa.array(g, pa.string())
    if as_text:
        r = rows_of("age_blank")
        patch("age", r, [""] * len(r))
        r = rows_of("age_negative")
        patch("age", r, ["-1"] * len(r))
        r = rows_of("los_text")
        patch("los", r, ["abc"] * len(r))
        r = rows_of("leaving_invalid")
        patch("leaving_type", r, list(np.array(["", "0", "9"], dtype=object)[rng.integers(0, 3, len(r))]))
    r = rows_of("newborn_no_weight")
    if len(r):
        mask = np.zeros(n, bool)
        mask[r] = True
        out["birth_weight"] = pc.if_else(pa.array(mask), pa.nulls(n, out["birth_weight"].type), out["birth_weight"])
    r = rows_of("dx_missing")
    patch("dx", r, [""] * len(r))
    r = rows_of("dx_lowercase")
    patch("dx", r, [s.lower() for s in dx.take(pa.array(r)).to_pylist()])
    r = rows_of("dx_unknown")
    vals = []
    for s in dx.take(pa.array(r)).to_pylist():
        head, _, rest = s.partition("|")
        bad = head[:5] if len(head) > 5 and head[:5] not in w.dx_index else head[:3]
        if bad in w.dx_index:
            bad = head[:3] + ".9x99"
        vals.append(bad + ("|" + rest if rest else ""))
    patch("dx", r, vals)
    r = rows_of("px_unknown")
    patch("px", r, ["99.9999" + ("|" + s if s else "") for s in px.take(pa.array(r)).to_pylist()])
    return out


def write_demo(
    path: str | Path, n: int = 20000, seed: int = 0, *, scheme: str = DEFAULT_SCHEME, dirty: float = 0.03
) -> Path:
    """Write ``generate(n, seed=seed)`` as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``/``.pq``)."""
    path = Path(path)
    table = generate(n, scheme=scheme, seed=seed, dirty=dirty)
    name = path.name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif name.endswith((".csv", ".csv.gz")):
        import pyarrow.csv as pacsv

        if name.endswith(".gz"):
            with pa.CompressedOutputStream(str(path), "gzip") as out:
                pacsv.write_csv(table, out)
        else:
            pacsv.write_csv(table, path)
    else:
        raise ValueError(f"{path}: unknown extension (use .csv, .csv.gz or .parquet)")
    return path
