import math

import pytest
import torch
import torch.nn.functional as F

from contrarec.negatives.corrections import (accidental_hits, apply_log_q, mask_accidental_hits, mask_all_but_hardest,
                                             mixture_log_q)
from contrarec.objectives.infonce import InfoNCELoss, info_nce_between_views


def slow_infonce(q, k, tau, log_q=None, ids=None, extra=None, extra_ids=None, extra_log_q=None, in_batch=True):
    """Loop reference straight from the formula: -log softmax over (batch keys + extra keys); without
    ``in_batch`` the other rows' keys are left out (sampled softmax)."""
    keys = k if extra is None else torch.cat([k, extra])
    all_ids = None if ids is None else (ids if extra is None else torch.cat([ids, extra_ids]))
    all_lq = None if log_q is None else (log_q if extra is None else torch.cat([log_q, extra_log_q]))
    total = 0.0
    for b in range(q.shape[0]):
        terms = []
        for c in range(keys.shape[0]):
            if all_ids is not None and c != b and all_ids[c] == ids[b]:
                continue
            if not in_batch and c < k.shape[0] and c != b:
                continue
            s = float(q[b] @ keys[c]) / tau
            if all_lq is not None:
                s -= float(all_lq[c])
            terms.append(s)
        pos = float(q[b] @ keys[b]) / tau - (float(all_lq[b]) if all_lq is not None else 0.0)
        total += -(pos - math.log(sum(math.exp(t) for t in terms)))
    return total / q.shape[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_sampled_softmax_without_in_batch_negatives_matches_slow_loop(seed):
    g = torch.Generator().manual_seed(seed)
    q, k = F.normalize(torch.randn(5, 4, generator=g), dim=-1), F.normalize(torch.randn(5, 4, generator=g), dim=-1)
    extra = F.normalize(torch.randn(4, 4, generator=g), dim=-1)
    ids, extra_ids = torch.tensor([3, 1, 3, 2, 5]), torch.tensor([1, 9, 3, 3])
    log_q, extra_log_q = torch.log(torch.rand(5, generator=g) + 0.1), torch.log(torch.rand(4, generator=g) + 0.1)
    loss = InfoNCELoss(in_batch_negatives=False)
    got = loss(q, k, temperature=0.3, key_ids=ids, key_log_q=log_q, extra_keys=extra, extra_ids=extra_ids,
               extra_log_q=extra_log_q)
    want = slow_infonce(q, k, 0.3, log_q, ids, extra, extra_ids, extra_log_q, in_batch=False)
    assert float(got) == pytest.approx(want, rel=1e-5)
    with_batch = slow_infonce(q, k, 0.3, log_q, ids, extra, extra_ids, extra_log_q)
    assert float(got) < with_batch  # fewer negatives in every row's softmax
    with pytest.raises(ValueError, match="extra_keys"):
        loss(q, k, temperature=0.3)
    with pytest.raises(ValueError, match="symmetric"):
        InfoNCELoss(symmetric=True, in_batch_negatives=False)


def test_hand_worked_two_by_two():
    # q = k = identity rows: logits/τ = [[1/τ, 0], [0, 1/τ]] -> loss = log(1 + e^{-1/τ})
    q = torch.eye(2)
    loss = InfoNCELoss()(q, q, temperature=0.5)
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-6)


def test_identical_uninformative_views_give_log_batch():
    # every logit equal -> loss = log(B)
    q = torch.ones(5, 3) / math.sqrt(3)
    assert float(InfoNCELoss()(q, q, temperature=0.2)) == pytest.approx(math.log(5), rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_slow_loop_with_all_corrections(seed):
    g = torch.Generator().manual_seed(seed)
    q = F.normalize(torch.randn(6, 4, generator=g), dim=-1)
    k = F.normalize(torch.randn(6, 4, generator=g), dim=-1)
    extra = F.normalize(torch.randn(3, 4, generator=g), dim=-1)
    ids = torch.tensor([3, 1, 3, 2, 5, 1])
    extra_ids = torch.tensor([1, 9, 3])
    log_q = torch.log(torch.rand(6, generator=g) + 0.1)
    extra_log_q = torch.log(torch.rand(3, generator=g) + 0.1)
    got = InfoNCELoss()(q, k, temperature=0.3, key_ids=ids, key_log_q=log_q, extra_keys=extra,
                        extra_ids=extra_ids, extra_log_q=extra_log_q)
    want = slow_infonce(q, k, 0.3, log_q, ids, extra, extra_ids, extra_log_q)
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_accidental_hit_mask_keeps_positive_and_masks_duplicates():
    logits = torch.zeros(3, 3)
    out = mask_accidental_hits(logits, torch.tensor([7, 8, 7]), torch.tensor([7, 8, 7]))
    assert out[0, 0] == 0 and out[2, 2] == 0
    assert out[0, 2] < -1e30 and out[2, 0] < -1e30
    assert out[1, 0] == 0


@pytest.mark.parametrize("seed", range(5))
def test_accidental_hit_pairs_equal_the_dense_comparison(seed):
    g = torch.Generator().manual_seed(seed)
    columns = torch.randint(0, 6, (11,), generator=g)  # many repeats
    positive = torch.randperm(11, generator=g)[:7]  # rows' positive columns, anywhere (gathered keys)
    rows_ids = columns[positive]
    dense = rows_ids.unsqueeze(1) == columns.unsqueeze(0)
    dense[torch.arange(7), positive] = False
    rows, cols = accidental_hits(rows_ids, columns, positive)
    assert sorted(zip(rows.tolist(), cols.tolist())) == sorted(map(tuple, dense.nonzero().tolist()))
    logits = torch.randn(7, 11, generator=g)
    before = logits.clone()
    out = mask_accidental_hits(logits, rows_ids, columns, positive_columns=positive)
    assert torch.equal(logits, before)  # not in place by default
    assert torch.equal(out < -1e30, dense) and torch.equal(out[~dense], before[~dense])
    same = mask_accidental_hits(logits, rows_ids, columns, positive_columns=positive, inplace=True)
    assert same.data_ptr() == logits.data_ptr() and torch.equal(same, out)


def test_log_q_lowers_popular_columns_and_changes_loss_direction():
    logits = torch.zeros(2, 2)
    out = apply_log_q(logits, torch.log(torch.tensor([0.9, 0.1])))
    assert out[0, 0] > out[0, 1] - 10 and out[0, 0] < out[0, 1]  # popular column is pushed down
    with pytest.raises(ValueError, match="column_log_q"):
        apply_log_q(logits, torch.zeros(3))


def test_mixture_log_q_is_log_expected_count():
    lp = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    got = mixture_log_q(lp, batch_size=4, num_uniform=3, num_items=3)
    assert torch.allclose(got.exp(), torch.tensor([4 * 0.5 + 1, 4 * 0.25 + 1, 4 * 0.25 + 1]))


def test_hard_negative_mask_keeps_top_k_and_positive():
    logits = torch.tensor([[0.0, 5.0, 1.0, 3.0]])
    out = mask_all_but_hardest(logits, 1)
    assert out[0, 0] == 0.0 and out[0, 1] == 5.0
    assert out[0, 2] < -1e30 and out[0, 3] < -1e30


def test_symmetric_and_reduction_none_shapes():
    q = F.normalize(torch.randn(4, 3), dim=-1)
    assert InfoNCELoss(symmetric=True, reduction="none")(q, q, temperature=0.1).shape == (8,)
    assert InfoNCELoss(reduction="none")(q, q, temperature=0.1).shape == (4,)


def test_symmetric_is_mean_of_both_directions():
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    both = InfoNCELoss(symmetric=True)(q, k, temperature=0.7)
    one = InfoNCELoss()(q, k, temperature=0.7)
    other = InfoNCELoss()(k, q, temperature=0.7)
    assert float(both) == pytest.approx((float(one) + float(other)) / 2, rel=1e-6)


def test_bad_arguments_are_refused():
    q = torch.randn(2, 3)
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss()(q, q, temperature=0.0)
    with pytest.raises(ValueError, match="same shape"):
        InfoNCELoss()(q, torch.randn(3, 3), temperature=0.1)
    with pytest.raises(ValueError, match="reduction"):
        InfoNCELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"log q has shape \(3,\), expected \[2\]"):
        InfoNCELoss()(q, q, temperature=0.1, key_log_q=torch.zeros(3))


def test_gradients_flow_to_both_sides():
    q = torch.randn(4, 3, requires_grad=True)
    k = torch.randn(4, 3, requires_grad=True)
    InfoNCELoss()(F.normalize(q, dim=-1), F.normalize(k, dim=-1), temperature=0.2).backward()
    assert q.grad.abs().sum() > 0 and k.grad.abs().sum() > 0


def test_between_views_matches_normalised_infonce():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    want = InfoNCELoss()(F.normalize(a, dim=-1), F.normalize(b, dim=-1), temperature=0.2)
    assert float(info_nce_between_views(a, b, 0.2)) == pytest.approx(float(want), rel=1e-6)


def test_between_views_over_every_node_matches_a_loop():
    """SGL's authors' form: anchors with repeats, the denominator over all M nodes of the second view."""
    g = torch.Generator().manual_seed(1)
    anchors, everyone = torch.randn(4, 3, generator=g), torch.randn(6, 3, generator=g)
    positives = torch.tensor([2, 5, 2, 0])
    total = 0.0
    for b in range(4):
        a = anchors[b] / anchors[b].norm()
        sims = [float(a @ (everyone[c] / everyone[c].norm())) / 0.5 for c in range(6)]
        total += -(sims[int(positives[b])] - math.log(sum(math.exp(s) for s in sims)))
    got = info_nce_between_views(anchors, everyone, 0.5, positives)
    assert float(got) == pytest.approx(total / 4, rel=1e-5)
    with pytest.raises(ValueError, match="explicit positives"):
        info_nce_between_views(anchors, everyone, 0.5)
