import math

import pytest
import torch

from contrarec.objectives.sinkhorn import sinkhorn
from contrarec.objectives.swav import SwaVLoss


@pytest.mark.parametrize("b,k", [(8, 4), (6, 10), (32, 5)])
def test_sinkhorn_marginals(b, k):
    g = torch.Generator().manual_seed(b * k)
    q = sinkhorn(torch.randn(b, k, generator=g), epsilon=0.5, iterations=200)
    assert torch.allclose(q.sum(1), torch.ones(b), atol=1e-5)  # each example is a distribution
    assert torch.allclose(q.sum(0), torch.full((k,), b / k), atol=1e-4)  # equal partition
    assert (q >= 0).all()


def test_sinkhorn_balances_a_collapsed_batch():
    # every example prefers prototype 0; Sinkhorn still spreads the mass evenly
    scores = torch.tensor([[1.0, 0.0]] * 4) + torch.tensor([[0.0, 0.01], [0.0, 0.02], [0.0, 0.03], [0.0, 0.04]])
    q = sinkhorn(scores, epsilon=0.05, iterations=50)
    assert torch.allclose(q.sum(0), torch.tensor([2.0, 2.0]), atol=1e-3)
    assert q[0, 0] > q[3, 0]  # the ones that like prototype 1 the most get it


def test_sinkhorn_has_no_grad_and_validates():
    s = torch.randn(3, 2, requires_grad=True)
    assert not sinkhorn(s).requires_grad
    with pytest.raises(ValueError):
        sinkhorn(s, epsilon=0)
    with pytest.raises(ValueError):
        sinkhorn(torch.randn(3))


def slow_swav(sa, sb, tau, eps, iters):
    def codes(s):
        b, k = s.shape
        q = [[math.exp(float(s[i, j]) / eps) for i in range(b)] for j in range(k)]  # K x B
        tot = sum(map(sum, q))
        q = [[v / tot for v in row] for row in q]
        for _ in range(iters):
            q = [[v / sum(row) / k for v in row] for row in q]
            cols = [sum(q[j][i] for j in range(k)) for i in range(b)]
            q = [[q[j][i] / cols[i] / b for i in range(b)] for j in range(k)]
        return [[q[j][i] * b for j in range(k)] for i in range(b)]

    def ce(s, q):
        total = 0.0
        for i in range(s.shape[0]):
            lse = math.log(sum(math.exp(float(v) / tau) for v in s[i]))
            total += -sum(q[i][j] * (float(s[i, j]) / tau - lse) for j in range(s.shape[1]))
        return total / s.shape[0]

    return 0.5 * (ce(sa, codes(sb)) + ce(sb, codes(sa)))


@pytest.mark.parametrize("seed", [0, 1])
def test_swav_matches_slow_loop(seed):
    g = torch.Generator().manual_seed(seed)
    sa, sb = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    got = SwaVLoss(temperature=0.3, epsilon=0.5, sinkhorn_iterations=3)(sa, sb)
    assert float(got) == pytest.approx(slow_swav(sa, sb, 0.3, 0.5, 3), rel=1e-5)


def test_swav_hand_worked_uniform_scores():
    # equal scores -> codes uniform (1/K each) and predictions uniform: loss = log K
    s = torch.zeros(4, 3)
    assert float(SwaVLoss()(s, s)) == pytest.approx(math.log(3), rel=1e-6)


def test_swav_gradient_flows_to_both_sides():
    sa = torch.randn(6, 4, requires_grad=True)
    sb = torch.randn(6, 4, requires_grad=True)
    SwaVLoss()(sa, sb).backward()
    assert sa.grad.abs().sum() > 0 and sb.grad.abs().sum() > 0
    assert SwaVLoss(reduction="none")(sa, sb).shape == (6,)
    with pytest.raises(ValueError):
        SwaVLoss(temperature=0)
