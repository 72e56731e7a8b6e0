"""The HTTP recall + pre-ranking service (FastAPI).

Routes: ``GET /recommend`` (known users), ``POST /recommend`` (unseen users: features and/or history),
``GET /similar-items``, ``GET /health``, ``GET /metrics`` (Prometheus text), ``POST /admin/reload`` (hot
swap), and the OpenAPI schema at ``/openapi.json`` (docs at ``/docs``).

Errors are JSON ``{"error": "..."}``: unknown user / item -> 404 naming it, bad parameters or body -> 422
saying what is allowed, body over the limit -> 413. Index searches of concurrent requests are micro-batched.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable, Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from contrarec.serve import handlers
from contrarec.serve.batching import MicroBatcher
from contrarec.serve.cold_start import BadFeature, NewUser, UnknownItem
from contrarec.serve.fast_lane import FastLane
from contrarec.serve.http_guard import GuardMiddleware
from contrarec.serve.metrics import RequestMetrics
from contrarec.serve.recommender import ServingModel, UnknownId
from contrarec.serve.swap import ModelHolder

K_MAX = 1000
Stage = Literal["auto", "recall", "prerank"]
FeatureValue = str | int | float | bool | list[str | int | float] | None


class Recommendation(BaseModel):
    """Items best first, with their scores."""

    items: list[str]
    scores: list[float]
    stage: str
    version: str
    user_id: str | None = None
    item_id: str | None = None


class Error(BaseModel):
    """An error message, naming the bad value."""

    error: str


class NewUserRequest(BaseModel):
    """An unseen user: feature values and/or recently interacted item ids (those are not recommended)."""

    model_config = ConfigDict(extra="forbid")
    features: dict[str, FeatureValue] = Field(default_factory=dict, description="feature name -> raw value")
    history: list[str | int] = Field(default_factory=list, max_length=K_MAX, description="recent raw item ids")
    k: int = Field(20, ge=1, le=K_MAX, description=f"items to return, 1..{K_MAX}")
    stage: Stage = "auto"


class ReloadRequest(BaseModel):
    """What to load instead of the current files (omitted fields keep the current ones)."""

    model_config = ConfigDict(extra="forbid")
    index: str | None = Field(None, description="index file")
    export: str | None = Field(None, description="export folder")
    prerank: str | None = Field(None, description="pre-ranker folder")


def _json(payload: object, status: int = 200) -> Response:
    return Response(handlers.dumps(payload), status_code=status, media_type="application/json")


def _bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for e in errors:
        field = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "body"))
        if field.endswith("k") and e.get("type", "").startswith(("greater_than", "less_than")):
            parts.append(f"k must be in [1, {K_MAX}] (got {e.get('input')!r})")
        else:
            parts.append(f"{field or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(holder: ModelHolder, *, max_batch: int = 64, max_body_bytes: int = 64 * 1024,
               watch_seconds: float = 0.0) -> FastAPI:
    """The service over the snapshot ``holder`` serves (and swaps).

    Args:
        holder: holds the current :class:`ServingModel` and knows how to load a new one.
        max_batch: most queries per index search.
        max_body_bytes: larger request bodies get 413.
        watch_seconds: poll the index file this often and hot-swap when it changes (0 = off).
    """
    batcher = MicroBatcher(max_batch=max_batch)
    metrics = RequestMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        batcher.start()
        watcher = asyncio.get_running_loop().create_task(holder.watch(watch_seconds)) if watch_seconds else None
        yield
        if watcher is not None:
            watcher.cancel()
        await batcher.stop()

    app = FastAPI(title="contrarec", version="1", lifespan=lifespan,
                  description="Contrastive recall + pre-ranking service: top-k items for users and items.")
    app.state.holder, app.state.batcher, app.state.metrics = holder, batcher, metrics
    errors = {404: {"model": Error}, 422: {"model": Error}}

    @app.exception_handler(UnknownId)
    @app.exception_handler(UnknownItem)
    async def not_found(_: Request, exc: KeyError) -> Response:
        return _json({"error": str(exc.args[0]) if exc.args else str(exc)}, 404)

    @app.exception_handler(BadFeature)
    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> Response:
        return _json({"error": str(exc)}, 422)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        errs = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": str(e.get("type"))}
                for e in exc.errors()]
        return _json({"error": _validation_message(exc.errors()), "detail": errs}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. bytes that are not UTF-8)
            return _json({"error": f"malformed JSON body: {exc.detail}"}, 422)
        return _json({"error": str(exc.detail)}, exc.status_code)

    @app.get("/recommend", response_model=Recommendation, responses=errors)
    async def recommend(user_id: str = Query(..., max_length=256, description="a known user's raw id"),
                        k: int = Query(20, ge=1, le=K_MAX, description=f"items to return, 1..{K_MAX}"),
                        filter_seen: bool = Query(True, description="exclude items the user has seen"),
                        stage: Stage = "auto") -> Response:
        """Top-k items for a known user (seen items excluded by default)."""
        return _bytes(await handlers.recommend_known(holder, batcher, user_id, k, filter_seen, stage))

    @app.post("/recommend", response_model=Recommendation, responses=errors)
    async def recommend_new(body: NewUserRequest) -> Response:
        """Top-k items for an unseen user, through the user tower (history items are excluded)."""
        model = holder.current
        user = NewUser(features=dict(body.features), history=[str(h) for h in body.history])
        query = model.cold.encode([user])[0]  # [D]
        exclude = model.cold.history_rows(user.history)
        recalled = await batcher.search(model, query, model.fetch_size(body.k, body.stage), exclude)
        top = model.finish(np.array([-1]), query[None], recalled, body.k, body.stage, [user])
        return _bytes(handlers.payload(model, top, body.stage))

    @app.get("/similar-items", response_model=Recommendation, responses=errors)
    async def similar_items(item_id: str = Query(..., max_length=256, description="a catalogue item's raw id"),
                            k: int = Query(20, ge=1, le=K_MAX, description=f"items to return, 1..{K_MAX}")
                            ) -> Response:
        """The k items nearest an item (the item itself excluded)."""
        return _bytes(await handlers.similar_items(holder, batcher, item_id, k))

    @app.get("/health")
    async def health() -> Response:
        """Liveness and what is loaded."""
        return _json(holder.describe())

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Request counts and latency percentiles (Prometheus text format)."""
        gauges = {"contrarec_search_batch_mean": batcher.mean_batch, "contrarec_model_swaps_total": holder.swaps}
        return Response(metrics.render(gauges), media_type="text/plain; version=0.0.4")

    @app.post("/admin/reload", responses=errors)
    async def reload(body: ReloadRequest | None = None) -> Response:
        """Load new files, then swap them in atomically (requests in flight finish on the old snapshot)."""
        body = body or ReloadRequest()
        await holder.reload(index=body.index, export=body.export, prerank=body.prerank)
        return _json({"status": "reloaded", **holder.describe()})

    routes = {r.path for r in app.routes if hasattr(r, "path")}
    app.add_middleware(FastLane, holder=holder, batcher=batcher)
    app.add_middleware(GuardMiddleware, metrics=metrics, routes=routes, max_body_bytes=max_body_bytes)
    return app


def app_from_paths(export: str, index: str | None = None, prerank: str | None = None,
                   loader: Callable[..., ServingModel] = ServingModel.load, **options) -> FastAPI:
    """Load the files and build the app (what ``contrarec serve`` runs)."""
    return create_app(ModelHolder.from_paths(export=export, index=index, prerank=prerank, loader=loader), **options)
