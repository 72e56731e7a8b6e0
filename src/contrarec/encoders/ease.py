"""EASE^R: the closed-form item-item model with L2 weight λ (Steck, WWW 2019).

``G = Xᵀ X + λ I``, ``P = G⁻¹``, ``B = -P / diag(P)`` column-wise (``B[i, j] = -P[i, j] / P[j, j]``) and
``diag(B) = 0``; a user is scored as ``X_u @ B``. Paper: https://arxiv.org/abs/1905.03375.

The ``[N, N]`` inverse is the whole cost, so it is done in place with LAPACK (Cholesky ``potrf`` then
``potri``): one ``[N, N]`` array is all the memory it needs (the "primal" solver, :func:`ease_weights`).
With fewer users than items, :mod:`contrarec.encoders.ease_dual` inverts a ``[U, U]`` matrix instead
and never forms ``B`` (``U³`` flops and ``U²`` memory instead of ``N³`` and ``N²``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

Solver = Literal["auto", "primal", "dual"]
_DTYPES = {"float32": np.float32, "float64": np.float64}


class EASEMemoryError(MemoryError):
    """The EASE^R matrices would not fit in the memory budget; the message says how much they need."""


def ease_memory_bytes(num_users: int, num_items: int, dtype: str = "float32", solver: Solver = "primal",
                      block_size: int = 2048) -> int:
    """Bytes EASE^R holds at its peak: its dense matrix plus one block of temporaries.

    Primal: ``N² + 2·b·N`` elements (``B``); dual: ``U² + 2·b·max(U, N)`` (``(λ I + X Xᵀ)⁻¹``), with
    ``b`` = ``block_size``.
    """
    itemsize = np.dtype(_DTYPES[dtype]).itemsize
    if solver == "dual":
        elements = num_users**2 + 2 * block_size * max(num_users, num_items)
    else:
        elements = num_items**2 + 2 * block_size * num_items
    return int(elements * itemsize)


def choose_solver(num_users: int, num_items: int, dtype: str, solver: Solver, budget_bytes: float) -> str:
    """The solver to use; raises :class:`EASEMemoryError` when it does not fit the budget.

    ``auto`` takes the dual form when there are fewer users than items (fewer flops and less memory).
    """
    if solver == "auto":
        solver = "dual" if num_users < num_items else "primal"
    need = ease_memory_bytes(num_users, num_items, dtype, solver)
    if need > budget_bytes:
        side = (f"{num_users:,} x {num_users:,} user-user" if solver == "dual"
                else f"{num_items:,} x {num_items:,} item-item")
        raise EASEMemoryError(
            f"EASE^R on {num_items:,} items and {num_users:,} users ({solver} solver, {dtype}) needs about "
            f"{need / 2**30:.1f} GiB (a dense {side} matrix), more than the budget of "
            f"{budget_bytes / 2**30:.1f} GiB (model.max_memory_gb). Raise the budget if the machine has the "
            "memory, or use 'itemknn' (sparse) for data this large.")
    return solver


def check_arguments(l2: float, dtype: str) -> None:
    """``ValueError`` naming ``l2`` or ``dtype`` when invalid."""
    if l2 <= 0:
        raise ValueError(f"l2 (λ) must be > 0, got {l2}")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")


def numpy_dtype(dtype: str) -> type:
    """The numpy type of ``"float32"`` / ``"float64"``."""
    return _DTYPES[dtype]


def dense_gram(rows: sp.csr_matrix, dtype: type, block_size: int) -> np.ndarray:
    """``[R, R]`` C-ordered ``rows @ rows.T`` filled a block of rows at a time."""
    n = rows.shape[0]
    gram = np.empty((n, n), dtype=dtype)
    cols = rows.T.tocsc()  # [C, R]
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        gram[start:stop] = (rows[start:stop] @ cols).toarray()  # [b, C] @ [C, R] -> [b, R]
    return gram


def _symmetrize_from_lower(mat: np.ndarray, block_size: int) -> None:
    """Copy the lower triangle of C-ordered ``mat`` onto its upper triangle, in place, by row blocks."""
    n = mat.shape[0]
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        diag = mat[start:stop, start:stop]
        diag[...] = np.tril(diag) + np.tril(diag, -1).T
        mat[start:stop, stop:] = mat[stop:, start:stop].T


def invert_spd_inplace(mat: np.ndarray, block_size: int = 2048) -> np.ndarray:
    """Invert a symmetric positive-definite C-ordered matrix in place (LAPACK ``potrf`` + ``potri``).

    Args:
        mat: ``[n, n]`` float32 or float64, C-contiguous, symmetric positive definite; overwritten.
        block_size: rows per block when the result is made symmetric.

    Returns:
        ``mat`` itself, now holding the full (symmetric) inverse.

    Raises:
        ValueError: ``mat`` is not positive definite (LAPACK ``info`` is reported).
    """
    assert mat.flags.c_contiguous and mat.shape[0] == mat.shape[1]
    potrf, potri = (lapack.spotrf, lapack.spotri) if mat.dtype == np.float32 else (lapack.dpotrf, lapack.dpotri)
    fortran = mat.T  # [n, n] F-contiguous view; equals mat because mat is symmetric
    factor, info = potrf(fortran, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise ValueError(f"matrix is not positive definite (LAPACK potrf info={info}); is λ > 0?")
    inverse, info = potri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"inverse failed (LAPACK potri info={info})")
    assert np.shares_memory(inverse, mat), "LAPACK copied the matrix; memory would double"
    _symmetrize_from_lower(mat, block_size)  # F-upper of the view = C-lower of mat
    return mat


def _primal_inverse(train: sp.csr_matrix, l2: float, dtype: type, block_size: int) -> np.ndarray:
    """``[N, N]`` ``P = (Xᵀ X + λ I)⁻¹``."""
    gram = dense_gram(train.T.tocsr(), dtype, block_size)  # [N, N] Xᵀ X
    gram[np.diag_indices_from(gram)] += l2
    return invert_spd_inplace(gram, block_size)


def ease_weights(train: sp.csr_matrix, l2: float, dtype: str = "float32",
                 max_memory_bytes: float = float("inf"), block_size: int = 2048,
                 threads: int | None = None) -> np.ndarray:
    """The EASE^R item-item weights ``B`` (zero diagonal), by the primal solver.

    Args:
        train: ``[U, N]`` interactions, CSR (binary in the paper; weights are used as given).
        l2: λ, the L2 weight on ``B`` (> 0); the paper tunes it in the hundreds for sparse data.
        dtype: ``"float32"`` (half the memory, ~1e-5 relative agreement with float64) or ``"float64"``.
        max_memory_bytes: refuse (:class:`EASEMemoryError`) when the estimate exceeds this.
        block_size: rows per block in the products and symmetrisation.
        threads: BLAS threads for the inverse (None = the BLAS default). On a machine shared with
            other jobs, 1 can be many times faster than several spinning threads.

    Returns:
        ``[N, N]`` C-ordered ``B`` with ``B[i, j] = -P[i, j] / P[j, j]`` and ``B[j, j] = 0``; score users
        with ``X_u @ B``.

    Raises:
        ValueError: ``l2 <= 0`` or an unknown dtype.
        EASEMemoryError: the matrices would exceed ``max_memory_bytes``.

    Example:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32))
        >>> ease_weights(x, l2=1.0, dtype="float64").round(3)
        array([[ 0. ,  0.5, -0.2],
               [ 0.4,  0. ,  0.4],
               [-0.2,  0.5,  0. ]])
    """
    check_arguments(l2, dtype)
    choose_solver(train.shape[0], train.shape[1], dtype, "primal", max_memory_bytes)
    x = sp.csr_matrix(train, dtype=_DTYPES[dtype])
    with threadpool_limits(limits=threads, user_api="blas"):
        inverse = _primal_inverse(x, l2, _DTYPES[dtype], block_size)
    scale = -1.0 / np.diag(inverse).copy()  # [N]
    for start in range(0, inverse.shape[0], block_size):
        inverse[start:start + block_size] *= scale[None, :]  # B[i, j] = -P[i, j] / P[j, j]
    inverse[np.diag_indices_from(inverse)] = 0.0
    return inverse
