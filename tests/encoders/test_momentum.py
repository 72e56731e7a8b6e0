import math

import pytest
import torch
from torch import nn

from contrarec.encoders.momentum import cosine_momentum, momentum_copy, update_momentum


def test_update_is_ema_of_parameters():
    online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    before = [p.clone() for p in target.parameters()]
    update_momentum(online, target, 0.9)
    for b, q, k in zip(before, online.parameters(), target.parameters()):
        assert torch.allclose(k, 0.9 * b + 0.1 * q)


def test_extremes_and_errors():
    online = nn.Linear(2, 2)
    target = momentum_copy(online)
    assert all(not p.requires_grad for p in target.parameters())
    with torch.no_grad():
        online.weight.add_(1.0)
    update_momentum(online, target, 1.0)
    assert not torch.allclose(target.weight, online.weight)
    update_momentum(online, target, 0.0)
    assert torch.equal(target.weight, online.weight)
    with pytest.raises(ValueError):
        update_momentum(online, target, 1.5)
    with pytest.raises(ValueError, match="parameters"):
        update_momentum(online, nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), 0.5)


def test_cosine_schedule_endpoints_and_midpoint():
    assert cosine_momentum(0, 100, 0.99, 1.0) == pytest.approx(0.99)
    assert cosine_momentum(100, 100, 0.99, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(50, 100, 0.9, 1.0) == pytest.approx(0.95)
    assert cosine_momentum(500, 100, 0.9, 1.0) == pytest.approx(1.0)
    vals = [cosine_momentum(t, 10, 0.5, 1.0) for t in range(11)]
    assert vals == sorted(vals)
