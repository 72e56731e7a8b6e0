"""The DirectAU loss: alignment + γ·uniformity of normalised user and item embeddings.

The two terms are the differentiable functions of :mod:`contrarec.evaluate.diagnostics` (the same ones
logged every epoch as diagnostics), so what the loss optimises is exactly what the diagnostics report.
"""

from __future__ import annotations

import torch
from torch import nn

from contrarec.evaluate.diagnostics import alignment, uniformity


class DirectAULoss(nn.Module):
    r"""DirectAU: align users with their items, spread users and items out on the sphere.

    .. math::
        \mathcal{L} = \mathbb{E}_{(u,i)}\lVert \tilde e_u - \tilde e_i\rVert^2 + \gamma\,\tfrac12\big(
        \log \mathbb{E}_{u,u'} e^{-2\lVert \tilde e_u - \tilde e_{u'}\rVert^2} +
        \log \mathbb{E}_{i,i'} e^{-2\lVert \tilde e_i - \tilde e_{i'}\rVert^2}\big)

    with :math:`\tilde e = e / \lVert e\rVert` (``user``, ``item`` are normalised inside), the uniformity
    terms over all pairs of the batch's users and of the batch's items, and γ = ``gamma``. Wang et al.,
    "Towards Representation Alignment and Uniformity in Collaborative Filtering", KDD 2022
    (https://arxiv.org/abs/2206.12811), Eq. 7–9; Wang & Isola, "Understanding Contrastive Representation
    Learning through Alignment and Uniformity on the Hypersphere", ICML 2020
    (https://arxiv.org/abs/2005.10242), Eq. 4–5.

    Args:
        gamma: γ >= 0, weight of uniformity (paper: 0.5–5, tuned per data set).

    Example:
        >>> u, i = torch.randn(6, 4), torch.randn(6, 4)
        >>> terms = DirectAULoss(gamma=1.0)(u, i)
        >>> sorted(terms)
        ['align', 'total', 'uniform']
    """

    def __init__(self, gamma: float = 1.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = gamma

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> dict[str, torch.Tensor]:
        """Compute the loss terms.

        Args:
            user: ``[B, D]`` user embeddings of the batch's pairs (B >= 2).
            item: ``[B, D]`` the pairs' item embeddings.

        Returns:
            ``{"total", "align", "uniform"}`` scalars (``total = align + gamma * uniform``).
        """
        align = alignment(user, item)
        uniform = (uniformity(user) + uniformity(item)) / 2
        return {"total": align + self.gamma * uniform, "align": align, "uniform": uniform}
