"""The normalized user–item bipartite adjacency that graph encoders propagate over.

LightGCN (He et al., SIGIR 2020, https://arxiv.org/abs/2002.02126, eq. 7–8) propagates over

    A = [[0, R], [Rᵀ, 0]]           [(U+N), (U+N)], R the binary [U, N] interaction matrix
    Ã = D^-1/2 A D^-1/2             D the diagonal degree matrix of A

Because A is bipartite, Ã only has its two off-diagonal blocks

    R̃  = D_u^-1/2 R D_i^-1/2        [U, N]   (users gather from items)
    R̃ᵀ = D_i^-1/2 Rᵀ D_u^-1/2       [N, U]   (items gather from users)

so one propagation layer is ``e_u' = R̃ e_i`` and ``e_i' = R̃ᵀ e_u``. Both blocks are kept in CSR form: the
backward of one is the forward of the other, so no transpose is ever built during training. A node of
degree 0 gets weight 0 (LightGCN's ``d_inv[isinf] = 0``).

Shape legend: U users, N items, E edges (interactions), D embedding dim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class CsrBlock:
    """One block of a sparse matrix in CSR form, multiplied with dense ``[cols, D]`` matrices.

    Args:
        indptr: ``[rows + 1]`` int64 row pointers.
        indices: ``[nnz]`` int64 column ids.
        values: ``[nnz]`` float values.
        num_cols: number of columns.
    """

    indptr: torch.Tensor
    indices: torch.Tensor
    values: torch.Tensor
    num_cols: int

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return int(self.indptr.shape[0]) - 1

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.indices.shape[0])

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """``[rows, D] = block [rows, cols] @ x [cols, D]``.

        The kernel is ``embedding_bag(mode="sum", per_sample_weights=values)``: each output row is a weighted
        sum of gathered rows of ``x``, computed by FBGEMM's multi-threaded kernels (see
        ``bench/graph_propagation.py``: about 2× faster than ``torch.sparse.mm`` on a CSR tensor and 4× faster
        than on COO).
        """
        if x.shape[0] != self.num_cols:
            raise ValueError(f"block has {self.num_cols} columns but x has {x.shape[0]} rows")
        if self.num_rows == 0:
            return x.new_zeros(0, x.shape[1])
        values = self.values if self.values.dtype == x.dtype else self.values.to(x.dtype)
        return F.embedding_bag(self.indices, x, self.indptr, mode="sum", per_sample_weights=values,
                               include_last_offset=True)  # [rows, D]

    def select_rows(self, rows: torch.Tensor) -> "CsrBlock":
        """The sub-block of the given rows ``[r]`` (in that order), vectorised over the entries."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        indptr = torch.zeros(len(rows) + 1, dtype=torch.int64)
        torch.cumsum(lengths, 0, out=indptr[1:])
        total = int(indptr[-1])
        # entry j of row r sits at starts[r] + j; the output puts it at indptr[r] + j
        take = torch.repeat_interleave(starts - indptr[:-1], lengths, output_size=total)
        take += torch.arange(total)
        return CsrBlock(indptr, self.indices[take], self.values[take], self.num_cols)

    def select_columns(self, columns: torch.Tensor) -> "CsrBlock":
        """The sub-block of the given strictly increasing columns ``[c]``, renumbered ``0..c-1``.

        One pass over the entries, no sort: ``full_t.select_columns(rows)`` equals
        ``full.select_rows(rows).transpose()`` when ``full_t`` is ``full``'s transpose, and is several times
        cheaper than that sort once the rows hold a large share of the entries (a large batch).
        """
        slot = torch.full((self.num_cols,), -1, dtype=torch.int64)
        slot[columns] = torch.arange(len(columns))
        new_col = slot[self.indices]
        keep = new_col >= 0
        kept_before = torch.zeros(self.nnz + 1, dtype=torch.int64)
        torch.cumsum(keep, 0, out=kept_before[1:])
        return CsrBlock(kept_before[self.indptr], new_col[keep], self.values[keep], len(columns))

    def transpose(self) -> "CsrBlock":
        """The ``[cols, rows]`` transpose, built with one stable sort of the column ids (vectorised).

        Used for small row-restricted blocks, whose transposed product would otherwise be a scatter;
        the full graph stores both directions instead.
        """
        rows = torch.repeat_interleave(torch.arange(self.num_rows), self.indptr.diff(), output_size=self.nnz)
        order = torch.argsort(self.indices, stable=True)
        indptr = torch.zeros(self.num_cols + 1, dtype=torch.int64)
        torch.cumsum(torch.bincount(self.indices, minlength=self.num_cols), 0, out=indptr[1:])
        return CsrBlock(indptr, rows[order], self.values[order], self.num_rows)

    def to_dense(self) -> torch.Tensor:
        """``[rows, cols]`` dense copy (tests and tiny graphs only)."""
        rows = torch.repeat_interleave(torch.arange(self.num_rows), self.indptr.diff())
        dense = torch.zeros(self.num_rows, self.num_cols, dtype=self.values.dtype)
        dense.index_put_((rows, self.indices), self.values, accumulate=True)
        return dense


@dataclass(frozen=True)
class BipartiteGraph:
    """The blocks of D^-1/2 A D^-1/2 for a user–item graph, plus the edge list they came from.

    Args:
        user_item: R̃ as a ``[U, N]`` CSR block (rows are users).
        item_user: R̃ᵀ as a ``[N, U]`` CSR block (rows are items).
        edge_users: ``[E]`` user of each edge, in user-major order (the order of ``user_item``'s entries).
        edge_items: ``[E]`` item of each edge, same order.
        transpose_order: ``[E]`` positions such that ``item_user`` entry t is edge ``transpose_order[t]``.
    """

    user_item: CsrBlock
    item_user: CsrBlock
    edge_users: torch.Tensor
    edge_items: torch.Tensor
    transpose_order: torch.Tensor

    @property
    def num_users(self) -> int:
        """U."""
        return self.user_item.num_rows

    @property
    def num_items(self) -> int:
        """N."""
        return self.item_user.num_rows

    @property
    def num_edges(self) -> int:
        """E, the number of user–item edges (the full adjacency stores 2E entries)."""
        return int(self.edge_users.shape[0])

    def to_dense(self) -> torch.Tensor:
        """The full ``[(U+N), (U+N)]`` normalized adjacency Ã (tests and tiny graphs only)."""
        u, n = self.num_users, self.num_items
        dense = torch.zeros(u + n, u + n, dtype=self.user_item.values.dtype)
        dense[:u, u:] = self.user_item.to_dense()
        dense[u:, :u] = self.item_user.to_dense()
        return dense

    def subgraph(self, edge_mask: torch.Tensor) -> "BipartiteGraph":
        """The graph on the kept edges ``edge_mask`` ``[E]`` (bool), re-normalized by the kept degrees.

        Vectorised: the kept edges stay in user-major order and their item-major order is read off
        ``transpose_order``, so nothing is sorted.
        """
        if edge_mask.shape != (self.num_edges,) or edge_mask.dtype != torch.bool:
            raise ValueError(f"edge_mask must be a bool tensor of shape [{self.num_edges}], "
                             f"got {edge_mask.dtype} {tuple(edge_mask.shape)}")
        new_position = torch.cumsum(edge_mask, 0) - 1  # [E] position of each kept edge in the subgraph
        order = self.transpose_order[edge_mask[self.transpose_order]]
        return _build(self.edge_users[edge_mask], self.edge_items[edge_mask], self.num_users, self.num_items,
                      new_position[order], self.user_item.values.dtype)


def _build(users: torch.Tensor, items: torch.Tensor, num_users: int, num_items: int,
           transpose_order: torch.Tensor, dtype: torch.dtype) -> BipartiteGraph:
    """Normalize user-major edges whose item-major order is ``transpose_order``."""
    deg_u = torch.bincount(users, minlength=num_users).to(torch.float64)
    deg_i = torch.bincount(items, minlength=num_items).to(torch.float64)
    inv_u = torch.where(deg_u > 0, deg_u.clamp(min=1).rsqrt(), torch.zeros_like(deg_u))
    inv_i = torch.where(deg_i > 0, deg_i.clamp(min=1).rsqrt(), torch.zeros_like(deg_i))
    values = (inv_u[users] * inv_i[items]).to(dtype)  # [E] 1 / sqrt(d_u d_i)
    ptr_u = torch.zeros(num_users + 1, dtype=torch.int64)
    torch.cumsum(deg_u.to(torch.int64), 0, out=ptr_u[1:])
    ptr_i = torch.zeros(num_items + 1, dtype=torch.int64)
    torch.cumsum(deg_i.to(torch.int64), 0, out=ptr_i[1:])
    return BipartiteGraph(
        user_item=CsrBlock(ptr_u, items, values, num_items),
        item_user=CsrBlock(ptr_i, users[transpose_order], values[transpose_order], num_users),
        edge_users=users, edge_items=items, transpose_order=transpose_order)


def normalize_edges(users: torch.Tensor | np.ndarray, items: torch.Tensor | np.ndarray, num_users: int,
                    num_items: int, dtype: torch.dtype = torch.float32) -> BipartiteGraph:
    """Build D^-1/2 A D^-1/2 from an edge list ``[E]`` users, ``[E]`` items (duplicates counted once).

    Raises:
        ValueError: ids outside ``[0, num_users)`` / ``[0, num_items)`` or mismatched lengths.
    """
    users = torch.as_tensor(np.asarray(users), dtype=torch.int64)
    items = torch.as_tensor(np.asarray(items), dtype=torch.int64)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(f"users {tuple(users.shape)} and items {tuple(items.shape)} must be equal 1-d arrays")
    if len(users) and (users.min() < 0 or users.max() >= num_users or items.min() < 0
                       or items.max() >= num_items):
        raise ValueError(f"edge ids must lie in [0, {num_users}) x [0, {num_items})")
    key = torch.unique(users * num_items + items)  # sorted, deduplicated, user-major
    users, items = key // num_items, key % num_items
    transpose_order = torch.sort(items, stable=True).indices  # item-major, users ascending within an item
    return _build(users, items, num_users, num_items, transpose_order, dtype)


def normalize_adjacency(train_csr: sp.spmatrix, dtype: torch.dtype = torch.float32) -> BipartiteGraph:
    """The blocks of Ã = D^-1/2 A D^-1/2 for A = [[0, R], [Rᵀ, 0]], R the binarized ``[U, N]`` train matrix.

    Every stored non-zero of ``train_csr`` is one edge of weight 1 (LightGCN's binary graph); explicit zeros
    are ignored. Entry (u, i) of R̃ is ``1 / sqrt(d_u d_i)`` with d the number of interactions.

    Args:
        train_csr: ``[U, N]`` scipy sparse matrix of training interactions.
        dtype: float dtype of the normalized values.

    Returns:
        The graph; ``graph.to_dense()`` is the ``[(U+N), (U+N)]`` matrix Ã.

    Example:
        >>> import scipy.sparse as sp
        >>> g = normalize_adjacency(sp.csr_matrix([[1, 1], [0, 1]]))
        >>> [round(v, 4) for v in g.user_item.values.tolist()]  # 1/sqrt(2*1), 1/sqrt(2*2), 1/sqrt(1*2)
        [0.7071, 0.5, 0.7071]
    """
    coo = sp.coo_matrix(train_csr)
    keep = coo.data != 0
    num_users, num_items = coo.shape
    return normalize_edges(coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), num_users,
                           num_items, dtype)
