"""The request cores shared by the FastAPI routes and the fast lane: validated values in, JSON bytes out."""

from __future__ import annotations

import numpy as np

from contrarec.evaluate.topk import TopK
from contrarec.serve.batching import MicroBatcher
from contrarec.serve.recommender import ServingModel
from contrarec.serve.swap import ModelHolder

try:
    import orjson

    def dumps(payload: object) -> bytes:
        """JSON bytes (orjson)."""
        return orjson.dumps(payload)
except ImportError:  # pragma: no cover - orjson is a dependency; plain json is the fallback
    import json

    def dumps(payload: object) -> bytes:
        """JSON bytes (json)."""
        return json.dumps(payload).encode()


def payload(model: ServingModel, top: TopK, stage: str, **ids: str) -> bytes:
    """The JSON of one row of internal-id results: padding dropped, ids made raw."""
    keep = top.ids[0] >= 0
    stage_used = "prerank" if model.use_prerank(stage) else "recall"  # type: ignore[arg-type]
    return dumps({**ids, "stage": stage_used, "version": model.version,
                  "items": model.item_raw[top.ids[0][keep]].tolist(),
                  "scores": top.scores[0][keep].astype(float).tolist()})


async def recommend_known(holder: ModelHolder, batcher: MicroBatcher, user_id: str, k: int, filter_seen: bool,
                          stage: str) -> bytes:
    """``GET /recommend``: raises ``UnknownId`` (404) or ``ValueError`` (422, e.g. no pre-ranker)."""
    model = holder.current
    row = model.user_row(user_id)
    query = model.exported.user_embeddings[row]  # [D]
    seen = model.exported.seen_items(row) if filter_seen else None
    recalled = await batcher.search(model, query, model.fetch_size(k, stage), seen)  # type: ignore[arg-type]
    top = model.finish(np.array([row]), query[None], recalled, k, stage)  # type: ignore[arg-type]
    return payload(model, top, stage, user_id=user_id)


async def similar_items(holder: ModelHolder, batcher: MicroBatcher, item_id: str, k: int) -> bytes:
    """``GET /similar-items``: raises ``UnknownId`` (404)."""
    model = holder.current
    row = model.item_row(item_id)
    top = await batcher.search(model, model.exported.item_embeddings[row], k, np.array([row]))
    return payload(model, top, "recall", item_id=item_id)
