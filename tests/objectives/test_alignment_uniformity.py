import math

import pytest
import torch
import torch.nn.functional as F

from contrarec.objectives.alignment_uniformity import DirectAULoss


def slow_uniformity(x, t=2.0):
    vals = [math.exp(-t * float(((x[i] - x[j]) ** 2).sum())) for i in range(len(x)) for j in range(i + 1, len(x))]
    return math.log(sum(vals) / len(vals))


def test_hand_worked_pair():
    # users at +x and -x, items equal to their users: align 0, each uniformity = log e^{-2*4} = -8
    u = torch.tensor([[2.0, 0.0], [-1.0, 0.0]])
    terms = DirectAULoss(gamma=0.5)(u, u)
    assert float(terms["align"]) == pytest.approx(0.0)
    assert float(terms["uniform"]) == pytest.approx(-8.0)
    assert float(terms["total"]) == pytest.approx(-4.0)
    # orthogonal user/item: squared distance 2 on the sphere
    one = DirectAULoss(gamma=0.0)(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 5.0], [0.0, 1.0]]))
    assert float(one["align"]) == pytest.approx(2.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_slow_loop(seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(7, 4, generator=g)
    i = torch.randn(7, 4, generator=g)
    terms = DirectAULoss(gamma=0.5)(u, i)
    un, inn = F.normalize(u, dim=-1), F.normalize(i, dim=-1)
    align = sum(float(((un[b] - inn[b]) ** 2).sum()) for b in range(7)) / 7
    unif = (slow_uniformity(un) + slow_uniformity(inn)) / 2
    assert float(terms["align"]) == pytest.approx(align, rel=1e-5)
    assert float(terms["uniform"]) == pytest.approx(unif, rel=1e-5)
    assert float(terms["total"]) == pytest.approx(align + 0.5 * unif, rel=1e-5)


def test_collapse_is_penalised_and_gradients_flow():
    collapsed = DirectAULoss(gamma=1.0)(torch.ones(5, 3), torch.ones(5, 3))
    assert float(collapsed["uniform"]) == pytest.approx(0.0, abs=1e-6)  # the worst uniformity
    u = torch.randn(5, 3, requires_grad=True)
    DirectAULoss(gamma=1.0)(u, torch.randn(5, 3))["total"].backward()
    assert u.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        DirectAULoss(gamma=-1)
