"""The web page: ``/`` (ask), ``/articles`` (the list) and ``/articles/{id}`` (the reader).

The pages are server-rendered Jinja2 shells that carry the page's strings and settings, never
index data: the scripts in ``api/static`` fetch answers and articles from ``/v1`` with the same
API-key and rate-limit rules as any other client (a key the user types is kept in the tab's
sessionStorage and sent as ``Authorization: Bearer``). So the pages need no key themselves, and
with keys set nothing from the index is readable without one.

Safety: templates autoescape, scripts build the DOM with ``textContent`` only, and every page is
sent with a Content-Security-Policy that allows scripts and styles from this origin and nothing
inline, so even a missed escape could not run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Cookie, Header, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from kiji.api.deps import StateDep
from kiji.api.web_strings import (
    LANG_COOKIE,
    LANG_NAMES,
    LANGS,
    Lang,
    answer_strings,
    choose_lang,
    strings_for,
)
from kiji.settings import Settings

#: The page's templates and scripts sit beside the routers, in api/ (package data of kiji.api).
HERE = Path(__file__).resolve().parent.parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

#: Same-origin scripts, styles, images and fetches only; no inline script or style, no plugins,
#: no framing, no <base> rewriting, forms post only here.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Questions travel in page URLs (/?q=...): keep them from leaking to an article's own site.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


def asset_versions() -> dict[str, str]:
    """Content hashes appended to static URLs, so a new release is never served stale from cache."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:10]
            for p in STATIC_DIR.iterdir() if p.is_file()}


class WebPages:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        # tojson still escapes < > & ' for HTML; Japanese stays readable (and a third the size).
        self.templates.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
        versions = asset_versions()
        self.templates.env.globals["static"] = lambda name: f"/static/{name}?v={versions[name]}"

    def render(self, request: Request, template: str, lang: Lang, switch: str | None,
               **context: Any) -> HTMLResponse:
        strings = strings_for(lang)
        config = {"lang": lang, "strings": strings, "needs_key": bool(self.settings.api_keys),
                  "max_question_chars": self.settings.max_question_chars, **context.pop("config", {})}
        response = self.templates.TemplateResponse(request, template, {
            "lang": lang, "s": strings, "config": config, "needs_key": config["needs_key"],
            "languages": [(code, LANG_NAMES[code], _switch_url(request, code)) for code in LANGS],
            **context})
        response.headers.update(PAGE_HEADERS)
        if switch in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
        return response


def _switch_url(request: Request, lang: Lang) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
    return f"{request.url.path}?{urlencode(params)}"


LangSwitch = Annotated[str | None, Query(alias="lang", include_in_schema=False)]
LangCookie = Annotated[str | None, Cookie(alias=LANG_COOKIE, include_in_schema=False)]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]


def build_web_router(pages: WebPages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def ask_page(request: Request, switch: LangSwitch = None, lang_cookie: LangCookie = None,
                       accept_language: AcceptLanguage = None,
                       q: Annotated[str | None, Query()] = None) -> HTMLResponse:
        lang = choose_lang(switch, lang_cookie, accept_language)
        # The question is only put back into the box (autoescaped); the script asks it through /v1.
        return pages.render(request, "ask.html", lang, switch, q=q or "", config={"page": "ask", "q": q or "",
                                                                  "answer_strings": answer_strings()})

    @router.get("/articles", response_class=HTMLResponse)
    async def articles_page(request: Request, switch: LangSwitch = None, lang_cookie: LangCookie = None,
                            accept_language: AcceptLanguage = None) -> HTMLResponse:
        lang = choose_lang(switch, lang_cookie, accept_language)
        return pages.render(request, "articles.html", lang, switch, config={"page": "articles"})

    @router.get("/articles/{article_id}", response_class=HTMLResponse)
    async def reader_page(request: Request, article_id: str, state: StateDep, switch: LangSwitch = None,
                          lang_cookie: LangCookie = None,
                          accept_language: AcceptLanguage = None,
                          q: Annotated[str | None, Query()] = None) -> HTMLResponse:
        lang = choose_lang(switch, lang_cookie, accept_language)
        # start/end are read by the script (it validates them against the article it fetched).
        response = pages.render(request, "article.html", lang, switch, q=q or "",
                                config={"page": "article", "article_id": article_id, "q": q or ""})
        # An unknown id is a 404 to browsers, crawlers and link checkers alike, not a 200 whose
        # script says so (the page still explains it). Only whether the id exists is told.
        engine = state.engine
        if engine is not None and article_id not in engine.index.articles:
            response.status_code = 404
        return response

    return router


def build_router(settings: Settings) -> APIRouter:
    """The pages and their static files (``/static``, mounted on the router, kept by include_router)."""
    router = build_web_router(WebPages(settings))
    router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return router
