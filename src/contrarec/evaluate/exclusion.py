"""Items a query must never get back (its training items), applied to blocks of scores as ``-inf``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor


class Exclusion:
    """CSR rows of excluded items, applied to score blocks by index.

    Args:
        exclude: ``[Q, N]`` sparse matrix; row q lists the items never returned for query q.
        num_queries: Q.
        num_items: N.
        device: where the index tensors live.

    Raises:
        ValueError: if ``exclude`` is not ``[Q, N]``.
    """

    def __init__(self, exclude: sp.spmatrix, num_queries: int, num_items: int, device: torch.device):
        if exclude.shape != (num_queries, num_items):
            raise ValueError(f"exclude has shape {exclude.shape}, expected (Q, N) = ({num_queries}, {num_items})")
        exclude = sp.csr_matrix(exclude)
        self.indptr = np.asarray(exclude.indptr, dtype=np.int64)
        self.indices = torch.from_numpy(np.asarray(exclude.indices, dtype=np.int64)).to(device)
        self.counts = torch.from_numpy(np.diff(self.indptr)).to(device)

    def mask(self, scores: Tensor, start: int, stop: int) -> None:
        """Set ``scores[r, j] = -inf`` for every excluded item j of query ``start + r`` (in place)."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        if hi == lo:
            return
        rows = torch.repeat_interleave(torch.arange(stop - start, device=scores.device), self.counts[start:stop])
        scores[rows, self.indices[lo:hi]] = float("-inf")

    def block(self, start: int, stop: int) -> tuple[Tensor, Tensor]:
        """The CSR rows of queries ``start..stop-1``: ``(indptr [b + 1] from 0, indices)`` int64 on the CPU."""
        indptr = torch.from_numpy(self.indptr[start:stop + 1] - self.indptr[start])
        return indptr, self.indices[int(self.indptr[start]):int(self.indptr[stop])].cpu()

    def mask_rows(self, scores: Tensor, rows: Tensor) -> None:
        """Set ``scores[r, j] = -inf`` for every excluded item j of query ``rows[r]`` (any order, in place)."""
        counts = self.counts[rows]                                                      # [r]
        total = int(counts.sum())
        if total == 0:
            return
        starts = torch.from_numpy(self.indptr[rows.cpu().numpy()]).to(counts.device)    # [r]
        owner = torch.repeat_interleave(torch.arange(len(rows), device=counts.device), counts)
        offset = torch.arange(total, device=counts.device) - torch.repeat_interleave(counts.cumsum(0) - counts,
                                                                                      counts)
        scores[owner, self.indices[starts[owner] + offset]] = float("-inf")
