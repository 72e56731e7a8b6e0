"""The locality renumbering: a permutation, deterministic, and it puts neighbours next to each other."""

import numpy as np
import pytest
import torch

from contrarec.encoders.node_order import NodeOrder, locality_order


def shuffled_path(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The path i0 – u0 – i1 – u1 – … – u(n-1) – i(n), with users and items given random ids."""
    rng = np.random.default_rng(seed)
    user_id, item_id = rng.permutation(n), rng.permutation(n + 1)
    k = np.arange(n)
    return user_id[np.r_[k, k]], item_id[np.r_[k, k + 1]]


def test_a_shuffled_path_gets_neighbouring_rows():
    users, items = shuffled_path(50, seed=0)
    assert np.abs(users - items).max() > 1  # the input numbering is scattered
    order = locality_order(users, items, 50, 51)
    gap = (order.user_row[torch.from_numpy(users)] - order.item_row[torch.from_numpy(items)]).abs()
    assert int(gap.max()) <= 1


def test_order_is_a_deterministic_permutation_that_numbers_isolated_nodes():
    users, items = shuffled_path(20, seed=1)
    a = locality_order(users, items, 23, 25)  # 3 users and 4 items without edges
    b = locality_order(users, items, 23, 25)
    assert torch.equal(a.user_row, b.user_row) and torch.equal(a.item_row, b.item_row)
    assert sorted(a.user_row.tolist()) == list(range(23)) and sorted(a.item_row.tolist()) == list(range(25))
    assert torch.equal(a.user_row[a.user_at_row], torch.arange(23))
    assert torch.equal(a.item_at_row[a.item_row], torch.arange(25))


def test_bad_input():
    with pytest.raises(ValueError, match="permutation"):
        NodeOrder(torch.tensor([0, 0, 2]), torch.tensor([0]))
    with pytest.raises(ValueError, match="equal 1-d"):
        locality_order([0, 1], [0], 2, 2)
