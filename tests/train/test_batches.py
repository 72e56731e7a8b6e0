import numpy as np
import pytest
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


def user_sampled(users, items, num_items=5, seed=3, **kw):
    return InteractionBatches(np.asarray(users), np.asarray(items), num_items, batch_size=4, seed=seed,
                              sampling="user", **kw)


def test_user_sampling_draws_users_uniformly_and_only_training_pairs():
    # user 0 has 9 pairs, user 1 one pair (user 2 none): shuffling draws user 1 a tenth of the time,
    # user-first sampling half of the time
    users, items = np.array([0] * 9 + [1]), np.array([0, 1, 2, 3, 4, 0, 1, 2, 3] + [4])
    batches = user_sampled(users, items)
    drawn = [(int(u), int(i)) for e in range(200) for b in batches.epoch(e) for u, i in zip(b.users, b.items)]
    assert len(drawn) == 200 * 10 and len(batches) == 3
    assert set(drawn) <= set(zip(users.tolist(), items.tolist()))
    share_of_user_1 = sum(u == 1 for u, _ in drawn) / len(drawn)
    assert abs(share_of_user_1 - 0.5) < 0.04
    heavy = [i for u, i in drawn if u == 0]
    assert abs(heavy.count(0) / len(heavy) - 2 / 9) < 0.04     # user 0's items: item 0 twice among nine


def test_user_sampling_is_deterministic_per_epoch_and_its_log_q_follows_the_draws():
    users, items = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 2])
    batches = user_sampled(users, items, num_items=4)
    assert [b.items.tolist() for b in batches.epoch(1)] == [b.items.tolist() for b in batches.epoch(1)]
    assert [b.items.tolist() for b in batches.epoch(1)] != [b.items.tolist() for b in batches.epoch(2)]
    # draw probabilities: items 0 and 1 1/6 each, item 2 1/6 + 1/2, item 3 never (floored to the smallest)
    expected = np.log(np.array([1, 1, 4, 1]) / 7)
    np.testing.assert_allclose(batches.log_q.numpy(), expected, rtol=1e-6)


def test_unknown_sampling_is_refused_by_name():
    with pytest.raises(ValueError, match="one of interaction, user, got 'popularity'"):
        InteractionBatches(np.array([0]), np.array([0]), 1, batch_size=1, seed=0, sampling="popularity")
