"""Recall-only vs recall → pre-rank, end to end: ranking metrics on the test split and latency per request."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from contrarec.evaluate.metrics import hit_matrix, ranking_metrics
from contrarec.serve.index import RetrievalIndex
from contrarec.serve.prerank_serve import CachedPreRanker
from contrarec.serve.prerank_train import recall_candidates


def _metrics(ids: np.ndarray, users: np.ndarray, target: sp.csr_matrix, k: int) -> dict[str, float]:
    rel = target[users]
    hits = hit_matrix(ids[:, :k], rel, valid=ids[:, :k] >= 0)
    out = ranking_metrics(hits, np.diff(rel.indptr), [k])
    return {m: out[f"{m}@{k}"] for m in ("recall", "ndcg", "hit")}


def _latency(fn, users: np.ndarray) -> dict[str, float]:
    """Per-request latency with BLAS on one thread, as in a service worker (small matmuls lose on more)."""
    from threadpoolctl import threadpool_limits

    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        for u in users:
            began = time.perf_counter()
            fn(np.array([u]))
            times.append(time.perf_counter() - began)
    ms = np.asarray(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def compare_two_stage(user_emb: np.ndarray, index: RetrievalIndex, prerank: CachedPreRanker, exclude: sp.csr_matrix,
                      target: sp.csr_matrix, k: int = 20, latency_users: int = 300, seed: int = 0,
                      candidates: int | None = None) -> dict:
    """Metrics@k of recall-only and recall → pre-rank for every user with test items, and latency per request.

    Args:
        user_emb: ``[U, D]`` query embeddings of known users.
        index: the recall index (internal item ids).
        prerank: the pre-ranker; it rescores its configured number of recall candidates.
        exclude: ``[U, N]`` items never recommended (train + valid).
        target: ``[U, N]`` test items.
        k: the cut-off.
        latency_users: requests timed one by one (one user per request, as a service sees them).
        seed: which users are timed.
        candidates: recall candidates rescored per user (default: the pre-ranker's training N).

    Returns:
        ``{"recall_only": {...}, "two_stage": {...}, "candidates": N, "users": #, "candidate_recall": ...}``
        with recall / ndcg / hit @k and p50 / p99 / mean ms per request in each stage.
    """
    users = np.flatnonzero(np.diff(target.indptr) > 0)
    n = max(k, candidates or prerank.candidates)
    cands = recall_candidates(index, user_emb, users, exclude, n)  # [P, n]
    reranked = np.concatenate([prerank.rerank(users[s:s + 2048], user_emb[users[s:s + 2048]], cands[s:s + 2048], k).ids
                               for s in range(0, len(users), 2048)])
    timed = np.random.default_rng(seed).choice(users, size=min(latency_users, len(users)), replace=False)

    seen = [exclude.indices[exclude.indptr[u]:exclude.indptr[u + 1]] for u in range(exclude.shape[0])]

    def recall_only(u: np.ndarray):  # seen items precomputed per user, as the service holds them
        return index.search(user_emb[u], k, exclude=[seen[u[0]]])

    def two_stage(u: np.ndarray):
        recalled = index.search(user_emb[u], n, exclude=[seen[u[0]]])
        return prerank.rerank(u, user_emb[u], recalled.ids, k)

    for fn in (recall_only, two_stage):  # warm up
        fn(timed[:1])
    return {
        "users": int(len(users)), "candidates": n, "k": k,
        "candidate_recall": _metrics(cands, users, target, n)["recall"],
        "recall_only": {**_metrics(cands[:, :k], users, target, k), **_latency(recall_only, timed)},
        "two_stage": {**_metrics(reranked, users, target, k), **_latency(two_stage, timed)},
    }
