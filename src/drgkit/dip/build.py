"""Build a local DIP catalogue (病种库) from discharge history: polars group-bys, no per-row Python.

1. Combinations: principal dx 亚目 (dx4) × main procedure (none → medical group keyed by dx4 alone).
2. Threshold (临界值): fixed (15) or the largest count whose combinations cover ``coverage`` of the cases.
3. Related procedures: (dx4, main, r) becomes its own combination when cases with r cost ≥ 10 % more on
   average than the (dx4, main) cases without r, and has at least threshold cases; a case takes the
   qualifying related procedure with the largest uplift; a (dx4, main, r) left below the threshold folds back.
4. Core groups: combinations at or above the threshold. Every history case is then assigned with the grouper
   itself (so build and grouping agree); the rest form comprehensive groups by 类目 × treatment tier.
5. Scores: per group, costs trimmed at the quantiles ``trim`` (groups with ≥ ``trim_min_cases``), yearly means
   weighted by ``years``; score = m_i / M × scale (M the weighted mean of all trimmed cases), or against a
   benchmark group, or m_i / quota. CV of the trimmed costs. PV_initial = M / scale.
6. Hospital-level coefficients, primary-care groups (CV ≤ 0.7 and a share of level-1 cases), auxiliary
   coefficients (age band, CCI severity, discharge) kept only where they cut the group's CV by ≥ 20 %.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from ..payment.tables import normalize_level
from .catalogue import AUX_SCHEMA, DEFAULTS, GROUP_SCHEMA, LEVEL_SCHEMA, Catalogue, DipError, validate
from .features import TIERS, TIERS_ZH, default_cci_table, features, subtypes
from .grouper import assign
from .names import group_names


def parse_years(text: str | None) -> dict[int, float]:
    """``"2022:1,2023:2,2024:7"`` -> {2022: 1.0, 2023: 2.0, 2024: 7.0} (empty: no year weighting)."""
    from ..payment.calibrate import parse_years as parse

    return parse(text, error=DipError) or {}


def parse_trim(text: str | None) -> list[float]:
    """``"2.5,97.5"`` → [2.5, 97.5]; ``"none"`` → [0, 100]."""
    if text is None:
        return list(DEFAULTS["trim"])
    if text.strip().lower() in ("none", "off", "0,100"):
        return [0.0, 100.0]
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise DipError(f"--trim takes LOW,HIGH percentiles (e.g. 2.5,97.5) or none, got '{text}'") from None
    if not 0 <= lo < hi <= 100:
        raise DipError(f"--trim: need 0 ≤ low < high ≤ 100, got {lo},{hi}")
    return [lo, hi]


def _group_id(dx4: pl.Expr, main: pl.Expr, rel: pl.Expr) -> pl.Expr:
    return (
        pl.when(main.is_null())
        .then(dx4)
        .when(rel.is_null())
        .then(pl.concat_str([dx4, pl.lit(":"), main]))
        .otherwise(pl.concat_str([dx4, pl.lit(":"), main, pl.lit("+"), rel]))
    )


def _threshold(counts: pl.Series, fixed: int, coverage: float) -> int:
    if not coverage:
        return int(fixed)
    if not 0 < coverage <= 1:
        raise DipError(f"coverage must be in (0, 1], got {coverage}")
    c = np.sort(counts.to_numpy())[::-1]
    cum = np.cumsum(c) / c.sum()
    i = int(np.searchsorted(cum, coverage - 1e-12))
    return int(c[min(i, len(c) - 1)])


def _year_column(canon: pa.Table, n: int) -> pl.Series | None:
    names = canon.column_names
    if "year" in names:
        return pl.Series("year", canon.column("year")).cast(pl.Int32, strict=False)
    if "discharge_date" in names:
        s = pl.Series("d", canon.column("discharge_date"))
        if s.dtype == pl.Utf8:
            s = s.str.to_date(strict=False)
        return s.cast(pl.Date, strict=False).dt.year().cast(pl.Int32).alias("year")
    return None


def _level_column(canon: pa.Table) -> pl.Series | None:
    if "hospital_level" not in canon.column_names:
        return None
    s = pl.Series("hospital_level", canon.column("hospital_level")).cast(pl.Utf8)
    uniq = s.unique().drop_nulls().to_list()
    return s.replace_strict({u: normalize_level(u) for u in uniq}, default=None, return_dtype=pl.Utf8)


def build(
    history: Any,
    *,
    threshold: int | None = None,
    coverage: float | None = None,
    years: dict[int, float] | str | None = None,
    trim: list[float] | str | None = None,
    exclude_px: tuple[str, ...] = (),
    mapping: Mapping[str, str] | None = None,
    id: str = "dip-local",
    **params: Any,
) -> Catalogue:
    """A catalogue from history (path, pyarrow / polars / pandas). Keyword parameters: see ``DEFAULTS``."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise DipError(f"unknown build parameter '{unknown[0]}' (known: {', '.join(DEFAULTS)})")
    p = dict(DEFAULTS)
    p.update(params)
    if threshold is not None:
        p["threshold"] = int(threshold)
    if coverage is not None:
        p["coverage"] = float(coverage)
        if not 0 < p["coverage"] <= 1:  # an explicit 0 is not "off": it is a mistake
            raise DipError(f"coverage must be in (0, 1], got {coverage}")
    p["years"] = parse_years(years) if isinstance(years, str) else dict(years or {})
    p["trim"] = parse_trim(trim) if (trim is None or isinstance(trim, str)) else [float(x) for x in trim]
    if p["threshold"] < 1:
        raise DipError(f"threshold must be ≥ 1, got {p['threshold']}")
    scale = float(p["scale"])
    if not (scale > 0 and math.isfinite(scale)):  # a score is m / M × scale, the point value M / scale
        raise DipError(f"scale must be a number > 0 (1, 100, 1000), got {p['scale']}")
    if p["score_method"] not in ("mean", "benchmark", "quota"):
        raise DipError(f"score_method must be mean, benchmark or quota, got {p['score_method']!r}")
    if p["level_coefficient"] not in ("raw", "casemix"):
        raise DipError(f"level_coefficient must be raw or casemix, got {p['level_coefficient']!r}")
    cci = default_cci_table()
    canon, feat = features(history, mapping=mapping, exclude_px=tuple(exclude_px), cci=cci)
    n_rows = feat.cases.height
    c = feat.cases
    year = _year_column(canon, n_rows)
    level = _level_column(canon)
    c = c.with_columns(
        year.alias("year") if year is not None else pl.lit(None, pl.Int32).alias("year"),
        level.alias("level") if level is not None else pl.lit(None, pl.Utf8).alias("level"),
    )
    valid = c["pdx"].is_not_null() & c["cost"].is_finite() & (c["cost"] > 0)
    if p["years"]:
        if year is None:
            raise DipError("--years needs a 'year' or 'discharge_date' column in the history")
        valid = valid & c["year"].is_in(list(p["years"])).fill_null(False)
    c = c.filter(valid)
    if c.is_empty():
        raise DipError(
            "no history case with a principal diagnosis and a positive total_cost"
            + (" in the weighted years" if p["years"] else "")
        )
    rel = feat.related.join(c.select("row"), on="row", how="semi")
    # 1-2. combinations and threshold
    base_n = c.group_by("dx4", "main").agg(pl.len().alias("n"), pl.col("cost").sum().alias("s"))
    t = _threshold(base_n["n"], p["threshold"], p["coverage"])
    # 3. related procedures that raise the combination's mean cost by ≥ uplift
    rc = rel.join(c.filter(pl.col("main").is_not_null()).select("row", "dx4", "main", "cost"), on="row")
    with_r = rc.group_by("dx4", "main", "code").agg(pl.len().alias("n_with"), pl.col("cost").sum().alias("s_with"))
    q = (
        with_r.join(base_n, on=["dx4", "main"])
        .filter(pl.col("n") > pl.col("n_with"))
        .with_columns(
            (
                (pl.col("s_with") / pl.col("n_with"))
                / ((pl.col("s") - pl.col("s_with")) / (pl.col("n") - pl.col("n_with")))
                - 1
            ).alias("uplift")
        )
    )
    q = q.filter((pl.col("uplift") >= p["related_min_uplift"]) & (pl.col("n_with") >= t))
    pick = (
        rc.join(q.select("dx4", "main", "code", "uplift"), on=["dx4", "main", "code"])
        .sort(["row", "uplift"], descending=[False, True])
        .unique("row", keep="first")
        .select("row", pl.col("code").alias("rel"))
    )
    k = c.select("row", "dx4", "main").join(pick, on="row", how="left")
    k = k.with_columns(pl.len().over("dx4", "main", "rel").alias("_n"))
    k = k.with_columns(pl.when(pl.col("_n") < t).then(None).otherwise(pl.col("rel")).alias("rel"))
    keys = (
        k.join(c.select("row", "cost"), on="row")
        .group_by("dx4", "main", "rel")
        .agg(pl.len().alias("n"), pl.col("cost").mean().alias("score"))
        .filter(pl.col("n") >= t)
    )
    core = keys.select(
        _group_id(pl.col("dx4"), pl.col("main"), pl.col("rel")).alias("group"),
        pl.lit("core").alias("kind"),
        "dx4",
        pl.col("main").fill_null("").alias("main_px"),
        pl.col("rel").fill_null("").alias("related_px"),
        pl.col("dx4").str.slice(0, 3).alias("category"),
        pl.when(pl.col("main").is_null()).then(pl.lit("conservative")).otherwise(pl.lit("")).alias("tier"),
        "score",
    ).sort("group")
    # 4. assign history with the grouper; the rest → comprehensive (类目 × tier)
    gid = assign(c, rel, core)
    rest = c.filter(gid.is_null().to_numpy())
    tiers = pl.Series(TIERS, dtype=pl.Utf8)
    comp = (
        rest.group_by("cat3", "tier")
        .agg(pl.len().alias("n"))
        .filter(pl.col("n") >= p["comprehensive_min_cases"])
        .with_columns(
            pl.col("tier")
            .cast(pl.Int64)
            .map_batches(lambda s: tiers.gather(s), return_dtype=pl.Utf8)
            .alias("tier_name")
        )
    )
    comp = comp.select(
        pl.concat_str([pl.col("cat3"), pl.lit(":"), pl.col("tier_name")]).alias("group"),
        pl.lit("comprehensive").alias("kind"),
        pl.lit("").alias("dx4"),
        pl.lit("").alias("main_px"),
        pl.lit("").alias("related_px"),
        pl.col("cat3").alias("category"),
        pl.col("tier_name").alias("tier"),
        pl.lit(0.0).alias("score"),
    ).sort("group")
    groups = pl.concat([core, comp])
    gid = assign(c, rel, groups)
    c = c.with_columns(gid.alias("gid")).filter(pl.col("gid").is_not_null())
    # 5. trimming, yearly-weighted means, scores
    lo, hi = p["trim"]
    cost = pl.col("cost")
    trimmed = lo > 0 or hi < 100
    big = pl.len().over("gid") >= p["trim_min_cases"]
    if trimmed:
        c = c.with_columns(
            pl.when(big).then(cost.quantile(lo / 100, "linear").over("gid")).otherwise(-np.inf).alias("_lo"),
            pl.when(big).then(cost.quantile(hi / 100, "linear").over("gid")).otherwise(np.inf).alias("_hi"),
        )
        c = c.with_columns(((cost >= pl.col("_lo")) & (cost <= pl.col("_hi"))).alias("kept"))
    else:
        c = c.with_columns(pl.lit(True).alias("kept"))
    kept = c.filter("kept")
    w = p["years"]
    if w:
        kept = kept.with_columns(pl.col("year").replace_strict(w, return_dtype=pl.Float64).alias("_w"))

        def wmean(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
            yearly = frame.group_by(by + ["year", "_w"]).agg(cost.mean().alias("_m"))
            if not by:
                return pl.DataFrame({"m": [float((yearly["_m"] * yearly["_w"]).sum()) / float(yearly["_w"].sum())]})
            return yearly.group_by(by).agg(((pl.col("_m") * pl.col("_w")).sum() / pl.col("_w").sum()).alias("m"))
    else:

        def wmean(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
            if not by:
                return pl.DataFrame({"m": [float(frame["cost"].to_numpy().mean())]})
            return frame.group_by(by).agg(cost.mean().alias("m"))

    big_m = float(wmean(kept, [])["m"][0])
    gm = wmean(kept, ["gid"])
    stats = kept.group_by("gid").agg(
        pl.len().alias("n_kept"),
        (cost.std(ddof=0) / cost.mean()).alias("cv"),
        pl.col("los").filter(pl.col("los") >= 0).mean().alias("mean_los"),
    )
    counts = c.group_by("gid").agg(
        pl.len().alias("n_cases"), (pl.col("level") == "level1").mean().alias("level1_share")
    )
    g = groups.drop("score").with_row_index("gid").with_columns(pl.col("gid").cast(pl.Int64))
    g = g.join(counts, on="gid", how="left").join(stats, on="gid", how="left").join(gm, on="gid", how="left")
    method, scale = p["score_method"], float(p["scale"])
    if method == "mean":
        ref, score = big_m, pl.col("m") / big_m * scale
    elif method == "benchmark":
        hit = g.filter(pl.col("group") == p["benchmark_group"])
        if hit.height == 0 or hit["m"][0] is None:
            raise DipError(f"benchmark group '{p['benchmark_group']}' is not a group of this history")
        ref = float(hit["m"][0])
        score = pl.col("m") / ref * scale
    else:
        if not p["quota"] or p["quota"] <= 0:
            raise DipError("score_method = quota needs a positive quota (yuan per point)")
        ref, score, scale = float(p["quota"]), pl.col("m") / float(p["quota"]), 1.0
    g = g.with_columns(score.alias("score"), (pl.col("n_cases") - pl.col("n_kept")).alias("n_trimmed"))
    # primary-care groups: low-variance core groups treated largely at level-1 hospitals
    prim = (
        (pl.col("kind") == "core")
        & (pl.col("cv") <= p["primary_care_cv_max"])
        & (pl.col("level1_share").fill_null(0.0) >= p["primary_care_min_level1_share"])
    )
    if level is None and p["primary_care_min_level1_share"] > 0:
        prim = pl.lit(False)
    g = g.with_columns(
        pl.when(prim).then(pl.lit("primary_care")).otherwise(pl.col("kind")).alias("kind"),
        pl.col("tier").replace_strict(dict(zip(TIERS, TIERS_ZH)), default="").alias("tier_zh"),
    )
    g = g.with_columns(pl.lit(None, pl.Utf8).alias("name"))
    g = g.with_columns(group_names(g))  # 病种名称 from the codes' dictionary names
    out_groups = g.select(
        [
            pl.col(k).cast(t) if k != "mean_cost" else pl.col("m").cast(t).alias("mean_cost")
            for k, t in GROUP_SCHEMA.items()
        ]
    ).with_columns(
        pl.col("score").round(4),
        pl.col("mean_cost").round(2),
        pl.col("cv").round(4),
        pl.col("mean_los").round(2),
        pl.col("level1_share").round(4),
    )
    # 6a. hospital-level coefficients
    if level is not None:
        lv_kept = kept.filter(pl.col("level").is_not_null())
        if p["level_coefficient"] == "raw":
            lm = wmean(lv_kept, ["level"]).with_columns((pl.col("m") / big_m).alias("coefficient"))
        else:
            exp = lv_kept.join(gm, on="gid")
            lm = exp.group_by("level").agg(
                (cost.sum() / pl.col("m").sum()).alias("coefficient"), cost.mean().alias("m")
            )
        ln = c.group_by("level").agg(pl.len().alias("n_cases"))
        levels = (
            lm.join(ln, on="level")
            .select(
                pl.col("level").alias("hospital_level"),
                "n_cases",
                pl.col("m").round(2).alias("mean_cost"),
                pl.col("coefficient").round(4),
            )
            .sort("hospital_level")
        )
    else:
        levels = pl.DataFrame(schema=LEVEL_SCHEMA)
    # 6b. auxiliary catalogue (prior year: the newest weighted year, else all history)
    base = c.filter(pl.col("year") == max(w)) if w else c
    aux = _aux(base, p).join(g.select("gid", "group"), on="gid").select(list(AUX_SCHEMA))
    info = {
        "id": id,
        "built": _dt.date.today().isoformat(),
        "history_rows": n_rows,
        "history_cases_used": c.height,
        "threshold_used": t,
        "reference_mean": ref,
        "pv_initial": ref / scale if method != "quota" else ref,
        "core_case_share": float(
            c.join(g.filter(pl.col("kind") != "comprehensive").select("gid"), on="gid", how="semi").height
            / max(c.height, 1)
        ),
    }
    excl = pl.DataFrame(
        {"prefix": list(exclude_px), "note": [""] * len(exclude_px)}, schema={"prefix": pl.Utf8, "note": pl.Utf8}
    )
    p_out = {k: v for k, v in p.items()}
    cat = Catalogue(out_groups, levels, aux, excl, cci, p_out, info)
    validate(cat)
    return cat


def _aux(c: pl.DataFrame, p: dict) -> pl.DataFrame:
    """Auxiliary coefficients: subtype mean / group mean, kept where they cut the group CV by ≥ aux_min_cv_cut."""
    cost = pl.col("cost")
    gs = (
        c.group_by("gid")
        .agg(pl.len().alias("N"), cost.sum().alias("S1"), (cost * cost).sum().alias("S2"))
        .filter(pl.col("N") >= p["aux_group_min_cases"])
    )
    if gs.is_empty():
        return pl.DataFrame(schema={"gid": pl.Int64, **{k: v for k, v in AUX_SCHEMA.items() if k != "group"}})
    st = subtypes(c.join(gs.select("gid"), on="gid", how="semi")).join(c.select("row", "gid", "cost"), on="row")
    sub = (
        st.group_by("gid", "dimension", "subtype")
        .agg(pl.len().alias("n"), cost.sum().alias("s1"), (cost * cost).sum().alias("s2"))
        .filter(pl.col("n") >= p["aux_subtype_min_cases"])
        .join(gs, on="gid")
    )
    N, S1, S2, n, s1, s2 = (pl.col(x) for x in ("N", "S1", "S2", "n", "s1", "s2"))
    coef = (s1 / n) / (S1 / N)
    mean_g = S1 / N
    cv_g = (S2 / N - mean_g * mean_g).clip(0).sqrt() / mean_g
    a1 = (S1 - s1 + s1 / pl.col("coefficient")) / N
    a2 = (S2 - s2 + s2 / (pl.col("coefficient") ** 2)) / N
    cv_a = (a2 - a1 * a1).clip(0).sqrt() / a1
    sub = sub.with_columns(coef.alias("coefficient")).with_columns(cv_g.alias("cv_group"), cv_a.alias("cv_adjusted"))
    keep = sub.filter(pl.col("cv_adjusted") <= (1 - p["aux_min_cv_cut"]) * pl.col("cv_group"))
    return keep.select(
        pl.col("gid").cast(pl.Int64),
        "dimension",
        "subtype",
        pl.col("n").alias("n_cases"),
        (pl.col("s1") / pl.col("n")).round(2).alias("mean_cost"),
        pl.col("coefficient").round(4),
        pl.col("cv_group").round(4),
        pl.col("cv_adjusted").round(4),
    ).sort("gid", "dimension", "subtype")
