"""``kiji serve``: run the API with uvicorn on the settings' host, port and worker count."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from kiji.errors import ServiceUnreachable
from kiji.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

#: Worker processes are started by uvicorn from an import string, so they cannot be handed the
#: settings object: the parent puts all of it, every field, in this variable as JSON, and
#: ``worker_app`` rebuilds exactly that object (the workers' own environment is not read again, so
#: values from the command line or ``.env`` and the environment's reach every worker alike).
WORKER_SETTINGS_ENV = "KIJI_WORKER_SETTINGS"


def _plain(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def settings_for_workers(settings: Settings) -> str:
    """The whole settings object as JSON, secrets included (the variable stays in this process
    tree, like the ``KIJI_*`` variables the secrets may have come from)."""
    return json.dumps(_plain(settings.model_dump()))


def worker_settings() -> Settings:
    """The settings the parent exported; the environment's when started otherwise."""
    exported = os.environ.get(WORKER_SETTINGS_ENV)
    if exported is None:
        return Settings()
    # model_validate, not Settings(...): sources (environment, .env) are not consulted again.
    return Settings.model_validate(json.loads(exported), by_name=True)


def worker_app() -> FastAPI:
    """The factory each worker process calls (``kiji.api.server:worker_app``)."""
    from kiji.api.app import create_app

    return create_app(worker_settings())


def check_address(host: str, port: int) -> None:
    """Fail with a one-line error (exit 7) when the address cannot be listened on, instead of
    uvicorn's log line and exit 1 once the model is loaded."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise ServiceUnreachable(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                 hint="stop what uses it, or choose another --port / --host") from None


def run(settings: Settings) -> None:
    import uvicorn

    from kiji.api.http_protocol import (
        HTTP_PROTOCOL,
        KEEP_ALIVE_S,
        MAX_HEADER_BYTES,
        MAX_URL_BYTES,
        raise_open_files,
    )

    check_address(settings.host, settings.port)
    raise_open_files()  # inherited by worker processes
    print(f"kiji API listening on http://{settings.host}:{settings.port} (docs at /docs)",
          file=sys.stderr, flush=True)
    common: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": "info",
        "access_log": settings.access_log,
        # Refusals of malformed or oversized requests in the API's JSON error shape.
        "http": HTTP_PROTOCOL, "h11_max_incomplete_event_size": MAX_URL_BYTES + MAX_HEADER_BYTES,
        # Slow clients: idle keep-alive connections close; the header deadline and the connection
        # cap (90% of the open-file limit, lifted to the hard limit here) are in HTTP_PROTOCOL.
        "timeout_keep_alive": KEEP_ALIVE_S,
        # X-Forwarded-For only from configured proxies (uvicorn's default trusts 127.0.0.1).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        # Do not wait forever for slow clients on shutdown; in-flight queries take < 1 s.
        "timeout_graceful_shutdown": 10}
    if settings.workers > 1:
        # Several processes need an import string: each worker imports and calls the factory.
        os.environ[WORKER_SETTINGS_ENV] = settings_for_workers(settings)
        uvicorn.run("kiji.api.server:worker_app", factory=True, workers=settings.workers, **common)
    else:
        from kiji.api.app import create_app

        uvicorn.run(create_app(settings), **common)
