"""A serving snapshot: exported model + index (+ pre-ranker), with an ``implicit``-style API by raw ids.

``ServingModel`` is immutable once built; the HTTP service swaps whole snapshots (load new, then swap),
so a request that started on one snapshot finishes on it.

Example:
    >>> model = ServingModel.load("runs/tt/export", "runs/tt/index/hnsw.idx")      # doctest: +SKIP
    >>> top = model.recommend(["u17"], k=10)                                        # doctest: +SKIP
    >>> top.ids[0], top.scores[0]                                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from contrarec.evaluate.topk import TopK
from contrarec.serve.cold_start import ColdStartEncoder, NewUser
from contrarec.serve.exported import ExportedModel
from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.prerank_serve import CachedPreRanker

Stage = Literal["auto", "recall", "prerank"]


class UnknownId(KeyError):
    """A user or item id that is not in the model (``kind`` and ``raw`` name it)."""

    def __init__(self, kind: str, raw: object) -> None:
        super().__init__(f"unknown {kind} {raw!r}: not in the training data")
        self.kind, self.raw = kind, raw

    def __str__(self) -> str:
        return str(self.args[0])


class ServingModel:
    """Recall (and optionally pre-ranking) over one exported model and one index.

    Args:
        exported: the exported embeddings, id maps, seen items and user tower.
        index: a built index over ``exported.item_embeddings`` labelled by internal item ids.
        prerank: an optional pre-ranker over the recall candidates.
        version: a label reported by ``/health`` (defaults to the load time).
    """

    def __init__(self, exported: ExportedModel, index: RetrievalIndex, prerank: CachedPreRanker | None = None,
                 version: str | None = None) -> None:
        if len(index) != len(exported.item_map):
            raise ValueError(f"the index holds {len(index)} items but the export has {len(exported.item_map)}")
        if index.dim != exported.dim:
            raise ValueError(f"the index has dimension {index.dim} but the export has {exported.dim}")
        self.exported = exported
        self.index = index
        self.prerank = prerank
        self.cold = ColdStartEncoder(exported)
        self.version = version or time.strftime("%Y-%m-%dT%H:%M:%S")
        self.item_raw = np.asarray(exported.item_map.raw, dtype=object)

    @classmethod
    def load(cls, export_dir: str | Path, index_path: str | Path | None = None,
             prerank_dir: str | Path | None = None, version: str | None = None,
             user_tower: bool = True) -> "ServingModel":
        """Read an export folder, an index file (default: build the exact index) and a pre-ranker folder.

        ``user_tower=False`` skips the exported tower (unseen users then fall back to their history mean).
        """
        exported = ExportedModel.load(export_dir, user_tower=user_tower)
        if index_path is not None:
            index = RetrievalIndex.load(index_path)
        else:
            metric = "cosine" if exported.normalized else "ip"
            index = RetrievalIndex(IndexConfig(kind="flat", metric=metric)).build(exported.item_embeddings)
        prerank = None
        if prerank_dir is not None:
            from contrarec.serve.prerank import load_prerank

            prerank = CachedPreRanker(load_prerank(prerank_dir), exported.item_embeddings, exported.user_embeddings)
        return cls(exported, index, prerank, version or (Path(index_path).name if index_path else None))

    # --------------------------------------------------------------------------------- steps
    def user_row(self, raw: object) -> int:
        """Internal id of a known user, :class:`UnknownId` otherwise."""
        row = self.exported.user_map.index.get(str(raw))
        if row is None:
            raise UnknownId("user", raw)
        return row

    def item_row(self, raw: object) -> int:
        """Internal id of a catalogue item, :class:`UnknownId` otherwise."""
        row = self.exported.item_map.index.get(str(raw))
        if row is None:
            raise UnknownId("item", raw)
        return row

    def use_prerank(self, stage: Stage) -> bool:
        """Whether ``stage`` runs the pre-ranker (``auto`` = when there is one)."""
        if stage == "prerank" and self.prerank is None:
            raise ValueError("stage=prerank asked, but this service has no pre-ranker")
        return self.prerank is not None and stage != "recall"

    def fetch_size(self, k: int, stage: Stage) -> int:
        """How many recall candidates a request for k items needs."""
        return max(k, self.prerank.candidates) if self.use_prerank(stage) else k

    def search(self, queries: np.ndarray, fetch: int, exclude: Sequence[np.ndarray] | None) -> TopK:
        """Recall: ``TopK [Q, fetch]`` of internal item ids."""
        return self.index.search(queries, fetch, exclude=exclude)

    def finish(self, user_rows: np.ndarray, queries: np.ndarray, recalled: TopK, k: int, stage: Stage,
               new_users: Sequence[NewUser] | None = None) -> TopK:
        """Pre-rank the recalled candidates (when the stage asks for it), then keep k.

        ``new_users`` gives unseen users' features (rows -1) to the pre-ranker.
        """
        if self.use_prerank(stage):
            overrides = self.cold.overrides(new_users) if new_users else None
            return self.prerank.rerank(user_rows, queries, recalled.ids, k, overrides)
        return TopK(recalled.scores[:, :k], recalled.ids[:, :k])

    def raw_items(self, ids: np.ndarray) -> np.ndarray:
        """Raw item ids of internal ids (padding -1 -> None)."""
        return np.where(ids >= 0, self.item_raw[np.maximum(ids, 0)], None)

    # --------------------------------------------------------------------------------- implicit-style API
    def recommend(self, user_ids: Sequence[object], k: int = 20, filter_seen: bool = True,
                  stage: Stage = "auto") -> TopK:
        """Top-k raw item ids and scores for known users (seen items excluded unless ``filter_seen=False``)."""
        rows = np.array([self.user_row(u) for u in user_ids], dtype=np.int64)
        queries = self.exported.user_embeddings[rows]  # [Q, D]
        exclude = [self.exported.seen_items(r) for r in rows] if filter_seen else None
        recalled = self.search(queries, self.fetch_size(k, stage), exclude)
        top = self.finish(rows, queries, recalled, k, stage)
        return TopK(top.scores, self.raw_items(top.ids))

    def recommend_new(self, users: Sequence[NewUser], k: int = 20, stage: Stage = "auto") -> TopK:
        """Top-k for users the model has never seen, from their features and recent history (excluded)."""
        queries = self.cold.encode(users)  # [Q, D]
        exclude = [self.cold.history_rows(u.history) for u in users]
        recalled = self.search(queries, self.fetch_size(k, stage), exclude)
        top = self.finish(np.full(len(users), -1, dtype=np.int64), queries, recalled, k, stage, users)
        return TopK(top.scores, self.raw_items(top.ids))

    def similar_items(self, item_ids: Sequence[object], k: int = 20) -> TopK:
        """The k items nearest each item by the index's metric (the item itself excluded)."""
        rows = np.array([self.item_row(i) for i in item_ids], dtype=np.int64)
        top = self.search(self.exported.item_embeddings[rows], k, [np.array([r]) for r in rows])
        return TopK(top.scores, self.raw_items(top.ids))
