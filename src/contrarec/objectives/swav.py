"""SwAV swapped prediction between the two sides of a positive pair."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from contrarec.objectives.sinkhorn import sinkhorn


class SwaVLoss(nn.Module):
    r"""Predict each side's Sinkhorn code from the other side's prototype scores.

    For a positive pair (a, b) (user and item, or two views of an item) with prototype scores
    :math:`z_a^\top C` and :math:`z_b^\top C` (``scores_a``, ``scores_b``, ``[B, K]``):

    .. math::
        q_a = \mathrm{Sinkhorn}(z_a^\top C),\quad p_a = \mathrm{softmax}(z_a^\top C / \tau),\qquad
        \mathcal{L} = \tfrac12\,\big[\ell(z_a, q_b) + \ell(z_b, q_a)\big],\quad
        \ell(z, q) = -\frac1B \sum_b \sum_k q_{bk} \log p_{bk}

    The codes come from :func:`~contrarec.objectives.sinkhorn.sinkhorn` without gradient; the equal
    partition constraint there is what prevents the collapse of every example to one prototype.
    Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
    NeurIPS 2020 (https://arxiv.org/abs/2006.09882), Eq. 1–3.

    Args:
        temperature: τ > 0 of the prediction softmax (SwAV: 0.1).
        epsilon: ε of Sinkhorn (SwAV: 0.05).
        sinkhorn_iterations: Sinkhorn rounds (SwAV: 3).
        reduction: ``"mean" | "sum" | "none"``.

    Example:
        >>> s = torch.randn(8, 4)
        >>> loss = SwaVLoss()(s, s)
        >>> loss.shape
        torch.Size([])
    """

    def __init__(self, temperature: float = 0.1, epsilon: float = 0.05, sinkhorn_iterations: int = 3,
                 reduction: str = "mean") -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.temperature = temperature
        self.epsilon = epsilon
        self.sinkhorn_iterations = sinkhorn_iterations
        self.reduction = reduction

    def forward(self, scores_a: torch.Tensor, scores_b: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            scores_a: ``[B, K]`` prototype scores of side a (with gradient).
            scores_b: ``[B, K]`` prototype scores of side b.

        Returns:
            Scalar loss, or ``[B]`` with ``reduction="none"``.
        """
        if scores_a.shape != scores_b.shape or scores_a.dim() != 2:
            raise ValueError(f"scores must both be [B, K], got {tuple(scores_a.shape)} and {tuple(scores_b.shape)}")
        q_a = sinkhorn(scores_a.detach(), self.epsilon, self.sinkhorn_iterations)  # [B, K]
        q_b = sinkhorn(scores_b.detach(), self.epsilon, self.sinkhorn_iterations)  # [B, K]
        log_p_a = F.log_softmax(scores_a / self.temperature, dim=1)  # [B, K]
        log_p_b = F.log_softmax(scores_b / self.temperature, dim=1)  # [B, K]
        loss = -0.5 * ((q_b * log_p_a).sum(1) + (q_a * log_p_b).sum(1))  # [B]
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()
