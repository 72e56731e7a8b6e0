"""Contrastive training of the pre-ranker on the recall stage's own candidates.

For each held-out positive pair (user b, item p_b) the listwise softmax runs over
``[in-batch positives (B) | H hard negatives drawn from user b's recall top-N]`` with the positive on the
diagonal, logQ-corrected for both samplers and with the user's other positives masked. Train it on pairs the
recall model did not see (the validation part): recall scores of training pairs are inflated by memorisation,
so pairs held out from recall training are what the pre-ranker meets when serving.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from contrarec.data.features import FeatureTable
from contrarec.data.interactions import Interactions
from contrarec.objectives.listwise import ListwiseSoftmaxLoss
from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.prerank import PreRankConfig, PreRankModel, build_prerank


def recall_candidates(index: RetrievalIndex, user_emb: np.ndarray, users: np.ndarray, exclude: sp.csr_matrix,
                      n: int, chunk: int = 4096) -> np.ndarray:
    """``[P, n]`` the recall stage's top-n item ids for ``users [P]``, excluding ``exclude`` rows (-1 padded)."""
    out = []
    for start in range(0, len(users), chunk):
        rows = users[start:start + chunk]
        out.append(index.search(user_emb[rows], n, exclude=exclude[rows]).ids)
    return np.concatenate(out) if out else np.zeros((0, n), dtype=np.int64)


def _hard_negatives(cands: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``[B, H]`` columns drawn without replacement from each row's valid candidates (-1 = none left)."""
    keys = rng.random(cands.shape)
    keys[cands < 0] = 2.0  # padding sorts last
    pick = np.argsort(keys, axis=1)[:, :count]
    return np.take_along_axis(cands, pick, axis=1)


def _batch_tensors(users: np.ndarray, items: np.ndarray, cands: np.ndarray, target: sp.csr_matrix,
                   log_p: np.ndarray, config: PreRankConfig, rng: np.random.Generator):
    """Columns ``[B, C]``, logQ ``[B, C]`` and mask ``[B, C]`` of one batch (positive of row b = column b)."""
    b = len(users)
    columns = []
    log_q = []
    if config.in_batch:
        columns.append(np.broadcast_to(items, (b, b)))
        log_q.append(np.broadcast_to(np.log(b) + log_p[items], (b, b)))
    else:
        columns.append(items[:, None])
        log_q.append(np.zeros((b, 1)))
    if config.hard_negatives:
        hard = _hard_negatives(cands, config.hard_negatives, rng)  # [B, H]
        per_draw = config.hard_negatives / max(1, cands.shape[1])
        columns.append(hard)
        log_q.append(np.log(b * np.exp(log_p[np.maximum(hard, 0)]) + per_draw))
    cols = np.concatenate(columns, axis=1)  # [B, C]
    mask = (cols < 0) | (np.asarray(target[np.repeat(users, cols.shape[1]), np.maximum(cols, 0).reshape(-1)])
                         .reshape(cols.shape) > 0)
    positive = np.arange(b) if config.in_batch else np.zeros(b, dtype=np.int64)
    lq = np.concatenate(log_q, axis=1) if config.log_q else None
    return cols, lq, mask, positive


def train_prerank(user_emb: np.ndarray, item_emb: np.ndarray, positives: Interactions, exclude: sp.csr_matrix,
                  item_popularity: np.ndarray, config: PreRankConfig, user_features: FeatureTable | None = None,
                  item_features: FeatureTable | None = None, index: RetrievalIndex | None = None,
                  log: Callable[[str], None] = print) -> PreRankModel:
    """Train a pre-ranker on ``positives`` with the recall stage's candidates as hard negatives.

    Args:
        user_emb: ``[U, D]`` frozen recall user embeddings.
        item_emb: ``[N, D]`` frozen recall item embeddings.
        positives: the pairs to learn (held out from recall training, e.g. the validation split).
        exclude: ``[U, N]`` items never recalled for each user (its training items).
        item_popularity: ``[N]`` training counts (popularity feature and logQ).
        config: model and training settings.
        user_features: user feature table, or None.
        item_features: item feature table, or None.
        index: the recall index giving candidates (default: exact search over ``item_emb``).
        log: one-line progress messages.
    """
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.max_pairs is not None and len(positives) > config.max_pairs:
        positives = positives.subset(np.sort(rng.choice(len(positives), config.max_pairs, replace=False)))
    index = index or RetrievalIndex(IndexConfig(kind="flat", metric="ip")).build(item_emb)
    users_with = np.unique(positives.users)
    cand = np.full((positives.num_users, config.candidates), -1, dtype=np.int64)
    cand[users_with] = recall_candidates(index, user_emb, users_with, sp.csr_matrix(exclude), config.candidates)
    target = positives.to_csr()
    pop = np.asarray(item_popularity, dtype=np.float64)
    log_p = np.log(np.maximum(pop, 1.0) / max(1.0, pop.sum()))
    model = build_prerank(item_emb.shape[1], pop, user_features, item_features, config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = ListwiseSoftmaxLoss()
    u_all, i_all = torch.from_numpy(np.asarray(user_emb, np.float32)), torch.from_numpy(np.asarray(item_emb, np.float32))
    steps = math.ceil(len(positives) / config.batch_size)
    for epoch in range(config.epochs):
        model.train()
        began, total = time.perf_counter(), 0.0
        order = rng.permutation(len(positives))
        for step in range(steps):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            if len(idx) < 2:
                continue
            users, items = positives.users[idx], positives.items[idx]
            cols, lq, mask, positive = _batch_tensors(users, items, cand[users], target, log_p, config, rng)
            rows_t, cols_t = torch.from_numpy(users), torch.from_numpy(np.maximum(cols, 0))
            scores = model(rows_t, u_all[rows_t], cols_t, i_all[cols_t])  # [B, C]
            loss = loss_fn(scores, temperature=config.temperature,
                           log_q=None if lq is None else torch.from_numpy(lq).float(),
                           mask=torch.from_numpy(mask), positive_columns=torch.from_numpy(positive))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        log(f"prerank epoch {epoch}: loss {total / max(1, steps):.4f} ({time.perf_counter() - began:.1f}s)")
    return model.eval()
