"""A user's history as a bag: the mean of item-id embeddings of the items it holds."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from contrarec.views.history import PAD


def padded_histories(users: np.ndarray, items: np.ndarray, num_users: int, max_len: int,
                     order: np.ndarray | None = None) -> torch.Tensor:
    """``[U, L]`` each user's last ``max_len`` items, oldest first, padded with ``PAD`` (-1).

    Args:
        users: ``[E]`` user ids of training interactions.
        items: ``[E]`` item ids.
        num_users: U.
        max_len: L (>= 1), the most recent items kept.
        order: ``[E]`` timestamps (None = the given order).
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    key = np.arange(len(users)) if order is None else np.asarray(order)
    perm = np.lexsort((np.arange(len(users)), key, users))  # by user, then order, then position
    u, it = users[perm], items[perm]
    counts = np.bincount(u, minlength=num_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_from_end = (starts + counts)[u] - np.arange(len(u)) - 1  # 0 = most recent
    keep = rank_from_end < max_len
    lengths = np.minimum(counts, max_len)
    col = lengths[u[keep]] - 1 - rank_from_end[keep]
    out = np.full((num_users, max_len), PAD, dtype=np.int64)
    out[u[keep], col] = it[keep]
    return torch.from_numpy(out)


def mean_of_history(table: nn.Embedding, history: torch.Tensor) -> torch.Tensor:
    """``[B, D]`` mean of ``table``'s rows over the valid ids of padded ``history [B, L]`` (empty rows: zeros).

    Shared by :class:`HistoryBagEncoder` (its own table) and SimpleX-style aggregation over an item tower's
    id table (``recipes/ccl.py``).
    """
    valid = (history != PAD).unsqueeze(-1)  # [B, L, 1]
    emb = table(history.clamp(min=0)) * valid.to(table.weight.dtype)  # [B, L, D]
    return emb.sum(1) / valid.sum(1).clamp(min=1)


class HistoryBagEncoder(nn.Module):
    r"""``bag(h) = (1/|h|) Σ_{i∈h} E[i]`` over the valid entries of padded histories.

    The bag of a user's consumed items stands for the user next to (or instead of) a user-id
    embedding, as in YouTube DNN (Covington et al., RecSys 2016, https://doi.org/10.1145/2959100.2959190).

    Args:
        num_items: N.
        dim: D.
        histories: ``[U, L]`` padded training histories (a buffer; see :func:`padded_histories`).

    Shapes:
        ``forward(users [B]) -> [B, D]``; ``encode(history [B, L]) -> [B, D]`` (empty rows give zeros).
    """

    def __init__(self, num_items: int, dim: int, histories: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Embedding(num_items, dim)
        nn.init.xavier_uniform_(self.table.weight)
        self.register_buffer("histories", histories.long(), persistent=False)

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """Mean-pool the valid ids of ``history [B, L]``."""
        return mean_of_history(self.table, history)

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        """Bags of the users' stored histories."""
        return self.encode(self.histories[users])
