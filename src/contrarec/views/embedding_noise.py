"""SimGCL's embedding-space view: signed uniform noise.

Pure functions of their inputs and an explicit ``torch.Generator``; they return the noise drawn and never
mutate their input. (Masking embedding dimensions is ``views.feature_masking.feature_dropout`` over D columns.)

Shape legend: R rows (nodes), D embedding dim.
"""

from __future__ import annotations

import torch


def sign_uniform_noise(emb: torch.Tensor, noise_eps: float,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """SimGCL's noise Δ for embeddings ``emb``: ``Δ = ε · sign(e) ⊙ r / ||r||₂`` with r ~ U(0, 1)^D per row.

    The noise is a random vector of length ε in the hyper-octant of e, so ``e + Δ`` turns e by a small
    angle without flipping any coordinate's sign (Yu et al., "Are Graph Augmentations Necessary? Simple
    Graph Contrastive Learning for Recommendation", SIGIR 2022, eq. 7, https://arxiv.org/abs/2112.08679;
    SELFRec ``SimGCL_Encoder``: ``emb += torch.sign(emb) * F.normalize(torch.rand_like(emb), dim=-1) * eps``).
    Coordinates that are exactly 0 get no noise.

    Args:
        emb: ``[R, D]`` embeddings (only their signs are read; no gradient flows through Δ).
        noise_eps: ε ≥ 0, the L2 norm of each row of Δ.
        generator: the random source.

    Returns:
        Δ ``[R, D]``, the noise to add (``emb + Δ`` is the perturbed view).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> delta = sign_uniform_noise(torch.tensor([[1.0, -2.0]]), 0.1, g)
        >>> round(float(delta.norm()), 4), bool(delta[0, 0] > 0), bool(delta[0, 1] < 0)
        (0.1, True, True)
    """
    if noise_eps < 0:
        raise ValueError(f"noise_eps must be >= 0, got {noise_eps}")
    if emb.ndim != 2:
        raise ValueError(f"emb must be [R, D], got shape {tuple(emb.shape)}")
    with torch.no_grad():
        noise = torch.rand(tuple(emb.shape), generator=generator, dtype=emb.dtype)  # [R, D]
        scale = torch.linalg.vector_norm(noise, dim=-1, keepdim=True).clamp_min_(1e-12).reciprocal_()
        return noise.mul_(scale.mul_(noise_eps)).mul_(torch.sign(emb))
