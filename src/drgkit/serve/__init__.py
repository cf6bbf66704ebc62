"""``drgkit serve``: the grouping engine as an HTTP service for hospital systems, and a coder's workbench page.

>>> from drgkit.serve import create_app, ServeSettings
>>> app = create_app(ServeSettings(schemes=("chs-drg-1.1",)))      # an ASGI app (FastAPI)

Routes (JSON in and out; errors ``{"code", "field", "message"}``): ``POST /v1/group`` (one case, an array or an
envelope; the settlement-list structure too), ``/v1/explain``, ``/v1/whatif``, ``/v1/validate``, ``/v1/batch``
(upload a file, get the grouped file back); ``GET /v1/schemes``, ``/v1/tables``, ``/v1/codes?q=``, ``/healthz``,
``/metrics``; the page at ``/``, the API document at ``/docs`` and ``/openapi.json``.  See docs/serve.md.
"""

from __future__ import annotations

from .settings import ServeSettings


def create_app(settings: ServeSettings | None = None):
    """The FastAPI application (imported on use: ``import drgkit.serve`` stays light)."""
    from .app import create_app as build

    return build(settings)


__all__ = ["ServeSettings", "create_app"]
