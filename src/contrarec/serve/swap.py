"""Hot swap of the serving snapshot: load the new one fully, then replace one reference.

A request reads ``holder.current`` once and keeps that snapshot to the end, so swapping never drops or
mixes requests; the old snapshot is freed when its last request finishes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Callable

from contrarec.serve.recommender import ServingModel

Loader = Callable[..., ServingModel]


class ModelHolder:
    """The current :class:`ServingModel` and how to load another.

    Args:
        model: the snapshot to serve first.
        loader: ``loader(export_dir, index_path, prerank_dir) -> ServingModel``.
        paths: the files ``model`` came from (``export``, ``index``, ``prerank``).
    """

    def __init__(self, model: ServingModel, loader: Loader | None = None, paths: dict | None = None) -> None:
        self.current = model
        self.loader = loader or ServingModel.load
        self.paths = dict(paths or {})
        self.swaps = 0
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_paths(cls, export: str, index: str | None = None, prerank: str | None = None,
                   loader: Loader = ServingModel.load) -> "ModelHolder":
        """Load the first snapshot from files."""
        paths = {"export": export, "index": index, "prerank": prerank}
        return cls(loader(export, index, prerank), loader, paths)

    def swap(self, model: ServingModel) -> ServingModel:
        """Serve ``model`` from now on; returns the previous snapshot."""
        old, self.current = self.current, model
        self.swaps += 1
        return old

    def load(self, **changes: str | None) -> ServingModel:
        """Load a snapshot from the current paths with ``changes`` applied (None keeps a path)."""
        paths = {**self.paths, **{k: v for k, v in changes.items() if v is not None}}
        if not paths.get("export"):
            raise ValueError("reload needs an export folder; this service was started from memory")
        try:
            model = self.loader(paths["export"], paths.get("index"), paths.get("prerank"))
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"reload failed, still serving {self.current.version}: {exc}") from None
        self.paths = paths
        return model

    def reload_now(self, **changes: str | None) -> ServingModel:
        """Load, then swap (synchronously)."""
        return self.swap(self.load(**changes))

    async def reload(self, **changes: str | None) -> None:
        """Load in a worker thread (requests keep flowing), then swap; one reload at a time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            model = await asyncio.get_running_loop().run_in_executor(None, lambda: self.load(**changes))
            self.swap(model)

    def _index_stamp(self) -> tuple | None:
        index = self.paths.get("index")
        if not index:
            return None
        try:
            st = os.stat(index)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    async def watch(self, seconds: float) -> None:
        """Reload whenever the index file is replaced (e.g. by ``contrarec index build``); checks every ``seconds``."""
        stamp = self._index_stamp()
        while True:
            await asyncio.sleep(seconds)
            now = self._index_stamp()
            if now is not None and now != stamp:
                try:
                    await self.reload()
                    stamp = now
                except ValueError:
                    pass  # keep serving the old snapshot; try again at the next change

    def describe(self) -> dict:
        """What ``/health`` reports."""
        m = self.current
        return {"status": "ok", "version": m.version, "model": m.exported.manifest.get("model"),
                "users": len(m.exported.user_map), "items": len(m.exported.item_map), "dim": m.exported.dim,
                "index": m.index.config.kind, "exact": m.index.is_exact, "prerank": m.prerank is not None,
                "swaps": self.swaps, "index_path": str(Path(self.paths["index"])) if self.paths.get("index") else None}
