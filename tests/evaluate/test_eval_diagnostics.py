"""Alignment and uniformity against slow loops from the paper's definitions."""

import math

import numpy as np
import pytest
import torch

from contrarec.evaluate.diagnostics import alignment, alignment_uniformity, uniformity


def _unit(v):
    norm = math.sqrt(sum(a * a for a in v))
    return [a / norm for a in v]


def _slow_alignment(x, y, alpha):
    total = 0.0
    for a, b in zip(x.tolist(), y.tolist()):
        a, b = _unit(a), _unit(b)
        total += math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b))) ** alpha
    return total / len(x)


def _slow_uniformity(x, t):
    rows = [_unit(r) for r in x.tolist()]
    terms = [math.exp(-t * sum((p - q) ** 2 for p, q in zip(rows[i], rows[j])))
             for i in range(len(rows)) for j in range(i + 1, len(rows))]
    return math.log(sum(terms) / len(terms))


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_alignment_matches_loop(alpha):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(13, 5, generator=gen, dtype=torch.float64), torch.randn(13, 5, generator=gen, dtype=torch.float64)
    assert float(alignment(x, y, alpha)) == pytest.approx(_slow_alignment(x, y, alpha), rel=1e-10)
    assert float(alignment(x, 3 * x)) == pytest.approx(0.0, abs=1e-12)     # scale invariant


@pytest.mark.parametrize("t", [1.0, 2.0])
def test_uniformity_matches_loop(t):
    x = torch.randn(11, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert float(uniformity(x, t)) == pytest.approx(_slow_uniformity(x, t), rel=1e-10)
    # antipodal pair: distance^2 = 4 -> log exp(-4t)
    assert float(uniformity(torch.tensor([[0.0, 2.0], [0.0, -1.0]]), t)) == pytest.approx(-4 * t)


def test_alignment_uniformity_sampling_is_bounded_and_repeatable():
    gen = torch.Generator().manual_seed(2)
    users, items = torch.randn(50, 8, generator=gen), torch.randn(70, 8, generator=gen)
    rng = np.random.default_rng(0)
    pu, pi = rng.integers(0, 50, 5000), rng.integers(0, 70, 5000)
    a = alignment_uniformity(users, items, pu, pi, max_pairs=300, max_points=20,
                             generator=torch.Generator().manual_seed(7))
    b = alignment_uniformity(users, items, pu, pi, max_pairs=300, max_points=20,
                             generator=torch.Generator().manual_seed(7))
    assert a == b
    assert a["pairs"] == 300
    assert a["uniformity"] == pytest.approx((a["uniformity_user"] + a["uniformity_item"]) / 2)


def test_alignment_uniformity_small_input_uses_everything():
    users, items = torch.randn(4, 3), torch.randn(5, 3)
    pu, pi = np.array([0, 1, 2, 3]), np.array([4, 3, 2, 1])
    out = alignment_uniformity(users, items, pu, pi)
    assert out["alignment"] == pytest.approx(float(alignment(users[pu], items[pi])))
    assert out["uniformity_user"] == pytest.approx(float(uniformity(users)))
    assert out["uniformity_item"] == pytest.approx(float(uniformity(items[torch.tensor([1, 2, 3, 4])])))
