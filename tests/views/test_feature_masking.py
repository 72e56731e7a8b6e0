import numpy as np
import pytest
import torch

from contrarec.views.feature_masking import (correlated_feature_masking, correlated_sets, feature_dropout,
                                             random_feature_masking)
from contrarec.views.mutual_information import discretize, mutual_information, mutual_information_table


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5])
def test_feature_dropout_rate_and_determinism(rate):
    keep = feature_dropout(2000, 10, rate, gen())
    assert keep.shape == (2000, 10) and keep.dtype == torch.bool
    assert abs(1 - keep.float().mean().item() - rate) < 0.01
    assert torch.equal(keep, feature_dropout(2000, 10, rate, gen()))
    assert not torch.equal(feature_dropout(50, 10, 0.5, gen(0)), feature_dropout(50, 10, 0.5, gen(1)))
    with pytest.raises(ValueError):
        feature_dropout(2, 3, 1.0, gen())


@pytest.mark.parametrize("c", [2, 5, 8])
def test_rfm_complementary_halves(c):
    a, b = random_feature_masking(500, c, gen())
    assert torch.equal(b, ~a)
    assert ((~a).sum(1) == c // 2).all()  # exactly floor(C/2) masked in view a
    # every column gets masked about equally often
    freq = (~a).float().mean(0)
    assert torch.allclose(freq, torch.full((c,), (c // 2) / c), atol=0.07)
    a2, _ = random_feature_masking(500, c, gen())
    assert torch.equal(a, a2)


def constructed_mi():
    # columns 0,1,2 strongly related; 3,4,5 strongly related; cross-group weak
    mi = torch.full((6, 6), 0.01)
    for grp in ([0, 1, 2], [3, 4, 5]):
        for i in grp:
            for j in grp:
                mi[i, j] = 1.0
    mi[0, 2] = mi[2, 0] = 0.5  # 0's best partner is 1, then 2
    return mi


def test_correlated_sets_pick_highest_mi_partners():
    sets = correlated_sets(constructed_mi())  # 3 masked per seed
    assert sets[0].nonzero().squeeze(1).tolist() == [0, 1, 2]
    assert sets[4].nonzero().squeeze(1).tolist() == [3, 4, 5]
    two = correlated_sets(constructed_mi(), num_masked=2)
    assert two[0].nonzero().squeeze(1).tolist() == [0, 1]
    assert two[2].nonzero().squeeze(1).tolist() == [1, 2]  # 2's partners: 1 (1.0) beats 0 (0.5)
    with pytest.raises(ValueError):
        correlated_sets(torch.zeros(3, 2))


def test_cfm_masks_correlated_group_and_complement():
    a, b = correlated_feature_masking(300, constructed_mi(), gen())
    assert torch.equal(b, ~a)
    masked = [tuple((~a[r]).nonzero().squeeze(1).tolist()) for r in range(300)]
    assert set(masked) <= {(0, 1, 2), (3, 4, 5)}
    share = sum(m == (0, 1, 2) for m in masked) / 300
    assert 0.35 < share < 0.65  # seeds drawn uniformly, each group seeds half the time
    a2, _ = correlated_feature_masking(300, constructed_mi(), gen())
    assert torch.equal(a, a2)


def test_mutual_information_values():
    a = np.array([0, 0, 1, 1])
    assert mutual_information(a, a) == pytest.approx(np.log(2))
    assert mutual_information(a, np.array([0, 1, 0, 1])) == pytest.approx(0.0)
    table = mutual_information_table([a, a, np.array([0, 1, 0, 1])])
    assert table.shape == (3, 3) and np.allclose(table, table.T)
    assert table[0, 1] == pytest.approx(np.log(2)) and table[0, 2] == pytest.approx(0.0)


def test_mi_table_drives_cfm_on_generated_data():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 4, 2000)
    cols = [base, (base + 1) % 4, rng.integers(0, 4, 2000), rng.integers(0, 4, 2000)]
    sets = correlated_sets(torch.from_numpy(mutual_information_table(cols)))
    assert sets[0].nonzero().squeeze(1).tolist() == [0, 1]


def test_discretize_quantiles():
    codes = discretize(np.arange(100.0), bins=4)
    assert np.bincount(codes).tolist() == [25, 25, 25, 25]
