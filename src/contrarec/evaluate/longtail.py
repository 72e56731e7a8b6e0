"""Long-tail views of a ranking: popularity groups, recall per group, and the share of tail items.

Items are ranked by training popularity (count descending, ties by lower item id first). With that
rank ``r`` in ``0..N-1``, an item is *head* when ``r < ceil(head_fraction * N)`` and its popularity
decile is ``floor(10 * r / N)`` (decile 0 = the most popular tenth). With ``head_fraction = 0.2`` the
head is exactly deciles 0 and 1.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp


def popularity_rank(item_popularity: np.ndarray) -> np.ndarray:
    """``[N]`` rank of each item by popularity: 0 = most popular, ties by lower id first.

    Example:
        >>> popularity_rank(np.array([5, 9, 5, 0])).tolist()
        [1, 0, 2, 3]
    """
    pop = np.asarray(item_popularity)
    if pop.ndim != 1:
        raise ValueError(f"item_popularity must be [N], got shape {pop.shape}")
    order = np.lexsort((np.arange(len(pop)), -pop.astype(np.float64)))   # by -pop, then id
    rank = np.empty(len(pop), dtype=np.int64)
    rank[order] = np.arange(len(pop))
    return rank


def head_mask(item_popularity: np.ndarray, head_fraction: float = 0.2) -> np.ndarray:
    """``[N]`` bool: True for the ``ceil(head_fraction * N)`` most popular items."""
    if not 0.0 < head_fraction < 1.0:
        raise ValueError(f"head_fraction must lie in (0, 1), got {head_fraction}")
    n = len(item_popularity)
    n_head = math.ceil(round(head_fraction * n, 9))
    return popularity_rank(item_popularity) < n_head


def popularity_groups(item_popularity: np.ndarray, num_groups: int = 10) -> np.ndarray:
    """``[N]`` int group of each item, ``floor(num_groups * rank / N)``; group 0 is the most popular."""
    if num_groups < 1:
        raise ValueError(f"num_groups must be >= 1, got {num_groups}")
    n = len(item_popularity)
    return popularity_rank(item_popularity) * num_groups // max(n, 1)


def grouped_recall_at_k(hits: np.ndarray, ids: np.ndarray, relevant: sp.csr_matrix, item_group: np.ndarray,
                        num_groups: int, k: int) -> np.ndarray:
    """Recall@k restricted to each item group.

    For group ``g`` and a user with ``n_g > 0`` test items in ``g``: (hits in the top k whose item is in
    ``g``) / ``n_g``; averaged over the users with ``n_g > 0``.

    Args:
        hits: ``[U, K]`` bool hit matrix (see :func:`contrarec.evaluate.metrics.hit_matrix`).
        ids: ``[U, K]`` recommended item ids aligned with ``hits``.
        relevant: ``[U, N]`` CSR of test items.
        item_group: ``[N]`` int group of each item in ``0..num_groups-1``.
        num_groups: G.
        k: cut-off (``<= K``).

    Returns:
        ``[G]`` float64 mean recall per group; NaN for a group no user has test items in.
    """
    if not 1 <= k <= hits.shape[1]:
        raise ValueError(f"k={k} must lie in [1, {hits.shape[1]}]")
    num_users = hits.shape[0]
    rel = relevant.tocsr()
    rel_rows = np.repeat(np.arange(num_users, dtype=np.int64), np.diff(rel.indptr))
    rel_cells = rel_rows * num_groups + item_group[rel.indices]
    n_rel = np.bincount(rel_cells, minlength=num_users * num_groups).reshape(num_users, num_groups)  # [U, G]
    hit_u, hit_r = np.nonzero(hits[:, :k])
    hit_cells = hit_u * num_groups + item_group[ids[hit_u, hit_r]]
    n_hit = np.bincount(hit_cells, minlength=num_users * num_groups).reshape(num_users, num_groups)  # [U, G]
    has = n_rel > 0
    recall = np.divide(n_hit, n_rel, out=np.zeros(n_rel.shape, dtype=np.float64), where=has)
    counts = has.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, recall.sum(0) / counts, np.nan)


def tail_share_at_k(ids: np.ndarray, is_tail: np.ndarray, k: int, valid: np.ndarray | None = None) -> float:
    """Share of recommended slots in the top k that hold tail items.

    Args:
        ids: ``[U, K]`` recommended item ids.
        is_tail: ``[N]`` bool.
        k: cut-off (``<= K``).
        valid: optional ``[U, K]`` bool; False slots are not recommendations.
    """
    top = np.asarray(ids)[:, :k]
    tail = is_tail[top]
    if valid is not None:
        tail = tail[np.asarray(valid)[:, :k]]
    return float(tail.mean()) if tail.size else 0.0
