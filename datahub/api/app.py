"""The application factory: one Platform per app, every route under ``/api/v1``, errors as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import datahub
from datahub.api.errors import add_error_handlers
from datahub.api.routes import api_router
from datahub.platform import Platform
from datahub.settings import Settings

API_PREFIX = "/api/v1"

DESCRIPTION = """\
The governed data hub of 一事件一网统管 city management: data contracts now; published datasets,
event views, grants and the audit log as they arrive.

Every error answers `{"error": {"code", "message", "file", "path"}}` with a stable `code`.
Until API keys arrive, callers identify themselves with the headers `X-Datahub-Role`,
`X-Datahub-Department` and `X-Datahub-Client` (see docs/api.md).
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    platform: Platform = app.state.platform
    # Open what every request needs now, so a broken dictionary or database stops the server at
    # start instead of failing its first requests.
    _ = platform.dictionary, platform.metadata
    yield
    platform.metadata.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="城市数据中台 API",
        description=DESCRIPTION,
        version=datahub.__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        lifespan=_lifespan,
    )
    app.state.platform = Platform(settings)
    add_error_handlers(app)
    app.include_router(api_router, prefix=API_PREFIX)
    return app
