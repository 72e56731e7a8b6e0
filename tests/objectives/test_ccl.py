import pytest
import torch

from contrarec.objectives.ccl import CosineContrastiveLoss


def loop_reference(pos, neg, valid, margin, weight):
    total = 0.0
    for b in range(len(pos)):
        kept = [float(neg[b, j]) for j in range(neg.shape[1]) if valid is None or bool(valid[b, j])]
        hinge = sum(max(0.0, s - margin) for s in kept) / max(len(kept), 1)
        total += max(0.0, 1.0 - float(pos[b])) + weight * hinge
    return total / len(pos)


def test_hand_worked():
    # (1 - 0.5) + 10 * mean(max(0, 0.95 - 0.9), max(0, 0.2 - 0.9)) = 0.5 + 10 * 0.025
    loss = CosineContrastiveLoss(margin=0.9, negative_weight=10.0)(torch.tensor([0.5]), torch.tensor([[0.95, 0.2]]))
    assert float(loss) == pytest.approx(0.75)


@pytest.mark.parametrize("masked", [False, True])
def test_matches_loop_reference(masked):
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.rand(6, generator=g) * 2 - 1, torch.rand(6, 9, generator=g) * 2 - 1
    valid = (torch.rand(6, 9, generator=g) > 0.3) if masked else None
    if masked:
        valid[2] = False  # a row without negatives keeps only its positive term
    got = CosineContrastiveLoss(margin=0.1, negative_weight=3.0)(pos, neg, valid)
    assert float(got) == pytest.approx(loop_reference(pos, neg, valid, 0.1, 3.0), rel=1e-6)


def test_negatives_below_the_margin_get_no_gradient():
    neg = torch.tensor([[0.95, 0.3, -0.2]], requires_grad=True)
    CosineContrastiveLoss(margin=0.4, negative_weight=6.0)(torch.tensor([0.8]), neg).backward()
    assert neg.grad.tolist() == [[pytest.approx(2.0), 0.0, 0.0]]  # w / M on the one negative above m


def test_masked_columns_get_no_gradient_and_do_not_dilute_the_mean():
    neg = torch.tensor([[0.95, 0.95]], requires_grad=True)
    loss = CosineContrastiveLoss(margin=0.9, negative_weight=1.0)(torch.tensor([1.0]), neg,
                                                                  torch.tensor([[True, False]]))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.05)
    assert neg.grad.tolist() == [[pytest.approx(1.0), 0.0]]


@pytest.mark.parametrize("margin,weight", [(1.0, 1.0), (-1.5, 1.0), (0.5, -1.0)])
def test_rejects_bad_settings(margin, weight):
    with pytest.raises(ValueError):
        CosineContrastiveLoss(margin, weight)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[B, M\]"):
        CosineContrastiveLoss(0.5, 1.0)(torch.zeros(3), torch.zeros(2, 4))
