"""Learnable prototypes (cluster centres) on the unit sphere, for SwAV-style objectives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Prototypes(nn.Module):
    r"""K learnable prototype vectors :math:`C = [c_1, \dots, c_K]` scoring embeddings by :math:`z^\top c_k`.

    Call :meth:`normalize` before each step so the prototypes stay on the unit sphere (SwAV normalises
    them after every update). For the first ``frozen_steps`` steps the scores carry no gradient to the
    prototypes (SwAV freezes them during the first epoch, which helps the early optimisation).
    Caron et al., SwAV, NeurIPS 2020 (https://arxiv.org/abs/2006.09882), §4 / Appendix A.

    Args:
        num_prototypes: K (>= 1).
        dim: D.
        frozen_steps: steps during which the prototypes receive no gradient.

    Shapes:
        ``forward(z [B, D], step) -> [B, K]``.
    """

    def __init__(self, num_prototypes: int, dim: int, frozen_steps: int = 0) -> None:
        super().__init__()
        if num_prototypes < 1 or dim < 1:
            raise ValueError(f"num_prototypes and dim must be >= 1, got {num_prototypes}, {dim}")
        if frozen_steps < 0:
            raise ValueError(f"frozen_steps must be >= 0, got {frozen_steps}")
        self.weight = nn.Parameter(F.normalize(torch.randn(num_prototypes, dim), dim=-1))
        self.frozen_steps = frozen_steps

    @property
    def num_prototypes(self) -> int:
        """K."""
        return int(self.weight.shape[0])

    @torch.no_grad()
    def normalize(self) -> None:
        """Project every prototype back to unit norm (in place)."""
        self.weight.copy_(F.normalize(self.weight, dim=-1))

    def forward(self, z: torch.Tensor, step: int | None = None) -> torch.Tensor:
        """Scores ``[B, K]`` of embeddings ``z [B, D]``; detached prototypes while ``step < frozen_steps``."""
        frozen = step is not None and step < self.frozen_steps
        weight = self.weight.detach() if frozen else self.weight
        return z @ weight.T  # [B, D] @ [D, K] -> [B, K]
