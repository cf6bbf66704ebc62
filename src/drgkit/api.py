"""The public Python surface: :func:`group` many cases, :func:`explain` one.

>>> import drgkit
>>> out = drgkit.group(df, scheme="chs-drg-1.1")          # pyarrow / polars / pandas in, same type out
>>> print(drgkit.explain(dx="I21.000|E11.900", px="36.0601", age=65, sex=1).text())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .canonical import Options, group_canonical, repair_codes
from .codes.grey import finer_codes, grey_flags
from .grouping.batch import encode, unknown_pdx
from .grouping.spec_cache import spec_reference
from .grouping.spec_reference import case_from_encoded, to_result
from .grouping.trace import Result
from .io import prepare
from .io.frames import from_arrow, to_arrow
from .lang import detail_text, resolve, say, words
from .schemes import DEFAULT_SCHEME
from .schemes import program as P
from .schemes.compile import load_compiled
from .schemes.program import CompiledScheme
from .schemes.words import phrase


def group(
    data: Any,
    scheme: str = DEFAULT_SCHEME,
    *,
    mapping: Mapping[str, str] | None = None,
    options: Options = Options(),
    threads: int | None = None,
    canonical: bool = False,
    allow_unmapped: bool = False,
) -> Any:
    """Group discharge abstracts; one output row per input row, in input order.

    ``data`` is a pyarrow Table, polars or pandas DataFrame (returned as the same type) or a file path; a
    polars LazyFrame or an Arrow RecordBatchReader is grouped batch by batch and comes back as one (lazily:
    the work happens as the result is collected or read; see :mod:`drgkit.stream`).
    Columns may use canonical names or the Chinese labels / interface codes of the settlement list;
    ``mapping`` renames anything else (``{"my_dx_col": "dx"}``).  The input's columns come back under their
    own names and in their own order (``canonical=True``: canonical names), numbers typed, then the result
    columns: ``status`` (ok / ungroupable / ambiguous / invalid), ``reason``, ``warnings``, ``mdc``,
    ``adrg``, ``drg``, ``drg_name``, ``cc_level``, ``cc_code``, ``scheme``, ``scheme_checksum``.
    A column that holds codes but would go unread raises :class:`~drgkit.io.InputError` unless
    ``allow_unmapped``.
    """
    from pathlib import Path

    from .io.output import input_shaped
    from .io.read import canonicalize_with_plan, open_cases

    streamed = type(data).__name__ == "LazyFrame" and type(data).__module__.startswith("polars")
    if streamed or isinstance(data, pa.RecordBatchReader):
        from . import stream

        kwargs = {
            "mapping": mapping,
            "options": options,
            "threads": threads,
            "canonical": canonical,
            "allow_unmapped": allow_unmapped,
        }
        return stream.group_lazy(data, scheme, **kwargs) if streamed else stream.group_reader(data, scheme, **kwargs)
    if isinstance(data, (str, Path)):
        source = open_cases(data, mapping=mapping, allow_unmapped=allow_unmapped, batch_size=1 << 62)
        tables = list(source.batches())
        canon, plan, kind = (tables[0] if len(tables) == 1 else pa.concat_tables(tables)), source.plan, "arrow"
    else:
        table, kind = to_arrow(data)
        canon, plan, _ = canonicalize_with_plan(table, mapping=mapping, allow_unmapped=allow_unmapped)
    out = group_canonical(canon, load_compiled(scheme), options, threads)
    return from_arrow(out if canonical else input_shaped(out, plan), kind, data)


def column_mapping(data: Any, *, mapping: Mapping[str, str] | None = None, allow_unmapped: bool = False) -> list[str]:
    """How :func:`group` would read ``data`` (a file path or a table): which column becomes which field, the
    code columns assembled, the columns carried through, and the reader's warnings — the lines ``drgkit group``
    prints.  Raises :class:`~drgkit.io.InputError` as :func:`group` would (a code column left unread …)."""
    from pathlib import Path

    from .io.read import CaseSource, canonicalize_with_plan, open_cases

    if isinstance(data, (str, Path)):
        return open_cases(data, mapping=mapping, allow_unmapped=allow_unmapped).mapping_report()
    table, _ = to_arrow(data)
    _, plan, warnings = canonicalize_with_plan(table, mapping=mapping, allow_unmapped=allow_unmapped)
    return CaseSource(Path("<table>"), plan, warnings).mapping_report()


#: The kinds of step a trace records, as a coder reads them.


@dataclass
class Explanation:
    """One case grouped by the reference interpreter, with its trace."""

    scheme: CompiledScheme
    result: Result
    row: dict[str, Any]
    dx: list[str]
    px: list[str]
    dx_ids: list[int]
    px_ids: list[int]
    detail: str | None = None  # which field could not be read (V06) or the grey principal (U05), as group says

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable form (``drgkit explain --json``)."""
        s, r = self.scheme, self.result
        grouped = r.status in (P.ST_OK, P.ST_AMBIGUOUS)
        code, en, zh = P.REASONS[r.reason]
        return {
            "scheme": s.id,
            "scheme_checksum": s.checksum,
            "status": P.STATUS_NAMES[r.status],
            "reason": {"code": code, "en": en, "zh": zh, "detail": self.detail} if code else None,
            "mdc": s.drg_mdc[r.drg] if grouped else "0000",
            "mdc_name": self._mdc_name(s.drg_mdc[r.drg]) if grouped else None,
            "adrg": (s.adrg_codes[r.adrg] if r.adrg >= 0 else "QY") if grouped else "00",
            "adrg_name": s.adrg_names[r.adrg] if r.adrg >= 0 else None,
            "drg": s.drg_codes[r.drg] if grouped else s.drg_codes[s.fail_drg],
            "drg_name": s.drg_names[r.drg] if grouped else None,
            "rule": s.rule_ids[r.rule] if r.rule >= 0 else None,
            "cc_level": P.CC_NAMES[r.cc_level],
            "cc_code": self.dx[r.cc_pos] if r.cc_pos >= 0 else None,
            "diagnoses": [self._code_info(c, i, "dx") for c, i in zip(self.dx, self.dx_ids)],
            "procedures": [self._code_info(c, i, "px") for c, i in zip(self.px, self.px_ids)],
            "trace": [
                {
                    "step": st.kind,
                    "item": st.label,
                    "matched": bool(st.matched),
                    "atoms": [{"atom": a, "value": bool(v)} for a, v in st.atoms],
                }
                for st in r.trace
            ],
        }

    def _mdc_name(self, mdc: str) -> str | None:
        try:
            return self.scheme.mdc_names[self.scheme.mdc_codes.index(mdc)]
        except ValueError:
            return None

    def _rule_name(self, rule_id: str) -> str:
        s = self.scheme
        try:
            r = s.rule_ids.index(rule_id)
        except ValueError:
            return ""
        return s.adrg_names[int(s.rule_tab[r, P.R_ADRG])] or ""

    def _drg_name(self, drg: str) -> str:
        try:
            return self.scheme.drg_names[self.scheme.drg_codes.index(drg)] or ""
        except ValueError:
            return ""

    def _code_info(self, code: str, cid: int, domain: str) -> dict[str, Any]:
        s = self.scheme
        names = s.dx_names if domain == "dx" else s.px_names
        info: dict[str, Any] = {"code": code, "known": cid >= 0, "name": names[cid] if cid >= 0 else None}
        if cid >= 0 and grey_flags(s, domain)[cid]:
            info["grey"] = True
            info["finer_codes"] = [{"code": c, "name": n} for c, n in finer_codes(s, domain, code)]
        if domain == "dx" and cid >= 0:
            info["mcc"] = bool(s.dx_mcc_tab[cid] >= 0)
            info["cc"] = bool(s.dx_cc_tab[cid] >= 0)
            info["exclusion_table"] = int(s.dx_excl[cid]) if s.dx_excl[cid] >= 0 else None
        if domain == "px" and cid >= 0:
            info["or_procedure"] = bool(s.px_is_or[cid])
        return info

    @staticmethod
    def _finer_lines(info: dict[str, Any], lang: str, limit: int = 12) -> list[str]:
        """Under a grey code: the finer codes (细目) to code instead, with their names."""
        if not info.get("grey"):
            return []
        finer = info["finer_codes"]
        if not finer:  # 8 grey procedures (81.5300 …): nothing finer under their stem in the dictionary
            return [f"      {say('explain.grey_none', lang)}"]
        lines = [f"      {say('explain.grey_finer', lang, n=len(finer))}"]
        lines += [f"        {f['code']:<16} {f['name']}" for f in finer[:limit]]
        if len(finer) > limit:
            lines.append(f"        {say('explain.more', lang, n=len(finer) - limit)}")
        return lines

    def text(self, verbose: bool = False, lang: str | None = None) -> str:
        """Readable path in Chinese (``lang="en"``: English). ``verbose`` lists every rule tried, not only
        matches."""
        lang = resolve(lang)
        d = self.as_dict()
        lines = [f"{say('explain.scheme', lang)}: {self.scheme.id}  ({self.scheme.name})"]
        unknown = say("explain.unknown_code", lang)
        for info in d["diagnoses"]:
            flag = " MCC" if info.get("mcc") else (" CC" if info.get("cc") else "")
            lines.append(f"  {say('explain.dx', lang)}  {info['code']:<16} {info['name'] or unknown}{flag}")
            lines += self._finer_lines(info, lang)
        for info in d["procedures"]:
            flag = " [OR]" if info.get("or_procedure") else ""
            lines.append(f"  {say('explain.px', lang)}  {info['code']:<16} {info['name'] or unknown}{flag}")
            lines += self._finer_lines(info, lang)
        lines.append(f"{say('explain.path', lang)}:")
        steps = words("step", lang)
        for st in d["trace"]:
            if not verbose and not st["matched"] and st["step"] in ("mdc", "rule", "split", "qy"):
                continue
            sep = "；" if lang == "zh" else "; "
            atoms = sep.join(phrase(a["atom"], a["value"], lang) for a in st["atoms"])  # plain words, not atoms
            atoms = atoms or (say("explain.always", lang) if st["step"] == "split" else "")
            mark = "✓" if st["matched"] else "✗"
            label = st["item"]
            if st["step"] == "mdc":
                label = f"{label} {self._mdc_name(label) or ''}"
            elif st["step"] == "rule":
                label = f"{label} {self._rule_name(label)}"
            elif st["step"] in ("split", "adrg"):
                label = f"{label} {self._drg_name(label)}"
            step = steps.get(st["step"], st["step"])
            lines.append(f"  {mark} {step:<6} {label}  {atoms}")
        status = words("status", lang).get(d["status"], d["status"])
        lines.append(
            f"{say('explain.result', lang)}: {status}  MDC {d['mdc']}  ADRG {d['adrg']}  DRG {d['drg']}"
            + (f"  {d['drg_name']}" if d["drg_name"] else "")
        )
        if d["reason"]:
            detail = f": {detail_text(d['reason']['detail'], lang)}" if d["reason"].get("detail") else ""
            lines.append(f"{say('explain.reason', lang)}: {d['reason']['code']} {d['reason'][lang]}{detail}")
        cc = words("cc", lang).get(d["cc_level"], d["cc_level"])
        lines.append(
            f"{say('explain.cc', lang)}: {cc}"
            + (f" {say('explain.set_by', lang, code=d['cc_code'])}" if d["cc_code"] else "")
        )
        return "\n".join(lines)


def split_codes(value: str | list[str] | None) -> list[str]:
    """Codes typed on a command line or passed to the API (``"A|B"``, ``"A,B"``, ``"A B"`` or a list), split
    exactly as ``group`` splits a cell: the same separators, and a blank first slot kept as ``""`` (a
    missing principal diagnosis / main procedure is reported, not filled with the next code)."""
    if value is None or value == "" or value == []:
        return []
    from .io.codelists import code_lists

    for code in value if isinstance(value, (list, tuple)) else [value]:
        if code is not None and not isinstance(code, str):  # 123 or 5.0 would be read as a code silently
            raise TypeError(f"codes must be text such as 'I21.000x005', got {code!r} ({type(code).__name__})")

    array = (
        pa.array([value], pa.list_(pa.string()))
        if isinstance(value, (list, tuple))
        else pa.array([str(value)], pa.string())
    )
    return code_lists(array, keep_principal_slot=True).to_pylist()[0]


def explain(
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
) -> Explanation:
    """Group one case with the reference interpreter (the spec-shaped reader of the scheme's tables,
    :mod:`drgkit.grouping.spec_reference`) and keep the trace of every rule tried."""
    compiled = load_compiled(scheme)
    row = {
        "case_id": "explain",
        "gender": None if sex is None else str(sex),
        "age": age,
        "age_days": age_days,
        "birth_weight": birth_weight,
        "los": los,
        "leaving_type": leaving_type,
        "dept": dept,
        "icu_hours": icu_hours,
    }
    dx_list, px_list = split_codes(dx), split_codes(px)
    table = pa.table(
        {
            **{k: pa.array([None if v is None else str(v)], pa.string()) for k, v in row.items()},
            "dx": pa.array([dx_list], pa.list_(pa.string())),
            "px": pa.array([px_list], pa.list_(pa.string())),
        }
    )
    prep = repair_codes(prepare(table, strict_gender=options.strict_gender), compiled, options)
    enc = encode(prep, compiled)
    dept_value = prep.dept[0].as_py() if prep.dept is not None else None
    case = case_from_encoded(
        enc.dx_flat.to_pylist(), enc.px_flat.to_pylist(), enc.num[0], None if dept_value is None else str(dept_value)
    )
    result = to_result(spec_reference(scheme, compiled.checksum).group(case), compiled)
    if result.status == P.ST_UNGROUPABLE:
        pdx = enc.dx_ids[:1] if len(enc.dx_ids) else np.array([-2])
        if unknown_pdx(pdx, compiled)[0]:
            result.reason = P.R_PDX_UNKNOWN
        elif pdx[0] >= 0 and grey_flags(compiled, "dx")[pdx[0]]:
            result.reason = P.R_PDX_GREY
    if prep.problems[0].is_valid:
        result = Result(P.ST_INVALID, 0, -1, -1, P.R_INPUT, P.CC_NONE, -1, result.trace)
    elif result.status == P.ST_INVALID:  # no group, so no complication level (as group reports it)
        result = Result(result.status, result.drg, result.adrg, result.rule, result.reason, P.CC_NONE, -1, result.trace)
    return Explanation(
        compiled,
        result,
        row,
        enc.dx_flat.to_pylist(),
        enc.px_flat.to_pylist(),
        [int(i) for i in enc.dx_ids],
        [int(i) for i in enc.px_ids],
        detail=prep.problems[0].as_py()
        if result.reason == P.R_INPUT
        else enc.dx_flat[0].as_py()
        if result.reason == P.R_PDX_GREY
        else None,
    )
