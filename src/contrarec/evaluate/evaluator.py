"""Full-ranking evaluation: every item is a candidate, each user's training items are masked.

One exact top-k for the largest K feeds every metric at every cut-off (see :mod:`.metrics`), plus the
long-tail views of :mod:`.longtail` when item popularity is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from contrarec.evaluate.longtail import grouped_recall_at_k, head_mask, popularity_groups, tail_share_at_k
from contrarec.evaluate.metrics import hit_matrix, item_coverage_at_k, ranking_metrics
from contrarec.evaluate.topk import ScoreFn, topk_scores

NUM_DECILES = 10


def evaluate_ranking(user_emb: Tensor | None, item_emb: Tensor | None, train_csr: sp.csr_matrix,
                     test_csr: sp.csr_matrix, ks: Sequence[int] = (20,),
                     item_popularity: np.ndarray | None = None, score_fn: ScoreFn | None = None,
                     users: np.ndarray | None = None, *, block_size: int | None = None,
                     screen: str = "auto", native: str = "auto") -> dict[str, float]:
    """Rank all items for each user with test items and score the ranking against the test items.

    Users without test items are skipped, not counted as zeros. Each user's training items are masked.

    Args:
        user_emb: ``[U, D]`` user embeddings (score = dot product), or None with ``score_fn``.
        item_emb: ``[N, D]`` item embeddings, or None with ``score_fn``.
        train_csr: ``[U, N]`` training interactions (masked from the ranking).
        test_csr: ``[U, N]`` test interactions (the relevant items).
        ks: cut-offs; one top-k at ``max(ks)`` serves all.
        item_popularity: optional ``[N]`` training popularity; adds ``recall@K_head``/``_tail`` (head =
            top 20% of items), ``recall@K_decile0..9`` (0 = most popular tenth) and ``tail_share@K``.
            A group no evaluated user has test items in gives NaN.
        score_fn: optional ``f(users [b] int64) -> [b, N]`` scores for these *user ids*, replacing the
            dot product (e.g. ``RecallModel.score_users``).
        users: optional ``[u]`` user ids to evaluate (default all); those without test items are dropped.
        block_size: rows per scoring block (default from a memory budget); results do not depend on it.
        screen: the bf16 screen of :func:`contrarec.evaluate.topk.topk_scores` (``"auto"``, ``"bf16"``,
            ``"off"``); the top k is the fp32 one either way.
        native: ``"auto"`` or ``"off"``, whether the screen may use the native kernel (same results).

    Returns:
        ``{"recall@K", "ndcg@K", "hit@K", "precision@K", "mrr@K", "coverage@K"}`` for each K, the long-tail
        keys above with ``item_popularity``, and ``"test_users"`` (the number of users evaluated).

    Raises:
        ValueError: on mismatched shapes or bad cut-offs.
    """
    train_csr, test_csr = sp.csr_matrix(train_csr), sp.csr_matrix(test_csr)
    num_items = _check_inputs(user_emb, item_emb, train_csr, test_csr, ks, item_popularity)
    ks = sorted({int(k) for k in ks})
    eval_users = _users_with_tests(test_csr, users)
    out: dict[str, float] = {"test_users": len(eval_users)}
    if len(eval_users) == 0:
        return out
    idx = torch.from_numpy(eval_users)
    query = None if user_emb is None else user_emb[idx.to(user_emb.device)]
    user_score_fn = None
    if score_fn is not None:
        def user_score_fn(rows: Tensor) -> Tensor:
            return score_fn(idx.to(rows.device)[rows])
    top = topk_scores(query, item_emb, max(ks), exclude=train_csr[eval_users], score_fn=user_score_fn,
                      block_size=block_size, num_queries=len(eval_users), screen=screen,
                      native=native)
    ids = top.ids.cpu().numpy()                                                         # [U', K]
    valid = torch.isfinite(top.scores).cpu().numpy()                                    # [U', K]
    relevant = test_csr[eval_users]
    hits = hit_matrix(ids, relevant, valid)                                             # [U', K]
    num_relevant = np.diff(relevant.indptr)
    out.update(ranking_metrics(hits, num_relevant, ks))
    for k in ks:
        out[f"coverage@{k}"] = item_coverage_at_k(ids, num_items, k, valid)
    if item_popularity is not None:
        out.update(_long_tail(hits, ids, valid, relevant, np.asarray(item_popularity), ks))
    return out


def _long_tail(hits: np.ndarray, ids: np.ndarray, valid: np.ndarray, relevant: sp.csr_matrix,
               item_popularity: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    """Head/tail recall, recall per popularity decile and tail share at each k."""
    is_head = head_mask(item_popularity)
    head_group = (~is_head).astype(np.int64)                     # 0 = head, 1 = tail
    deciles = popularity_groups(item_popularity, NUM_DECILES)
    out: dict[str, float] = {}
    for k in ks:
        head, tail = grouped_recall_at_k(hits, ids, relevant, head_group, 2, k)
        out[f"recall@{k}_head"], out[f"recall@{k}_tail"] = float(head), float(tail)
        for d, value in enumerate(grouped_recall_at_k(hits, ids, relevant, deciles, NUM_DECILES, k)):
            out[f"recall@{k}_decile{d}"] = float(value)
        out[f"tail_share@{k}"] = tail_share_at_k(ids, ~is_head, k, valid)
    return out


def _users_with_tests(test_csr: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
    """``[u]`` int64 ids of the requested users that have at least one test item, in the given order."""
    num_users = test_csr.shape[0]
    if users is None:
        users = np.arange(num_users, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64).reshape(-1)
    if len(users) and (users.min() < 0 or users.max() >= num_users):
        raise ValueError(f"users must lie in [0, {num_users}); got ids from {users.min()} to {users.max()}")
    return users[np.diff(test_csr.indptr)[users] > 0]


def _check_inputs(user_emb: Tensor | None, item_emb: Tensor | None, train_csr: sp.csr_matrix,
                  test_csr: sp.csr_matrix, ks: Sequence[int], item_popularity: np.ndarray | None) -> int:
    """N, after checking that all inputs agree on U and N and that the cut-offs are valid."""
    if train_csr.shape != test_csr.shape:
        raise ValueError(f"train_csr {train_csr.shape} and test_csr {test_csr.shape} must both be [U, N]")
    num_users, num_items = train_csr.shape
    if user_emb is not None and user_emb.shape[0] != num_users:
        raise ValueError(f"user_emb has {user_emb.shape[0]} rows, train_csr has U = {num_users}")
    if item_emb is not None and item_emb.shape[0] != num_items:
        raise ValueError(f"item_emb has {item_emb.shape[0]} rows, train_csr has N = {num_items}")
    if item_popularity is not None and np.shape(item_popularity) != (num_items,):
        raise ValueError(f"item_popularity has shape {np.shape(item_popularity)}, expected ({num_items},)")
    if not ks or min(ks) < 1 or max(ks) > num_items:
        raise ValueError(f"ks={tuple(ks)} must be non-empty cut-offs in [1, N={num_items}]")
    return num_items
