"""Momentum (EMA) copies of encoders: the update and its schedule, as plain functions."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def momentum_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy of ``module`` to serve as its momentum (target) encoder.

    The copy's parameters have ``requires_grad=False``; it is updated only by :func:`update_momentum`.
    """
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def update_momentum(online: nn.Module, target: nn.Module, momentum: float) -> None:
    r"""Exponential moving average of parameters: :math:`\theta_k \leftarrow m\,\theta_k + (1-m)\,\theta_q`.

    ``momentum`` is m of He et al., "Momentum Contrast for Unsupervised Visual Representation Learning",
    CVPR 2020 (https://arxiv.org/abs/1911.05722), Eq. 2. ``m = 0`` copies the online weights; ``m = 1``
    freezes the target. Buffers are copied as they are.

    Args:
        online: the trained encoder (θ_q).
        target: its momentum copy (θ_k), same architecture; updated in place.
        momentum: m in [0, 1].

    Raises:
        ValueError: m outside [0, 1], or the two modules' parameters do not match.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    online_params = list(online.parameters())
    target_params = list(target.parameters())
    if len(online_params) != len(target_params):
        raise ValueError(f"online has {len(online_params)} parameters, target {len(target_params)}")
    for q, k in zip(online_params, target_params):
        if q.shape != k.shape:
            raise ValueError(f"parameter shapes differ: online {tuple(q.shape)} vs target {tuple(k.shape)}")
        k.mul_(momentum).add_(q.detach(), alpha=1.0 - momentum)
    for qb, kb in zip(online.buffers(), target.buffers()):
        kb.copy_(qb)


def cosine_momentum(step: int, total_steps: int, start: float = 0.996, end: float = 1.0) -> float:
    r"""Momentum raised from ``start`` to ``end`` along a half cosine over ``total_steps``.

    :math:`m_t = end - (end - start)\,(\cos(\pi t / T) + 1) / 2` (BYOL, Grill et al., NeurIPS 2020,
    https://arxiv.org/abs/2006.07733, §3.2). Steps past ``total_steps`` give ``end``.

    Args:
        step: t >= 0.
        total_steps: T >= 1.
        start: m at t = 0.
        end: m at t = T.
    """
    if total_steps < 1 or step < 0:
        raise ValueError(f"need total_steps >= 1 and step >= 0, got {total_steps}, {step}")
    t = min(step, total_steps) / total_steps
    return end - (end - start) * (math.cos(math.pi * t) + 1) / 2
