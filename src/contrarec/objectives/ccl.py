"""SimpleX's cosine contrastive loss (CCL)."""

from __future__ import annotations

import torch
from torch import nn


class CosineContrastiveLoss(nn.Module):
    r"""Pull each positive's cosine to 1; push negatives only while their cosine exceeds a margin m.

    .. math::
        \mathcal{L} = \frac{1}{B}\sum_b \Big[\big(1 - \hat y_{b}^{+}\big)
            + \frac{w}{|\mathcal{N}_b|}\sum_{j \in \mathcal{N}_b} \max\big(0,\ \hat y_{bj} - m\big)\Big]

    with :math:`\hat y` cosine similarities, :math:`\mathcal N_b` row b's valid negatives and w the negative
    weight. Unlike InfoNCE no negative is pushed once it lies below the margin, so easy negatives drop out
    of the gradient and w balances the (many) negatives against the one positive.

    Mao et al., "SimpleX: A Simple and Strong Baseline for Collaborative Filtering", CIKM 2021, eq. 4
    (https://arxiv.org/abs/2109.12613).

    Args:
        margin: m in [-1, 1).
        negative_weight: w ≥ 0.

    Example:
        >>> loss = CosineContrastiveLoss(margin=0.5, negative_weight=2.0)
        >>> round(float(loss(torch.tensor([0.75]), torch.tensor([[0.9, 0.1]]))), 4)  # 0.25 + 2 * (0.4 + 0) / 2
        0.65
    """

    def __init__(self, margin: float, negative_weight: float) -> None:
        super().__init__()
        if not -1.0 <= margin < 1.0:
            raise ValueError(f"margin must lie in [-1, 1), got {margin}")
        if negative_weight < 0:
            raise ValueError(f"negative_weight must be >= 0, got {negative_weight}")
        self.margin = margin
        self.negative_weight = negative_weight

    def forward(self, positive_scores: torch.Tensor, negative_scores: torch.Tensor,
                valid: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            positive_scores: ``[B]`` cosines of the positives.
            negative_scores: ``[B, M]`` cosines of the negatives.
            valid: ``[B, M]`` bool, False where a column is not a negative of that row (an accidental hit);
                None = every column counts. A row without valid negatives has no negative term.
        """
        if negative_scores.dim() != 2 or negative_scores.shape[0] != positive_scores.shape[0]:
            raise ValueError(f"negative_scores must be [B, M] with B = {positive_scores.shape[0]}, "
                             f"got {tuple(negative_scores.shape)}")
        hinge = (negative_scores - self.margin).clamp_min(0)  # [B, M]
        if valid is None:
            negative = hinge.mean(dim=1)  # [B]
        else:
            hinge = hinge.masked_fill(~valid, 0.0)
            negative = hinge.sum(dim=1) / valid.sum(dim=1).clamp_min(1)  # [B]
        return ((1.0 - positive_scores).clamp_min(0) + self.negative_weight * negative).mean()
