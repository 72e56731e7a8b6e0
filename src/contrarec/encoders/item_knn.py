"""Item-item cosine neighbourhoods on the training matrix (item-kNN), sparse and vectorised.

An item-item model scores user ``u`` and item ``j`` as the sum of similarities between ``j`` and the
items ``u`` interacted with: ``s(u, j) = Σ_i X[u, i] W[i, j]``, i.e. ``scores = X_u @ W`` (``[b, N] @
[N, N]``). This module builds ``W`` for item-kNN and applies any ``W`` (sparse or dense) to user rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cosine_neighbors(train: sp.csr_matrix, neighbors: int, shrinkage: float = 0.0,
                     block_size: int = 1024) -> sp.csr_matrix:
    """Top-``neighbors`` cosine similarities of every item, as a sparse ``[N, N]`` weight matrix.

    ``cos(i, j) = (x_i · x_j) / (‖x_i‖ ‖x_j‖ + shrinkage)`` where ``x_i`` is column ``i`` of the training
    matrix ``X`` (Sarwar et al., WWW 2001; shrinkage as in Koren, KDD 2008 and Ferrari Dacrema et al.,
    RecSys 2019). Column ``j`` of the result keeps only the ``neighbors`` items most similar to ``j``
    (self excluded, zeros dropped), so ``X_u @ W`` sums, for each candidate ``j``, the similarities of
    the user's items that are among ``j``'s neighbours.

    The co-occurrence ``Xᵀ X`` is computed ``block_size`` items at a time, so memory stays at one dense
    ``[block_size, N]`` block plus the kept entries.

    Args:
        train: ``[U, N]`` interactions (binary or weighted), CSR.
        neighbors: neighbours kept per item (``>= 1``; capped at ``N - 1``).
        shrinkage: added to the denominator; damps similarities supported by few co-occurrences.
        block_size: items per block of the co-occurrence product.

    Returns:
        ``[N, N]`` CSR float32 ``W`` with ``W[i, j] = cos(i, j)`` for ``i`` among ``j``'s neighbours.

    Raises:
        ValueError: ``neighbors < 1``, ``shrinkage < 0`` or ``block_size < 1``.

    Example:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
        >>> w = cosine_neighbors(x, neighbors=1)
        >>> w.toarray().round(3)  # column j holds j's single nearest neighbour
        array([[0.   , 0.816, 0.   ],
               [0.816, 0.   , 0.577],
               [0.   , 0.   , 0.   ]], dtype=float32)
    """
    if neighbors < 1:
        raise ValueError(f"neighbors must be >= 1, got {neighbors}")
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    x = sp.csr_matrix(train, dtype=np.float32)
    n = x.shape[1]
    keep = min(neighbors, n - 1)
    if keep < 1:
        return sp.csr_matrix((n, n), dtype=np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)  # [N]
    xt = x.T.tocsr()  # [N, U]
    rows, cols, vals = [], [], []
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        block = (xt[start:stop] @ x).toarray()  # [b, U] @ [U, N] -> [b, N] co-occurrences
        block /= norms[start:stop, None] * norms[None, :] + shrinkage + 1e-12  # [b, N] cosines
        local = np.arange(stop - start)
        block[local, start + local] = 0.0  # no self-similarity
        top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]  # [b, keep] neighbour ids
        top_vals = np.take_along_axis(block, top, axis=1)  # [b, keep]
        nonzero = top_vals > 0
        rows.append(top[nonzero])  # neighbour i
        cols.append(np.broadcast_to((start + local)[:, None], top.shape)[nonzero])  # target j
        vals.append(top_vals[nonzero])
    weights = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(n, n), dtype=np.float32)
    weights.sort_indices()
    return weights


def score_from_history(history: sp.csr_matrix, weights: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Item-item scores of a block of users: ``history @ weights`` as a dense array.

    Args:
        history: ``[b, N]`` the users' training rows (CSR).
        weights: ``[N, N]`` item-item weights, sparse (item-kNN) or dense (EASE).

    Returns:
        ``[b, N]`` float32 scores.
    """
    out = history @ weights  # [b, N] @ [N, N] -> [b, N]
    if sp.issparse(out):
        out = out.toarray()
    return np.asarray(out, dtype=np.float32)
