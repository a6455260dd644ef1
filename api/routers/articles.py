"""``POST /v1/articles`` (admin token): add an article by URL (fetched under the same address rule,
robots.txt and limits as ``kiji index add URL``) or as title and text; answered 202 with a job id
at once, the fetch and the build run in the background, one job at a time. ``GET /v1/jobs/{id}``
says where a job stands. Mounted only with an admin token, like ``/v1/admin/reload``.

Jobs live in the memory of the process that accepted them: with ``kiji serve --workers N`` ask the
same worker (or run the one builder with one worker), and a restart forgets them (the articles they
added stay).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import secrets
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, model_validator
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kiji.api.deps import AppState, StateDep
from kiji.api.errors import error_response, error_responses
from kiji.api.security import require_admin
from kiji.errors import InvalidInput, KijiError
from kiji.settings import Settings

_log = logging.getLogger("kiji.api.articles")

#: Jobs kept for GET /v1/jobs/{id}; the oldest finished ones are forgotten past this.
_KEEP = 1000
_MAX_TEXT = 5_000_000


class ArticleRequest(BaseModel):
    url: str | None = Field(None, max_length=2048, description="an http(s) page to fetch")
    title: str | None = Field(None, max_length=500)
    text: str | None = Field(None, max_length=_MAX_TEXT, description="the article's text (with `title`)")
    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _one_kind(self) -> ArticleRequest:
        if (self.url is None) == (self.text is None):
            raise ValueError("send either {\"url\": …} or {\"title\": …, \"text\": …}")
        if self.text is not None and not self.text.strip():
            raise ValueError("'text' is empty")
        return self


class Job(BaseModel):
    id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    input: dict[str, str]
    created_at: str
    finished_at: str | None = None
    added: list[str] = Field(default_factory=list, description="article ids added")
    changed: list[str] = Field(default_factory=list, description="article ids replaced")
    unchanged: list[str] = Field(default_factory=list, description="article ids already as sent")
    index_version: str | None = Field(None, description="the version published by this job")
    error: dict[str, str] | None = Field(None, description="{code, message} when it failed")


class Accepted(BaseModel):
    job: str
    state: Literal["queued"]
    status_url: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Jobs:
    """The job table and the one worker thread that runs them in order."""

    def __init__(self) -> None:
        self.table: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.todo: queue.Queue[tuple[Job, ArticleRequest, AppState, asyncio.AbstractEventLoop]] = queue.Queue()
        self.thread: threading.Thread | None = None

    def submit(self, request: ArticleRequest, state: AppState) -> Job:
        job = Job(id=secrets.token_hex(8), state="queued", created_at=_now(),
                  input={"url": request.url} if request.url else {"title": request.title or ""})
        with self.lock:
            self.table[job.id] = job
            finished = [j.id for j in self.table.values() if j.finished_at]
            for old in finished[: max(0, len(self.table) - _KEEP)]:
                del self.table[old]
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._work, name="kiji-article-jobs", daemon=True)
                self.thread.start()
        self.todo.put((job, request, state, asyncio.get_running_loop()))
        return job

    def _work(self) -> None:
        while True:
            job, request, state, loop = self.todo.get()
            job.state = "running"
            try:
                _run(job, request, state)
                job.state = "succeeded"
            except KijiError as exc:
                job.state, job.error = "failed", {"code": exc.code, "message": str(exc)}
            except OSError as exc:  # the environment: a full disk, a folder without permission
                job.state = "failed"
                job.error = {"code": "system_fault", "message": f"cannot use a file: {exc.strerror or exc}"}
            except Exception:  # a bug: logged, the job says so, the worker lives on
                _log.exception("article job %s failed", job.id)
                job.state = "failed"
                job.error = {"code": "internal_error", "message": "internal error (a bug in kiji)"}
            job.finished_at = _now()
            if job.index_version:  # serve it now rather than at the next poll
                asyncio.run_coroutine_threadsafe(state.watcher.check(force=True), loop)


def _run(job: Job, request: ArticleRequest, state: AppState) -> None:
    from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
    from kiji.corpus.web.fetch import Fetcher
    from kiji.corpus.web.pages import fetch_page
    from kiji.corpus.web.store import plan_pages, plan_records, text_record
    from kiji.runtime import fetch_config, publish_change
    from kiji.settings import checkout_root

    settings = state.settings
    if checkout_root() is None and settings.corpus_dir.resolve() == SHIPPED_CORPUS_DIR.resolve():
        raise InvalidInput("the shipped corpus is part of the installed package; set KIJI_CORPUS_DIR")
    embedder = state.watcher.embedder
    if embedder is None:
        raise InvalidInput("the embedding model is not loaded, so no index can be built here")
    with tempfile.TemporaryDirectory(prefix="kiji-job-") as staging:
        if request.url:
            with Fetcher(fetch_config(settings)) as fetcher:
                page = fetch_page(fetcher, request.url)
            plan = plan_pages(settings.corpus_dir, [page], Path(staging))
        else:
            record = text_record(request.title or "", request.text or "")
            plan = plan_records(settings.corpus_dir, [("text", record)], Path(staging))
        job.added = [aid for _, aid in plan.added]
        job.changed = [aid for _, aid in plan.changed]
        job.unchanged = [aid for _, aid in plan.unchanged]
        if plan.changes:
            job.index_version = publish_change(settings, embedder, plan.plan.apply)


class SharedPathRoute(APIRoute):
    """``/v1/articles`` is also ``GET`` of the v1 router: a method neither serves is answered 405
    with an ``Allow`` naming both (Starlette's 405 names only the first route it tried, this one)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed: set[str] = set()
            for route in scope["app"].router.routes:
                if isinstance(route, Route) and route.path == self.path and route.methods:
                    allowed |= route.methods
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        await super().handle(scope, receive, send)


def build_router(settings: Settings) -> APIRouter:
    jobs = Jobs()
    router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(require_admin)],
                       responses=error_responses(401, 403, 429), route_class=SharedPathRoute)

    @router.post("/articles", status_code=202, response_model=Accepted, responses=error_responses(422),
                 summary="Add an article by URL or as title and text (a background job)")
    async def add_article(body: ArticleRequest, state: StateDep) -> JSONResponse:
        if body.url is not None:
            from kiji.corpus.web.fetch import check_url

            check_url(body.url)  # not http(s), no host: a 422 now rather than a failed job later
        job = jobs.submit(body, state)
        status_url = f"/v1/jobs/{job.id}"
        return JSONResponse(Accepted(job=job.id, state="queued", status_url=status_url).model_dump(),
                            status_code=202, headers={"Location": status_url})

    @router.get("/jobs/{job_id}", response_model=Job, responses=error_responses(404),
                summary="Where an article job stands")
    async def get_job(job_id: str) -> Any:
        with jobs.lock:
            job = jobs.table.get(job_id)
        if job is None:
            return error_response(404, "not_found", "no such job (jobs live in the process that "
                                                    "accepted them, until it restarts)")
        return job

    return router
