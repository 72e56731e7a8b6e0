"""EASE^R in its dual form: a ``[U, U]`` inverse, and ``B`` never formed (for catalogues larger than the user base).

With ``K = (λ I + X Xᵀ)⁻¹`` (``[U, U]``), the Woodbury identity gives ``P = (Xᵀ X + λ I)⁻¹ =
(I - Xᵀ K X) / λ``, and since ``X Xᵀ K = I - λ K``, ``X P = K X``. The EASE^R weights are
``B = I - P D⁻¹`` with ``D = diag(P)`` (the zero diagonal comes for free), so the training users'
scores are

    ``S = X B = X - (K X) D⁻¹``,    ``D_jj = (1 - x_jᵀ K x_j) / λ``

(Steck, WWW 2019, eq. 8 rewritten). Cost: about ``U³`` flops for ``K`` (one in-place Cholesky inverse,
:func:`contrarec.encoders.ease.invert_spd_inplace`) instead of ``N³``, ``U²`` floats of memory instead of
``N²``, and ``nnz(X) · b`` per block of ``b`` users scored. Only training users can be scored this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from contrarec.encoders.ease import check_arguments, choose_solver, dense_gram, invert_spd_inplace, numpy_dtype


@dataclass
class EASEDual:
    """What dual-form EASE^R keeps to score its training users.

    Attributes:
        kernel: ``[U, U]`` ``K = (λ I + X Xᵀ)⁻¹``.
        diag_inverse: ``[N]`` ``diag(P)``, ``P = (Xᵀ X + λ I)⁻¹``.
        train: ``[U, N]`` the training matrix ``X`` (CSR, same dtype as ``kernel``).
    """

    kernel: np.ndarray
    diag_inverse: np.ndarray
    train: sp.csr_matrix

    def kernel_times_train(self, users: np.ndarray) -> np.ndarray:
        """``[b, N]`` rows ``users`` of ``K X`` (= rows of ``X P``)."""
        rows = self.kernel[users]  # [b, U]
        return np.ascontiguousarray((self.train.T @ rows.T).T)  # ([N, U] @ [U, b]).T -> [b, N]

    def scores(self, users: np.ndarray) -> np.ndarray:
        """``[b, N]`` EASE^R scores ``X_u B`` of training users ``users`` (``[b]`` ids)."""
        out = self.kernel_times_train(users)  # [b, N] (K X)_u
        out /= -self.diag_inverse[None, :]  # -(K X)_u D⁻¹
        history = self.train[users]  # [b, N] sparse X_u
        rows = np.repeat(np.arange(len(users)), np.diff(history.indptr))
        out[rows, history.indices] += history.data  # + X_u
        return out.astype(np.float32, copy=False)


def ease_dual(train: sp.csr_matrix, l2: float, dtype: str = "float32", max_memory_bytes: float = float("inf"),
              block_size: int = 2048, threads: int | None = None) -> EASEDual:
    """Fit EASE^R by the dual form.

    Args:
        train: ``[U, N]`` interactions, CSR.
        l2: λ (> 0).
        dtype: ``"float32"`` or ``"float64"`` for ``K``.
        max_memory_bytes: refuse (:class:`contrarec.encoders.ease.EASEMemoryError`) above this.
        block_size: users per block in the products.
        threads: BLAS threads for the inverse (None = BLAS default).

    Returns:
        An :class:`EASEDual`; ``.scores(users)`` equals ``X[users] @ ease_weights(X, λ)``.

    Raises:
        ValueError: ``l2 <= 0`` or an unknown dtype.
        EASEMemoryError: ``[U, U]`` would exceed ``max_memory_bytes``.

    Example:
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float64))
        >>> ease_dual(x, l2=1.0, dtype="float64").scores(np.array([0])).round(3)  # X_0 @ B
        array([[0.4, 0.5, 0.2]], dtype=float32)
    """
    check_arguments(l2, dtype)
    choose_solver(train.shape[0], train.shape[1], dtype, "dual", max_memory_bytes)
    x = sp.csr_matrix(train, dtype=numpy_dtype(dtype))
    with threadpool_limits(limits=threads, user_api="blas"):
        kernel = dense_gram(x, x.dtype.type, block_size)  # [U, U] X Xᵀ
        kernel[np.diag_indices_from(kernel)] += l2
        kernel = invert_spd_inplace(kernel, block_size)  # [U, U] K
    fit = EASEDual(kernel=kernel, diag_inverse=np.zeros(x.shape[1], dtype=x.dtype), train=x)
    quad = np.zeros(x.shape[1], dtype=np.float64)  # [N] x_jᵀ K x_j
    for start in range(0, x.shape[0], block_size):
        users = np.arange(start, min(start + block_size, x.shape[0]))
        kx = fit.kernel_times_train(users)  # [b, N]
        history = x[users]
        rows = np.repeat(np.arange(len(users)), np.diff(history.indptr))
        quad += np.bincount(history.indices, weights=kx[rows, history.indices] * history.data,
                            minlength=x.shape[1])
    fit.diag_inverse[:] = (1.0 - quad) / l2
    return fit
