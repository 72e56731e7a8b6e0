"""The Python API in a few lines: load -> split -> fit -> evaluate -> recommend.

Example:
    >>> from contrarec.api import fit                                     # doctest: +SKIP
    >>> run = fit("two-tower", data="synthetic", out="runs/tt", epochs=5)  # doctest: +SKIP
    >>> run.final["test"]["recall@20"]                                    # doctest: +SKIP
    >>> rec = Recommender(run); rec.recommend("u17", k=10)                # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from contrarec.config import RunConfig, load_config
from contrarec.data.interactions import Split
from contrarec.train.run import TrainedRun, load_run, train_run


def fit(recipe: str = "two-tower", data: str = "synthetic", out: str | Path = "runs/latest",
        split: Split | None = None, overrides: dict | None = None, epochs: int | None = None,
        resume: bool = False, verbose: bool = True) -> TrainedRun:
    """Train a recipe; ``overrides`` maps ``"section.key"`` to values (e.g. ``{"model.temperature": 0.1}``)."""
    sets = [f"recipe={recipe}", f"data.source={data}"]
    sets += [f"{k}={v}" for k, v in (overrides or {}).items()]
    if epochs is not None:
        sets.append(f"train.epochs={epochs}")
    config: RunConfig = load_config(None, sets)
    return train_run(config, out, split=split, resume=resume, log=print if verbose else (lambda m: None))


class Recommender:
    """Top-k recommendations from a trained run, by raw ids (interface after ``implicit``)."""

    def __init__(self, run: TrainedRun) -> None:
        self.run = run
        with torch.no_grad():
            self.user_emb = run.model.user_embeddings()  # [U, D]
            self.item_emb = run.model.item_embeddings()  # [N, D]
        self.seen = run.known_csr
        self.user_map = run.split.train.user_map
        self.item_map = run.split.train.item_map

    @classmethod
    def load(cls, run_dir: str | Path) -> "Recommender":
        """Reload a run directory."""
        return cls(load_run(run_dir))

    def _scores(self, rows: torch.Tensor) -> torch.Tensor:
        return self.run.model.score_users(rows, self.user_emb, self.item_emb)  # [b, N]

    def recommend(self, user: str | int, k: int = 20, filter_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k raw item ids and scores for one known user (``KeyError`` naming an unknown user)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        try:
            row = self.user_map.to_internal(user)
        except KeyError:
            raise KeyError(f"unknown user {user!r}: not in the training data") from None
        scores = self._scores(torch.tensor([row]))[0].clone()  # [N]
        if filter_seen:
            seen = self.seen.indices[self.seen.indptr[row]:self.seen.indptr[row + 1]]
            scores[torch.from_numpy(seen.astype(np.int64))] = float("-inf")
        k = min(k, int(torch.isfinite(scores).sum()))
        top = torch.topk(scores, k)
        return self.item_map.to_raw(top.indices.numpy()), top.values.numpy()

    def similar_items(self, item: str | int, k: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """The k items nearest to one item by inner product of item embeddings (itself excluded)."""
        try:
            row = self.item_map.to_internal(item)
        except KeyError:
            raise KeyError(f"unknown item {item!r}: not in the training data") from None
        scores = self.item_emb @ self.item_emb[row]  # [N, D] @ [D] -> [N]
        scores[row] = float("-inf")
        top = torch.topk(scores, min(k, len(scores) - 1))
        return self.item_map.to_raw(top.indices.numpy()), top.values.numpy()
