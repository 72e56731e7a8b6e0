import math

import pytest
import torch

from contrarec.objectives.bpr import BPRLoss, l2_regularization


def test_hand_worked():
    # -log σ(2 - 0) = log(1 + e^{-2})
    assert float(BPRLoss()(torch.tensor([2.0]), torch.tensor([0.0]))) == pytest.approx(math.log(1 + math.exp(-2)))


def test_matches_loop_with_several_negatives():
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(4, generator=g), torch.randn(4, 3, generator=g)
    want = sum(sum(-math.log(1 / (1 + math.exp(-(float(pos[b]) - float(neg[b, m]))))) for m in range(3)) / 3
               for b in range(4)) / 4
    assert float(BPRLoss()(pos, neg)) == pytest.approx(want, rel=1e-6)


def test_l2_regularization_is_half_squared_norm_per_example():
    a, b = torch.ones(2, 3), 2 * torch.ones(2, 3)
    assert float(l2_regularization(a, b)) == pytest.approx((6 + 24) / (2 * 2))
