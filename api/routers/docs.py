"""``/docs``: Swagger UI served from this server, under the pages' Content-Security-Policy.

FastAPI's own ``/docs`` loads Swagger UI from a CDN and starts it with an inline script, so it was
blank offline and could not be sent with the CSP of the other pages (which allows no inline script
and nothing from elsewhere). Here the page is a fixed shell: the stylesheet and script come from the
``swagger-ui-bundle-v2`` package (Swagger UI 5.31, Apache-2.0, by the connexion maintainers) at
``/docs/assets/``, and ``/static/docs-init.js`` starts it on ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from kiji.api.routers.web import PAGE_HEADERS, asset_versions
from kiji.settings import Settings

#: Only what the page loads: the bundle is ~1.5 MB, the other files of the package are not served.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


def build_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    static = asset_versions()
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kiji API</title>
<link rel="icon" href="/static/favicon.svg?v={static["favicon.svg"]}">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js?v={static["docs-init.js"]}"></script>
</body>
</html>
"""

    @router.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    def asset(name: str, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
        path = Path(str(swagger_ui_path)) / name

        async def serve() -> FileResponse:
            return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

        return serve

    for name, media_type in ASSETS.items():
        router.add_api_route(f"/docs/assets/{name}", asset(name, media_type), methods=["GET"],
                          include_in_schema=False)
    return router
