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
  rest (see :func:`drgkit.codes.grey.finer_codes` for which codes are finer);
* ``alternatives`` — the combinations above in one ranked list, one entry per resulting group:

  - ``drop_cc``: one CC / MCC secondary diagnosis not coded;
  - ``drop_all_cc``: every CC / MCC secondary diagnosis not coded (the group without complication);
  - ``as_principal``: a secondary diagnosis moved to first place, the old principal becomes secondary;
  - ``add_dx`` / ``add_px``: each code of ``add_dx`` / ``add_px`` added (diagnoses after the secondary
    diagnoses, procedures after the procedures), and ``add_all``: all of them together;
  - ``finer``: a grey code (灰码) replaced by one of its finer codes (细目).

  Alternatives that give the same group (status and DRG) are one entry: the first in the order above, the others
  under ``same_group``.  The entries whose group differs from ``now`` come first, ranked by the change of the
  standard payment with a payment table, else by the change of the reference weight when the scheme has weights
  (chs-drg-2.0), largest change first either way (a loss as a gain; ties: the larger gain first); without either,
  in the order above.  The entry that keeps the current group (if any) comes last with ``changed`` false.

Every alternative holds only if the record documents it (``condition``: ``only if documented``): it is a check
of the coding against the record, not advice to code more.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..api import DEFAULT_SCHEME, Options, explain, split_codes
from ..codes.grey import finer_codes, grey_flags
from ..lang import words
from ..schemes.semantics import excluded as excluded_by
from ..schemes.words import phrase

#: Finer codes regrouped per grey code (a few grey codes have dozens).
FINER_LIMIT = 20
#: Every alternative holds only if the record documents it (``condition`` of each alternative in ``--json``).
CONDITION = "only if documented"
CONDITION_ZH = "仅当病案中有记录时成立"
#: The kinds of alternative, in the order they are generated (and kept when nothing ranks them).
KINDS = ("drop_cc", "drop_all_cc", "as_principal", "add_dx", "add_px", "add_all", "finer")
_METRIC = {"payment": "standard_payment", "weight": "weight"}
_KEEP = ("status", "mdc", "adrg", "adrg_name", "drg", "drg_name", "cc_level", "cc_code")
_RANKED_BY = {
    "payment": "按标准支付的变化从大到小排列",
    "weight": "按权重的变化从大到小排列",
    "order": "按下列顺序：删除并发症、换主要诊断、补充编码、细目",
}


@dataclass
class WhatIf:
    """Result of :func:`whatif`; ``as_dict()`` is the JSON form, ``text()`` the report in plain Chinese."""

    case: dict[str, Any]
    now: dict[str, Any]
    secondary: list[dict[str, Any]] = field(default_factory=list)
    as_principal: list[dict[str, Any]] = field(default_factory=list)
    drop_cc: list[dict[str, Any]] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    finer: list[dict[str, Any]] = field(default_factory=list)
    deciding_procedure: str | None = None
    rule: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    ranked_by: str = "order"
    names: dict[str, str] = field(default_factory=dict)  # code → name, for the text

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "now": self.now,
            "condition": CONDITION,
            "ranked_by": self.ranked_by,
            "alternatives": self.alternatives,
            "secondary": self.secondary,
            "as_principal": self.as_principal,
            "drop_cc": self.drop_cc,
            "procedures": self.procedures,
            "finer": self.finer,
            "deciding_procedure": self.deciding_procedure,
            "rule": self.rule,
        }

    def json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def text(self, width: int | None = None) -> str:
        """The report in plain Chinese sentences; ``width`` (terminal columns) wraps lines between words, never
        inside a code or a number."""
        cc_words, status_words = words("cc", "zh"), words("status", "zh")

        def name(code: str) -> str:
            n = self.names.get(code)
            return f"{code} {n}" if n else code

        def group(d: dict) -> str:
            if d["status"] not in ("ok", "ambiguous"):
                return f"{status_words.get(d['status'], d['status'])}"
            s = f"{d['drg']} {d.get('drg_name') or ''}".rstrip()
            if d.get("cc_code"):
                s += f"（{d['cc_level'].upper()}：{d['cc_code']}）"
            if d["status"] == "ambiguous" and "歧义" not in s:
                s += f"，{status_words['ambiguous']}"
            return s

        n = self.now
        lines = [
            f"注：下列每个备选分组都{CONDITION_ZH}（only if documented in the record）；这是核对编码与病案"
            "是否一致，不是建议多编码。"
        ]
        lines.append(f"现在：{(n.get('sentence') or group(n)).rstrip('。')}。")
        priced = "standard_payment" in n
        money = []
        if n.get("weight") is not None:
            money.append(f"权重 {n['weight']:.4f}")
        if "standard_payment" in n:
            money.append(
                "标准支付 " + (_yuan(n["standard_payment"]) if n["standard_payment"] is not None else "无（未计价）")
            )
        if money:
            lines.append(f"  {'，'.join(money)}。")
        if self.rule:
            atoms = "；".join(phrase(a, True, "zh") for a in self.rule["atoms"]) or "无条件"
            lines.append(f"  入组规则 {self.rule['rule']}：{atoms}。")
        if self.deciding_procedure:
            lines.append(f"  决定 ADRG 的手术是 {name(self.deciding_procedure)}：没有它，ADRG 会改变。")
        if self.secondary:
            lines.append("其他诊断：")
            for s in self.secondary:
                head = f"  {s['code']} {s['name'] or '（未知编码）'}："
                if s["level"] == "none":
                    lines.append(head + "不是并发症或合并症。")
                elif s["excluded"]:
                    lines.append(head + f"{cc_words[s['level']]}，但与主要诊断同属一个排除表，不计入。")
                else:
                    lines.append(head + f"{cc_words[s['level']]}，计入。")
        changed = [a for a in self.alternatives if a["changed"]]
        same = [a for a in self.alternatives if not a["changed"]]
        if changed:
            lines.append(f"备选分组（{_RANKED_BY[self.ranked_by]}；得到同一组的改动只列一次）：")
            for k, a in enumerate(changed, 1):
                lines.append(f"  {k}. {_change_text(a, name)} → {group(a)}{_money_text(a, priced)}。")
                if a["same_group"]:
                    others = _changes_text(a["same_group"])
                    lines.append(f"     同样得到此组：{others}。")
        elif self.alternatives:
            lines.append("没有改变分组的备选。")
        for a in same:
            lines.append(f"分组不变：{_changes_text([a] + a['same_group'])}。")
        moves = [p for p in self.procedures if p["changed"]]
        for p in moves:
            lines.append(f"若没有手术 {name(p['code'])} → {group(p)}{_money_text(p, priced, now=n)}。")
        for grey in self.finer:  # the finer codes one by one (the ranked list keeps one per group)
            head = f"灰码 grey code {grey['code']} ({'诊断 dx' if grey['domain'] == 'dx' else '手术 px'}): "
            total = len(grey["alternatives"]) + grey["more"]
            if not total:  # 81.5300 …: nothing finer under its stem in the dictionary
                lines.append(head + "no finer code 细目 under its stem in the dictionary")
                continue
            lines.append(head + f"细目 finer codes instead ({total}):")
            for a in grey["alternatives"]:
                mark = "*" if a["changed"] else " "
                lines.append(f"  {mark} {a['code']} {a['name']} → {group(a)}{_money_text(a, priced, now=n)}")
            if grey["more"]:
                lines.append(f"  … {grey['more']} more")
        if self.finer:
            lines.append("(* = 分组改变 group changes)")
        return "\n".join(out for line in lines for out in wrap(line, width))


def _yuan(v: float) -> str:
    return f"{v:,.0f}\u00a0元"  # a no-break space: the amount and its unit stay on one line


def _money_text(a: dict, priced: bool, now: dict | None = None) -> str:
    """``；标准支付 8,000 元（少 6,941 元）`` (the change from now); weights likewise when there is no payment."""
    delta = a.get("delta")
    if delta is None and now is not None:  # the fixed sections carry no delta: from now
        delta = _delta(a, now)
    delta = delta or {}
    if priced:
        pay = a.get("payment", a.get("standard_payment"))
        if pay is None:
            return "；无标准支付（未计价）"
        d = delta.get("payment")
        change = "" if d is None else ("，不变" if d == 0 else f"，{'多' if d > 0 else '少'} {_yuan(abs(d))}")
        return f"；标准支付 {_yuan(pay)}{change}"
    if a.get("weight") is not None:
        d = delta.get("weight")
        change = "" if d is None else ("，不变" if d == 0 else f"，{'高' if d > 0 else '低'} {abs(d):.4f}")
        return f"；权重 {a['weight']:.4f}{change}"
    return ""


def _codes(cs: list[str]) -> str:
    return "、".join(cs)


def _change_text(a: dict, name, short: bool = False) -> str:
    """What was changed, as a coder says it: ``删除并发症 I50.900 心力衰竭`` … (``name``: code → code and name;
    ``short``: without the old principal of a swap)."""
    ch = a["changes"]
    kind = a["kind"]
    if kind == "drop_cc":
        return f"删除并发症 {name(ch[0]['code'])}"
    if kind == "drop_all_cc":
        return f"删除全部并发症 {_codes([c['code'] for c in ch])}（不伴并发症）"
    if kind == "as_principal":
        c = ch[0]
        return f"以 {name(c['code'])} 为主要诊断" + ("" if short else f"（原主要诊断 {c['was']} 改为其他诊断）")
    if kind == "finer":
        c = ch[0]
        where = "诊断" if c["domain"] == "dx" else "手术"
        return f"灰码{where} {c['was']} 改为细目 {name(c['code'])}"
    dx = [c["code"] for c in ch if c["domain"] == "dx"]
    px = [c["code"] for c in ch if c["domain"] == "px"]
    parts = ([f"诊断 {_codes([name(x) for x in dx]) if len(dx) == 1 else _codes(dx)}"] if dx else []) + (
        [f"手术 {_codes([name(x) for x in px]) if len(px) == 1 else _codes(px)}"] if px else []
    )
    return ("同时补充" if kind == "add_all" else "补充") + "，".join(parts)


def _changes_text(alts: list[dict]) -> str:
    """Several changes in one clause, codes only; finer codes of one grey code together (``… 改为细目 A、B``)."""
    parts: list[str] = []
    finer: dict[str, list[str]] = {}
    for a in alts:
        if a["kind"] == "finer":
            c = a["changes"][0]
            key = f"灰码{'诊断' if c['domain'] == 'dx' else '手术'} {c['was']} 改为细目 "
            if key not in finer:
                finer[key] = []
                parts.append(key)
            finer[key].append(c["code"])
        else:
            parts.append(_change_text(a, str, short=True))
    return "；".join(p + _codes(finer[p]) if p in finer else p for p in parts)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def wrap(line: str, width: int | None) -> list[str]:
    """``line`` folded to ``width`` terminal columns: breaks at spaces and between Chinese characters only, so
    a code, a number or an amount is never split; continuation lines are indented under the text."""
    from rich.cells import cell_len

    if not width or cell_len(line) <= width:
        return [line]
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    hang = indent + 2
    if body[:1].isdigit() and ". " in body[:5]:  # a numbered item: under its text
        hang = indent + body.index(". ") + 2
    tokens: list[str] = []
    for ch in body:  # runs of non-space narrow characters stay together; wide characters stand alone
        if ch == " " or _wide(ch):
            if _wide(ch) and ch in "，。；：、）」" and tokens and tokens[-1] != " ":
                tokens[-1] += ch  # no line starts with closing punctuation
            elif tokens and tokens[-1][-1:] in ("（", "「", "\u00a0"):
                tokens[-1] += ch  # nor ends with an opening one; a no-break space holds its neighbours
            else:
                tokens.append(ch)
        elif tokens and tokens[-1] != " " and (not _wide(tokens[-1][-1]) or tokens[-1][-1] in "（「"):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    out, cur = [], " " * indent
    for tok in tokens:
        if cell_len(cur) + cell_len(tok) > width and cur.strip():
            out.append(cur.rstrip())
            cur = " " * hang
            if tok == " ":
                continue
        cur += tok
    if cur.strip():
        out.append(cur.rstrip())
    return out


def _summary(e, pricing) -> dict[str, Any]:
    d = e.as_dict()
    out = {k: d[k] for k in _KEEP}
    w = e.scheme.drg_weights[e.result.drg] if d["status"] in ("ok", "ambiguous") else np.nan
    out["weight"] = None if np.isnan(w) else float(w)
    if pricing is not None:
        out["standard_payment"] = pricing(d["drg"], d["status"])
    return out


def _delta(alt: dict, now: dict) -> dict[str, float | None]:
    def diff(key: str, digits: int) -> float | None:
        a, b = alt.get(key), now.get(key)
        return None if a is None or b is None else round(a - b, digits)

    return {"weight": diff("weight", 4), "payment": diff("standard_payment", 2)}


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


def _sentences(fields: dict, variants: list[tuple[list[str], list[str]]], scheme, options) -> list[str | None]:
    """Why each variant gets its group, in the one Chinese sentence ``drgkit group --explain all`` writes
    (:mod:`drgkit.grouping.sentences`), for all variants in one batch."""
    import pyarrow as pa

    from ..api import group_canonical

    keys = ("age", "age_days", "birth_weight", "los", "leaving_type", "dept", "icu_hours")
    n = len(variants)
    row = {"case_id": "whatif", "gender": fields["sex"], **{k: fields[k] for k in keys}}
    table = pa.table(
        {
            **{k: pa.array([None if v is None else str(v)] * n, pa.string()) for k, v in row.items()},
            "dx": pa.array([d for d, _ in variants], pa.list_(pa.string())),
            "px": pa.array([p for _, p in variants], pa.list_(pa.string())),
        }
    )
    return group_canonical(table, scheme, options, explain="all").column("explanation").to_pylist()


def _added(values: str | list[str] | None) -> list[str]:
    """``--add-dx A --add-dx "B|C"`` → [A, B, C] (each value split as ``--dx``; blanks and repeats dropped)."""
    if values is None:
        return []
    out: list[str] = []
    for v in values if isinstance(values, (list, tuple)) else [values]:
        for c in split_codes(v):
            if c and c not in out:
                out.append(c)
    return out


def whatif(
    dx: str | list[str],
    px: str | list[str] | None = None,
    *,
    age: int | None = None,
    sex: int | str | None = None,
    age_days: int | None = None,
    birth_weight: int | None = None,
    los: int | None = None,
    leaving_type: int | None = None,
    dept: str | None = None,
    icu_hours: int | None = None,
    scheme: str = DEFAULT_SCHEME,
    options: Options = Options(),
    table: str | None = None,
    level: str | None = None,
    insurance: str | None = None,
    add_dx: str | list[str] | None = None,
    add_px: str | list[str] | None = None,
) -> WhatIf:
    """What-if analysis of one case (see the module docstring). ``table`` / ``level`` add standard payments;
    ``add_dx`` / ``add_px``: codes to try adding (each alone, then all together)."""
    dx_list, px_list = split_codes(dx), split_codes(px)
    fields: dict[str, Any] = dict(
        age=age,
        sex=sex,
        age_days=age_days,
        birth_weight=birth_weight,
        los=los,
        leaving_type=leaving_type,
        dept=dept,
        icu_hours=icu_hours,
        scheme=scheme,
        options=options,
    )
    pricing = _pricer(table, level, insurance)
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}

    def regroup(d: list[str], p: list[str]) -> dict[str, Any]:
        key = (tuple(d), tuple(p))
        if key not in cache:
            cache[key] = _summary(explain(d, p, **fields), pricing)
        return dict(cache[key])

    base = explain(dx_list, px_list, **fields)
    now = _summary(base, pricing)
    s = base.scheme
    case = {
        "dx": base.dx,
        "px": base.px,
        "age": age,
        "sex": sex,
        "age_days": age_days,
        "birth_weight": birth_weight,
        "los": los,
        "leaving_type": leaving_type,
        "scheme": s.id,
    }
    d_codes, d_ids = list(base.dx), base.dx_ids
    p_codes = list(base.px)
    cache[(tuple(d_codes), tuple(p_codes))] = dict(now)
    pdx_tab = int(s.dx_excl[d_ids[0]]) if d_ids and d_ids[0] >= 0 else -1
    names = {c: s.dx_names[i] for c, i in zip(d_codes, d_ids) if i >= 0}
    names.update({c: s.px_names[i] for c, i in zip(p_codes, base.px_ids) if i >= 0})

    def changed(alt: dict) -> bool:
        return alt["drg"] != now["drg"] or alt["status"] != now["status"]

    result = WhatIf(case=case, now=now)
    candidates: list[dict[str, Any]] = []  # kind, changes, dx, px — in KINDS order

    def candidate(kind: str, changes: list[dict], d: list[str], p: list[str]) -> None:
        candidates.append({"kind": kind, "changes": changes, "dx": d, "px": p})

    cc_positions = []
    for i in range(1, len(d_codes)):
        cid = d_ids[i]
        mcc_t = int(s.dx_mcc_tab[cid]) if cid >= 0 else -1
        cc_t = int(s.dx_cc_tab[cid]) if cid >= 0 else -1
        lvl, tab = ("mcc", mcc_t) if mcc_t >= 0 else (("cc", cc_t) if cc_t >= 0 else ("none", -1))
        excluded = lvl != "none" and bool(excluded_by(tab, pdx_tab))  # the CC rule's exclusion (schemes.semantics)
        result.secondary.append(
            {
                "pos": i,
                "code": d_codes[i],
                "known": cid >= 0,
                "name": s.dx_names[cid] if cid >= 0 else None,
                "level": lvl,
                "exclusion_table": tab if tab >= 0 else None,
                "excluded": bool(excluded),
                "counts": lvl != "none" and not excluded,
            }
        )
        swapped = [d_codes[i]] + [c for j, c in enumerate(d_codes) if j != i]
        alt = regroup(swapped, p_codes)
        result.as_principal.append({"pos": i, "code": d_codes[i], "dx": swapped, **alt, "changed": changed(alt)})
        if lvl != "none":
            cc_positions.append(i)
            dropped = [c for j, c in enumerate(d_codes) if j != i]
            alt = regroup(dropped, p_codes)
            result.drop_cc.append({"pos": i, "code": d_codes[i], "dx": dropped, **alt, "changed": changed(alt)})
            candidate("drop_cc", [{"action": "remove", "domain": "dx", "code": d_codes[i]}], dropped, p_codes)
    if len(cc_positions) > 1:  # (with one, the same as dropping it)
        kept = [c for j, c in enumerate(d_codes) if j not in cc_positions]
        candidate(
            "drop_all_cc",
            [{"action": "remove", "domain": "dx", "code": d_codes[i]} for i in cc_positions],
            kept,
            p_codes,
        )
    for a in result.as_principal:
        candidate(
            "as_principal",
            [{"action": "principal", "domain": "dx", "code": a["code"], "was": d_codes[0]}],
            a["dx"],
            p_codes,
        )
    more_dx = [c for c in _added(add_dx) if c not in d_codes]
    more_px = [c for c in _added(add_px) if c not in p_codes]
    for c in more_dx:
        candidate("add_dx", [{"action": "add", "domain": "dx", "code": c}], d_codes + [c], p_codes)
    for c in more_px:
        candidate("add_px", [{"action": "add", "domain": "px", "code": c}], d_codes, p_codes + [c])
    if len(more_dx) + len(more_px) > 1:
        candidate(
            "add_all",
            [{"action": "add", "domain": "dx", "code": c} for c in more_dx]
            + [{"action": "add", "domain": "px", "code": c} for c in more_px],
            d_codes + more_dx,
            p_codes + more_px,
        )
    for k in range(len(p_codes)):
        without = [c for j, c in enumerate(p_codes) if j != k]
        alt = regroup(d_codes, without)
        adrg_changed = alt["adrg"] != now["adrg"] or alt["status"] != now["status"]
        result.procedures.append(
            {"pos": k, "code": p_codes[k], "px": without, **alt, "changed": changed(alt), "adrg_changed": adrg_changed}
        )
        if adrg_changed and result.deciding_procedure is None:
            result.deciding_procedure = p_codes[k]
    for domain, codes, ids in (("dx", d_codes, d_ids), ("px", p_codes, base.px_ids)):
        flags = grey_flags(s, domain)
        for k, (code, cid) in enumerate(zip(codes, ids)):
            if cid < 0 or not flags[cid]:
                continue
            finer = finer_codes(s, domain, code)
            alternatives = []
            for fine, name in finer[:FINER_LIMIT]:
                swapped = [fine if j == k else c for j, c in enumerate(codes)]
                d, p = (swapped, p_codes) if domain == "dx" else (d_codes, swapped)
                alt = regroup(d, p)
                alternatives.append({"code": fine, "name": name, **alt, "changed": changed(alt)})
                names[fine] = name
                candidate("finer", [{"action": "replace", "domain": domain, "code": fine, "was": code}], d, p)
            result.finer.append(
                {
                    "domain": domain,
                    "pos": k,
                    "code": code,
                    "alternatives": alternatives,
                    "more": max(len(finer) - FINER_LIMIT, 0),
                }
            )
    for code, domain_codes, domain_names in [(c, s.dx_codes, s.dx_names) for c in more_dx] + [
        (c, s.px_codes, s.px_names) for c in more_px
    ]:
        if code in domain_codes:  # a few codes: a scan each
            names[code] = domain_names[domain_codes.index(code)]
    rule_steps = [st for st in base.as_dict()["trace"] if st["step"] == "rule" and st["matched"]]
    if rule_steps:
        st = rule_steps[-1]
        result.rule = {"rule": st["item"], "atoms": [a["atom"] for a in st["atoms"] if a["value"]]}

    # one entry per resulting group (status, DRG), the first in KINDS order; then ranked
    by_group: dict[tuple[str, str], dict[str, Any]] = {}
    for order, cand in enumerate(candidates):
        alt = regroup(cand["dx"], cand["px"])
        key = (alt["status"], alt["drg"])
        if key in by_group:
            by_group[key]["same_group"].append(
                {"kind": cand["kind"], "changes": cand["changes"], "dx": cand["dx"], "px": cand["px"]}
            )
            continue
        entry = {"kind": cand["kind"], "changes": cand["changes"], "dx": cand["dx"], "px": cand["px"], **alt}
        entry["payment"] = entry.pop("standard_payment", None)
        entry["delta"] = _delta(alt, now)
        entry.update(changed=changed(alt), condition=CONDITION, same_group=[], order=order)
        by_group[key] = entry
    entries = list(by_group.values())
    if pricing is not None:
        result.ranked_by, metric = "payment", "payment"
    elif np.isfinite(np.asarray(s.drg_weights, float)).any():
        result.ranked_by, metric = "weight", "weight"
    else:
        result.ranked_by, metric = "order", None

    def rank(e: dict) -> tuple:
        d = e["delta"][metric] if metric else None
        if metric and d is None and now.get(_METRIC[metric]) is None:  # from no payment (a grey principal …)
            d = e[metric]
        return (not e["changed"], d is None, -abs(d or 0.0), -(d or 0.0), e["order"])

    entries.sort(key=rank)
    if entries:
        sentences = _sentences(fields, [(d_codes, p_codes)] + [(e["dx"], e["px"]) for e in entries], s, options)
        now["sentence"] = sentences[0]
        for e, text in zip(entries, sentences[1:]):
            e["sentence"] = text
    else:
        now["sentence"] = _sentences(fields, [(d_codes, p_codes)], s, options)[0]
    for e in entries:
        del e["order"]
    result.alternatives = entries
    result.names = names
    return result
