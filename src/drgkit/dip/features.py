"""Per-case DIP features from discharge abstracts, vectorized (no per-row Python).

Read with the DRG grouper's edge (:func:`drgkit.io.canonicalize`, :func:`drgkit.io.prepare`): normalized
dx / px lists, typed age, LOS, discharge type and cost. Derived here, per case:

* ``dx4``: the principal diagnosis 亚目 (first 4 characters of the 医保版 code without the dot, written with
  the dot: ``I21.000x001`` → ``I21.0``), ``cat3`` its 类目 (``I21``) [NAT-DIP3 glossary 4];
* ``main``: the main procedure, the first coded procedure not on the exclusion list; ``related`` (a separate
  long frame ``row, code``): the other distinct procedures not excluded;
* ``tier``: the highest treatment tier of the procedures, 1 保守治疗 < 2 诊断性操作 < 3 治疗性操作 < 4 相关手术
  (surgery or interventional) from ``icd/px_treatment_type_chs_v2.csv`` [NAT-DIP3 table 2-1; IMPL:Node-DIP];
* auxiliary subtypes: age band, CCI band from the secondary diagnoses, discharge (death / transfer / abnormal).

Code attributes are computed once per distinct code and spread with ``take``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..io import canonicalize, prepare
from ..io.prepare import PreparedCases
from ..paths import icd_dir

TIERS = ("", "conservative", "diagnostic", "therapeutic", "surgery")
TIERS_ZH = ("", "保守治疗", "诊断性操作", "治疗性操作", "相关手术")
TYPE_RANK = {"surgery": 4, "interventional_therapy": 4, "therapeutic_procedure": 3, "diagnostic_procedure": 2}

#: Charlson comorbidity categories by ICD-10 prefix (Quan et al. 2005 coding algorithm) with the original
#: Charlson weights; the hierarchy drops a milder category when its severe form is present. Written to the
#: catalogue as ``cci.csv`` (editable). [ASSUMPTION: standard literature mapping; the digest gives no list]
CCI = {
    "mi": (1, "I21 I22 I25.2"),
    "chf": (1, "I09.9 I11.0 I13.0 I13.2 I25.5 I42.0 I42.5 I42.6 I42.7 I42.8 I42.9 I43 I50 P29.0"),
    "pvd": (1, "I70 I71 I73.1 I73.8 I73.9 I77.1 I79.0 I79.2 K55.1 K55.8 K55.9 Z95.8 Z95.9"),
    "cvd": (1, "G45 G46 H34.0 I60 I61 I62 I63 I64 I65 I66 I67 I68 I69"),
    "dementia": (1, "F00 F01 F02 F03 F05.1 G30 G31.1"),
    "pulmonary": (1, "I27.8 I27.9 J40 J41 J42 J43 J44 J45 J46 J47 J60 J61 J62 J63 J64 J65 J66 J67 J68.4 J70.1 J70.3"),
    "rheumatic": (1, "M05 M06 M31.5 M32 M33 M34 M35.1 M35.3 M36.0"),
    "ulcer": (1, "K25 K26 K27 K28"),
    "liver_mild": (
        1,
        "B18 K70.0 K70.1 K70.2 K70.3 K70.9 K71.3 K71.4 K71.5 K71.7 K73 K74 K76.0 K76.2 K76.3 K76.4 K76.8 K76.9 Z94.4",
    ),
    "diabetes": (1, " ".join(f"E1{d}.{s}" for d in "01234" for s in "01689")),
    "diabetes_cc": (2, " ".join(f"E1{d}.{s}" for d in "01234" for s in "23457")),
    "hemiplegia": (2, "G04.1 G11.4 G80.1 G80.2 G81 G82 G83.0 G83.1 G83.2 G83.3 G83.4 G83.9"),
    "renal": (
        2,
        "I12.0 I13.1 N03.2 N03.3 N03.4 N03.5 N03.6 N03.7 N05.2 N05.3 N05.4 N05.5 N05.6 N05.7 N18 "
        "N19 N25.0 Z49.0 Z49.1 Z49.2 Z94.0 Z99.2",
    ),
    "cancer": (
        2,
        " ".join(
            [f"C{i:02d}" for i in range(0, 27)]
            + [f"C{i:02d}" for i in range(30, 35)]
            + [f"C{i:02d}" for i in range(37, 42)]
            + ["C43"]
            + [f"C{i:02d}" for i in range(45, 59)]
            + [f"C{i:02d}" for i in range(60, 77)]
            + ["C81", "C82", "C83", "C84", "C85", "C88"]
            + [f"C{i:02d}" for i in range(90, 98)]
        ),
    ),
    "liver_severe": (3, "I85.0 I85.9 I86.4 I98.2 K70.4 K71.1 K72.1 K72.9 K76.5 K76.6 K76.7"),
    "metastatic": (6, "C77 C78 C79 C80"),
    "hiv": (6, "B20 B21 B22 B24"),
}
CCI_HIERARCHY = {"diabetes": "diabetes_cc", "liver_mild": "liver_severe", "cancer": "metastatic"}


def default_cci_table() -> pl.DataFrame:
    rows = [(p, cat, w) for cat, (w, prefixes) in CCI.items() for p in prefixes.split()]
    return pl.DataFrame(rows, schema={"prefix": pl.Utf8, "category": pl.Utf8, "weight": pl.Int64}, orient="row")


@lru_cache(maxsize=1)
def treatment_types() -> pl.DataFrame:
    """code → treatment tier rank (2 diagnostic, 3 therapeutic, 4 surgery / interventional)."""
    df = pl.read_csv(icd_dir() / "px_treatment_type_chs_v2.csv", infer_schema_length=0)
    ranked = df.select(
        pl.col("code"),
        pl.col("treatment_type").replace_strict(TYPE_RANK, default=1, return_dtype=pl.Int8).alias("rank"),
    )
    # six codes carry two categories (42.9200x007 is both surgery and therapeutic): one row per code, the
    # higher tier — a duplicated code would duplicate rows in the per-code joins and shift every later code's
    # tier, making a case's DIP group depend on the other cases of its batch
    return ranked.group_by("code", maintain_order=True).agg(pl.col("rank").max())


@lru_cache(maxsize=1)
def dx_dictionary() -> pa.Array:
    return pa.array(pl.read_csv(icd_dir() / "icd10_chs_v2.csv", infer_schema_length=0)["code"].to_list(), pa.string())


@lru_cache(maxsize=1)
def px_dictionary() -> pa.Array:
    return pa.array(pl.read_csv(icd_dir() / "icd9cm3_chs_v2.csv", infer_schema_length=0)["code"].to_list(), pa.string())


def dx4_of(codes: pl.Expr) -> pl.Expr:
    """亚目: the first 4 characters of the code without its dot, written dotted (``I21.0``; ``I10`` stays)."""
    bare = codes.str.replace_all(".", "", literal=True)
    return (
        pl.when(bare.str.len_chars() > 3)
        .then(pl.concat_str([bare.str.slice(0, 3), pl.lit("."), bare.str.slice(3, 1)]))
        .otherwise(bare)
    )


@dataclass
class Features:
    """``cases``: one row per case (``row`` = input position); ``related``: (row, code) of related procedures;
    ``secondary``: (row, code) of secondary diagnoses; ``prep``: the typed arrays of :func:`prepare`."""

    cases: pl.DataFrame
    related: pl.DataFrame
    prep: PreparedCases


def _flat(lists: pa.ListArray) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(parent row, position in list, value) of every list element."""
    offsets = lists.offsets.to_numpy()
    values = pc.list_flatten(lists)
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False), dtype=np.int64)
    pos = (
        np.arange(len(values), dtype=np.int64) + offsets[0] - offsets[parents] if len(values) else np.zeros(0, np.int64)
    )
    return parents, pos, values


def _exclusion_mask(codes: pl.Series, exclude: tuple[str, ...]) -> np.ndarray:
    if not exclude:
        return np.zeros(len(codes), bool)
    return (
        codes.str.starts_with(exclude[0]).fill_null(False).to_numpy()
        if len(exclude) == 1
        else np.logical_or.reduce([codes.str.starts_with(p).fill_null(False).to_numpy() for p in exclude])
    )


def features(
    data: Any,
    *,
    mapping: Mapping[str, str] | None = None,
    exclude_px: tuple[str, ...] = (),
    cci: pl.DataFrame | None = None,
    canonical: pa.Table | None = None,
) -> tuple[pa.Table, Features]:
    """Canonical table and DIP features of ``data`` (pyarrow / polars / pandas / path)."""
    from ..io.frames import to_arrow

    if canonical is None:
        table, _ = to_arrow(data)
        canonical = canonicalize(table, mapping=mapping)
    prep = prepare(canonical)
    n = prep.n
    # --- principal diagnosis
    dx_par, dx_pos, dx_val = _flat(prep.dx)
    first = np.full(n, -1, np.int64)
    first[dx_par[dx_pos == 0]] = np.flatnonzero(dx_pos == 0)
    pdx = pc.if_else(
        pa.array(first >= 0),
        pc.take(dx_val, pa.array(np.maximum(first, 0))) if len(dx_val) else pa.nulls(n, pa.string()),
        pa.scalar(None, pa.string()),
    )
    pdx = pc.if_else(pc.equal(pdx, ""), pa.scalar(None, pa.string()), pdx)
    # --- procedures: distinct codes get their attributes once
    px_par, _, px_val = _flat(prep.px)
    enc = (
        pc.dictionary_encode(px_val).combine_chunks()
        if isinstance(px_val, pa.ChunkedArray)
        else pc.dictionary_encode(px_val)
    )
    distinct = pl.Series("code", enc.dictionary, dtype=pl.Utf8)
    idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64) if len(px_val) else np.zeros(0, np.int64)
    types = treatment_types()
    d = pl.DataFrame({"code": distinct}).with_columns(pl.col("code").str.slice(0, 7).alias("_base"))
    d = d.join(types, on="code", how="left").join(
        types.rename({"code": "_base", "rank": "_rank_base"}), on="_base", how="left"
    )
    assert d.height == len(distinct), "treatment types must be one row per code"
    rank_d = d["rank"].fill_null(d["_rank_base"]).fill_null(1).to_numpy().astype(np.int8)
    usable_d = ~_exclusion_mask(distinct, exclude_px) & (distinct != "").fill_null(False).to_numpy()
    known_d = pc.is_in(enc.dictionary, value_set=px_dictionary()).to_numpy(zero_copy_only=False)
    usable = usable_d[idx] if len(idx) else np.zeros(0, bool)
    rank = rank_d[idx] if len(idx) else np.zeros(0, np.int8)
    # main = first usable procedure; tier = highest rank over usable procedures
    tier = np.ones(n, np.int8)
    np.maximum.at(tier, px_par[usable], rank[usable])
    main_at = np.full(n, np.iinfo(np.int64).max, np.int64)
    u_idx = np.flatnonzero(usable)
    np.minimum.at(main_at, px_par[u_idx], u_idx)
    has_main = main_at < np.iinfo(np.int64).max
    main = pc.if_else(
        pa.array(has_main),
        pc.take(px_val, pa.array(np.where(has_main, main_at, 0))) if len(px_val) else pa.nulls(n, pa.string()),
        pa.scalar(None, pa.string()),
    )
    rel_mask = usable.copy()
    rel_mask[main_at[has_main]] = False
    # distinct related codes per row, without the main code: integer keys, one numpy unique
    main_code = np.full(n, -1, np.int64)
    main_code[has_main] = idx[main_at[has_main]]
    r_rows, r_codes = px_par[rel_mask], idx[rel_mask]
    keep = r_codes != main_code[r_rows]
    width = max(len(distinct), 1)
    uniq = np.unique(r_rows[keep] * width + r_codes[keep])
    related = pl.DataFrame(
        {"row": uniq // width, "code": pl.Series(pc.take(enc.dictionary, pa.array(uniq % width)), dtype=pl.Utf8)}
    )
    # unknown / excluded procedure notes
    unknown_px = np.zeros(n, np.int32)
    if len(idx):
        np.add.at(unknown_px, px_par[~known_d[idx] & (distinct != "").fill_null(False).to_numpy()[idx]], 1)
    excluded_px = np.zeros(n, np.int32)
    if len(idx) and exclude_px:
        np.add.at(excluded_px, px_par[~usable_d[idx] & (distinct != "").fill_null(False).to_numpy()[idx]], 1)
    # --- CCI from secondary diagnoses
    sec = dx_pos > 0
    cci_score = np.zeros(n, np.int32)
    if sec.any():
        s_val = pc.filter(dx_val, pa.array(sec))
        s_par = dx_par[sec]
        senc = pc.dictionary_encode(s_val)
        sd = pl.DataFrame({"code": pl.Series(senc.dictionary, dtype=pl.Utf8)}).with_row_index("_i")
        table = cci if cci is not None else default_cci_table()
        bare = pl.col("code").str.replace_all(".", "", literal=True).str.to_uppercase()
        tab = table.with_columns(pl.col("prefix").str.replace_all(".", "", literal=True).str.to_uppercase().alias("_p"))
        hits = []
        for length in sorted(set(tab["_p"].str.len_chars().to_list())):
            hits.append(
                sd.with_columns(bare.str.slice(0, length).alias("_p")).join(
                    tab.filter(pl.col("_p").str.len_chars() == length).select("_p", "category", "weight"), on="_p"
                )
            )
        cat = pl.concat(hits).select("_i", "category", "weight") if hits else None
        if cat is not None and cat.height:
            ind = np.asarray(senc.indices.to_numpy(zero_copy_only=False), np.int64)
            per = (
                pl.DataFrame({"row": s_par, "_i": ind.astype(np.uint32)})
                .join(cat, on="_i")
                .select("row", "category", "weight")
                .unique()
            )
            for mild, severe in CCI_HIERARCHY.items():
                sev_rows = per.filter(pl.col("category") == severe).select("row")
                per = per.filter(~((pl.col("category") == mild) & pl.col("row").is_in(sev_rows["row"].implode())))
            sums = per.group_by("row").agg(pl.col("weight").sum())
            cci_score[sums["row"].to_numpy()] = sums["weight"].to_numpy()
    cases = pl.DataFrame(
        {
            "row": np.arange(n, dtype=np.int64),
            "pdx": pl.Series(pdx, dtype=pl.Utf8),
            "main": pl.Series(main, dtype=pl.Utf8),
            "tier": tier,
            "cost": prep.total_cost,
            "age": prep.age,
            "age_days": prep.age_days,
            "los": prep.los,
            "leaving_type": prep.leaving_type,
            "cci": cci_score,
            "unknown_px": unknown_px,
            "excluded_px": excluded_px,
            "problem": pl.Series(prep.problems, dtype=pl.Utf8),
        }
    )
    # principal-diagnosis attributes once per distinct code
    penc = pc.dictionary_encode(pdx)
    pd_ = pl.DataFrame({"pdx": pl.Series(penc.dictionary, dtype=pl.Utf8)}).select(
        dx4_of(pl.col("pdx")).alias("dx4"),
        pl.col("pdx").str.slice(0, 3).alias("cat3"),
        pl.col("pdx").is_in(pl.Series(dx_dictionary(), dtype=pl.Utf8).implode()).fill_null(False).alias("pdx_known"),
    )
    pidx = pl.Series(penc.indices, dtype=pl.UInt32)
    cases = cases.with_columns(
        pd_["dx4"].gather(pidx), pd_["cat3"].gather(pidx), pd_["pdx_known"].gather(pidx).fill_null(False)
    )
    return canonical, Features(cases, related, prep)


# ------------------------------------------------------------------ auxiliary subtypes
AUX_DIMENSIONS = ("age", "severity", "discharge")


def subtypes(cases: pl.DataFrame) -> pl.DataFrame:
    """Long (row, dimension, subtype) of every auxiliary subtype a case falls in.

    age: 0-28d, 29d-1y, 1-6y, 7-17y, 65+ [NAT-DIP3]; severity: CCI 1-2 / 3-4 / 5+ (bands of IMPL:LQ-karl; 0 is
    the baseline); discharge: death (离院方式 5), transfer (2 医嘱转院, 3 医嘱转社区), abnormal (4 非医嘱离院, 9 其他).
    """
    age, days = pl.col("age"), pl.col("age_days")
    infant = (age == 0) | ((age < 0) & (days >= 0))
    age_band = (
        pl.when(infant & (days >= 0) & (days <= 28))
        .then(pl.lit("0-28d"))
        .when(infant)
        .then(pl.lit("29d-1y"))
        .when((age >= 1) & (age <= 6))
        .then(pl.lit("1-6y"))
        .when((age >= 7) & (age <= 17))
        .then(pl.lit("7-17y"))
        .when(age >= 65)
        .then(pl.lit("65+"))
    )
    cci = pl.col("cci")
    sev = (
        pl.when(cci >= 5)
        .then(pl.lit("cci5+"))
        .when(cci >= 3)
        .then(pl.lit("cci3-4"))
        .when(cci >= 1)
        .then(pl.lit("cci1-2"))
    )
    lt = pl.col("leaving_type")
    dis = (
        pl.when(lt == 5)
        .then(pl.lit("death"))
        .when(lt.is_in([2, 3]))
        .then(pl.lit("transfer"))
        .when(lt.is_in([4, 9]))
        .then(pl.lit("abnormal"))
    )
    base = cases.select("row", age_band.alias("age"), sev.alias("severity"), dis.alias("discharge"))
    return base.unpivot(
        index="row", on=list(AUX_DIMENSIONS), variable_name="dimension", value_name="subtype"
    ).drop_nulls("subtype")
