"""A fast lane for the hot routes: plainly valid ``GET /recommend`` and ``GET /similar-items`` skip FastAPI.

FastAPI's per-request dependency and validation machinery costs more CPU than the index search itself at
this scale. This ASGI layer answers a GET on a hot route when its query string is unambiguous (known
parameter names, each once, canonical values: ``k`` in decimal digits within range, ``filter_seen`` one of
true/false/1/0, a known ``stage``, a known id) through the same request cores as the routes
(:mod:`contrarec.serve.handlers`). Anything else (an unknown id, a bad or odd value, another route) goes
to FastAPI, which validates it and gives the documented answer (404 / 422), so the behaviour is the
routes' in every case; only the cost differs.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from contrarec.serve import handlers
from contrarec.serve.batching import MicroBatcher
from contrarec.serve.swap import ModelHolder

K_MAX = 1000
_HEADERS = [(b"content-type", b"application/json")]
_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_STAGES = {"auto", "recall", "prerank"}


def _query(scope) -> dict[str, str] | None:
    """Parameters of a plain query string (each once, UTF-8), else None."""
    try:
        pairs = parse_qsl(scope["query_string"].decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return None
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def _k(text: str | None) -> int | None:
    if text is None:
        return 20
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        return None
    k = int(text)
    return k if 1 <= k <= K_MAX else None


class FastLane:
    """ASGI middleware answering the plainly valid requests of the hot routes (see the module doc).

    Args:
        app: the FastAPI application (everything else goes there).
        holder: the current model snapshot.
        batcher: the shared micro-batcher.
    """

    def __init__(self, app, holder: ModelHolder, batcher: MicroBatcher) -> None:
        self.app = app
        self.holder = holder
        self.batcher = batcher

    async def __call__(self, scope, receive, send) -> None:
        body = None
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in ("/recommend", "/similar-items"):
            body = await self._answer(scope)
        if body is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope) -> bytes | None:
        params = _query(scope)
        if params is None:
            return None
        model = self.holder.current
        if scope["path"] == "/recommend":
            user_id, k = params.pop("user_id", None), _k(params.pop("k", None))
            filter_seen = _BOOLS.get(params.pop("filter_seen", "true"))
            stage = params.pop("stage", "auto")
            if (params or user_id is None or len(user_id) > 256 or k is None or filter_seen is None
                    or stage not in _STAGES or (stage == "prerank" and model.prerank is None)
                    or user_id not in model.exported.user_map.index):
                return None
            return await handlers.recommend_known(self.holder, self.batcher, user_id, k, filter_seen, stage)
        item_id, k = params.pop("item_id", None), _k(params.pop("k", None))
        if params or item_id is None or len(item_id) > 256 or k is None or item_id not in model.exported.item_map.index:
            return None
        return await handlers.similar_items(self.holder, self.batcher, item_id, k)
