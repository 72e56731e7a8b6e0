"""A pure-ASGI middleware in front of the service: body size limit (413) and per-request metrics."""

from __future__ import annotations

import json
import time

from contrarec.serve.metrics import RequestMetrics

BODY_METHODS = {"POST", "PUT", "PATCH"}


async def _send_json(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Refuses bodies over ``max_body_bytes`` with 413 and records every request in ``metrics``.

    Bodies of POST/PUT/PATCH requests are read (up to the limit) before the application sees them, so a
    client that streams without a Content-Length header is held to the same limit.

    Args:
        app: the ASGI application.
        metrics: where to record (route, method, status, latency).
        routes: paths recorded under their own name; any other path is recorded as ``"other"``.
        max_body_bytes: the largest accepted body.
    """

    def __init__(self, app, metrics: RequestMetrics, routes: set[str], max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_recording(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if scope["method"] in BODY_METHODS:
                receive = await self._buffered(scope, receive)
                if receive is None:
                    status[0] = 413
                    await _send_json(send, 413, {"error": f"request body larger than {self.max_body_bytes} bytes"})
                    return
            await self.app(scope, receive, send_recording)
        finally:
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.observe(route, scope["method"], status[0], time.perf_counter() - began)

    async def _buffered(self, scope, receive):
        """A ``receive`` replaying the whole body, or None when the body is too large."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), [False]

        async def replay():
            if not replayed[0]:
                replayed[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay
