"""Alignment and uniformity of L2-normalised embeddings, cheap enough to log every epoch.

Wang & Isola, "Understanding Contrastive Representation Learning through Alignment and Uniformity on
the Hypersphere", ICML 2020 (https://arxiv.org/abs/2005.10242); used as a recommendation objective and
diagnostic by DirectAU (Wang et al., KDD 2022, https://arxiv.org/abs/2206.12811).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def alignment(x: Tensor, y: Tensor, alpha: float = 2.0) -> Tensor:
    r"""Mean distance between positive pairs on the unit sphere (lower = better aligned).

    .. math:: \ell_{align} = \mathbb{E}_{(x, y)} \lVert \hat x - \hat y \rVert_2^{\alpha},
              \qquad \hat x = x / \lVert x \rVert_2

    Args:
        x: ``[B, D]`` first elements of the pairs (e.g. users).
        y: ``[B, D]`` second elements (e.g. their positive items).
        alpha: exponent α (paper default 2).

    Returns:
        Scalar tensor in ``[0, 2^alpha]``.

    Example:
        >>> round(float(alignment(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]]))), 4)  # |(1,-1)|^2
        2.0
    """
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must both be [B, D]")
    diff = F.normalize(x, dim=1) - F.normalize(y, dim=1)                 # [B, D]
    return diff.norm(dim=1).pow(alpha).mean()


def uniformity(x: Tensor, t: float = 2.0) -> Tensor:
    r"""Log mean Gaussian potential over distinct pairs on the unit sphere (lower = more uniform).

    .. math:: \ell_{uniform} = \log \frac{2}{B(B-1)} \sum_{i<j} e^{-t \lVert \hat x_i - \hat x_j \rVert_2^2}

    Args:
        x: ``[B, D]`` embeddings, ``B >= 2``.
        t: temperature t of the potential (paper default 2).

    Returns:
        Scalar tensor in ``[-4t, 0]``.

    Example:
        >>> float(uniformity(torch.tensor([[1.0, 0.0], [-2.0, 0.0]])))  # log exp(-2 * 4)
        -8.0
    """
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must be [B, D] with B >= 2, got shape {tuple(x.shape)}")
    sq_dist = torch.pdist(F.normalize(x, dim=1), p=2).pow(2)            # [B(B-1)/2]
    return sq_dist.mul(-t).exp().mean().log()


@torch.no_grad()
def alignment_uniformity(user_emb: Tensor, item_emb: Tensor, pairs_users: np.ndarray | Tensor,
                         pairs_items: np.ndarray | Tensor, max_pairs: int = 4096, max_points: int = 2048,
                         generator: torch.Generator | None = None, alpha: float = 2.0,
                         t: float = 2.0) -> dict[str, float]:
    """Alignment over sampled positive pairs and uniformity over sampled users and items.

    Samples up to ``max_pairs`` of the (user, item) pairs without replacement for alignment; uniformity
    is computed separately on up to ``max_points`` distinct users and distinct items of those pairs, and
    averaged as in DirectAU: ``uniformity = (uniformity_user + uniformity_item) / 2``. Cost is bounded
    by ``max_pairs * D + max_points^2 * D``.

    Args:
        user_emb: ``[U, D]`` user embeddings.
        item_emb: ``[N, D]`` item embeddings.
        pairs_users: ``[E]`` user id of each positive pair (e.g. training interactions).
        pairs_items: ``[E]`` item id of each pair.
        max_pairs: most pairs used for alignment.
        max_points: most users (and most items) used for each uniformity term.
        generator: random source for the samples (seed it for repeatable numbers).
        alpha: alignment exponent.
        t: uniformity temperature.

    Returns:
        ``{"alignment", "uniformity", "uniformity_user", "uniformity_item", "pairs"}`` as floats.
    """
    pu = torch.as_tensor(np.asarray(pairs_users) if not isinstance(pairs_users, Tensor) else pairs_users)
    pi = torch.as_tensor(np.asarray(pairs_items) if not isinstance(pairs_items, Tensor) else pairs_items)
    if pu.shape != pi.shape or pu.ndim != 1 or len(pu) == 0:
        raise ValueError(f"pairs_users {tuple(pu.shape)} and pairs_items {tuple(pi.shape)} must be equal, "
                         "non-empty [E] arrays")
    take = _sample(len(pu), max_pairs, generator)
    users, items = pu[take].long(), pi[take].long()
    dev_u, dev_i = user_emb.device, item_emb.device
    align = alignment(user_emb[users.to(dev_u)], item_emb[items.to(dev_i)], alpha)
    unif_u = _uniformity_of(user_emb, users, max_points, generator, t)
    unif_i = _uniformity_of(item_emb, items, max_points, generator, t)
    return {"alignment": float(align), "uniformity": (unif_u + unif_i) / 2.0,
            "uniformity_user": unif_u, "uniformity_item": unif_i, "pairs": float(len(take))}


def _sample(n: int, most: int, generator: torch.Generator | None) -> Tensor:
    """``[min(n, most)]`` distinct indices in ``0..n-1`` (all of them, in order, when ``n <= most``)."""
    if n <= most:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:most]


def _uniformity_of(emb: Tensor, ids: Tensor, most: int, generator: torch.Generator | None, t: float) -> float:
    """Uniformity over up to ``most`` distinct rows of ``emb`` among ``ids`` (NaN if fewer than 2)."""
    distinct = torch.unique(ids)
    distinct = distinct[_sample(len(distinct), most, generator)]
    if len(distinct) < 2:
        return float("nan")
    return float(uniformity(emb[distinct.to(emb.device)], t))
