r"""Softmax cross-entropy over ``a @ b.T`` when every logit is known to lie in ``[-c, c]``.

Between two views of normalised embeddings scaled by 1/τ (SGL, SimGCL, XSimGCL), every logit lies in
``[-1/τ, 1/τ]``. That bound replaces the row maxima of a stable log-sum-exp with one constant shift, which
lets the loss touch the ``[B, M]`` logits three times instead of about ten:

.. math:: \mathcal{L} = \frac1B\sum_b \Big[c + \log\sum_m e^{a_b^\top b_m - c} - a_b^\top b_{p_b}\Big],
    \qquad \frac{\partial\mathcal{L}}{\partial (a_b^\top b_m)} = \frac{e^{a_b^\top b_m - c}}{B\,S_b}
    - \frac{[m = p_b]}{B}

with :math:`S_b = \sum_m e^{a_b^\top b_m - c}`. The forward GEMM writes ``a bᵀ - c`` (``addmm``), ``exp_``
turns it into ``E`` in place and a row sum gives ``S``; the backward scales ``E`` in place into the softmax
and runs the two GEMMs. ``F.cross_entropy`` on the same logits builds a log-softmax, a zero-filled one-hot
gradient and a log-softmax backward, each a full pass over ``[B, M]``: on Yelp2018's ≈2,000 unique users a
batch, those passes cost more than the GEMMs.

The terms of ``E`` are at least ``e^{-2c}``, so :func:`bounded_cross_entropy` needs ``2c`` below the fp32
exponent range (:data:`MAX_BOUND`) and leaves larger bounds to the caller's stable path.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Largest bound c for which ``e^{-2c}`` stays a normal float32 (``e^-80`` ≈ 1.8e-35 > 1.2e-38).
MAX_BOUND = 40.0


class _BoundedCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy of ``a @ b.T`` against columns ``positives``, with the shift ``bound``."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, positives: Tensor, bound: float) -> Tensor:
        shifted = torch.addmm(a.new_full((1, 1), -bound), a, b.T)                      # [B, M] = a bᵀ - c
        exp_logits = shifted.exp_()                                                   # [B, M] = E, in place
        row_sums = exp_logits.sum(dim=1)                                              # [B] = S
        positive = (a * b[positives]).sum(dim=1)                                      # [B]
        ctx.save_for_backward(a, b, positives, row_sums)
        ctx.exp_logits, ctx.bound = exp_logits, bound
        return (row_sums.log() + bound - positive).mean()

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b, positives, row_sums = ctx.saved_tensors
        weight = grad / a.shape[0]                                                    # d loss / d row term
        exp_logits, ctx.exp_logits = ctx.exp_logits, None       # scaled in place below: used once
        if exp_logits is None:                                  # a second backward through the same graph
            exp_logits = torch.addmm(a.new_full((1, 1), -ctx.bound), a, b.T).exp_()
        prob = exp_logits.mul_((weight / row_sums).unsqueeze(1))                      # [B, M] weighted softmax
        grad_a = prob @ b                                                             # [B, D]
        grad_b = prob.T @ a                                                           # [M, D]
        grad_a.sub_(weight * b[positives])
        grad_b.index_add_(0, positives, a, alpha=-float(weight))
        return grad_a, grad_b, None, None


def bounded_cross_entropy(a: Tensor, b: Tensor, positives: Tensor, bound: float) -> Tensor:
    """``mean_b [logsumexp_m(a_b · b_m) - a_b · b_{p_b}]`` for logits known to lie in ``[-bound, bound]``.

    Args:
        a: ``[B, D]`` anchors.
        b: ``[M, D]`` candidates.
        positives: ``[B]`` int64 row of ``b`` that is each anchor's positive.
        bound: c with ``|a_b · b_m| <= c`` for all pairs (1/τ for normalised rows with ``a`` scaled by 1/τ),
            ``0 < c <= MAX_BOUND``.

    Returns:
        Scalar loss; gradients flow to ``a`` and ``b``.

    Raises:
        ValueError: if ``bound`` is outside ``(0, MAX_BOUND]``.
    """
    if not 0 < bound <= MAX_BOUND:
        raise ValueError(f"bound must lie in (0, {MAX_BOUND}], got {bound}")
    return _BoundedCrossEntropy.apply(a, b, positives, float(bound))
