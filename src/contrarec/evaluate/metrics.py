"""Top-k ranking metrics as pure, vectorised functions of one hit matrix.

Every metric reads ``hits [U, K]`` (``hits[u, r]`` is True when the item ranked ``r`` for user ``u``
is one of that user's test items) and, where it needs it, ``num_relevant [U]`` (the number of test
items of each user, all > 0). Metrics at a smaller ``k`` use the first ``k`` columns, so one top-k
for the largest K serves every cut-off. Per-user functions return ``[U]`` float64 arrays;
:func:`ranking_metrics` returns their means as ``dict[str, float]``.

Relevance is binary and the discount is ``log2(rank + 1)`` with ranks from 1, as in the LightGCN
evaluation protocol (He et al., SIGIR 2020, https://arxiv.org/abs/2002.02126).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp


def hit_matrix(ids: np.ndarray, relevant: sp.csr_matrix, valid: np.ndarray | None = None) -> np.ndarray:
    """Mark which recommended items are relevant.

    Args:
        ids: ``[U, K]`` recommended item ids per user, best first.
        relevant: ``[U, N]`` CSR matrix; row ``u`` holds user ``u``'s test items (values ignored).
        valid: optional ``[U, K]`` bool; False slots never count as hits (e.g. masked ``-inf`` scores
            returned because a user has fewer than K candidate items).

    Returns:
        ``[U, K]`` bool hit matrix.

    Example:
        >>> rel = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0]]))
        >>> hit_matrix(np.array([[1, 0], [2, 0]]), rel).tolist()
        [[True, False], [False, True]]
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[0] != relevant.shape[0]:
        raise ValueError(f"ids {ids.shape} must be [U, K] with U = {relevant.shape[0]} rows of `relevant`")
    num_users, num_items = relevant.shape
    if num_users == 0 or ids.shape[1] == 0:
        return np.zeros(ids.shape, dtype=bool)
    rel = relevant.tocsr()
    if not rel.has_sorted_indices:
        rel = rel.sorted_indices()
    # Row-major keys user * N + item are sorted, so membership is one searchsorted.
    rel_rows = np.repeat(np.arange(num_users, dtype=np.int64), np.diff(rel.indptr))
    rel_keys = rel_rows * num_items + rel.indices.astype(np.int64)                       # [nnz]
    keys = np.arange(num_users, dtype=np.int64)[:, None] * num_items + ids                # [U, K]
    pos = np.minimum(np.searchsorted(rel_keys, keys), max(len(rel_keys) - 1, 0))
    hits = (rel_keys[pos] == keys) if len(rel_keys) else np.zeros(ids.shape, dtype=bool)
    if valid is not None:
        hits &= np.asarray(valid, dtype=bool)
    return hits


def _check(hits: np.ndarray, k: int, num_relevant: np.ndarray | None = None) -> np.ndarray:
    """The first ``k`` columns of ``hits``, after checking shapes and ``k``."""
    if hits.ndim != 2:
        raise ValueError(f"hits must be [U, K], got shape {hits.shape}")
    if not 1 <= k <= hits.shape[1]:
        raise ValueError(f"k={k} must lie in [1, {hits.shape[1]}] (the width of hits)")
    if num_relevant is not None:
        if num_relevant.shape != (hits.shape[0],):
            raise ValueError(f"num_relevant {num_relevant.shape} must be [U] with U = {hits.shape[0]}")
        if len(num_relevant) and num_relevant.min() <= 0:
            raise ValueError("num_relevant must be > 0; drop users without test items before scoring")
    return hits[:, :k]


def _discounts(k: int) -> np.ndarray:
    """``[k]`` discounts ``1 / log2(rank + 1)`` for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def recall_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    """``[U]`` recall@k = (hits in the top k) / |test items|.

    Example:
        >>> recall_at_k(np.array([[True, False, True]]), np.array([4]), 3).tolist()
        [0.5]
    """
    top = _check(hits, k, num_relevant)
    return top.sum(1) / num_relevant


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """``[U]`` precision@k = (hits in the top k) / k."""
    return _check(hits, k).sum(1) / float(k)


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """``[U]`` hit@k: 1.0 when any of the top k is relevant, else 0.0."""
    return _check(hits, k).any(1).astype(np.float64)


def ndcg_at_k(hits: np.ndarray, num_relevant: np.ndarray, k: int) -> np.ndarray:
    r"""``[U]`` NDCG@k with binary relevance.

    .. math:: \mathrm{DCG}@k = \sum_{r=1}^{k} \frac{\mathrm{hit}_r}{\log_2(r+1)}, \qquad
              \mathrm{IDCG}@k = \sum_{r=1}^{\min(|T_u|, k)} \frac{1}{\log_2(r+1)}

    where ``|T_u|`` is ``num_relevant``. NDCG = DCG / IDCG (LightGCN protocol).

    Example:
        >>> round(float(ndcg_at_k(np.array([[False, True]]), np.array([1]), 2)[0]), 4)  # 1/log2(3)
        0.6309
    """
    top = _check(hits, k, num_relevant)
    disc = _discounts(k)
    dcg = top @ disc                                                      # [U]
    idcg = np.cumsum(disc)[np.minimum(num_relevant, k) - 1]               # [U]
    return dcg / idcg


def mrr_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """``[U]`` reciprocal rank of the first hit in the top k (0 when none)."""
    top = _check(hits, k)
    first = top.argmax(1)                                                 # [U]
    return np.where(top.any(1), 1.0 / (first + 1.0), 0.0)


def item_coverage_at_k(ids: np.ndarray, num_items: int, k: int, valid: np.ndarray | None = None) -> float:
    """Share of the N items that appear in at least one user's top k.

    Args:
        ids: ``[U, K]`` recommended item ids.
        num_items: N.
        k: cut-off (``<= K``).
        valid: optional ``[U, K]`` bool; False slots are not recommendations.
    """
    top = _check(np.asarray(ids), k)
    if valid is not None:
        top = top[np.asarray(valid)[:, :k]]
    seen = np.zeros(num_items, dtype=bool)
    seen[top.ravel()] = True
    return float(seen.sum()) / float(num_items)


def ranking_metrics(hits: np.ndarray, num_relevant: np.ndarray, ks: Iterable[int]) -> dict[str, float]:
    """Means over users of recall, ndcg, hit, precision and mrr at each k.

    Returns:
        ``{"recall@k": ..., "ndcg@k": ..., "hit@k": ..., "precision@k": ..., "mrr@k": ...}`` for each k;
        values are 0.0 when there are no users.
    """
    out: dict[str, float] = {}
    for k in ks:
        per_user = {
            "recall": recall_at_k(hits, num_relevant, k),
            "ndcg": ndcg_at_k(hits, num_relevant, k),
            "hit": hit_rate_at_k(hits, k),
            "precision": precision_at_k(hits, k),
            "mrr": mrr_at_k(hits, k),
        }
        for name, values in per_user.items():
            out[f"{name}@{k}"] = float(values.mean()) if len(values) else 0.0
    return out
