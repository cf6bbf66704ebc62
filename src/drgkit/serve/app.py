"""The FastAPI application: routes, error shape, limits, token, security headers, metrics.

``create_app(settings)`` builds it; ``app_from_env()`` is the factory uvicorn's worker processes call
(``--workers N``: the settings travel in the ``DRGKIT_SERVE_SETTINGS`` environment variable).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import DrgkitError
from . import models as M
from .cases import parse_cases, unwrap
from .codes import CodeIndex
from .engine import Engine, GroupJob, check_mapping, dumps, options_from, parse_json, read_parsed
from .errors import ServeError
from .metrics import Metrics
from .settings import ServeSettings, is_loopback

log = logging.getLogger("drgkit.serve")
STATIC = Path(__file__).resolve().parent / "static"

#: Routes whose metrics are kept by name (any other path counts as "other": no unbounded label set).
ROUTES = (
    "/",
    "/docs",
    "/openapi.json",
    "/healthz",
    "/metrics",
    "/v1/metrics",
    "/v1/group",
    "/v1/explain",
    "/v1/whatif",
    "/v1/validate",
    "/v1/batch",
    "/v1/schemes",
    "/v1/tables",
    "/v1/codes",
)
#: The page and its assets: scripts and styles from this server only, nothing inline, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


def error_response(status: int, code: str, field: str | None, message: str, headers: dict | None = None) -> Response:
    return JSONResponse({"code": code, "field": field, "message": message}, status_code=status, headers=headers)


class Guard:
    """Pure ASGI middleware: security headers, the bearer token, request size limits (413), allowed Host
    names on a loopback server (no DNS rebinding), metrics."""

    def __init__(self, app, settings: ServeSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.token = settings.token.encode() if settings.token else None
        self.hosts = (
            {"localhost", "127.0.0.1", "[::1]", "::1", "testserver", settings.host.lower()}
            if is_loopback(settings.host)
            else None
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in ROUTES else ("/static" if path.startswith("/static/") else "other")
        status_seen = [500]

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight += 1
        try:
            refusal = self._refuse(scope, path)
            if refusal is not None:
                await refusal(scope, receive, send_secured)
                return
            limit = self.settings.max_upload if path == "/v1/batch" else self.settings.max_body
            await self.app(scope, _limited(receive, limit, path), send_secured)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe(scope.get("method", ""), route, status_seen[0], time.perf_counter() - start)

    def _refuse(self, scope, path: str) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.hosts is not None:
            host = (
                headers.get("host", "").rsplit(":", 1)[0].lower()
                if not headers.get("host", "").startswith("[")
                else headers["host"].split("]")[0] + "]"
            )
            if host and host not in self.hosts:
                return error_response(
                    400,
                    "bad_host",
                    "Host",
                    f"host {host!r} is not this server's; open it as http://127.0.0.1 or http://localhost",
                )
        if self.token is not None and (path.startswith("/v1/") or path == "/metrics"):
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), self.token):
                return error_response(
                    401,
                    "unauthorized",
                    "Authorization",
                    "this server needs 'Authorization: Bearer TOKEN' (the --token it was started with)",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        length = headers.get("content-length")
        limit = self.settings.max_upload if path == "/v1/batch" else self.settings.max_body
        if length is not None and length.isdigit() and int(length) > limit:
            return _too_large(limit, path)
        return None


def _too_large(limit: int, path: str) -> Response:
    what = "upload" if path == "/v1/batch" else "request body"
    return error_response(
        413, "too_large", None, f"the {what} is larger than this server's limit of {limit / (1 << 20):,.0f} MB"
    )


def _limited(receive, limit: int, path: str):
    """``receive`` that refuses a body growing past ``limit`` (a chunked body has no Content-Length)."""
    seen = [0]

    async def wrapped():
        message = await receive()
        if message["type"] == "http.request":
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                what = "upload" if path == "/v1/batch" else "request body"
                raise ServeError(
                    413,
                    "too_large",
                    None,
                    f"the {what} is larger than this server's limit of {limit / (1 << 20):,.0f} MB",
                )
        return message

    return wrapped


def _json(data: bytes | Any, status: int = 200) -> Response:
    return Response(data if isinstance(data, bytes) else dumps(data), status_code=status, media_type="application/json")


def _body_schema(*names: str, array_of: tuple[str, ...] = ()) -> dict[str, Any]:
    refs: list[dict[str, Any]] = [{"$ref": f"#/components/schemas/{n}"} for n in names]
    if array_of:
        refs.append({"type": "array", "items": {"anyOf": [{"$ref": f"#/components/schemas/{n}"} for n in array_of]}})
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": M.ApiError, "description": "JSON 格式错误 / malformed JSON"},
    401: {"model": M.ApiError, "description": "缺少令牌 / token required"},
    413: {"model": M.ApiError, "description": "请求过大 / too large"},
    422: {"model": M.ApiError, "description": "字段错误 / invalid field"},
}


@lru_cache(maxsize=16)
def _edits(disable: tuple[str, ...]):
    from ..monitor.edits import load_edits

    return load_edits(None, disable=disable)


def _one_case(body: Any, engine: Engine, extra: tuple[str, ...]) -> tuple[dict[str, Any], Any, Any, dict[str, Any]]:
    """A single case of /v1/explain or /v1/whatif: (canonical values, scheme, options, the extra fields)."""
    body = unwrap(body)
    if not isinstance(body, dict):
        raise ServeError(422, "invalid_body", None, "the body must be one case object")
    body = dict(body)
    scheme = engine.scheme(body.pop("scheme", None))
    options = options_from(body.pop("options", None))
    taken = {k: body.pop(k) for k in extra if k in body}
    if "weight" in body and "birth_weight" not in body:  # the CLI's --weight
        body["birth_weight"] = body.pop("weight")
    parsed = parse_cases([body])
    canon, _, _ = read_parsed(parsed, None, True)
    if 0 in parsed.problems:
        p = parsed.problems[0]
        raise ServeError(422, p.code if p.code != "invalid_case" else "invalid_field", p.field, p.message)
    row = canon.to_pylist()[0] if canon.num_rows else {}
    return row, scheme, options, taken


def _explain_args(row: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`drgkit.explain` / :func:`drgkit.whatif` for a case, typed as the CLI passes
    them (a plain whole number as an int, so the answer equals ``--json``; other text such as ``82岁`` or
    ``医嘱离院`` as it is, read by the grouper as ``drgkit group`` reads it)."""

    def value(name: str) -> Any:
        v = row.get(name)
        return int(v) if isinstance(v, str) and v.isascii() and v.isdigit() else v

    return {
        "dx": row.get("dx") or [],
        "px": row.get("px") or [],
        "age": value("age"),
        "sex": row.get("gender"),
        "age_days": value("age_days"),
        "birth_weight": value("birth_weight"),
        "los": value("los"),
        "leaving_type": value("leaving_type"),
        "dept": row.get("dept"),
        "icu_hours": value("icu_hours"),
    }


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service (see :mod:`drgkit.serve`); schemes are loaded when it starts (its lifespan)."""
    settings = (settings or ServeSettings()).check()
    engine = Engine(settings)
    metrics = Metrics()
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(engine.load)
        state["codes"] = {sid: CodeIndex(s) for sid, s in engine.schemes.items()}
        _sweep_stale()
        state["tmp"] = app.state.tmp_root = Path(tempfile.mkdtemp(prefix=f"drgkit-serve-{os.getpid()}-"))
        engine.start()
        log.info("drgkit serve: schemes %s loaded", ", ".join(engine.schemes))
        try:
            yield
        finally:
            await engine.stop()
            shutil.rmtree(state["tmp"], ignore_errors=True)

    app = FastAPI(
        title="drgkit 分组服务 / grouping service",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        description="CHS-DRG 分组、解释、what-if、质控与批量分组；与 `drgkit group` 同一引擎。 / "
        "CHS-DRG grouping, explanation, what-if, edits and batch grouping with the engine of "
        "`drgkit group`. Errors: `{code, field, message}`.",
    )
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.settings = settings

    app.add_middleware(Guard, settings=settings, metrics=metrics)
    if settings.cors_origins:  # added last, so outermost: a preflight is answered before the token is asked for
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["X-Drgkit-Summary"],
        )

    # ------------------------------------------------------------------ errors: one shape, never a trace
    @app.exception_handler(ServeError)
    async def _serve_error(request: Request, exc: ServeError):
        return error_response(exc.status, exc.code, exc.field, exc.message)

    @app.exception_handler(DrgkitError)
    async def _drgkit_error(request: Request, exc: DrgkitError):
        return error_response(422, "input_error", None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path")]
        return error_response(
            422,
            "invalid_parameter",
            ".".join(loc) or None,
            f"{'.'.join(loc) or 'parameter'}: {first.get('msg', 'invalid value')}",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(
            exc.status_code,
            _STATUS_CODES.get(exc.status_code, "http_error"),
            None,
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("drgkit serve: internal error on %s", request.url.path)
        return error_response(500, "internal_error", None, "internal error; the server log has the details")

    # ------------------------------------------------------------------ the page
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(
            STATIC / "index.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(
            STATIC / "docs.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # ------------------------------------------------------------------ service
    @app.get("/healthz", response_model=M.Health, tags=["service"], summary="健康检查 / health")
    async def healthz():
        return {
            "status": "ok",
            "version": __version__,
            "schemes": list(engine.schemes),
            "default_scheme": engine.default_id,
            "auth": settings.token is not None,
            "uptime_s": round(time.time() - engine.started, 1),
        }

    @app.get(
        "/metrics",
        tags=["service"],
        summary="请求指标（Prometheus 文本） / metrics, Prometheus text",
        response_class=Response,
    )
    async def metrics_text():
        return Response(metrics.prometheus(engine), media_type="text/plain; version=0.0.4")

    @app.get("/v1/metrics", tags=["service"], summary="请求指标（JSON） / metrics as JSON")
    async def metrics_json():
        return metrics.as_dict(engine)

    # ------------------------------------------------------------------ grouping
    @app.post(
        "/v1/group",
        tags=["grouping"],
        summary="分组 / group cases",
        description='一份病案、病案数组，或 {"cases": [...], "scheme", "price", "options"}；字段名同 '
        "`drgkit group`（规范名、中文表头、接口代码），或结算清单结构 setlinfo + diseinfo[] + "
        "oprninfo[]。无法读取的病案单独返回 invalid，不影响其他病案。 / One case, an array, or an "
        "envelope; a case that cannot be read is answered `invalid` on its own.",
        openapi_extra=_body_schema("GroupEnvelope", "Case", "SettlementCase", array_of=("Case", "SettlementCase")),
        responses={
            200: {
                "description": "单病例：CaseResult；多病例：GroupResponse / one case: CaseResult; "
                "several: GroupResponse",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/CaseResult"},
                                {"$ref": "#/components/schemas/GroupResponse"},
                            ]
                        }
                    }
                },
            },
            **_ERRORS,
        },
    )
    async def group(
        request: Request,
        scheme: Optional[str] = Query(None, description="分组方案 / scheme id"),
        table: Optional[str] = Query(None, description="支付表（计价） / payment table"),
        level: Optional[str] = Query(None, description="医院等级 / hospital level"),
        insurance: Optional[str] = Query(None, description="险种 / insurance type"),
        base_rate: Optional[float] = Query(None, gt=0, description="基础费率 / base rate"),
        fix_case: bool = Query(False, description="未知编码改大写 / upper-case unknown codes"),
        convert_codes: bool = Query(False, description="国临版转医保版 / convert clinical codes"),
        strict_gender: bool = Query(False, description="性别只收 1/2 / only 1/2 as sex"),
    ):
        query: dict[str, Any] = {"scheme": scheme}
        if table:
            query["price"] = {"table": table, "level": level, "insurance": insurance, "base_rate": base_rate}
        elif level or insurance or base_rate is not None:
            raise ServeError(422, "missing_field", "table", "level, insurance and base_rate need table")
        opts = {
            k: v
            for k, v in (("fix_case", fix_case), ("convert_codes", convert_codes), ("strict_gender", strict_gender))
            if v
        }
        if opts:
            query["options"] = opts
        body = await request.body()
        return _json(await engine.group(GroupJob(body, query)))

    @app.post(
        "/v1/explain",
        tags=["grouping"],
        summary="分组路径 / explain one case",
        description="与 `drgkit explain --json` 相同；?text=zh 另附可读的路径。 / The answer of `drgkit explain "
        "--json`; ?text=zh|en adds the readable path.",
        openapi_extra=_body_schema("ExplainBody", "SettlementCase"),
        responses=_ERRORS,
    )
    async def explain(
        request: Request,
        text: Optional[Literal["zh", "en"]] = Query(None, description="附加可读文本 / add the readable text"),
        verbose: bool = Query(False),
    ):
        body = parse_json(await request.body())

        def work():
            from ..api import explain as do_explain

            row, scheme, options, _ = _one_case(body, engine, ())
            e = do_explain(**_explain_args(row), scheme=scheme.id, options=options)
            out = e.as_dict()
            if text:
                out["text"] = e.text(verbose=verbose, lang=text)
            return dumps(out)

        return _json(await run_in_threadpool(work))

    @app.post(
        "/v1/whatif",
        tags=["grouping"],
        summary="备选分组 / what-if",
        description="与 `drgkit whatif --json` 相同：去掉并发症、换主要诊断、补充编码、灰码细目各得哪组。每个备选"
        "仅当病案中有记录时成立。 / The answer of `drgkit whatif --json`.",
        openapi_extra=_body_schema("WhatIfBody", "SettlementCase"),
        responses=_ERRORS,
    )
    async def whatif(request: Request, text: Optional[Literal["zh"]] = Query(None, description="附加中文报告")):
        body = parse_json(await request.body())

        def work():
            from ..monitor.whatif import whatif as do_whatif

            row, scheme, options, extra = _one_case(body, engine, ("add_dx", "add_px", "table", "level", "insurance"))
            pricing = engine.pricing({k: extra.get(k) for k in ("table", "level", "insurance")}, scheme, "")
            for key in ("add_dx", "add_px"):
                v = extra.get(key)
                if v is not None and not (
                    isinstance(v, str) or (isinstance(v, list) and all(isinstance(c, str) for c in v))
                ):
                    raise ServeError(422, "invalid_field", key, f"{key} must be codes: text or a list of text")
            w = do_whatif(
                **_explain_args(row),
                scheme=scheme.id,
                options=options,
                table=pricing.table if pricing else None,
                level=extra.get("level"),
                insurance=extra.get("insurance"),
                add_dx=extra.get("add_dx"),
                add_px=extra.get("add_px"),
            )
            out = w.as_dict()
            if text:
                out["text"] = w.text()
            return dumps(out)

        return _json(await run_in_threadpool(work))

    @app.post(
        "/v1/validate",
        tags=["grouping"],
        summary="编码质控 / coding edits",
        description="与 `drgkit validate` 每行的结果相同：case_id、edits、n_errors、messages_zh、messages_en。"
        '病案格式同 /v1/group；{"cases": [...], "disable": ["P04"]} 可关闭某些规则。',
        openapi_extra=_body_schema("GroupEnvelope", "Case", "SettlementCase", array_of=("Case", "SettlementCase")),
        responses=_ERRORS,
    )
    async def validate(request: Request, scheme: Optional[str] = Query(None)):
        raw = await request.body()

        def work():
            from ..monitor.edits import validate_canonical
            from .cases import request_cases

            body = parse_json(raw)
            disable: list[str] = []
            if isinstance(body, dict) and "cases" in body:
                body = dict(body)
                disable = body.pop("disable", None) or []
                if not isinstance(disable, list) or not all(isinstance(d, str) for d in disable):
                    raise ServeError(422, "invalid_field", "disable", "disable must be a list of edit ids")
            cases, envelope, single = request_cases(body, settings.max_cases)
            for key in envelope:
                if key not in ("scheme", "mapping", "allow_unmapped"):
                    raise ServeError(422, "unknown_field", key, f"unknown field {key!r} beside 'cases'")
            compiled = engine.scheme(envelope.get("scheme", scheme))
            parsed = parse_cases(cases)
            settlement = any(isinstance(c, dict) and ("setlinfo" in c or "input" in c) for c in cases)
            mapping = envelope.get("mapping")
            if mapping is not None and not (
                isinstance(mapping, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
            ):
                raise ServeError(422, "invalid_field", "mapping", "mapping must be an object of field names")
            check_mapping(parsed, mapping)
            canon, ignored, _ = read_parsed(parsed, mapping, bool(envelope.get("allow_unmapped")) or settlement)
            try:
                edits = _edits(tuple(disable))
            except ValueError as exc:
                raise ServeError(422, "invalid_field", "disable", str(exc)) from None
            found = validate_canonical(canon, compiled.id, edits).to_pylist() if canon.num_rows else []
            it = iter(found)
            results = []
            for i in range(len(parsed.rows)):
                p = parsed.problems.get(i)
                if p is not None:
                    results.append(
                        {
                            "case_id": None,
                            "edits": [],
                            "n_errors": 0,
                            "messages_zh": [],
                            "messages_en": [],
                            "error": p.as_error(),
                        }
                    )
                else:
                    results.append(next(it))
            if single:
                return dumps(results[0])
            return dumps(
                {
                    "scheme": compiled.id,
                    "count": len(results),
                    "flagged": sum(1 for r in results if r["edits"]),
                    "ignored_fields": ignored,
                    "results": results,
                }
            )

        return _json(await run_in_threadpool(work))

    @app.post(
        "/v1/batch",
        tags=["grouping"],
        summary="批量分组（上传文件） / group an uploaded file",
        description="multipart 上传 CSV / Excel / Parquet（字段 file），返回同格式的分组结果文件（.xlsx 为编码员"
        "工作簿：中文表头、汇总、问题病例）；行数不变、顺序不变。摘要在响应头 X-Drgkit-Summary "
        "（base64 JSON）。 / Upload an export (multipart field `file`); the grouped file comes back "
        "in the same format, rows in = rows out; the summary is in the X-Drgkit-Summary header "
        "(base64 JSON).",
        responses={
            200: {
                "description": "分组结果文件 / the grouped file",
                "content": {"text/csv": {}, "application/vnd.apache.parquet": {}, MEDIA_XLSX: {}},
            },
            **_ERRORS,
            415: {"model": M.ApiError, "description": "不支持的文件类型 / file type"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {
                                    "type": "string",
                                    "format": "binary",
                                    "description": "病案导出文件 / the export",
                                },
                                "scheme": {"type": "string", "description": "分组方案 / scheme"},
                                "map": {
                                    "type": "string",
                                    "description": "字段映射，每行 来源=字段 / SRC=field per line",
                                },
                                "table": {"type": "string", "description": "支付表 / payment table"},
                                "level": {"type": "string"},
                                "insurance": {"type": "string"},
                                "base_rate": {"type": "number"},
                                "sheet": {"type": "string"},
                                "header_row": {"type": "integer"},
                                "explain": {
                                    "type": "string",
                                    "enum": ["problems", "all"],
                                    "description": "加一列原因说明 / add the explanation column",
                                },
                                "edits": {"type": "boolean", "description": "同时运行质控 / run the edits"},
                                "format": {
                                    "type": "string",
                                    "enum": ["csv", "xlsx", "parquet"],
                                    "description": "输出格式（默认同上传） / output format (default: as uploaded)",
                                },
                                "canonical": {"type": "boolean"},
                                "allow_unmapped": {"type": "boolean"},
                                "fix_case": {"type": "boolean"},
                                "convert_codes": {"type": "boolean"},
                                "strict_gender": {"type": "boolean"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def batch(request: Request):
        from .batch import MEDIA, BatchRequest, compact, download_name, run_batch, suffix_of

        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ServeError(415, "unsupported_media_type", None, "send the file as multipart/form-data (field 'file')")
        try:
            form = await request.form(max_files=1, max_fields=40)
        except ServeError:
            raise
        except Exception as exc:
            raise ServeError(400, "malformed_form", None, f"cannot read the multipart form: {exc}") from None
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ServeError(422, "missing_field", "file", "no file: send it in the multipart field 'file'")
            filename = Path(upload.filename or "").name
            suffix_of(filename)

            def text(name: str) -> str | None:
                v = form.get(name)
                if v is not None and not isinstance(v, str):
                    raise ServeError(422, "invalid_field", name, f"{name} must be text")
                return v.strip() if v and v.strip() else None

            def flag(name: str) -> bool:
                v = text(name)
                if v is None:
                    return False
                if v.lower() not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
                    raise ServeError(422, "invalid_field", name, f"{name} must be true or false")
                return v.lower() in ("1", "true", "on", "yes")

            def number(name: str, kind=float):
                v = text(name)
                try:
                    return None if v is None else kind(v)
                except ValueError:
                    raise ServeError(422, "invalid_field", name, f"{name} must be a number") from None

            compiled = engine.scheme(text("scheme"))
            mapping = None
            if text("map"):
                mapping = {}
                for line in (text("map") or "").replace(";", "\n").splitlines():
                    if not line.strip():
                        continue
                    if "=" not in line:
                        raise ServeError(422, "invalid_field", "map", f"map takes SRC=field lines, got {line!r}")
                    src, dst = line.split("=", 1)
                    mapping[src.strip()] = dst.strip()
            explain = text("explain")
            if explain not in (None, "problems", "all"):
                raise ServeError(422, "invalid_field", "explain", "explain takes problems or all")
            table = text("table")
            pricing = (
                engine.pricing(
                    {
                        "table": table,
                        "level": text("level"),
                        "insurance": text("insurance"),
                        "base_rate": number("base_rate"),
                    },
                    compiled,
                )
                if table
                else None
            )
            if table is None and (text("level") or text("insurance") or text("base_rate")):
                raise ServeError(422, "missing_field", "table", "level, insurance and base_rate need table")
            sheet = text("sheet")
            req = BatchRequest(
                filename=filename,
                scheme=compiled,
                options=options_from({k: True for k in ("fix_case", "convert_codes", "strict_gender") if flag(k)}),
                pricing=pricing,
                mapping=mapping,
                sheet=int(sheet) if sheet and sheet.isdigit() else sheet,
                header_row=number("header_row", int),
                allow_unmapped=flag("allow_unmapped"),
                explain=explain,
                edits=flag("edits"),
                canonical=flag("canonical"),
                out_format=text("format"),
                max_rows=settings.max_batch_rows,
            )
            result, summary, out_suffix = await run_in_threadpool(run_batch, upload.file, req, state["tmp"])
        finally:
            await form.close()

        def chunks():
            try:
                while True:
                    data = result.read(1 << 20)
                    if not data:
                        return
                    yield data
            finally:
                result.close()

        name = download_name(filename, out_suffix)
        from urllib.parse import quote

        encoded = base64.b64encode(compact(summary)).decode("ascii")
        headers = {
            "Content-Disposition": f"attachment; filename=\"grouped{out_suffix}\"; filename*=UTF-8''{quote(name)}",
            "X-Drgkit-Summary": encoded,
            "X-Drgkit-Rows": str(summary["rows"]),
            "Content-Length": str(_size(result)),
            "Cache-Control": "no-store",
        }
        return StreamingResponse(chunks(), media_type=MEDIA[out_suffix], headers=headers)

    # ------------------------------------------------------------------ reference data
    @app.get("/v1/schemes", response_model=list[M.SchemeOut], tags=["reference"], summary="分组方案 / schemes")
    async def schemes():
        from ..schemes.tables import list_schemes

        out = []
        for s in list_schemes():
            served = engine.schemes.get(s.id)
            has_weights = bool(served is not None and engine.names[s.id].weight)
            out.append(
                {
                    "id": s.id,
                    "name": s.name,
                    "validity_check": s.settings.validity_check,
                    "checksum": s.checksum,
                    "served": served is not None,
                    "default": s.id == engine.default_id,
                    "has_weights": has_weights,
                }
            )
        return out

    @app.get("/v1/tables", tags=["reference"], summary="支付表 / payment tables")
    async def tables():
        from ..payment import list_tables

        return [
            {
                "id": i.id,
                "city": i.city,
                "city_zh": i.city_zh,
                "year": i.year,
                "scheme": i.scheme,
                "basis": i.basis,
                "drgs": i.drgs,
                "levels": list(i.levels),
                "levels_zh": list(i.levels_zh),
                "insurance_types": list(i.insurance_types),
                "published": list(i.published),
                "licence": i.licence,
                "usable": i.scheme in engine.schemes,
            }
            for i in list_tables()
        ]

    @app.get(
        "/v1/codes",
        response_model=list[M.CodeOut],
        response_model_exclude_none=True,
        tags=["reference"],
        summary="编码查询（自动补全） / code look-up",
    )
    async def codes(
        q: str = Query(
            ..., min_length=1, max_length=60, description="编码前缀或中文名称 / code prefix or Chinese name"
        ),
        kind: Literal["dx", "px", "all"] = Query("all", description="dx 诊断 / px 手术 / all"),
        scheme: Optional[str] = Query(None, description="分组方案 / scheme"),
        limit: int = Query(20, ge=1, le=100),
    ):
        compiled = engine.scheme(scheme)
        return state["codes"][compiled.id].search(q, kind, limit)

    def custom_openapi():
        if app.openapi_schema:
            return app.openapi_schema
        from pydantic.json_schema import models_json_schema

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        _, defs = models_json_schema(
            [
                (m, "validation")
                for m in (
                    M.GroupEnvelope,
                    M.Case,
                    M.SettlementCase,
                    M.ExplainBody,
                    M.WhatIfBody,
                    M.CaseResult,
                    M.GroupResponse,
                    M.ApiError,
                )
            ],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


MEDIA_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _size(handle) -> int:
    return os.fstat(handle.fileno()).st_size


def _sweep_stale() -> None:
    """Remove the temporary folders of servers that were killed before they could clean up (their process is
    gone); a running server's folder is never touched."""
    for folder in Path(tempfile.gettempdir()).glob("drgkit-serve-*-*"):
        pid = folder.name.split("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def app_from_env() -> FastAPI:
    """The app of a uvicorn worker process (settings from ``DRGKIT_SERVE_SETTINGS``)."""
    return create_app(ServeSettings.from_env())


def summary_from_header(value: str) -> dict[str, Any]:
    """The batch summary of an ``X-Drgkit-Summary`` header (for clients and tests)."""
    return json.loads(base64.b64decode(value))
