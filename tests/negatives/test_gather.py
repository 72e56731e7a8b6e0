"""Global in-batch negatives in one process: the identity, and InfoNCE on a worker's slice of gathered keys."""

from __future__ import annotations

import pytest
import torch

from contrarec.negatives.gather import gather_in_batch, gather_no_grad, gather_with_grad, worker_rank_and_count
from contrarec.objectives.infonce import InfoNCELoss
from contrarec.train.distributed import init_distributed


def test_one_process_is_the_identity():
    k, ids, lp = torch.randn(4, 3), torch.arange(4), torch.zeros(4)
    assert worker_rank_and_count() == (0, 1)
    g = gather_in_batch(k, ids, lp, queries=torch.randn(4, 3), query_ids=ids)
    assert g.keys is k and g.key_ids is ids and g.offset == 0 and g.queries is None and g.query_ids is ids
    assert gather_with_grad(k) is k and gather_no_grad(ids) is ids
    assert not init_distributed({}).enabled and not init_distributed({"WORLD_SIZE": "1"}).enabled


@pytest.mark.parametrize("symmetric", [False, True])
def test_a_workers_slice_of_gathered_keys_gives_its_rows_of_the_global_loss(symmetric):
    """What worker r computes from the gathered batch = rows of the one-process loss on the global batch."""
    g = torch.Generator().manual_seed(0)
    world, per = 3, 4
    q = torch.nn.functional.normalize(torch.randn(world * per, 5, generator=g), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(world * per, 5, generator=g), dim=-1)
    ids = torch.tensor([0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 2, 11])  # repeats across workers: accidental hits
    users = torch.arange(world * per) % 7
    log_q = torch.randn(world * per, generator=g)
    loss = InfoNCELoss(symmetric=symmetric, num_hard_negatives=6, reduction="none")
    full = loss(q, k, temperature=0.3, key_ids=ids, key_log_q=log_q, query_ids=users)  # [W·B] (or [2·W·B])
    for rank in range(world):
        rows = slice(rank * per, (rank + 1) * per)
        mine = loss(q[rows], k, temperature=0.3, key_ids=ids, key_log_q=log_q, positive_offset=rank * per,
                    all_queries=q if symmetric else None, query_ids=users)
        expect = full[rows] if not symmetric else torch.cat([full[rows], full[world * per:][rows]])
        torch.testing.assert_close(mine, expect)


def test_gathered_keys_need_every_query_for_the_symmetric_term():
    q, k = torch.randn(2, 3), torch.randn(4, 3)
    with pytest.raises(ValueError, match="all_queries"):
        InfoNCELoss(symmetric=True)(q, k, temperature=0.1, positive_offset=2)
    with pytest.raises(ValueError, match="rows 3..4"):
        InfoNCELoss()(q, k, temperature=0.1, positive_offset=3)
