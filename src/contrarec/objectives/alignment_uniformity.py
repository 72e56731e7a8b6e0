"""Alignment and uniformity of normalised embeddings, and the DirectAU loss built from them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    r"""Alignment of positive pairs: :math:`\mathbb{E}_{(x,y)}\,\lVert f(x) - f(y)\rVert_2^\alpha` (lower = closer).

    Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and Uniformity
    on the Hypersphere", ICML 2020 (https://arxiv.org/abs/2005.10242), Eq. 4 (``alpha`` = α, default 2).

    Args:
        x: ``[B, D]`` first sides (normalised by the caller if wanted).
        y: ``[B, D]`` their positives.
        alpha: α > 0.

    Returns:
        Scalar (differentiable).
    """
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape")
    return (x - y).norm(dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    r"""Uniformity: :math:`\log \mathbb{E}_{i<j}\, e^{-t \lVert f(x_i) - f(x_j)\rVert_2^2}` (lower = more uniform).

    Over all pairs i < j of the rows of ``x`` (Wang & Isola 2020, Eq. 5; ``t`` = t, default 2).

    Args:
        x: ``[B, D]`` embeddings, B >= 2.
        t: t > 0.

    Returns:
        Scalar (differentiable).
    """
    if x.shape[0] < 2:
        raise ValueError(f"uniformity needs at least 2 rows, got {x.shape[0]}")
    sq = torch.pdist(x, p=2).pow(2)  # [B(B-1)/2]
    return torch.logsumexp(-t * sq, dim=0) - torch.log(torch.tensor(float(sq.numel()), dtype=x.dtype))


class DirectAULoss(nn.Module):
    r"""DirectAU: align users with their items, spread users and items out on the sphere.

    .. math::
        \mathcal{L} = \mathbb{E}_{(u,i)}\lVert \tilde e_u - \tilde e_i\rVert^2 + \gamma\,\tfrac12\big(
        \log \mathbb{E}_{u,u'} e^{-2\lVert \tilde e_u - \tilde e_{u'}\rVert^2} +
        \log \mathbb{E}_{i,i'} e^{-2\lVert \tilde e_i - \tilde e_{i'}\rVert^2}\big)

    with :math:`\tilde e = e / \lVert e\rVert` (``user``, ``item`` are normalised here), the uniformity
    terms over the batch's users and the batch's items, and γ = ``gamma``. Wang et al., "Towards
    Representation Alignment and Uniformity in Collaborative Filtering", KDD 2022
    (https://arxiv.org/abs/2206.12811), Eq. 7–9; Wang & Isola, ICML 2020.

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
            user: ``[B, D]`` user embeddings of the batch's pairs.
            item: ``[B, D]`` the pairs' item embeddings.

        Returns:
            ``{"total", "align", "uniform"}`` scalars (``total = align + gamma * uniform``).
        """
        u, i = F.normalize(user, dim=-1), F.normalize(item, dim=-1)
        align = alignment(u, i)
        uniform = (uniformity(u) + uniformity(i)) / 2
        return {"total": align + self.gamma * uniform, "align": align, "uniform": uniform}
