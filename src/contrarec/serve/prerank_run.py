"""Train, store and measure a pre-ranker for one trained run (what ``contrarec prerank`` does)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from contrarec.io import atomic_write_json
from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.prerank import PreRankConfig, save_prerank
from contrarec.serve.prerank_serve import CachedPreRanker
from contrarec.serve.prerank_train import train_prerank
from contrarec.serve.two_stage import compare_two_stage


def prerank_for_run(run, config: PreRankConfig, out_dir: str | Path, log: Callable[[str], None] = print,
                    k: int = 20) -> dict:
    """Train on the run's validation pairs, save into ``out_dir``, compare with recall-only on test.

    Args:
        run: a trained run (``model``, ``split`` with a validation part, ``known_csr``).
        config: the pre-ranker settings.
        out_dir: where ``prerank.json``, ``prerank.pt``, ``prerank_features.npz`` and ``report.json`` go.
        log: progress messages.
        k: cut-off of the comparison.

    Returns:
        The comparison (see :func:`~contrarec.serve.two_stage.compare_two_stage`) plus training seconds.
    """
    split = run.split
    if split.valid is None or not len(split.valid):
        raise ValueError("the pre-ranker trains on pairs held out from recall training: this run has no "
                         "validation split (train with data.valid_ratio > 0)")
    with torch.no_grad():
        user_emb = run.model.user_embeddings().numpy()
        item_emb = run.model.item_embeddings().numpy()
    metric = "cosine" if getattr(run.model, "normalized", False) else "ip"
    index = RetrievalIndex(IndexConfig(kind="flat", metric=metric)).build(item_emb)
    began = time.perf_counter()
    model = train_prerank(user_emb, item_emb, split.valid, split.train.to_csr(), split.train.item_popularity(),
                          config, split.train.user_features, split.train.item_features, index=index, log=log)
    train_s = time.perf_counter() - began
    save_prerank(model, out_dir, dim=item_emb.shape[1])
    report = compare_two_stage(user_emb, index, CachedPreRanker(model, item_emb, user_emb), run.known_csr,
                               split.test.to_csr(), k=k)
    report["train_s"] = round(train_s, 2)
    atomic_write_json(Path(out_dir) / "report.json", report)
    return report
