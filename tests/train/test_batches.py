import numpy as np
import scipy.sparse as sp

from contrarec.data.batches import InteractionBatches, item_log_probabilities, sample_negatives


def test_epochs_are_deterministic_and_cover_every_pair():
    users, items = np.arange(10) % 4, np.arange(10) % 7
    b = InteractionBatches(users, items, 7, batch_size=3, seed=5)
    e0 = [x.users.tolist() for x in b.epoch(0)]
    assert e0 == [x.users.tolist() for x in b.epoch(0)]
    assert e0 != [x.users.tolist() for x in b.epoch(1)]
    pairs = sorted((int(u), int(i)) for x in b.epoch(2) for u, i in zip(x.users, x.items))
    assert pairs == sorted(zip(users.tolist(), items.tolist()))
    assert len(b) == 4


def test_negatives_avoid_training_items():
    csr = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=np.float32))
    neg = sample_negatives(np.array([0, 1] * 50), csr, 3, np.random.default_rng(0))
    assert neg.shape == (100, 3)
    assert set(neg[0::2].ravel()) <= {3, 4} and set(neg[1::2].ravel()) <= {0, 1, 2}


def test_log_probabilities_sum_to_one_and_stay_finite():
    lp = item_log_probabilities(np.array([3, 1, 0]))
    assert np.isfinite(lp).all()
    assert abs(np.exp(lp).sum() - 1) < 1e-6
