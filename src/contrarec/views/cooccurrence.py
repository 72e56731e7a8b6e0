"""Item–item positive pairs from co-occurrence in users' histories (items consumed close together)."""

from __future__ import annotations

import torch


def cooccurrence_pairs(users: torch.Tensor, items: torch.Tensor, order: torch.Tensor | None = None,
                       window: int = 2, max_gap: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""All ordered pairs ``(i, j)`` of distinct items that a user consumed within ``window`` steps.

    Each user's interactions are sorted by ``order`` (timestamps, or their position in the log when
    None); item j at step t + d pairs with item i at step t for 1 <= d <= ``window``, in both directions,
    and, with ``max_gap``, only when the two ``order`` values are at most ``max_gap`` apart. Pairs of an
    item with itself are dropped. This is the skip-gram context of item2vec (Barkan & Koenigstein, 2016,
    https://arxiv.org/abs/1603.04259) and the "items in the same session" positives of Grbovic & Cheng,
    "Real-time Personalization using Embeddings for Search Ranking at Airbnb", KDD 2018.

    Args:
        users: ``[E]`` user ids of interactions.
        items: ``[E]`` item ids.
        order: ``[E]`` sort key within each user (None = the given order).
        window: largest step distance d (>= 1).
        max_gap: largest ``order`` difference, or None.

    Returns:
        ``(anchor [P], context [P])`` item ids.

    Example:
        >>> a, c = cooccurrence_pairs(torch.tensor([0, 0, 0]), torch.tensor([5, 6, 7]), window=1)
        >>> sorted(zip(a.tolist(), c.tolist()))
        [(5, 6), (6, 5), (6, 7), (7, 6)]
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if users.shape != items.shape or users.dim() != 1:
        raise ValueError(f"users {tuple(users.shape)} and items {tuple(items.shape)} must be [E]")
    position = torch.arange(len(users), dtype=torch.float64)
    key = position if order is None else order.double()
    by_key = torch.argsort(key, stable=True)
    perm = by_key[torch.argsort(users[by_key], stable=True)]  # sorted by user, then by order
    u, it, k = users[perm], items[perm], key[perm]
    anchors, contexts = [], []
    for d in range(1, window + 1):
        same = (u[d:] == u[:-d]) & (it[d:] != it[:-d])  # [E - d]
        if max_gap is not None:
            same &= (k[d:] - k[:-d]).abs() <= max_gap
        a, c = it[:-d][same], it[d:][same]
        anchors += [a, c]
        contexts += [c, a]
    if not anchors:
        return items[:0], items[:0]
    return torch.cat(anchors), torch.cat(contexts)
