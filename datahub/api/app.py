"""The application factory: one Platform per app, every route under ``/api/v1``, errors as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import datahub
from datahub.access.rate_limits import SharedRateLimiter
from datahub.api.errors import add_error_handlers
from datahub.api.routes import api_router, open311
from datahub.dashboard import DASHBOARD_PATH, create_dashboard
from datahub.platform import Platform
from datahub.serving.notices import PENDING_HEADER
from datahub.serving.service import Service
from datahub.settings import Settings

API_PREFIX = "/api/v1"
VIEWS_PATH = f"{API_PREFIX}/views/"
OPEN311_PREFIX = "/open311/v2"

DESCRIPTION = """\
The governed sharing API of 一事件一网统管 city management: published department datasets and
event-ready views (one row per real event, daily KPIs, relief stock, sensor alerts), read under
grants with masks and row filters inside the query, every read in a tamper-evident audit log; the
data contracts, the dictionary and quality results; Open311 GeoReport v2 over the unified events.

**Authentication**: an API key from `datahub client create NAME --role ROLE`, sent as
`Authorization: Bearer KEY` or `X-API-Key: KEY`. Each client has a rate limit (429 `rate_limited`).

**Filters** (`filter` on rows and exports): `field = 'value'`, `!=`, `<`, `<=`, `>`, `>=`,
`in (…)`, `not in (…)`, `is null`, `is not null`, `like`, `ilike`, `contains(field, 'x')`, joined
with `and`, `or`, `not` and parentheses; values are checked against the column's type and always
bound as parameters (docs/query.md).

Every error answers `{"error": {"code", "message", "file", "path"}}` with a stable `code`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    platform: Platform = app.state.platform
    # Open what every request needs now, so a broken dictionary, contract or database stops the
    # server at start instead of failing its first requests.
    service: Service = app.state.service
    _ = platform.dictionary, platform.metadata, service.catalog
    try:
        yield
    finally:
        service.close()  # flushes the audit log
        platform.metadata.dispose()


class PendingVersion:
    """Every successful read of a dataset or view with a contract change to come carries
    ``X-Datahub-Pending-Version`` (docs/api.md). Plain ASGI: streamed exports pass through untouched."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(VIEWS_PATH):
            await self.app(scope, receive, send)
            return
        name = path[len(VIEWS_PATH) :].split("/", 1)[0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                pending = self.service.pending_header(name)
                if pending:
                    message["headers"] = [
                        *message.get("headers", []),
                        (PENDING_HEADER.lower().encode(), pending.encode("ascii", "replace")),
                    ]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="城市数据中台 API",
        description=DESCRIPTION,
        version=datahub.__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        lifespan=_lifespan,
    )
    platform = Platform(settings)
    service = Service(platform)
    app.state.platform = platform
    app.state.service = service
    app.state.clients = service.clients
    app.state.rate_limiter = SharedRateLimiter(platform.metadata)  # one allowance for every process and host
    add_error_handlers(app)
    app.include_router(api_router, prefix=API_PREFIX)
    app.add_middleware(PendingVersion, service=service)

    app.include_router(open311.router, prefix=OPEN311_PREFIX)
    app.mount(DASHBOARD_PATH, create_dashboard(service))
    return app
