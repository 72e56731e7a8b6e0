import pytest
import torch

from contrarec.negatives.queue import EmbeddingQueue


def test_fills_then_wraps_around_overwriting_oldest():
    q = EmbeddingQueue(size=5, dim=2)
    q.enqueue(torch.arange(6.).reshape(3, 2), torch.tensor([0, 1, 2]), torch.zeros(3))
    assert len(q) == 3 and q.contents().ids.tolist() == [0, 1, 2]
    q.enqueue(torch.arange(8.).reshape(4, 2) + 100, torch.tensor([3, 4, 5, 6]), torch.ones(4))
    # slots: 3,4 then wrap to 0,1 -> oldest two (ids 0, 1) overwritten
    assert len(q) == 5
    c = q.contents()
    assert c.ids.tolist() == [2, 3, 4, 5, 6]  # oldest first
    assert c.log_p.tolist() == [0, 1, 1, 1, 1]
    assert torch.equal(c.embeddings[0], torch.tensor([4., 5.]))
    assert int(q.pointer) == 2


def test_batch_larger_than_queue_keeps_last_rows():
    q = EmbeddingQueue(size=3, dim=1)
    q.enqueue(torch.arange(7.).unsqueeze(1), torch.arange(7), torch.zeros(7))
    assert q.contents().ids.tolist() == [4, 5, 6]


def test_enqueue_is_detached_and_checks_shapes():
    q = EmbeddingQueue(size=4, dim=3)
    x = torch.randn(2, 3, requires_grad=True)
    q.enqueue(x * 2, torch.tensor([1, 2]), torch.zeros(2))
    assert not q.contents().embeddings.requires_grad
    with pytest.raises(ValueError, match=r"\[B, 3\]"):
        q.enqueue(torch.randn(2, 4), torch.tensor([1, 2]), torch.zeros(2))
    with pytest.raises(ValueError, match="ids"):
        q.enqueue(torch.randn(2, 3), torch.tensor([1]), torch.zeros(2))
    with pytest.raises(ValueError):
        EmbeddingQueue(0, 3)


def test_state_dict_round_trip_restores_contents():
    q = EmbeddingQueue(size=4, dim=2)
    q.enqueue(torch.randn(6, 2), torch.arange(6), torch.randn(6))
    r = EmbeddingQueue(size=4, dim=2)
    r.load_state_dict(q.state_dict())
    a, b = q.contents(), r.contents()
    assert torch.equal(a.embeddings, b.embeddings) and torch.equal(a.ids, b.ids) and len(r) == 4


def test_queue_ids_mask_accidental_hits_in_infonce():
    from contrarec.objectives.infonce import InfoNCELoss

    q = EmbeddingQueue(size=4, dim=2)
    keys = torch.tensor([[1., 0.], [0., 1.]])
    # queue holds item 7 (row 0's own positive) with a huge score, and item 9
    q.enqueue(torch.tensor([[1., 0.], [0., 1.]]), torch.tensor([7, 9]), torch.zeros(2))
    c = q.contents()
    loss_fn = InfoNCELoss(reduction="none")
    masked = loss_fn(keys, keys, temperature=1.0, key_ids=torch.tensor([7, 8]), extra_keys=c.embeddings,
                     extra_ids=c.ids)
    # row 0: columns = [pos 1, other 0, queue-7 masked, queue-9 0] -> -log(e / (e + 1 + 1))
    import math
    assert float(masked[0]) == pytest.approx(-math.log(math.e / (math.e + 2)), rel=1e-6)
