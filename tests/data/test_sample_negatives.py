"""Tests for the sorted-key negative sampler in contrarec.data.batches."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from contrarec.data.batches import InteractionBatches, sample_negatives


def reference_sample_negatives(users, train_csr, num_negatives, rng, max_rounds=20):
    """The original CSR fancy-indexing sampler, kept as the behavioural reference."""
    num_items = train_csr.shape[1]
    neg = rng.integers(0, num_items, size=(len(users), num_negatives))
    rows = np.repeat(users, num_negatives)
    for _ in range(max_rounds):
        flat = neg.reshape(-1)
        hit = np.asarray(train_csr[rows, flat]).reshape(-1) > 0
        if not hit.any():
            break
        flat[hit] = rng.integers(0, num_items, size=int(hit.sum()))
        neg = flat.reshape(len(users), num_negatives)
    return neg


def random_csr(seed: int, users: int = 50, items: int = 30, density: float = 0.4) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    mat = sp.random(users, items, density=density, format="csr", random_state=seed,
                    data_rvs=lambda n: rng.choice([1.0, 2.0, 0.0, -1.0], size=n))
    return mat


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("num_negatives", [1, 4])
def test_same_draws_as_the_reference(seed, num_negatives):
    csr = random_csr(seed)                       # includes explicit zeros and negatives: not "seen"
    users = np.random.default_rng(seed + 100).integers(0, csr.shape[0], size=64)
    expected = reference_sample_negatives(users, csr, num_negatives, np.random.default_rng(seed))
    np.testing.assert_array_equal(sample_negatives(users, csr, num_negatives, np.random.default_rng(seed)),
                                  expected)


def test_negatives_avoid_seen_items():
    csr = random_csr(0, density=0.5)
    users = np.arange(csr.shape[0]).repeat(4)
    neg = sample_negatives(users, csr, 8, np.random.default_rng(0))
    assert neg.shape == (len(users), 8)
    dense = csr.toarray() > 0
    assert not dense[users[:, None], neg].any()


def test_gives_up_after_max_rounds():
    full = sp.csr_matrix(np.ones((2, 3)))        # every item seen: collisions are kept
    neg = sample_negatives(np.array([0, 1]), full, 2, np.random.default_rng(0), max_rounds=3)
    assert neg.shape == (2, 2) and ((neg >= 0) & (neg < 3)).all()


def test_interaction_batches_epochs_unchanged():
    csr = random_csr(3)
    users, items = csr.nonzero()
    batches = InteractionBatches(users, items, csr.shape[1], batch_size=16, seed=7, train_csr=csr, num_negatives=2)
    rng = np.random.default_rng(7 * 1_000_003 + 1)
    order = rng.permutation(len(users))
    for b, batch in enumerate(batches.epoch(1)):
        idx = order[b * 16:(b + 1) * 16]
        expected = reference_sample_negatives(users[idx].astype(np.int64), csr, 2, rng)
        np.testing.assert_array_equal(batch.negatives.numpy(), expected)
