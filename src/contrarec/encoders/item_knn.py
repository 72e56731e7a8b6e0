"""Item-item cosine neighbourhoods on the training matrix (item-kNN), sparse and vectorised.

An item-item model scores user ``u`` and item ``j`` as the sum of similarities between ``j`` and the
items ``u`` interacted with: ``s(u, j) = Σ_i X[u, i] W[i, j]``, i.e. ``scores = X_u @ W`` (``[b, N] @
[N, N]``). This module builds ``W`` for item-kNN and applies any ``W`` (sparse or dense) to user rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def idf_user_weights(train: sp.csr_matrix) -> np.ndarray:
    """``[U]`` inverse-document-frequency weights of users, ``log(N / |I_u|)`` (1 for empty rows).

    Weighting ``X``'s rows by these before :func:`cosine_neighbors` lets a co-occurrence in a short
    history count more than one in a history that holds much of the catalogue.
    """
    counts = np.diff(sp.csr_matrix(train).indptr).astype(np.float64)  # [U]
    return np.where(counts > 0, np.log(train.shape[1] / np.maximum(counts, 1)), 1.0).astype(np.float32)


def cosine_neighbors(train: sp.csr_matrix, neighbors: int, shrinkage: float = 0.0, asymmetry: float = 0.5,
                     user_weights: np.ndarray | None = None, block_size: int = 1024) -> sp.csr_matrix:
    """Top-``neighbors`` (asymmetric) cosine similarities of every item, as a sparse ``[N, N]`` matrix.

    ``sim(i → j) = (x_i · x_j) / (‖x_i‖^{2α} ‖x_j‖^{2(1-α)} + shrinkage)`` where ``x_i`` is column ``i`` of
    the (optionally row-weighted) training matrix ``X`` and α = ``asymmetry``. α = 0.5 is the cosine
    (Sarwar et al., WWW 2001); α > 0.5 discounts popular history items ``i`` more than popular targets
    ``j`` (asymmetric cosine, Aiolli, RecSys 2013); shrinkage as in Koren (KDD 2008) and Ferrari Dacrema
    et al. (RecSys 2019). Column ``j`` keeps only the ``neighbors`` items ``i`` with the largest
    ``sim(i → j)`` (self excluded, zeros dropped), so ``X_u @ W`` sums, for each candidate ``j``, the
    similarities of the user's items that are among ``j``'s neighbours.

    The co-occurrence ``Xᵀ X`` is computed ``block_size`` items at a time, so memory stays at one dense
    ``[block_size, N]`` block plus the kept entries.

    Args:
        train: ``[U, N]`` interactions (binary or weighted), CSR.
        neighbors: neighbours kept per item (``>= 1``; capped at ``N - 1``).
        shrinkage: added to the denominator; damps similarities supported by few co-occurrences.
        asymmetry: α in [0, 1]; 0.5 = cosine.
        user_weights: optional ``[U]`` row weights applied to ``X`` first (e.g. :func:`idf_user_weights`).
        block_size: items per block of the co-occurrence product.

    Returns:
        ``[N, N]`` CSR float32 ``W`` with ``W[i, j] = sim(i → j)`` for ``i`` among ``j``'s neighbours.

    Raises:
        ValueError: ``neighbors < 1``, ``shrinkage < 0``, α outside [0, 1], ``user_weights`` of the wrong
            length, or ``block_size < 1``.

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
    if not 0.0 <= asymmetry <= 1.0:
        raise ValueError(f"asymmetry must lie in [0, 1], got {asymmetry}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    x = sp.csr_matrix(train, dtype=np.float32)
    if user_weights is not None:
        if len(user_weights) != x.shape[0]:
            raise ValueError(f"user_weights has {len(user_weights)} entries, expected {x.shape[0]} (users)")
        x = sp.csr_matrix(sp.diags(np.asarray(user_weights, dtype=np.float32)) @ x)  # [U, N] weighted rows
    n = x.shape[1]
    keep = min(neighbors, n - 1)
    if keep < 1:
        return sp.csr_matrix((n, n), dtype=np.float32)
    squares = np.asarray(x.multiply(x).sum(axis=0)).ravel().astype(np.float32)  # [N] ‖x_i‖²
    history_norm = np.power(squares, asymmetry)  # [N] ‖x_i‖^{2α}
    target_norm = np.power(squares, 1.0 - asymmetry)  # [N] ‖x_j‖^{2(1-α)}
    xt = x.T.tocsr()  # [N, U]
    rows, cols, vals = [], [], []
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        block = (xt[start:stop] @ x).toarray()  # [b, U] @ [U, N] -> [b, N] co-occurrences, row j col i
        block /= target_norm[start:stop, None] * history_norm[None, :] + shrinkage + 1e-12  # [b, N] sim(i→j)
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
