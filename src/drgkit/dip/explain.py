"""Explain one case's DIP grouping: its keys, the catalogue's candidate groups, the result and the reason."""

from __future__ import annotations

from typing import Any

import polars as pl

from ..api import split_codes
from .catalogue import Catalogue, load_catalogue
from .features import TIERS, TIERS_ZH, features
from .grouper import outcome


def explain(
    catalogue: Any,
    *,
    dx: str | list[str],
    px: str | list[str] | None = None,
    age: int | None = None,
    age_days: int | None = None,
    leaving_type: int | None = None,
    cost: float | None = None,
) -> dict:
    """A dict (``text`` holds the readable form) describing how the case is grouped."""
    cat: Catalogue = load_catalogue(catalogue)
    table = pl.DataFrame(
        {
            "case_id": ["explain"],
            "dx": ["|".join(split_codes(dx))],
            "px": ["|".join(split_codes(px))],
            "age": [age],
            "age_days": [age_days],
            "leaving_type": [leaving_type],
            "total_cost": [cost],
        },
        schema_overrides={"age": pl.Int64, "age_days": pl.Int64, "leaving_type": pl.Int64, "total_cost": pl.Float64},
    ).to_arrow()
    _, feat = features(table, exclude_px=cat.exclude_prefixes(), cci=cat.cci)
    res = {k: v[0].as_py() for k, v in outcome(feat, cat).items()}
    c = feat.cases.row(0, named=True)
    related = feat.related["code"].to_list()
    cands = cat.groups.filter((pl.col("dx4") == (c["dx4"] or "")) & (pl.col("kind") != "comprehensive"))
    have = set(related)
    rows = []
    for g in cands.iter_rows(named=True):
        rel = [r for r in g["related_px"].split("+") if r]
        ok = (g["main_px"] == (c["main"] or "")) and set(rel) <= have
        rows.append(
            {
                "group": g["group"],
                "kind": g["kind"],
                "main_px": g["main_px"],
                "related_px": rel,
                "score": g["score"],
                "matches": ok,
            }
        )
    comp_id = f"{c['cat3']}:{TIERS[c['tier']]}" if c["cat3"] else None
    d = {
        "catalogue": cat.id,
        "dx4": c["dx4"],
        "category": c["cat3"],
        "main_px": c["main"],
        "related_px": related,
        "tier": TIERS[c["tier"]],
        "tier_zh": TIERS_ZH[c["tier"]],
        "cci": c["cci"],
        "core_candidates": rows,
        "comprehensive_candidate": comp_id,
        "comprehensive_exists": bool(comp_id and cat.groups.filter(pl.col("group") == comp_id).height),
        **res,
    }
    lines = [
        f"病种库 catalogue: {cat.id}",
        f"  主要诊断亚目 dx4 {c['dx4']}   类目 category {c['cat3']}",
        f"  主要手术操作 main {c['main'] or '(none: medical 保守治疗)'}   相关手术 related {', '.join(related) or '-'}",
        f"  治疗方式 tier {TIERS_ZH[c['tier']]} ({TIERS[c['tier']]})   CCI {c['cci']}",
        "core candidates (same dx4):" if rows else "core candidates: none with this dx4",
    ]
    for r in rows:
        lines.append(f"  {'✓' if r['matches'] else '✗'} {r['group']:<32} {r['kind']:<13} score {r['score']:.2f}")
    lines.append(f"comprehensive candidate: {comp_id} ({'in' if d['comprehensive_exists'] else 'not in'} catalogue)")
    lines.append(
        f"结果 result: {res['status']}  group {res['dip_group']}  kind {res['dip_kind']}  score {res['score']}"
        f"  aux {res['aux_subtype'] or '-'} × {res['aux_coefficient']}"
    )
    if res["reason"]:
        lines.append(f"原因 reason: {res['reason']}")
    d["text"] = "\n".join(lines)
    return d
