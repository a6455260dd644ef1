"""``kiji serve``: run the API with uvicorn on the settings' host, port and worker count."""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

from pydantic import SecretStr

from kiji.errors import ServiceUnreachable
from kiji.settings import Settings

#: Settings the API reads; the rest (Discord, build tuning) is not worth exporting to workers.
_WORKER_FIELDS = ("corpus_dir", "index_dir", "embedding_model", "embedding_runtime", "embed_threads",
                  "faiss_threads", "top_k", "max_question_chars", "api_keys", "admin_token",
                  "rate_limit_per_minute", "auth_failures_per_minute", "cors_origins", "watch_index",
                  "watch_interval_s", "min_similarity", "index_mmap", "feedback_db", "feedback_salt")


def _env_value(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return json.dumps([v.get_secret_value() if isinstance(v, SecretStr) else v for v in value])
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_for_workers(settings: Settings) -> None:
    """Worker processes build their own app from the environment (``create_app()``), so settings
    that came from the command line or ``.env`` are exported as ``KIJI_*`` for them to read."""
    for name in _WORKER_FIELDS:
        value = _env_value(getattr(settings, name))
        key = f"KIJI_{name.upper()}"
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
        export_for_workers(settings)
        uvicorn.run("kiji.api.app:create_app", factory=True, workers=settings.workers, **common)
    else:
        from kiji.api.app import create_app

        uvicorn.run(create_app(settings), **common)
