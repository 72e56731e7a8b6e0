"""Implicit ALS (Hu, Koren & Volinsky, ICDM 2008) through the ``implicit`` library, not re-implemented.

The model minimises ``Σ_{u,i} c_ui (p_ui - x_uᵀ y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)`` over all user-item
pairs, with ``p_ui = 1`` on observed pairs and confidence growing with ``alpha`` there (``c_ui = 1``
elsewhere); ``implicit`` solves it with conjugate-gradient ALS (Takács et al., RecSys 2011).
Paper: http://yifanhu.net/PUB/cf.pdf.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


def fit_ials(train: sp.csr_matrix, factors: int, regularization: float, alpha: float, iterations: int,
             seed: int, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit iALS on ``train`` and return the user and item factors.

    Args:
        train: ``[U, N]`` interactions (binary or counts), CSR.
        factors: latent dimension D.
        regularization: λ, the L2 weight on both factor tables.
        alpha: scale of the observed entries' confidence (``implicit``'s ``alpha``).
        iterations: ALS sweeps (each solves users then items).
        seed: seed of the random initial factors.
        threads: ``implicit`` worker threads (0 = all cores). BLAS is held to one thread meanwhile, as
            ``implicit`` recommends.

    Returns:
        ``(user_factors [U, D], item_factors [N, D])`` float32; scores are ``user_factors @ item_factors.T``.

    Example:
        >>> x = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 3))).astype(np.float32))  # two blocks
        >>> users, items = fit_ials(x, factors=2, regularization=0.01, alpha=1.0, iterations=10, seed=0)
        >>> users.shape, items.shape
        ((6, 2), (6, 2))
    """
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                        iterations=iterations, random_state=seed, num_threads=threads,
                                        calculate_training_loss=False)
        model.fit(sp.csr_matrix(train, dtype=np.float32), show_progress=False)
    return (np.ascontiguousarray(model.user_factors, dtype=np.float32),
            np.ascontiguousarray(model.item_factors, dtype=np.float32))
