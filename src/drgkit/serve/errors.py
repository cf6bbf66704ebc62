"""One error shape for every failure a client can cause: HTTP status + ``{"code", "field", "message"}``."""

from __future__ import annotations

from typing import Any


class ServeError(Exception):
    """A request the service refuses: ``status`` (4xx), a stable ``code``, the ``field`` at fault (or
    ``None``) and a one-line ``message``."""

    def __init__(self, status: int, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}
