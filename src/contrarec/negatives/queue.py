"""A FIFO queue of item embeddings from earlier batches (MoCo / CLRec / cross-batch negatives)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class QueueContents(NamedTuple):
    """The filled part of a queue, oldest entry first.

    Args:
        embeddings: ``[Q, D]`` stored (detached) item embeddings.
        ids: ``[Q]`` their item ids (for accidental-hit masking).
        log_p: ``[Q]`` log sampling probability of each entry's item (for logQ correction).
    """

    embeddings: torch.Tensor
    ids: torch.Tensor
    log_p: torch.Tensor


class EmbeddingQueue(nn.Module):
    r"""Buffer-backed first-in-first-out queue of ``size`` keys of dimension ``dim``.

    Each call to :meth:`enqueue` writes a batch of keys at the pointer and advances it modulo ``size``
    (wrap-around), overwriting the oldest entries; a batch larger than the queue keeps its last ``size``
    rows. The queue holds, next to each key, the item id (so the loss can mask accidental hits: a queue
    entry that is the row's own positive item) and the item's log sampling probability (so logQ applies
    to queue negatives, which were drawn like positives, i.e. by popularity).

    All state lives in persistent buffers (``embeddings``, ``ids``, ``log_p``, ``pointer``, ``filled``),
    so the queue is saved and restored with the model's ``state_dict``.

    Sources: He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020
    (https://arxiv.org/abs/1911.05722); Zhou et al., "Contrastive Learning for Debiased Candidate
    Generation in Large-Scale Recommender Systems" (CLRec), KDD 2021 (https://arxiv.org/abs/2005.12964);
    Wang et al., "Cross-Batch Negative Sampling for Training Two-Tower Recommenders", SIGIR 2021
    (https://arxiv.org/abs/2110.15154).

    Args:
        size: Q, the number of entries kept (>= 1).
        dim: D, the key dimension.

    Example:
        >>> q = EmbeddingQueue(size=4, dim=2)
        >>> q.enqueue(torch.ones(3, 2), torch.tensor([7, 8, 9]), torch.zeros(3))
        >>> len(q), q.contents().ids.tolist()
        (3, [7, 8, 9])
    """

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"queue size and dim must be >= 1, got size={size}, dim={dim}")
        self.size, self.dim = size, dim
        self.register_buffer("embeddings", torch.zeros(size, dim))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("log_p", torch.zeros(size))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.filled)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, ids: torch.Tensor, log_p: torch.Tensor) -> None:
        """Write a batch of keys at the pointer, wrapping around and overwriting the oldest.

        Args:
            keys: ``[B, D]`` keys (detached here).
            ids: ``[B]`` item ids.
            log_p: ``[B]`` log sampling probabilities.

        Raises:
            ValueError: when shapes disagree with the declared ``dim`` or with each other.
        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be [B, {self.dim}], got {tuple(keys.shape)}")
        if ids.shape != keys.shape[:1] or log_p.shape != keys.shape[:1]:
            raise ValueError(f"ids {tuple(ids.shape)} and log_p {tuple(log_p.shape)} must be [{keys.shape[0]}]")
        keys, ids, log_p = keys[-self.size:], ids[-self.size:], log_p[-self.size:]
        n = keys.shape[0]
        slots = (int(self.pointer) + torch.arange(n, device=self.ids.device)) % self.size  # [B]
        self.embeddings[slots] = keys.detach().to(self.embeddings.dtype)
        self.ids[slots] = ids.to(self.ids.dtype)
        self.log_p[slots] = log_p.detach().to(self.log_p.dtype)
        self.pointer.fill_((int(self.pointer) + n) % self.size)
        self.filled.fill_(min(int(self.filled) + n, self.size))

    def contents(self) -> QueueContents:
        """The filled entries, oldest first (``[Q', D]``, ``[Q']``, ``[Q']`` with ``Q' = len(self)``)."""
        n = int(self.filled)
        if n < self.size:
            return QueueContents(self.embeddings[:n], self.ids[:n], self.log_p[:n])
        order = (int(self.pointer) + torch.arange(self.size, device=self.ids.device)) % self.size
        return QueueContents(self.embeddings[order], self.ids[order], self.log_p[order])

    @torch.no_grad()
    def clear(self) -> None:
        """Empty the queue."""
        self.ids.fill_(-1)
        self.pointer.zero_()
        self.filled.zero_()
