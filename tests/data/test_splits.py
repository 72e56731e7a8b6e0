"""Tests for contrarec.data.splits: determinism, disjointness, ratios, no leakage, conventions."""

from __future__ import annotations

import numpy as np
import pytest

from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap, Interactions, Split
from contrarec.data.splits import (carve_validation, check_split, split_global_time, split_leave_last_out,
                                   split_random_per_user)


def table(users, items, timestamps=None, num_users=None, num_items=None) -> Interactions:
    users, items = np.asarray(users), np.asarray(items)
    return Interactions(users, items, IdMap(np.array([f"u{i}" for i in range(num_users or users.max() + 1)])),
                        IdMap(np.array([f"i{i}" for i in range(num_items or items.max() + 1)])),
                        timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.float64))


@pytest.fixture
def inter() -> Interactions:
    """200 users with 2..40 distinct items each out of 60, random timestamps."""
    rng = np.random.default_rng(7)
    users, items = [], []
    for u in range(200):
        n = int(rng.integers(2, 41))
        users += [u] * n
        items += rng.choice(60, size=n, replace=False).tolist()
    return table(users, items, rng.uniform(0, 1000, size=len(users)))


def pairs(part: Interactions) -> set[tuple[int, int]]:
    return set(zip(part.users.tolist(), part.items.tolist()))


def parts(split: Split) -> list[Interactions]:
    return [p for p in (split.train, split.valid, split.test) if p is not None]


def assert_partition(split: Split, inter: Interactions) -> None:
    """Parts are disjoint, cover every pair (or drop only what info counts), share the id maps."""
    sets = [pairs(p) for p in parts(split)]
    assert sum(len(s) for s in sets) == len(set().union(*sets))
    dropped = sum(v for k, v in split.info.items() if k.startswith("dropped_") and k.endswith("_rows"))
    assert len(set().union(*sets)) + dropped == len(pairs(inter))
    for p in parts(split):
        assert p.user_map is inter.user_map and p.item_map is inter.item_map
    check_split(split)


def test_random_split_is_deterministic_disjoint_and_keeps_ratios(inter):
    split = split_random_per_user(inter, test_ratio=0.2, valid_ratio=0.1, seed=3)
    again = split_random_per_user(inter, test_ratio=0.2, valid_ratio=0.1, seed=3)
    other = split_random_per_user(inter, test_ratio=0.2, valid_ratio=0.1, seed=4)
    for a, b in zip(parts(split), parts(again)):
        np.testing.assert_array_equal(a.users, b.users) and np.testing.assert_array_equal(a.items, b.items)
    assert pairs(split.test) != pairs(other.test)
    assert_partition(split, inter)
    assert len(split.test) / len(inter) == pytest.approx(0.2, abs=0.02)
    assert len(split.valid) / len(inter) == pytest.approx(0.1, abs=0.02)
    assert (split.train.user_activity() >= 1).all()


def test_random_split_single_interaction_users_and_cold_items_stay_in_train():
    # u0 has one row; item 9 is only rated once (by u1), so it must stay in train.
    inter = table([0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], [0, 1, 2, 3, 9, 1, 2, 3, 4, 1, 2, 3, 4])
    moved = 0
    for seed in range(30):
        split = split_random_per_user(inter, test_ratio=0.5, seed=seed)
        assert (0, 0) in pairs(split.train) and (1, 9) in pairs(split.train)
        moved += split.info["cold_item_rows_kept_in_train"]
        assert_partition(split, inter)
    assert moved > 0


def test_duplicates_are_collapsed_keeping_the_earliest():
    inter = table([0, 0, 0, 0, 1, 1, 1], [5, 5, 6, 7, 5, 6, 7], timestamps=[9, 1, 2, 3, 4, 5, 0])
    split = split_leave_last_out(inter)
    assert split.info["duplicate_pairs_dropped"] == 1
    assert pairs(split.test) == {(0, 7), (1, 6)} and sorted(split.train.timestamps) == [0, 1, 2, 4]


def test_leave_last_out_by_time_with_ties_in_file_order():
    inter = table([0, 0, 0, 0, 1, 1, 2, 2], [1, 2, 3, 4, 1, 2, 3, 4], timestamps=[4, 1, 3, 4, 1, 2, 7, 6])
    split = split_leave_last_out(inter, n_test=1, n_valid=1)
    assert pairs(split.test) == {(0, 4), (1, 2), (2, 3)}  # u0: items 1 and 4 tie at t=4, the later row wins
    assert pairs(split.valid) == {(0, 1)}                 # u1, u2 have 2 rows: test first, one stays in train
    assert pairs(split.train) == {(0, 2), (0, 3), (1, 1), (2, 4)}
    assert_partition(split, inter)


def test_leave_last_out_drops_cold_items_and_needs_timestamps():
    inter = table([0, 0, 1, 1], [0, 1, 0, 2], timestamps=[1, 2, 1, 2])  # items 1 and 2 appear only last
    with pytest.raises(DataError, match="test part is empty"):
        split_leave_last_out(inter)
    inter = table([0, 0, 1, 1, 1], [0, 1, 0, 1, 2], timestamps=[1, 2, 1, 2, 3])
    split = split_leave_last_out(inter)
    assert pairs(split.test) == {(0, 1)} and split.info["dropped_cold_item_rows"] == 1
    assert_partition(split, inter)
    with pytest.raises(DataError, match="needs timestamps") as info:
        split_leave_last_out(table([0, 0], [0, 1]))
    assert info.value.field == "timestamp"


def test_global_time_cut_drops_and_reports_new_users_and_items(inter):
    split = split_global_time(inter, test_from=800, valid_from=700)
    assert split.train.timestamps.max() < 700 and split.test.timestamps.min() >= 800
    assert (split.valid.timestamps >= 700).all() and (split.valid.timestamps < 800).all()
    assert_partition(split, inter)
    newcomer = table([0, 0, 2, 2, 1, 3], [0, 1, 0, 1, 1, 0], timestamps=[1, 2, 3, 6, 6, 7])
    split = split_global_time(newcomer, test_from=5)
    assert pairs(split.test) == {(2, 1)}
    assert split.info["dropped_cold_user_rows"] == 2 and split.info["dropped_cold_users"] == 2
    assert split.info["dropped_cold_item_rows"] == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"test_from": 5000}, "test part is empty"),
    ({"test_from": -1}, "no interaction before -1"),
    ({"test_from": 500, "valid_from": 600}, "must be before test_from"),
])
def test_global_time_bad_cuts(inter, kwargs, match):
    with pytest.raises(DataError, match=match):
        split_global_time(inter, **kwargs)


def test_carve_validation_keeps_every_train_user_and_item(inter):
    split = split_random_per_user(inter, test_ratio=0.2, seed=0)
    train, valid = carve_validation(split.train, ratio=0.25, seed=1)
    again, _ = carve_validation(split.train, ratio=0.25, seed=1)
    np.testing.assert_array_equal(train.items, again.items)
    assert pairs(train) | pairs(valid) == pairs(split.train) and not pairs(train) & pairs(valid)
    assert len(valid) / len(split.train) == pytest.approx(0.25, abs=0.03)
    assert set(train.users.tolist()) == set(split.train.users.tolist())
    assert set(train.items.tolist()) == set(split.train.items.tolist())
    check_split(Split(train=train, valid=valid, test=split.test))
    with pytest.raises(DataError, match="validation part is empty"):
        carve_validation(table([0, 1], [0, 1]), ratio=0.5)


@pytest.mark.parametrize("bad_ratio", [-0.1, 1.0])
def test_ratio_validation(inter, bad_ratio):
    with pytest.raises(DataError, match="test_ratio must be in"):
        split_random_per_user(inter, test_ratio=bad_ratio)


def test_check_split_names_cold_users_items_and_leaks():
    train = table([0, 1], [0, 1], num_users=4, num_items=4)
    def test(users, items):
        return Interactions(np.array(users), np.array(items), train.user_map, train.item_map)
    with pytest.raises(DataError, match=r"2 test users have no training interactions \(first: raw id 'u2'\)") as info:
        check_split(Split(train=train, test=test([2, 3, 0], [1, 1, 1])))
    assert info.value.field == "user"
    with pytest.raises(DataError, match=r"1 test items .*raw id 'i3'"):
        check_split(Split(train=train, test=test([0], [3])))
    with pytest.raises(DataError, match=r"1 test \(user, item\) pairs are also in train \(first: user 'u1', item 'i1'\)"):
        check_split(Split(train=train, test=test([0, 1], [1, 1])))
    with pytest.raises(DataError, match="does not share train's id maps"):
        check_split(Split(train=train, test=table([0], [1])))
