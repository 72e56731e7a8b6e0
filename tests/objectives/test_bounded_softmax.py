"""The bounded softmax cross-entropy against F.cross_entropy: values, gradients, a repeated backward."""

import pytest
import torch
import torch.nn.functional as F

from contrarec.objectives.bounded_softmax import MAX_BOUND, bounded_cross_entropy


def _views(b: int, m: int, scale: float, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(b, 8, generator=gen, dtype=torch.float64), dim=-1) * scale
    c = F.normalize(torch.randn(m, 8, generator=gen, dtype=torch.float64), dim=-1)
    return a.requires_grad_(), c.requires_grad_()


@pytest.mark.parametrize("positives", [None, [0, 5, 5, 2, 8]])
@pytest.mark.parametrize("scale", [0.5, 5.0, 20.0])
def test_matches_cross_entropy_and_its_gradients(positives, scale):
    a, b = _views(5, 9 if positives else 5, scale)
    pos = torch.tensor(positives) if positives else torch.arange(5)
    ours = bounded_cross_entropy(a, b, pos, bound=scale)
    ga, gb = torch.autograd.grad(ours, (a, b))
    ref = F.cross_entropy(a @ b.T, pos)
    ra, rb = torch.autograd.grad(ref, (a, b))
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(ga, ra)
    torch.testing.assert_close(gb, rb)


def test_gradcheck_and_a_second_backward():
    a, b = _views(4, 6, 3.0, seed=1)
    pos = torch.tensor([1, 0, 5, 1])
    assert torch.autograd.gradcheck(lambda x, y: bounded_cross_entropy(x, y, pos, 3.0), (a, b))
    loss = bounded_cross_entropy(a, b, pos, 3.0) * 2.0
    first = torch.autograd.grad(loss, (a, b), retain_graph=True)
    second = torch.autograd.grad(loss, (a, b))                    # the in-place softmax is rebuilt
    for x, y in zip(first, second):
        torch.testing.assert_close(x, y)


def test_bound_outside_the_float_range_is_refused():
    a, b = _views(2, 2, 1.0)
    with pytest.raises(ValueError, match="bound must lie in"):
        bounded_cross_entropy(a, b, torch.arange(2), MAX_BOUND * 2)


@pytest.mark.parametrize("temperature", [0.2, 0.01])                # bound 5 (bounded path), 100 (fallback)
def test_info_nce_between_views_on_both_paths(temperature):
    from contrarec.objectives.infonce import info_nce_between_views

    gen = torch.Generator().manual_seed(2)
    va, vb = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    ref = F.cross_entropy(F.normalize(va, dim=-1) @ F.normalize(vb, dim=-1).T / temperature, torch.arange(6))
    torch.testing.assert_close(info_nce_between_views(va, vb, temperature), ref)
