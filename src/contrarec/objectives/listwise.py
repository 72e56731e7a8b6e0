"""Listwise softmax over a precomputed score matrix whose columns differ per row (pre-ranking)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from contrarec.negatives.corrections import masked_value


class ListwiseSoftmaxLoss(nn.Module):
    r"""Sampled softmax over per-row candidate lists: the positive, in-batch positives and hard negatives.

    A pre-ranker scores pairs with a non-factorised model, so its logits are a ``[B, C]`` matrix
    computed pair by pair rather than ``query @ keys.T``; the InfoNCE recipe is otherwise the same:

    .. math::
        s_{bc} = f(u_b, i_{bc}) / \tau - \log Q_{bc},\qquad
        \mathcal{L} = -\frac{1}{B}\sum_b \log \frac{e^{s_{b,p_b}}}{\sum_{c \notin M_b} e^{s_{bc}}}

    with :math:`f` the scores (``scores``), :math:`\tau` the temperature, :math:`Q_{bc}` the expected count
    of item :math:`i_{bc}` among row b's sampled negatives (``log_q``), :math:`p_b` the positive column
    (``positive_columns``) and :math:`M_b` the masked columns (``mask``: accidental hits, i.e. other
    positives of the same user). Corrections follow STYLE §4: temperature, then logQ, then the mask.

    Sources: van den Oord et al. 2018 (InfoNCE, https://arxiv.org/abs/1807.03748); Yi et al., RecSys 2019
    (logQ); Covington et al., RecSys 2016 and Wang et al., "COLD", 2020 (https://arxiv.org/abs/2007.16122)
    for pre-ranking on the recall stage's candidates.

    Args:
        reduction: ``"mean" | "sum" | "none"``.

    Example:
        >>> scores = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
        >>> loss = ListwiseSoftmaxLoss()(scores, temperature=1.0)  # positives on the diagonal
        >>> round(float(loss), 4) == round(float(torch.log(1 + 2 * torch.exp(torch.tensor(-5.0)))), 4)
        True
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def forward(self, scores: torch.Tensor, *, temperature: float | torch.Tensor,
                log_q: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                positive_columns: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            scores: ``[B, C]`` model scores of each row's candidates.
            temperature: τ > 0.
            log_q: ``[B, C]`` log expected sample count of each candidate (None = no correction).
            mask: ``[B, C]`` bool, True = drop the column from row b's softmax (never the positive).
            positive_columns: ``[B]`` column of each row's positive (default ``arange(B)``).

        Returns:
            Scalar, or ``[B]`` with ``reduction="none"``.
        """
        if float(temperature) <= 0:
            raise ValueError(f"temperature must be > 0, got {float(temperature)}")
        if scores.ndim != 2:
            raise ValueError(f"scores must be [B, C], got shape {tuple(scores.shape)}")
        rows = torch.arange(scores.shape[0], device=scores.device)
        labels = rows if positive_columns is None else positive_columns
        logits = scores / temperature  # [B, C]
        if log_q is not None:
            if log_q.shape != scores.shape:
                raise ValueError(f"log_q has shape {tuple(log_q.shape)}, expected {tuple(scores.shape)}")
            logits = logits - log_q.to(logits.dtype)
        if mask is not None:
            mask = mask.clone()
            mask[rows, labels] = False
            logits = logits.masked_fill(mask, masked_value(logits.dtype))
        loss = F.cross_entropy(logits, labels, reduction="none")  # [B]
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()
