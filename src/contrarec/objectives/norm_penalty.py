"""The embedding-norm penalty of SELFRec's SimGCL / XSimGCL code."""

from __future__ import annotations

import torch


def frobenius_norm_penalty(*embeddings: torch.Tensor) -> torch.Tensor:
    r"""``Σ_t ||E_t||_F / B_t`` over ``[B_t, D]`` tensors (the norm, not its square).

    This is ``l2_reg_loss`` of SELFRec (``util/loss_torch.py``), used by the reference SimGCL and XSimGCL
    runs whose numbers the ``simgcl`` / ``xsimgcl`` recipes reproduce; LightGCN's squared penalty is
    :func:`contrarec.objectives.bpr.l2_regularization`.

    Example:
        >>> float(frobenius_norm_penalty(torch.full((4, 1), 2.0)))  # sqrt(4 * 4) / 4
        1.0
    """
    if not embeddings:
        raise ValueError("frobenius_norm_penalty needs at least one tensor")
    return sum(torch.linalg.vector_norm(e) / e.shape[0] for e in embeddings)
