"""The grouping engine behind the service: schemes compiled and the kernel warmed once, at start-up; every
``/v1/group`` call grouped by :func:`drgkit.canonical.group_canonical` — the one function ``drgkit group``,
:func:`drgkit.group` and Spark run — so an answer cannot differ from theirs.

Single cases arrive one per request; grouping one case costs a few milliseconds of fixed work (building the
code lookups of a batch), grouping fifty costs hardly more.  So calls are *micro-batched*: while the worker
thread groups one batch, the calls that arrive meanwhile queue up and are grouped together next, each sliced
back to its own rows.  Nothing waits for a timer: an idle server groups a call at once.  Only calls with the
same scheme, options and fields share a batch (so a batch is exactly the table each call would be alone).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from ..canonical import Options, group_canonical
from ..errors import DrgkitError
from ..io.columns import fields
from ..io.read import canonicalize_with_plan
from ..lang import price_reason_text, reason_text, words
from ..schemes.compile import load_compiled
from ..schemes.program import CompiledScheme
from ..schemes.tables import list_schemes
from .cases import CaseProblem, ParsedCases, parse_cases, request_cases, rows_table
from .errors import ServeError
from .settings import ServeSettings

#: Result fields of a case, in the order they are answered (pricing fields follow when priced).
RESULT_FIELDS = (
    "case_id",
    "status",
    "status_zh",
    "reason",
    "reason_zh",
    "warnings",
    "mdc",
    "mdc_name",
    "adrg",
    "adrg_name",
    "drg",
    "drg_name",
    "cc_level",
    "cc_level_zh",
    "cc_code",
    "cc_name",
    "weight",
    "scheme",
    "scheme_checksum",
)
PRICE_FIELDS = (
    "standard_payment",
    "case_type",
    "case_type_zh",
    "payment",
    "fund_payment",
    "patient_payment",
    "margin",
    "price_reason",
    "price_reason_zh",
    "pay_table",
    "pay_level",
    "pay_insurance",
    "base_rate",
    "level_coefficient",
)
_GROUPED = ("ok", "ambiguous")
_BATCH_JOBS = 512  # calls grouped together at most
_BATCH_BYTES = 16 << 20  # request bytes grouped together at most
_PARALLEL_ROWS = 20_000  # from this many rows a batch uses every core


def options_from(value: Any, where: str = "options") -> Options:
    """:class:`Options` from ``{"strict_gender": …, "convert_codes": …, "fix_case": …}``."""
    if value is None:
        return Options()
    if not isinstance(value, dict):
        raise ServeError(422, "invalid_field", where, f'{where} must be an object such as {{"fix_case": true}}')
    known = ("strict_gender", "convert_codes", "fix_case")
    for key, v in value.items():
        if key not in known:
            raise ServeError(
                422, "unknown_field", f"{where}.{key}", f"unknown option {key!r} (known: {', '.join(known)})"
            )
        if not isinstance(v, bool):
            raise ServeError(422, "invalid_field", f"{where}.{key}", f"{where}.{key} must be true or false")
    return Options(**value)


@dataclass(frozen=True)
class Pricing:
    """A payment table chosen for a call (shipped tables and scheme reference weights only: never a path)."""

    table: str
    level: str | None = None
    insurance: str | None = None
    base_rate: float | None = None
    allow_scheme_mismatch: bool = False

    def apply(self, grouped: pa.Table) -> pa.Table:
        from ..payment import price

        return price(
            grouped,
            self.table,
            level=self.level,
            insurance=self.insurance,
            base_rate=self.base_rate,
            allow_scheme_mismatch=self.allow_scheme_mismatch,
        )


@dataclass
class SchemeNames:
    """Chinese names of one scheme's MDCs, ADRGs and diagnoses, and its reference weights, by code."""

    mdc: dict[str, str]
    adrg: dict[str, str]
    dx: dict[str, str]
    weight: dict[str, float]

    @classmethod
    def of(cls, s: CompiledScheme) -> SchemeNames:
        weights = {c: float(w) for c, w in zip(s.drg_codes, np.asarray(s.drg_weights, float)) if math.isfinite(w)}
        return cls(
            dict(zip(s.mdc_codes, s.mdc_names)),
            {c: n for c, n in zip(s.adrg_codes, s.adrg_names) if n},
            {c: n for c, n in zip(s.dx_codes, s.dx_names) if n},
            weights,
        )


@dataclass
class GroupJob:
    """One ``/v1/group`` call on its way through the worker thread."""

    body: bytes | Any  # the request body (bytes: parsed in the worker) or an already parsed value
    query: dict[str, Any]
    parsed: ParsedCases | None = None
    single: bool = False
    scheme: CompiledScheme | None = None
    options: Options = field(default_factory=Options)
    pricing: Pricing | None = None
    mapping: dict[str, str] | None = None
    allow_unmapped: bool = False
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: tuple[dict[str, list], int] | None = None  # (result columns of its batch, first row of this call)
    error: BaseException | None = None
    size: int = 0

    def key(self) -> tuple:
        """Calls with the same key are read, grouped and priced as one table."""
        assert self.scheme is not None
        mapping = tuple(sorted(self.mapping.items())) if self.mapping else None
        return (self.scheme.id, self.options, self.pricing, mapping, self.allow_unmapped)


def parse_json(body: bytes) -> Any:
    """The JSON of a request body, or a 400 naming the line and column of the fault."""
    if not body.strip():
        raise ServeError(400, "empty_body", None, "the request has no body; send JSON")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise ServeError(400, "malformed_json", None, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ServeError(
            400, "malformed_json", None, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


class Engine:
    """Compiled schemes, their names, the worker thread and the micro-batch queue of one server process."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.schemes: dict[str, CompiledScheme] = {}
        self.names: dict[str, SchemeNames] = {}
        self.default_pricing: Pricing | None = None
        self.default_id = ""
        self.executor: ThreadPoolExecutor | None = None
        self.started = 0.0
        self.cases_grouped = 0
        self.batches = 0
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ start-up
    def load(self) -> None:
        """Compile (or read from the cache) every scheme served, warm the kernel, check the default table."""
        from ..grouping.batch import warm_kernel

        ids = self.settings.schemes
        if "all" in ids:
            ids = tuple(dict.fromkeys([s for s in ids if s != "all"] + [s.id for s in list_schemes()]))
        for sid in ids:
            compiled = load_compiled(sid)
            self.schemes[compiled.id] = compiled
            self.names[compiled.id] = SchemeNames.of(compiled)
        self.default_id = next(iter(self.schemes))
        first = self.schemes[self.default_id]
        warm_kernel(first, 1)
        one = pa.table(
            {"case_id": ["warm"], "gender": ["1"], "age": ["60"], "dx": ["I21.000x005|E11.900"], "px": ["36.0601"]}
        )
        for compiled in self.schemes.values():  # each scheme's lookups built once, before any request
            group_canonical(canonicalize_with_plan(one)[0], compiled, Options(), 1)
        from ..api import explain

        explain("I21.000x005|E11.900", "36.0601", age=60, sex=1, scheme=self.default_id)
        s = self.settings
        if s.table:
            self.default_pricing = self.pricing(
                {"table": s.table, "level": s.level, "insurance": s.insurance, "base_rate": s.base_rate}, first
            )
            assert self.default_pricing is not None
            warm = group_canonical(canonicalize_with_plan(one)[0], first, Options(), 1)
            self.default_pricing.apply(warm)
        self.started = time.time()

    def start(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="drgkit-group")
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="drgkit-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ choices of a call
    def scheme(self, value: Any, where: str = "scheme") -> CompiledScheme:
        """A scheme this server has loaded (a client never makes the server compile, nor name a folder)."""
        if value is None or value == "":
            return self.schemes[self.default_id]
        if not isinstance(value, str):
            raise ServeError(422, "invalid_field", where, f"{where} must be a scheme id such as 'chs-drg-1.1'")
        if value not in self.schemes:
            raise ServeError(
                422,
                "unknown_scheme",
                where,
                f"scheme {value!r} is not served here (served: "
                f"{', '.join(self.schemes)}; start the server with "
                f"--scheme {value} to add it)",
            )
        return self.schemes[value]

    def pricing(self, spec: Any, scheme: CompiledScheme, where: str = "price") -> Pricing | None:
        """The pricing a call asks for: ``{"table", "level", "insurance", "base_rate"}``; ``None``/``false``: none.
        A table is a shipped table id, or a served scheme with reference weights (with ``base_rate``)."""
        from ..payment.tables import table_id_known

        def at(key: str) -> str:
            return f"{where}.{key}" if where else key

        if spec is None or spec is False:
            return None
        if isinstance(spec, str):
            spec = {"table": spec}
        if not isinstance(spec, dict):
            raise ServeError(
                422,
                "invalid_field",
                where or None,
                'the pricing must be an object such as {"table": "suzhou-2023", "level": "level3"}',
            )
        known = ("table", "level", "insurance", "base_rate", "allow_scheme_mismatch")
        for key in spec:
            if key not in known:
                raise ServeError(
                    422, "unknown_field", at(key), f"unknown pricing field {key!r} (known: {', '.join(known)})"
                )
        table = spec.get("table")
        if not table:
            if any(spec.get(k) not in (None, "") for k in ("level", "insurance", "base_rate")):
                raise ServeError(
                    422, "missing_field", at("table"), "level, insurance and base_rate need a payment table"
                )
            return None
        if not isinstance(table, str) or not (
            table_id_known(table) or (table in self.schemes and table in {s.id for s in list_schemes()})
        ):
            raise ServeError(
                422,
                "unknown_table",
                at("table"),
                f"payment table {table!r} is not shipped with drgkit (see GET /v1/tables); "
                "a client cannot name a file on the server",
            )
        for key in ("level", "insurance"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ServeError(422, "invalid_field", at(key), f"{at(key)} must be text")
        rate = spec.get("base_rate")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 or not math.isfinite(rate)
        ):
            raise ServeError(422, "invalid_field", at("base_rate"), "base_rate must be a number > 0 (yuan per RW)")
        mismatch = spec.get("allow_scheme_mismatch", False)
        if not isinstance(mismatch, bool):
            raise ServeError(422, "invalid_field", at("allow_scheme_mismatch"), "must be true or false")
        return Pricing(
            table,
            spec.get("level") or None,
            spec.get("insurance") or None,
            None if rate is None else float(rate),
            mismatch,
        )

    # ------------------------------------------------------------------ a call, in the worker thread
    def prepare(self, job: GroupJob) -> None:
        """Parse the body and choose scheme, options, pricing and mapping (cheap; reading is per batch)."""
        body = parse_json(bytes(job.body)) if isinstance(job.body, (bytes, bytearray)) else job.body
        cases, envelope, job.single = request_cases(body, self.settings.max_cases)
        q = job.query
        known = ("scheme", "price", "options", "mapping", "allow_unmapped")
        for key in envelope:
            if key not in known:
                raise ServeError(
                    422, "unknown_field", key, f"unknown field {key!r} beside 'cases' (known: {', '.join(known)})"
                )
        job.scheme = self.scheme(envelope.get("scheme", q.get("scheme")))
        job.options = options_from(envelope.get("options"))
        if q.get("options"):
            job.options = Options(**{**job.options.__dict__, **q["options"]})
        spec = envelope.get("price", q.get("price"))
        job.pricing = (
            self.pricing(spec, job.scheme)
            if spec is not None
            else (
                self.default_pricing
                if self.default_pricing is not None
                and (self.default_pricing.allow_scheme_mismatch or job.scheme.id == self.default_id)
                else None
            )
        )
        mapping = envelope.get("mapping")
        if mapping is not None and not (
            isinstance(mapping, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
        ):
            raise ServeError(
                422, "invalid_field", "mapping", 'mapping must be an object of field names: {"住院号": "case_id"}'
            )
        allow_unmapped = envelope.get("allow_unmapped", False)
        if not isinstance(allow_unmapped, bool):
            raise ServeError(422, "invalid_field", "allow_unmapped", "allow_unmapped must be true or false")
        job.parsed = parse_cases(cases)
        settlement = any(isinstance(c, dict) and ("setlinfo" in c or "input" in c) for c in cases)
        job.mapping = mapping or None
        job.allow_unmapped = allow_unmapped or settlement
        check_mapping(job.parsed, mapping)

    def run_jobs(self, jobs: list[GroupJob]) -> list[Any]:
        """Prepare, then read, group and price together the calls that share a key; one outcome per call."""
        together: dict[tuple, list[GroupJob]] = defaultdict(list)
        for job in jobs:
            try:
                self.prepare(job)
                together[job.key()].append(job)
            except Exception as exc:
                job.error = exc
        for members in together.values():
            try:
                self.group_together(members)
            except Exception:
                for m in members:  # one call's fault must not fail the others: each alone
                    try:
                        self.group_together([m])
                    except Exception as exc:
                        m.error = exc
        outcomes: list[Any] = []
        for job in jobs:
            if job.error is not None:
                outcomes.append(job.error)
                continue
            try:
                outcomes.append(self.answer(job))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def group_together(self, members: list[GroupJob]) -> None:
        """Read the cases of calls with one key as one table (drgkit's reader), group it with
        :func:`group_canonical`, price it once, and hand each call its rows."""
        first = members[0]
        scheme = first.scheme
        assert scheme is not None
        rows: list[dict[str, Any]] = []
        owner: list[tuple[int, int]] = []
        for j, m in enumerate(members):
            assert m.parsed is not None
            for i, r in enumerate(m.parsed.rows):
                if r is not None:
                    rows.append(r)
                    owner.append((j, i))
        canon, problems, layout_of, layouts = read_rows(rows, first.mapping, first.allow_unmapped)
        for k, problem in problems.items():
            j, i = owner[k]
            parsed = members[j].parsed
            assert parsed is not None
            parsed.rows[i] = None
            parsed.problems[i] = problem
        seen: list[set[int]] = [set() for _ in members]
        for k, (j, _) in enumerate(owner):
            if layout_of[k] >= 0:
                seen[j].add(layout_of[k])
        for j, m in enumerate(members):
            m.ignored = list(dict.fromkeys(h for lay in sorted(seen[j]) for h in layouts[lay][0]))
            m.notes = list(dict.fromkeys(n for lay in sorted(seen[j]) for n in layouts[lay][1]))
        n = canon.num_rows
        grouped = canon
        if n:
            grouped = group_canonical(canon, scheme, first.options, 1 if n < _PARALLEL_ROWS else None)
            if first.pricing is not None:
                try:
                    grouped = first.pricing.apply(grouped)
                except DrgkitError as exc:
                    raise ServeError(422, "pricing_error", "price", str(exc).splitlines()[0]) from None
            with self._lock:
                self.batches += 1
                self.cases_grouped += n
        columns = self.columns(grouped, first.pricing is not None) if n else {}
        start = 0
        for m in members:
            assert m.parsed is not None
            m.rows = (columns, start)
            start += sum(1 for r in m.parsed.rows if r is not None)

    def answer(self, job: GroupJob) -> bytes:
        """The JSON answer of a grouped call."""
        assert job.rows is not None and job.scheme is not None and job.parsed is not None
        results = self.results(job.rows[0], job.rows[1], job.scheme, job.pricing is not None, job.parsed)
        if job.single:
            out = results[0]
            if job.ignored:
                out["ignored_fields"] = job.ignored
            return dumps(out)
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return dumps(
            {
                "scheme": job.scheme.id,
                "scheme_checksum": job.scheme.checksum,
                "count": len(results),
                "statuses": counts,
                "priced": job.pricing is not None,
                "ignored_fields": job.ignored,
                "notes": job.notes,
                "results": results,
            }
        )

    _COLUMNS = (
        "case_id",
        "status",
        "reason",
        "warnings",
        "mdc",
        "adrg",
        "drg",
        "drg_name",
        "cc_level",
        "cc_code",
        "scheme",
        "scheme_checksum",
    )
    _PRICED = (
        "standard_payment",
        "case_type",
        "payment",
        "fund_payment",
        "patient_payment",
        "margin",
        "price_reason",
        "pay_table",
        "pay_level",
        "pay_insurance",
        "base_rate",
        "level_coefficient",
        "rw",
    )

    def columns(self, grouped: pa.Table, priced: bool) -> dict[str, list]:
        """The result columns of a grouped (and priced) batch as Python lists, converted once per batch."""
        names = self._COLUMNS + (self._PRICED if priced else ())
        return {c: grouped.column(c).to_pylist() for c in names if c in grouped.column_names}

    def results(
        self, data: dict[str, list], offset: int, scheme: CompiledScheme, priced: bool, parsed: ParsedCases
    ) -> list[dict[str, Any]]:
        """One answer per case of the call, in order: its grouped rows, and ``invalid`` for unreadable cases."""
        names = self.names[scheme.id]
        status_zh, cc_zh, type_zh = _words("status"), _words("cc"), _words("case_type")
        ids = data.get("case_id")
        price_cols = [c for c in self._PRICED if c in data and c != "rw"] if priced else []
        out: list[dict[str, Any]] = []
        k = offset
        for i in range(len(parsed.rows)):
            problem = parsed.problems.get(i)
            if problem is not None:
                out.append(self._problem_result(problem, scheme, priced))
                continue
            status, reason = data["status"][k], data["reason"][k]
            grouped_ok = status in _GROUPED
            mdc, adrg, drg, cc_code = data["mdc"][k], data["adrg"][k], data["drg"][k], data["cc_code"][k]
            warnings = data["warnings"][k]
            extra = parsed.notes.get(i)
            if extra:
                warnings = "; ".join([warnings, *extra] if warnings else extra)
            cid = ids[k] if ids is not None else None
            r = {
                "case_id": None if cid is None else str(cid),
                "status": status,
                "status_zh": status_zh.get(status, status),
                "reason": reason,
                "reason_zh": _reason_zh(reason) if reason is not None else None,
                "warnings": warnings,
                "mdc": mdc,
                "mdc_name": names.mdc.get(mdc) if grouped_ok else None,
                "adrg": adrg,
                "adrg_name": names.adrg.get(adrg) if grouped_ok else None,
                "drg": drg,
                "drg_name": data["drg_name"][k],
                "cc_level": data["cc_level"][k],
                "cc_level_zh": cc_zh.get(data["cc_level"][k]),
                "cc_code": cc_code,
                "cc_name": names.dx.get(cc_code) if cc_code else None,
                "weight": names.weight.get(drg) if grouped_ok else None,
                "scheme": data["scheme"][k],
                "scheme_checksum": data["scheme_checksum"][k],
            }
            if priced:
                rw = data.get("rw")
                if rw is not None and rw[k] is not None:
                    r["weight"] = _clean(rw[k])
                for c in price_cols:
                    r[c] = _clean(data[c][k])
                r["case_type_zh"] = type_zh.get(r.get("case_type") or "", r.get("case_type"))
                r["price_reason_zh"] = price_reason_text(r.get("price_reason"), "zh")
            out.append(r)
            k += 1
        return out

    def _problem_result(self, problem, scheme: CompiledScheme, priced: bool) -> dict[str, Any]:
        from ..schemes import program as P

        code, en, zh = P.REASONS[P.R_INPUT]
        where = f"{problem.field}: " if problem.field else ""
        r: dict[str, Any] = {k: None for k in RESULT_FIELDS}
        r.update(
            status="invalid",
            status_zh=words("status", "zh")["invalid"],
            reason=f"{code} {en}: {where}{problem.message}",
            reason_zh=f"{code} {zh}: {where}{problem.message}",
            mdc="0000",
            adrg="00",
            drg=scheme.drg_codes[scheme.fail_drg],
            cc_level="none",
            cc_level_zh=words("cc", "zh")["none"],
            scheme=scheme.id,
            scheme_checksum=scheme.checksum,
            error=problem.as_error(),
        )
        if priced:
            r.update(
                {k: None for k in PRICE_FIELDS}, case_type="unpriced", case_type_zh=words("case_type", "zh")["unpriced"]
            )
        return r

    # ------------------------------------------------------------------ the micro-batch queue
    async def group(self, job: GroupJob) -> bytes:
        """Answer one call through the queue (see the module docstring)."""
        assert self._queue is not None
        fut = asyncio.get_running_loop().create_future()
        job.size = len(job.body) if isinstance(job.body, (bytes, bytearray)) else 0
        self._queue.put_nowait((job, fut))
        outcome = await fut
        return outcome

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            item = await self._queue.get()
            items = [item]
            size = item[0].size
            while not self._queue.empty() and len(items) < _BATCH_JOBS and size < _BATCH_BYTES:
                nxt = self._queue.get_nowait()
                items.append(nxt)
                size += nxt[0].size
            try:
                outcomes = await loop.run_in_executor(self.executor, self.run_jobs, [job for job, _ in items])
            except Exception as exc:  # the worker itself failed: every call of the batch hears it
                outcomes = [exc] * len(items)
            for (_, fut), outcome in zip(items, outcomes):
                if fut.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    fut.set_exception(outcome)
                else:
                    fut.set_result(outcome)

    def run_blocking(self, fn, *args):
        """Run ``fn`` on the grouping worker (used by tests and tools that have no event loop)."""
        assert self.executor is not None
        return self.executor.submit(fn, *args).result()


def check_mapping(parsed: ParsedCases, mapping: dict[str, str] | None) -> None:
    """A mapping must name fields the cases have (as ``--map`` must name columns of the file)."""
    if not mapping:
        return
    present = {k for r in parsed.rows if r for k in r}
    missing = [k for k in mapping if k not in present]
    if missing and present:
        raise ServeError(422, "invalid_field", "mapping", f"mapping names field {missing[0]!r}, which no case has")


@cache
def _words(prefix: str) -> dict[str, str]:
    return words(prefix, "zh")


@lru_cache(maxsize=4096)
def _reason_zh(reason: str) -> str | None:
    return reason_text(reason, "zh")


def read_rows(
    rows: list[dict[str, Any]], mapping: dict[str, str] | None, allow_unmapped: bool
) -> tuple[pa.Table, dict[int, CaseProblem], list[int], list[tuple[list[str], list[str]]]]:
    """Rows as one canonical table of the fields grouping and pricing read, through the field vocabulary (the
    reader of ``drgkit group``): (table, problems by row, the layout of each row (-1: unread), and per layout
    the fields not read and the reader's notes).

    Rows are read in groups of the same field names, each exactly as ``drgkit group`` reads a file with those
    headers, so calls mixing layouts (canonical names in one case, 主要诊断编码 + 其他诊断编码N in another) read
    each case by its own fields.  A group that cannot be read (a field holding codes that would go unread) makes
    its rows ``invalid`` with the field named; the table holds the other rows, in order (a field a group lacks is
    null there, which grouping reads as missing, as it reads an absent column)."""
    from ..io.columns import plan_headers
    from ..io.errors import InputError
    from ..io.unmapped import unread_code_columns

    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[tuple(row)].append(i)
    known = fields()
    tables: list[pa.Table] = []
    order: list[int] = []
    problems: dict[int, CaseProblem] = {}
    layout_of = [-1] * len(rows)
    layouts: list[tuple[list[str], list[str]]] = []
    for members in groups.values():
        table = rows_table([rows[i] for i in members])
        local = {k: v for k, v in mapping.items() if k in table.column_names} if mapping else None
        try:
            canon, plan, notes = canonicalize_with_plan(
                table, mapping=local or None, require_dx=False, allow_unmapped=allow_unmapped, source="request"
            )
        except InputError as exc:
            message = (
                str(exc)
                .removeprefix("request: ")
                .splitlines()[0]
                .replace("--map", "mapping")
                .replace("column '", "field '")
                .replace("--allow-unmapped", '"allow_unmapped": true')
            )
            unread = unread_code_columns(plan_headers(table.column_names, local or None), table)
            column = unread[0].header if unread else None
            for i in members:
                problems[i] = CaseProblem(column, message, "unread_code_field" if column else "invalid_case")
            continue
        for i in members:
            layout_of[i] = len(layouts)
        layouts.append(([h for h in plan.carried() if h in canon.column_names], notes))
        tables.append(canon.select([c for c in canon.column_names if c in known or c in ("dx", "px")]))
        order += members
    if not tables:
        return pa.table({"dx": pa.array([], pa.list_(pa.string()))}), problems, layout_of, layouts
    if len(tables) == 1:
        canon = tables[0]
    else:
        canon = pa.concat_tables(tables, promote_options="default")
        canon = canon.take(pa.array(np.argsort(np.asarray(order), kind="stable"), pa.int64()))
    return canon, problems, layout_of, layouts


def read_parsed(
    parsed: ParsedCases, mapping: dict[str, str] | None, allow_unmapped: bool
) -> tuple[pa.Table, list[str], list[str]]:
    """:func:`read_rows` on the readable cases of one call (the cases it cannot read join ``parsed.problems``):
    (table, fields not read, reader notes)."""
    index = [i for i, r in enumerate(parsed.rows) if r is not None]
    rows = [r for r in parsed.rows if r is not None]
    canon, problems, layout_of, layouts = read_rows(rows, mapping, allow_unmapped)
    for k, problem in problems.items():
        parsed.rows[index[k]] = None
        parsed.problems[index[k]] = problem
    used = sorted({lay for lay in layout_of if lay >= 0})
    return (
        canon,
        list(dict.fromkeys(h for lay in used for h in layouts[lay][0])),
        list(dict.fromkeys(n for lay in used for n in layouts[lay][1])),
    )
