"""Optional protection for /v1: API keys, a per-client rate limit, and the admin token.

- API keys (``KIJI_API_KEYS``): when set, every /v1 request needs ``Authorization: Bearer <key>``.
  Keys are compared in constant time against *every* configured key (no early exit), and neither
  keys nor the presented token are ever logged or echoed.
- Rate limit (``KIJI_RATE_LIMIT_PER_MINUTE``, 0 disables): a token bucket per client, the client
  being the API key when keys are on, else the peer IP (behind a reverse proxy, the address it
  forwards when it is listed in ``KIJI_TRUSTED_PROXIES``; no one's by default). Limits are per worker process.
- Admin token (``KIJI_ADMIN_TOKEN``): guards ``POST /v1/admin/reload``. Without one the admin routes
  are not mounted at all, so they answer 404 like any unknown path.
- Failed authentications (``KIJI_AUTH_FAILURES_PER_MINUTE``, 0 disables): a budget per client IP
  for wrong keys and wrong admin tokens, then 429 (``api/auth_failures.py``).
"""

# No `from __future__ import annotations`: FastAPI must resolve the closure-local `identify`
# dependency in `v1_guard`'s signature.

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiji.api.deps import AppState, StateDep
from kiji.api.errors import error_response, error_responses
from kiji.errors import RateLimited
from kiji.settings import Settings

bearer_scheme = HTTPBearer(auto_error=False, description="An API key (when the server has keys set)")
admin_scheme = HTTPBearer(auto_error=False, scheme_name="AdminToken",
                          description="The admin token (KIJI_ADMIN_TOKEN)")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _digest(value: str) -> bytes:
    # Hashing first gives equal-length inputs to compare_digest, so timing does not even reveal
    # a key's length.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def match_key(token: str, keys: Sequence[SecretStr]) -> int | None:
    """Index of the key ``token`` equals, comparing against all keys in constant time."""
    presented = _digest(token)
    found: int | None = None
    for i, key in enumerate(keys):
        if hmac.compare_digest(presented, _digest(key.get_secret_value())) and found is None:
            found = i
    return found


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check_budget(state: AppState, ip: str) -> None:
    """Refuse any authentication from an address that spent its budget of failures."""
    limiter = state.auth_failures
    wait = limiter.blocked_for(ip) if limiter is not None else None
    if wait is not None:
        raise RateLimited(f"too many failed authentications from this address; retry in {math.ceil(wait)} s",
                          retry_after=wait)


def _failed(state: AppState, ip: str) -> None:
    if state.auth_failures is not None:
        state.auth_failures.failed(ip)


async def authenticate(
    request: Request, state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    """Check the API key; return the client identity for rate limits."""
    keys = state.settings.api_keys
    if not keys:  # only reachable if the router was built with other settings than the state's
        return f"ip:{client_ip(request)}"
    ip = client_ip(request)
    _check_budget(state, ip)
    if credentials is None:
        raise HTTPException(401, "missing API key: send Authorization: Bearer <key>", headers=_CHALLENGE)
    index = match_key(credentials.credentials, keys)
    if index is None:
        _failed(state, ip)
        raise HTTPException(401, "invalid API key", headers=_CHALLENGE)
    # The key's position, not the key, names the client: nothing secret lands in memory tables.
    return f"key:{index}"


async def anonymous(request: Request) -> str:
    return f"ip:{client_ip(request)}"


def v1_guard(settings: Settings) -> Callable[..., Awaitable[None]]:
    """The dependency every /v1 route carries: authentication only when keys are configured (so
    the OpenAPI schema declares the bearer scheme only then), then the rate limit."""
    identify = authenticate if settings.api_keys else anonymous

    async def guard(state: StateDep, client: Annotated[str, Depends(identify)]) -> None:
        limiter = state.rate_limiter
        if limiter is None:
            return
        wait = limiter.acquire(client)
        if wait is not None:
            raise RateLimited(f"too many requests; retry in {math.ceil(wait)} s", retry_after=wait)

    return guard


def admin_enabled(settings: Settings) -> bool:
    # An empty token would be a password nobody can send: treat it as "no admin routes".
    return settings.admin_token is not None and bool(settings.admin_token.get_secret_value())


async def require_admin(
    request: Request, state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_scheme)],
) -> None:
    token = state.settings.admin_token
    if token is None or not admin_enabled(state.settings):  # not mounted then: a second line of defence
        raise HTTPException(404, "Not Found")
    ip = client_ip(request)
    _check_budget(state, ip)
    if credentials is None:
        raise HTTPException(401, "missing admin token: send Authorization: Bearer <token>",
                            headers=_CHALLENGE)
    if match_key(credentials.credentials, [token]) is None:
        _failed(state, ip)
        raise HTTPException(403, "invalid admin token")


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 instead of buffering them whole.

    A declared ``Content-Length`` that is too large is refused before reading anything; a streamed
    (chunked) body is counted as it arrives, and the ``HTTPException`` raised mid-read reaches the
    normal handlers (FastAPI re-raises HTTP errors from the body reader), so the 413 has the usual
    error shape.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is too large (at most {self.max_bytes} bytes)"
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(413, "payload_too_large", message)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, message)
            return event

        await self.app(scope, limited_receive, send)


def v1_router(settings: Settings) -> APIRouter:
    """A router under /v1 with the guard every /v1 route carries and the errors it can answer."""
    return APIRouter(prefix="/v1", tags=["v1"], dependencies=[Depends(v1_guard(settings))],
                     responses=error_responses(*((401,) if settings.api_keys else ()), 422, 429, 503))
