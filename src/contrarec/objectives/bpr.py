"""Bayesian personalised ranking loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BPRLoss(nn.Module):
    r"""BPR: pairwise ranking of a positive above a sampled negative.

    .. math:: \mathcal{L} = -\frac{1}{B}\sum_b \log \sigma(s_{b,pos} - s_{b,neg})

    (averaged over the M negatives per row when several are given). Rendle et al., "BPR: Bayesian
    Personalized Ranking from Implicit Feedback", UAI 2009 (https://arxiv.org/abs/1205.2618).

    Example:
        >>> loss = BPRLoss()(torch.tensor([2.0]), torch.tensor([[0.0]]))
        >>> round(float(loss), 4)
        0.1269
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def forward(self, positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            positive_scores: ``[B]`` scores of the positives.
            negative_scores: ``[B, M]`` (or ``[B]``) scores of the sampled negatives.
        """
        if negative_scores.dim() == 1:
            negative_scores = negative_scores.unsqueeze(1)
        loss = -F.logsigmoid(positive_scores.unsqueeze(1) - negative_scores).mean(dim=1)  # [B]
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()


def l2_regularization(*embeddings: torch.Tensor) -> torch.Tensor:
    r"""Batch L2 penalty of LightGCN / BPR-MF: :math:`\frac{1}{2B}\sum_t \lVert E_t \rVert_F^2` over the given ``[B, D]`` tensors."""
    batch = embeddings[0].shape[0]
    return sum(e.pow(2).sum() for e in embeddings) / (2 * batch)
