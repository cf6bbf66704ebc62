"""How a ``drgkit serve`` process is set up: one frozen record, checked once, passed to every worker.

Safe by default: the service listens on the loopback address only; any other address needs a bearer token
(``token``) or an explicit ``insecure``.  Requests are bounded (body size, cases per call, rows per upload);
cross-origin requests are refused unless origins are named.  No setting lets a client name a server path.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field

from ..errors import DrgkitError
from ..schemes import DEFAULT_SCHEME

#: The environment variable that carries the settings to worker processes (``--workers N``).
SETTINGS_ENV = "DRGKIT_SERVE_SETTINGS"
MB = 1 << 20


class SettingsError(DrgkitError, ValueError):
    """A setting that cannot work (an open address without a token, a limit below one …)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """Everything a server process needs; :meth:`check` refuses unsafe or impossible combinations."""

    host: str = "127.0.0.1"
    port: int = 8000
    schemes: tuple[str, ...] = (DEFAULT_SCHEME,)  # compiled and warmed at start-up; the first is the default
    table: str | None = None  # default payment table for /v1/group (a request may name another)
    level: str | None = None
    insurance: str | None = None
    base_rate: float | None = None
    token: str | None = field(default=None, repr=False)
    insecure: bool = False
    max_cases: int = 10_000  # cases in one /v1/group or /v1/validate call
    max_body: int = 64 * MB  # bytes of a JSON request
    max_upload: int = 256 * MB  # bytes of a /v1/batch upload
    max_batch_rows: int = 2_000_000  # rows of a /v1/batch upload
    cors_origins: tuple[str, ...] = ()
    workers: int = 1

    @property
    def default_scheme(self) -> str:
        return self.schemes[0]

    def check(self) -> ServeSettings:
        """``self`` when it can run safely; else :class:`SettingsError` with one line saying what to add."""
        if not self.schemes:
            raise SettingsError("no scheme to serve: give --scheme ID")
        if not is_loopback(self.host) and not self.token and not self.insecure:
            raise SettingsError(
                f"--host {self.host} makes the grouper reachable from the network: give --token "
                "SECRET (clients then send 'Authorization: Bearer SECRET'), or --insecure to "
                "serve without one"
            )
        if self.token is not None and len(self.token) < 8:
            raise SettingsError("--token must be at least 8 characters")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"--port must be 0-65535, got {self.port}")
        for name in ("max_cases", "max_body", "max_upload", "max_batch_rows", "workers"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if (self.level or self.insurance or self.base_rate is not None) and not self.table:
            raise SettingsError("--level, --insurance and --base-rate need --table")
        for origin in self.cors_origins:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise SettingsError(f"--cors-origin takes an origin such as http://his.example:8080, not {origin!r}")
        return self

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServeSettings:
        raw = (environ if environ is not None else os.environ).get(SETTINGS_ENV)
        if not raw:
            return cls()
        data = json.loads(raw)
        for key in ("schemes", "cors_origins"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data).check()
