"""Balanced soft assignments of a batch to prototypes by Sinkhorn–Knopp (no gradient)."""

from __future__ import annotations

import torch


@torch.no_grad()
def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    r"""Codes Q that are close to ``softmax(scores / ε)`` and spread the batch evenly over prototypes.

    Solves :math:`\max_{Q \in \mathcal{Q}} \mathrm{Tr}(Q^\top C^\top Z) + \varepsilon H(Q)` over the transport
    polytope :math:`\mathcal{Q} = \{Q \in \mathbb{R}_+^{K \times B} : Q 1_B = \tfrac1K 1_K,\ Q^\top 1_K =
    \tfrac1B 1_B\}` by alternately normalising rows and columns of :math:`\exp(C^\top Z / \varepsilon)`
    (``scores`` is :math:`Z^\top C`, ``[B, K]``). The result is rescaled so each row (example) sums to 1;
    each prototype then receives B / K of the mass (exactly in the limit of many iterations, approximately
    after a few). Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster
    Assignments" (SwAV), NeurIPS 2020 (https://arxiv.org/abs/2006.09882), §3.1 and Algorithm 1.

    Args:
        scores: ``[B, K]`` similarities of B examples to K prototypes.
        epsilon: ε > 0, entropy weight (smaller = harder assignments).
        iterations: Sinkhorn row/column normalisation rounds (>= 1).

    Returns:
        ``[B, K]`` assignments, rows summing to 1, columns summing to about B / K.

    Example:
        >>> q = sinkhorn(torch.randn(8, 4), iterations=50)
        >>> torch.allclose(q.sum(1), torch.ones(8)), torch.allclose(q.sum(0), torch.full((4,), 2.0), atol=1e-3)
        (True, True)
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if scores.dim() != 2:
        raise ValueError(f"scores must be [B, K], got {tuple(scores.shape)}")
    num_examples, num_prototypes = scores.shape
    logits = scores.float() / epsilon
    q = torch.exp(logits - logits.max()).T  # [K, B], max-shift for stability
    q = q / q.sum()
    for _ in range(iterations):
        q = q / q.sum(dim=1, keepdim=True) / num_prototypes  # rows (prototypes) sum to 1/K
        q = q / q.sum(dim=0, keepdim=True) / num_examples  # columns (examples) sum to 1/B
    return (q * num_examples).T.to(scores.dtype)  # [B, K], each example sums to 1
