"""What-if for coders: how the group of one case depends on each of its codes.

Every alternative is computed by re-grouping a modified case through :func:`drgkit.explain` (the reference
interpreter, tested equal to the kernel), so an answer is never a guess about the rules:

* ``now`` — the group (and, with a payment table, the standard payment) of the case as coded;
* ``secondary`` — for each secondary diagnosis: CC / MCC level, whether the principal diagnosis's exclusion
  table cancels it (它与主要诊断同属一个排除表), whether it counts;
* ``as_principal`` — the group if that diagnosis were the principal one (the old principal becomes secondary);
* ``drop_cc`` — the group if that CC / MCC were not coded;
* ``procedures`` — the group without each procedure, and which procedure decides the ADRG (removing it changes
  the ADRG);
* ``finer`` — for each grey code (灰码) of the case, each valid finer code (细目) in its place: its name, group and
  (with a payment table) standard payment; the first ``FINER_LIMIT`` in dictionary order, ``more`` counts the
  rest (see :func:`drgkit.codes.grey.finer_codes` for which codes are finer).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api import DEFAULT_SCHEME, Options, explain, split_codes
from ..codes.grey import finer_codes, grey_flags

#: Finer codes regrouped per grey code (a few grey codes have dozens).
FINER_LIMIT = 20
_KEEP = ("status", "mdc", "adrg", "adrg_name", "drg", "drg_name", "cc_level", "cc_code")


@dataclass
class WhatIf:
    """Result of :func:`whatif`; ``as_dict()`` is the JSON form, ``text()`` the bilingual report."""

    case: dict[str, Any]
    now: dict[str, Any]
    secondary: list[dict[str, Any]] = field(default_factory=list)
    as_principal: list[dict[str, Any]] = field(default_factory=list)
    drop_cc: list[dict[str, Any]] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    finer: list[dict[str, Any]] = field(default_factory=list)
    deciding_procedure: str | None = None
    rule: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "now": self.now, "secondary": self.secondary, "as_principal": self.as_principal,
                "drop_cc": self.drop_cc, "procedures": self.procedures, "finer": self.finer,
                "deciding_procedure": self.deciding_procedure, "rule": self.rule}

    def json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def text(self) -> str:
        def g(d: dict) -> str:
            s = f"{d['drg']} {d.get('drg_name') or ''}".rstrip()
            if d["status"] != "ok":
                s += f" [{d['status']}]"
            if d.get("standard_payment") is not None:
                s += f"  ¥{d['standard_payment']:,.0f}"
            return s

        n = self.now
        lines = [f"现在 now: MDC {n['mdc']}  ADRG {n['adrg']}  DRG {g(n)}",
                 f"  并发症 CC level: {n['cc_level']}" + (f" ({n['cc_code']})" if n["cc_code"] else "")]
        if self.rule:
            atoms = ", ".join(self.rule["atoms"])
            lines.append(f"  入组规则 ADRG rule {self.rule['rule']}: {atoms}")
        if self.deciding_procedure:
            lines.append(f"  决定ADRG的手术 procedure deciding the ADRG: {self.deciding_procedure}")
        if self.secondary:
            lines.append("其他诊断 secondary diagnoses:")
            for s in self.secondary:
                lvl = s["level"].upper() if s["level"] != "none" else "-"
                why = ("被主要诊断排除 excluded by the principal's table" if s["excluded"]
                       else ("计入 counts" if s["counts"] else ""))
                lines.append(f"  {s['code']:<16} {lvl:<4} {why}  {s['name'] or '(未知编码 unknown code)'}")
        if self.as_principal:
            lines.append("若作为主要诊断 if principal:")
            for a in self.as_principal:
                mark = " *" if a["changed"] else ""
                lines.append(f"  {a['code']:<16} → {g(a)}{mark}")
        if self.drop_cc:
            lines.append("若删除该CC/MCC if dropped:")
            for a in self.drop_cc:
                mark = " *" if a["changed"] else ""
                lines.append(f"  {a['code']:<16} → {g(a)}{mark}")
        if self.procedures:
            lines.append("若删除该手术 without the procedure:")
            for a in self.procedures:
                mark = " *" if a["changed"] else ""
                lines.append(f"  {a['code']:<16} → {g(a)}{mark}")
        for grey in self.finer:
            head = f"灰码 grey code {grey['code']} ({'诊断 dx' if grey['domain'] == 'dx' else '手术 px'}): "
            total = len(grey["alternatives"]) + grey["more"]
            if not total:  # 81.5300 …: nothing finer under its stem in the dictionary
                lines.append(head + "no finer code 细目 under its stem in the dictionary")
                continue
            lines.append(head + f"细目 finer codes instead ({total}):")
            for a in grey["alternatives"]:
                mark = " *" if a["changed"] else ""
                lines.append(f"  {a['code']:<16} → {g(a)}{mark}  {a['name']}")
            if grey["more"]:
                lines.append(f"  … {grey['more']} more")
        lines.append("(* = 分组改变 group changes)")
        return "\n".join(lines)


def _summary(e, pricing) -> dict[str, Any]:
    d = e.as_dict()
    out = {k: d[k] for k in _KEEP}
    w = e.scheme.drg_weights[e.result.drg] if d["status"] in ("ok", "ambiguous") else np.nan
    out["weight"] = None if np.isnan(w) else float(w)
    if pricing is not None:
        out["standard_payment"] = pricing(d["drg"], d["status"])
    return out


def _pricer(table: str | None, level: str | None, insurance: str | None):
    if not table:
        return None
    import pyarrow as pa

    from ..payment import load_policy, load_table, price

    t, policy = load_table(table), load_policy(None)
    cache: dict[tuple[str, str], float | None] = {}

    def pricing(drg: str, status: str) -> float | None:
        if (drg, status) not in cache:
            row = pa.table({"drg": [drg], "status": [status], "total_cost": pa.array([None], pa.float64())})
            v = price(row, t, level=level, insurance=insurance, policy=policy).column("standard_payment")[0].as_py()
            cache[(drg, status)] = None if v is None or v != v else round(float(v), 2)
        return cache[(drg, status)]

    return pricing


def whatif(dx: str | list[str], px: str | list[str] | None = None, *, age: int | None = None,
           sex: int | str | None = None, age_days: int | None = None, birth_weight: int | None = None,
           los: int | None = None, leaving_type: int | None = None, dept: str | None = None,
           icu_hours: int | None = None, scheme: str = DEFAULT_SCHEME, options: Options = Options(),
           table: str | None = None, level: str | None = None, insurance: str | None = None) -> WhatIf:
    """What-if analysis of one case (see the module docstring). ``table`` / ``level`` add standard payments."""
    dx_list, px_list = split_codes(dx), split_codes(px)
    fields = dict(age=age, sex=sex, age_days=age_days, birth_weight=birth_weight, los=los,
                  leaving_type=leaving_type, dept=dept, icu_hours=icu_hours, scheme=scheme, options=options)
    pricing = _pricer(table, level, insurance)

    def regroup(d: list[str], p: list[str]):
        return explain(d, p, **fields)

    base = regroup(dx_list, px_list)
    now = _summary(base, pricing)
    s = base.scheme
    case = {"dx": base.dx, "px": base.px, "age": age, "sex": sex, "age_days": age_days, "birth_weight": birth_weight,
            "los": los, "leaving_type": leaving_type, "scheme": s.id}
    d_codes, d_ids = base.dx, base.dx_ids
    pdx_tab = int(s.dx_excl[d_ids[0]]) if d_ids and d_ids[0] >= 0 else -1

    def changed(alt: dict) -> bool:
        return alt["drg"] != now["drg"] or alt["status"] != now["status"]

    result = WhatIf(case=case, now=now)
    for i in range(1, len(d_codes)):
        cid = d_ids[i]
        mcc_t = int(s.dx_mcc_tab[cid]) if cid >= 0 else -1
        cc_t = int(s.dx_cc_tab[cid]) if cid >= 0 else -1
        lvl, tab = ("mcc", mcc_t) if mcc_t >= 0 else (("cc", cc_t) if cc_t >= 0 else ("none", -1))
        excluded = lvl != "none" and pdx_tab >= 0 and tab == pdx_tab
        result.secondary.append({"pos": i, "code": d_codes[i], "known": cid >= 0,
                                 "name": s.dx_names[cid] if cid >= 0 else None, "level": lvl,
                                 "exclusion_table": tab if tab >= 0 else None, "excluded": bool(excluded),
                                 "counts": lvl != "none" and not excluded})
        swapped = [d_codes[i]] + [c for j, c in enumerate(d_codes) if j != i]
        alt = _summary(regroup(swapped, px_list), pricing)
        result.as_principal.append({"pos": i, "code": d_codes[i], "dx": swapped, **alt, "changed": changed(alt)})
        if lvl != "none":
            dropped = [c for j, c in enumerate(d_codes) if j != i]
            alt = _summary(regroup(dropped, px_list), pricing)
            result.drop_cc.append({"pos": i, "code": d_codes[i], "dx": dropped, **alt, "changed": changed(alt)})
    for k in range(len(base.px)):
        without = [c for j, c in enumerate(base.px) if j != k]
        alt = _summary(regroup(d_codes, without), pricing)
        adrg_changed = alt["adrg"] != now["adrg"] or alt["status"] != now["status"]
        result.procedures.append({"pos": k, "code": base.px[k], "px": without, **alt, "changed": changed(alt),
                                  "adrg_changed": adrg_changed})
        if adrg_changed and result.deciding_procedure is None:
            result.deciding_procedure = base.px[k]
    for domain, codes, ids in (("dx", d_codes, d_ids), ("px", list(base.px), base.px_ids)):
        flags = grey_flags(s, domain)
        for k, (code, cid) in enumerate(zip(codes, ids)):
            if cid < 0 or not flags[cid]:
                continue
            finer = finer_codes(s, domain, code)
            alternatives = []
            for fine, name in finer[:FINER_LIMIT]:
                swapped = [fine if j == k else c for j, c in enumerate(codes)]
                alt = _summary(regroup(swapped, px_list) if domain == "dx" else regroup(d_codes, swapped), pricing)
                alternatives.append({"code": fine, "name": name, **alt, "changed": changed(alt)})
            result.finer.append({"domain": domain, "pos": k, "code": code, "alternatives": alternatives,
                                 "more": max(len(finer) - FINER_LIMIT, 0)})
    rule_steps = [st for st in base.as_dict()["trace"] if st["step"] == "rule" and st["matched"]]
    if rule_steps:
        st = rule_steps[-1]
        result.rule = {"rule": st["item"], "atoms": [a["atom"] for a in st["atoms"] if a["value"]]}
    return result
