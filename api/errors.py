"""Edge translation: every failure leaves the API as ``{"error": {"code": str, "message": str}}``.

``KijiError`` subclasses map to a status here and nowhere else; FastAPI's own errors (validation,
unknown route, wrong method) are reshaped to the same body. Anything else is a bug: the
``UnexpectedErrorMiddleware`` logs it with its traceback and answers a generic 500, so no stack trace
or exception text ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiji.errors import (
    IndexUnavailable,
    InvalidInput,
    KijiError,
    ModelError,
    NotFound,
    RateLimited,
)
from kiji.retrieval.validation import is_blank

logger = logging.getLogger("kiji.api")

#: Most specific first: the first class an error is an instance of decides its status.
STATUS_BY_ERROR: list[tuple[type[KijiError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (RateLimited, 429),
    (IndexUnavailable, 503),
    (ModelError, 503),
]

#: Codes for FastAPI/Starlette HTTP errors, so clients can branch on ``code`` rather than text.
CODE_BY_STATUS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                  405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
                  413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
                  422: "invalid_input", 431: "headers_too_large",
                  429: "rate_limited", 503: "unavailable"}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """The one error shape; documented in OpenAPI for every declared error status."""

    error: ErrorDetail


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def status_for(exc: KijiError) -> int:
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(exc, cls)), 500)


def kiji_error_response(exc: KijiError) -> JSONResponse:
    headers = None
    if isinstance(exc, RateLimited):
        # Whole seconds, rounded up: a client that waits exactly this long gets a token.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    # KijiError messages are written to be shown to users (no secrets, no paths of secrets).
    return error_response(status_for(exc), exc.code, str(exc), headers)


async def _kiji_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KijiError)
    return kiji_error_response(exc)


def _describe(errors: Sequence[Any]) -> tuple[str, str]:
    """A short human message from pydantic errors; the offending input is never echoed back."""
    if any(err.get("type") == "json_invalid" for err in errors):
        return "invalid_json", "the request body is not valid JSON"
    parts = []
    for err in list(errors)[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid value')}")
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return "invalid_input", "; ".join(parts)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code, message = _describe(exc.errors())
    return error_response(422, code, message)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        # json.loads gives up on arrays/objects nested ~1,000 deep; FastAPI calls that a 400.
        return error_response(422, "invalid_json", "the request body is nested too deeply")
    if exc.status_code == 400 and isinstance(exc.__cause__, (UnicodeDecodeError, ValueError)):
        # FastAPI answers 400 when the body bytes are not UTF-8 (json.loads raises
        # UnicodeDecodeError, not JSONDecodeError); for clients that is just another invalid body.
        return error_response(422, "invalid_json", "the request body is not valid UTF-8 JSON")
    status = exc.status_code
    if isinstance(exc.detail, str) and exc.detail:
        message = exc.detail
    else:
        message = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return error_response(status, CODE_BY_STATUS.get(status, "http_error"), message,
                          dict(exc.headers) if exc.headers else None)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KijiError, _kiji_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class UnexpectedErrorMiddleware:
    """Catch-all for bugs: log the traceback server-side, answer a generic 500 body.

    Done as middleware rather than an ``Exception`` handler because Starlette re-raises after such a
    handler runs, which makes the server log the same traceback a second time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            route = getattr(scope.get("route"), "path", "unmatched")
            logger.exception("unhandled error in %s %s", scope.get("method"), route)
            if started:
                raise  # headers are out; the server can only drop the connection
            body = json.dumps({"error": {"code": "internal_error",
                                         "message": "internal server error"}}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


class NoWebSocketMiddleware:
    """kiji has no WebSocket endpoint. Starlette answers an upgrade with ``websocket.close``, which
    uvicorn sends as a plain-text, empty 403; this answers it in the JSON error shape instead,
    through the ASGI ``websocket.http.response`` extension (uvicorn's WebSocket protocols have it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": {"code": "websocket_unsupported", "message": (
            "kiji has no WebSocket endpoint; use HTTP (POST /v1/ask with \"stream\": true streams "
            "an answer as server-sent events)")}}).encode()
        await send({"type": "websocket.http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})


#: ``responses=`` for route decorators, so the error shape appears in OpenAPI.
def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": HTTPStatus(status).phrase} for status in statuses}


def not_blank_question(value: str) -> str:
    """The request models' check of a question (the engine's rule, as a 422 in the error shape)."""
    if is_blank(value):
        raise PydanticCustomError("blank", "the question is empty")
    return value
