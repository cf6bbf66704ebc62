"""``drgkit serve``: the grouping service and the coder's workbench page (see :mod:`drgkit.serve`)."""

from __future__ import annotations

import errno
import os
import socket
from typing import Optional

import typer

from ..schemes import DEFAULT_SCHEME
from . import common
from .common import CliError

app = typer.Typer()


def _check_port(host: str, port: int) -> None:
    """Fail with one line now when the address cannot be bound, rather than in the server's log later."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            why = (
                "address already in use (another server?): choose another --port"
                if exc.errno == errno.EADDRINUSE
                else (exc.strerror or str(exc))
            )
            raise CliError(f"{host}:{port}: {why}") from None


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (another than the loopback needs --token or --insecure)"
    ),
    port: int = typer.Option(8000, "--port", "-p", help="Port"),
    scheme: list[str] = typer.Option(
        [],
        "--scheme",
        "-s",
        help=f"Scheme to serve (repeatable; the first is the default; 'all' = every scheme); default {DEFAULT_SCHEME}",
    ),
    table: Optional[str] = typer.Option(None, "--table", help="Default payment table for /v1/group"),
    level: Optional[str] = typer.Option(None, "--level", help="Hospital level for --table"),
    insurance: Optional[str] = typer.Option(None, "--insurance", help="Insurance type for --table"),
    base_rate: Optional[float] = typer.Option(None, "--base-rate", help="Base rate (yuan per RW) for --table"),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Server processes (each loads the schemes)"),
    token: Optional[str] = typer.Option(
        None,
        "--token",
        envvar="DRGKIT_TOKEN",
        show_envvar=True,
        help="Bearer token clients must send (better: the DRGKIT_TOKEN environment variable, not shown by ps)",
    ),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback --host without a token"),
    max_cases: int = typer.Option(10_000, "--max-cases", min=1, help="Cases in one /v1/group call"),
    max_body_mb: float = typer.Option(64, "--max-body-mb", min=0.01, help="Largest JSON request (MB)"),
    max_upload_mb: float = typer.Option(256, "--max-upload-mb", min=0.01, help="Largest /v1/batch upload (MB)"),
    max_batch_rows: int = typer.Option(2_000_000, "--max-batch-rows", min=1, help="Rows of one /v1/batch upload"),
    cors_origin: list[str] = typer.Option(
        [], "--cors-origin", help="Allow browser calls from this origin (repeatable; none by default)"
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level (info logs every request)"),
) -> None:
    """Serve grouping over HTTP (POST /v1/group, /v1/explain, /v1/whatif, /v1/validate, /v1/batch; the API
    document at /docs) and the coder's workbench page at /, on 127.0.0.1:8000 by default."""

    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of drgkit
        raise CliError("drgkit serve needs uvicorn and fastapi: pip install fastapi uvicorn python-multipart") from None
    from ..schemes.compile import load_compiled
    from ..schemes.tables import list_schemes
    from ..serve.settings import MB, SETTINGS_ENV, ServeSettings

    schemes = tuple(scheme) or (DEFAULT_SCHEME,)
    settings = ServeSettings(
        host=host,
        port=port,
        schemes=schemes,
        table=table,
        level=level,
        insurance=insurance,
        base_rate=base_rate,
        token=token,
        insecure=insecure,
        max_cases=max_cases,
        max_body=int(max_body_mb * MB),
        max_upload=int(max_upload_mb * MB),
        max_batch_rows=max_batch_rows,
        cors_origins=tuple(cors_origin),
        workers=workers,
    ).check()
    ids = [s.id for s in list_schemes()] if "all" in schemes else [s for s in schemes if s != "all"]
    for sid in ids:  # unknown ids fail here, in one line; compiling fills the cache the workers read
        load_compiled(sid)
    if table:
        from ..payment import load_table
        from ..payment.tables import table_id_known

        if not table_id_known(table) and table not in ids:
            raise CliError(f"--table {table}: not a shipped payment table (see `drgkit tables list`)")
        info = load_table(table).info
        if info.scheme and info.scheme not in ids:
            raise CliError(f"table {info.id} prices the groups of {info.scheme}: add --scheme {info.scheme}")
    _check_port(host, port)
    shown = f"[{host}]" if ":" in host else host
    common.err.print(
        f"drgkit 分组服务 grouping service: http://{shown}:{port}/   接口文档 API: "
        f"http://{shown}:{port}/docs   (schemes: {', '.join(ids)}"
        f"{'; token required' if token else ''}; Ctrl-C stops)",
        soft_wrap=True,
        markup=False,
    )
    if workers > 1:
        os.environ[SETTINGS_ENV] = settings.to_env()
        uvicorn.run(
            "drgkit.serve.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            server_header=False,
        )
    else:
        from ..serve import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, server_header=False)
