"""Errors only the API raises, and the handlers that render every error as ``{"error": {...}}``.

Core code raises the ``DatahubError`` hierarchy of ``datahub.errors``; routes and dependencies raise
these few more. Nothing raises ``HTTPException``: the handlers below are the one place an error
becomes a response, so every error body has the same shape and a stable ``code``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from datahub.errors import DatahubError, RateLimited, Unauthenticated


class InvalidRequest(DatahubError):
    """The request is malformed (a missing parameter, a body that is not what the route reads).

    ``path`` is where the first problem is (``query.to_version``, ``body.content``); ``problems``
    lists every one.
    """

    code = "invalid_request"
    http_status = 422

    def __init__(self, message: str, *, path: str | None = None, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message, path=path)

    def to_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().to_dict(), "problems": self.problems}

    @classmethod
    def from_errors(cls, errors: Sequence[Any]) -> InvalidRequest:
        """From pydantic/FastAPI validation errors (dicts with ``loc`` and ``msg``)."""
        located = [(".".join(str(part) for part in e.get("loc", ())), str(e.get("msg", ""))) for e in errors]
        if not located:
            return cls("the request is not valid")
        path, message = located[0]
        return cls(message, path=path or None, problems=[f"{p}: {m}" if p else m for p, m in located])


class UnsupportedMediaType(DatahubError):
    """The request body comes in a content type the route does not read."""

    code = "unsupported_media_type"
    http_status = 415


class PayloadTooLarge(DatahubError):
    """The request body is larger than the route accepts."""

    code = "payload_too_large"
    http_status = 413


# Statuses Starlette answers by itself (unknown route, wrong method, body too large).
_HTTP_CODES = {
    401: Unauthenticated.code,
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: PayloadTooLarge.code,
    415: UnsupportedMediaType.code,
}


def _error_response(
    status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _datahub_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DatahubError)
    headers = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    elif isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    return _error_response(exc.http_status, dict(exc.to_dict()), headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = InvalidRequest.from_errors(exc.errors())
    return _error_response(error.http_status, error.to_dict())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Starlette's own 404 says only "Not Found"; name what was asked for.
    unrouted = f"nothing at {request.method} {request.url.path}"
    message = unrouted if exc.status_code == 404 else str(exc.detail)
    body: dict[str, object] = {
        "code": _HTTP_CODES.get(exc.status_code, "http_error"),
        "message": message,
        "file": None,
        "path": request.url.path,
    }
    return _error_response(exc.status_code, body, dict(exc.headers) if exc.headers else None)


async def _unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette re-raises after this handler, so the traceback still reaches the server log.
    body: dict[str, object] = {
        "code": "internal_error",
        "message": "the server failed to answer this request; the server log has the details",
        "file": None,
        "path": None,
    }
    return _error_response(500, body)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DatahubError, _datahub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
