"""Global in-batch negatives across 2 gloo workers equal one process with the global batch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distributed_workers import PER_WORKER_BATCH, equivalence_worker, spawn, tiny_interactions, train_steps
from contrarec.data.batches import InteractionBatches
from contrarec.train.distributed import ShardedBatches


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dist") / "results.pt"
    spawn(equivalence_worker, 2, str(out))
    return torch.load(out, weights_only=True)


def one_process_2b(case: str) -> dict:
    """The reference: one process (no process group, no DDP) with batch 2B."""
    return train_steps(case, 2 * PER_WORKER_BATCH)


@pytest.mark.parametrize("case", ["global", "global-symmetric-mixed-hard", "moco-global", "global-sparse"])
def test_global_negatives_match_one_process_with_twice_the_batch(two_workers, case):
    ref = one_process_2b(case)
    got = two_workers[case]
    assert got["loss"] == pytest.approx(ref["loss"], rel=1e-5, abs=1e-6)
    assert set(got["grads"]) == set(ref["grads"])
    for name, grad in ref["grads"].items():
        torch.testing.assert_close(got["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("case", ["local", "moco-local"])
def test_local_negatives_differ_visibly(two_workers, case):
    ref = one_process_2b(case)  # one process with 2B: the global-batch softmax (and queue)
    got = two_workers[case]
    assert abs(got["loss"] - ref["loss"]) > 0.05
    diff = max(float((got["grads"][n] - g).abs().max()) for n, g in ref["grads"].items())
    assert diff > 1e-3


def test_the_first_batch_has_accidental_hits_across_workers():
    """Otherwise the masking across the global batch would go untested."""
    train = tiny_interactions()
    batches = InteractionBatches(train.users, train.items, train.num_items, 2 * PER_WORKER_BATCH, seed=3)
    items = next(iter(batches.epoch(0))).items.numpy()
    assert np.intersect1d(items[:PER_WORKER_BATCH], items[PER_WORKER_BATCH:]).size > 0


def test_shards_partition_each_global_batch():
    users = np.arange(37)
    batches = InteractionBatches(users, users % 5, 5, batch_size=3 * 4, seed=1)
    shards = [ShardedBatches(batches, r, 3) for r in range(3)]
    assert len({len(s) for s in shards}) == 1
    for epoch in range(2):
        per_rank = [list(s.epoch(epoch)) for s in shards]
        assert len(per_rank[0]) == len(shards[0])
        for step, global_batch in enumerate(list(batches.epoch(epoch))[:len(shards[0])]):
            parts = [per_rank[r][step].users for r in range(3)]
            assert len({len(p) for p in parts}) == 1  # equal shards, so all_gather and DDP averaging are exact
            joined = torch.cat(parts).numpy()
            np.testing.assert_array_equal(joined, global_batch.users.numpy()[:len(joined)])
    # 37 = 3 full global batches of 12 + 1 row: that row cannot be split over 3 workers and is dropped
    assert len(shards[0]) == 3


def test_a_step_may_leave_parameters_without_gradient(two_workers):
    """SwAV's frozen prototypes: DDP is built to allow unused parameters."""
    assert math.isfinite(two_workers["swav-freeze"]["loss"])
