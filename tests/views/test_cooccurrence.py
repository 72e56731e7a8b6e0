import pytest
import torch

from contrarec.views.cooccurrence import cooccurrence_pairs


def test_window_and_user_boundaries():
    users = torch.tensor([0, 0, 0, 1, 1])
    items = torch.tensor([1, 2, 3, 4, 5])
    a, c = cooccurrence_pairs(users, items, window=2)
    pairs = sorted(zip(a.tolist(), c.tolist()))
    assert pairs == sorted([(1, 2), (2, 1), (2, 3), (3, 2), (1, 3), (3, 1), (4, 5), (5, 4)])


def test_order_by_timestamp_and_max_gap_and_no_self_pairs():
    users = torch.tensor([0, 0, 0, 0])
    items = torch.tensor([1, 2, 3, 1])
    ts = torch.tensor([0.0, 100.0, 1.0, 2.0])  # time order: 1, 3, 1, 2
    a, c = cooccurrence_pairs(users, items, order=ts, window=1, max_gap=5)
    pairs = sorted(zip(a.tolist(), c.tolist()))
    assert pairs == sorted([(1, 3), (3, 1), (3, 1), (1, 3)])  # 1->2 gap 98 too large
    with pytest.raises(ValueError):
        cooccurrence_pairs(users, items, window=0)
