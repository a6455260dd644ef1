"""``POST /v1/admin/reload``: serve the index version CURRENT names now. Mounted only when an
admin token is configured (``KIJI_ADMIN_TOKEN``), so without one it answers 404 like any unknown path."""

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kiji.api.deps import StateDep
from kiji.api.errors import error_response, error_responses
from kiji.api.security import require_admin
from kiji.errors import IndexMissing
from kiji.settings import Settings


class ReloadResponse(BaseModel):
    outcome: Literal["reloaded", "unchanged"]
    version: str = Field(description="the index version served now")
    previous: str | None = Field(None, description="the version served before, when it changed")



router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                         responses=error_responses(401, 403, 429))


@router.post("/reload", response_model=ReloadResponse, responses=error_responses(409, 503),
                   summary="Serve the version CURRENT names now, if it is new and loads")
async def reload(state: StateDep) -> ReloadResponse | JSONResponse:
    result = await state.watcher.check(force=True)
    if result.outcome in ("reloaded", "unchanged"):
        assert result.version is not None
        return ReloadResponse(outcome=result.outcome, version=result.version,
                              previous=result.previous)
    error = result.error or IndexMissing("no index is loaded")
    if result.outcome == "rejected":
        serving = result.version or "nothing"
        rejected = f"index version {result.candidate}" if result.candidate else "CURRENT"
        return error_response(409, error.code, f"{rejected} was rejected and "
                                               f"{serving} is still served: {error}")
    return error_response(503, error.code, str(error))


def build_router(settings: Settings) -> APIRouter:
    return router
