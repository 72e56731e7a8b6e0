"""Train / valid / test splits that share one id space, deterministic in their arguments.

Conventions (every splitter; counts go to ``Split.info``, or ``valid.info`` for :func:`carve_validation`):
    * Duplicate ``(user, item)`` pairs are collapsed first, keeping the earliest (by timestamp, then
      row order), so that no pair is both trained on and held out: ``info["duplicate_pairs_dropped"]``.
    * Per-user splits keep at least one training row for every user; when a user has too few rows,
      test is served before valid. Held-out counts per user are ``ratio * n`` rounded at random
      (floor, plus one with probability equal to the fraction), so the expected share is the ratio.
    * Random assignment (:func:`split_random_per_user`, :func:`carve_validation`): held-out rows whose
      item would then be absent from train go back to train (no row is lost):
      ``info["cold_item_rows_kept_in_train"]``.
    * Time-based splits (:func:`split_leave_last_out`, :func:`split_global_time`): held-out rows whose
      user or item has no training row are dropped, since moving them would train on the future:
      ``info["dropped_cold_user_rows"]``, ``info["dropped_cold_users"]``, ``info["dropped_cold_item_rows"]``.
    * So every returned split passes :func:`check_split`, which is for splits built elsewhere: it
      raises for held-out users or items absent from train and for pairs in both parts.
"""

from __future__ import annotations

import numpy as np

from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap, Interactions, Split

TRAIN, VALID, TEST, DROPPED = 0, 1, 2, -1


def _ratio(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise DataError(f"{name} must be in [0, 1), got {value}", field=name)


def _dedupe(inter: Interactions) -> tuple[Interactions, int]:
    """Keep each pair's earliest row (timestamp, then row order); ``(table, rows dropped)``."""
    keys = inter.users * inter.num_items + inter.items
    order = np.arange(len(inter)) if inter.timestamps is None else np.argsort(inter.timestamps, kind="stable")
    _, first = np.unique(keys[order], return_index=True)
    keep = np.sort(order[first])
    if len(keep) == len(inter):
        return inter, 0
    return inter.subset(keep), len(inter) - len(keep)


def _rank_in_user(users: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """``[E]`` 0-based rank of each row among its user's rows, ordered by ``keys`` (last key major)."""
    order = np.lexsort((*keys, users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - group_start
    return rank


def _held_counts(counts: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """``[U]`` ``ratio * n`` rounded down, plus one with probability equal to the fraction."""
    exact = counts * ratio
    return (np.floor(exact) + (rng.random(len(counts)) < exact - np.floor(exact))).astype(np.int64)


def _assign(rank: np.ndarray, users: np.ndarray, n_test: np.ndarray, n_valid: np.ndarray,
            counts: np.ndarray) -> np.ndarray:
    """``[E]`` part of each row: the ``n_test`` lowest ranks test, the next ``n_valid`` valid."""
    n_test = np.minimum(n_test, np.maximum(counts - 1, 0))
    n_valid = np.minimum(n_valid, np.maximum(counts - 1 - n_test, 0))
    part = np.full(len(rank), TRAIN, dtype=np.int8)
    part[rank < n_valid[users] + n_test[users]] = VALID
    part[rank < n_test[users]] = TEST
    return part


def _settle_cold(inter: Interactions, part: np.ndarray, drop: bool, info: dict) -> None:
    """Send held-out rows of users/items without training rows back to train, or drop them."""
    held = part > TRAIN
    warm_items = np.bincount(inter.items[part == TRAIN], minlength=inter.num_items) > 0
    warm_users = np.bincount(inter.users[part == TRAIN], minlength=inter.num_users) > 0
    if not drop:
        back = held & ~warm_items[inter.items]
        part[back] = TRAIN
        info["cold_item_rows_kept_in_train"] = int(back.sum())
        return
    cold_user = held & ~warm_users[inter.users]
    cold_item = held & ~cold_user & ~warm_items[inter.items]
    part[cold_user | cold_item] = DROPPED
    info["dropped_cold_user_rows"] = int(cold_user.sum())
    info["dropped_cold_users"] = int(len(np.unique(inter.users[cold_user])))
    info["dropped_cold_item_rows"] = int(cold_item.sum())


def _build(inter: Interactions, part: np.ndarray, with_valid: bool, info: dict, how: str) -> Split:
    if not (part == TEST).any():
        raise DataError(f"{how}: the test part is empty ({len(inter)} interactions, {inter.num_users} users)")
    if with_valid and not (part == VALID).any():
        raise DataError(f"{how}: the validation part is empty; lower the test share or give more data")
    return Split(train=inter.subset(part == TRAIN), test=inter.subset(part == TEST),
                 valid=inter.subset(part == VALID) if with_valid else None, info=info)


def _random_parts(inter: Interactions, test_ratio: float, valid_ratio: float,
                  seed: int) -> tuple[Interactions, np.ndarray, dict]:
    """Deduplicated rows, their random per-user parts, and the info so far."""
    inter, dropped = _dedupe(inter)
    rng = np.random.default_rng(seed)
    counts = inter.user_activity()
    n_test = _held_counts(counts, test_ratio, rng)
    n_valid = _held_counts(counts, valid_ratio, rng)
    part = _assign(_rank_in_user(inter.users, rng.random(len(inter))), inter.users, n_test, n_valid, counts)
    info: dict[str, object] = {"duplicate_pairs_dropped": dropped}
    _settle_cold(inter, part, drop=False, info=info)
    return inter, part, info


def split_random_per_user(inter: Interactions, test_ratio: float, valid_ratio: float = 0.0,
                          seed: int = 0) -> Split:
    """Hold out a random share of each user's interactions for test (and valid).

    Users with a single interaction stay in train. See the module conventions.

    Args:
        inter: all interactions.
        test_ratio: expected share of each user's rows in test, in (0, 1).
        valid_ratio: expected share in valid (0 = no valid part).
        seed: the split is a function of ``(inter, ratios, seed)``.

    Example:
        >>> split = split_random_per_user(inter, test_ratio=0.2, seed=0)  # doctest: +SKIP
    """
    _ratio("test_ratio", test_ratio)
    _ratio("valid_ratio", valid_ratio)
    if test_ratio + valid_ratio >= 1:
        raise DataError(f"test_ratio + valid_ratio must be < 1, got {test_ratio} + {valid_ratio}")
    inter, part, info = _random_parts(inter, test_ratio, valid_ratio, seed)
    return _build(inter, part, valid_ratio > 0, info, "split_random_per_user")


def _timestamps(inter: Interactions, how: str) -> np.ndarray:
    if inter.timestamps is None:
        raise DataError(f"{how} needs timestamps, but these interactions have none "
                        "(read them with ColumnMapping(timestamp=...))", field="timestamp")
    return inter.timestamps


def split_leave_last_out(inter: Interactions, n_test: int = 1, n_valid: int = 0) -> Split:
    """Each user's latest ``n_test`` interactions go to test, the ``n_valid`` before them to valid.

    Ties in time keep file order (the later row counts as later). Users keep at least one training
    row. Held-out rows whose item has no training row are dropped (module conventions).
    """
    if n_test < 1 or n_valid < 0:
        raise DataError(f"need n_test >= 1 and n_valid >= 0, got n_test={n_test}, n_valid={n_valid}")
    _timestamps(inter, "split_leave_last_out")
    inter, dropped = _dedupe(inter)
    counts = inter.user_activity()
    rank = _rank_in_user(inter.users, -np.arange(len(inter)), -inter.timestamps)  # 0 = latest
    part = _assign(rank, inter.users, np.full(inter.num_users, n_test), np.full(inter.num_users, n_valid),
                   counts)
    info: dict[str, object] = {"duplicate_pairs_dropped": dropped}
    _settle_cold(inter, part, drop=True, info=info)
    return _build(inter, part, n_valid > 0, info, "split_leave_last_out")


def split_global_time(inter: Interactions, test_from: float, valid_from: float | None = None) -> Split:
    """One time cut for everyone: ``t >= test_from`` is test, ``valid_from <= t < test_from`` valid.

    Held-out rows of users or items first seen after the cut are dropped and counted in
    ``Split.info`` (module conventions).
    """
    ts = _timestamps(inter, "split_global_time")
    if valid_from is not None and not valid_from < test_from:
        raise DataError(f"valid_from ({valid_from}) must be before test_from ({test_from})", field="valid_from")
    inter, dropped = _dedupe(inter)
    ts = inter.timestamps
    part = np.full(len(inter), TRAIN, dtype=np.int8)
    if valid_from is not None:
        part[ts >= valid_from] = VALID
    part[ts >= test_from] = TEST
    first_held = test_from if valid_from is None else valid_from
    if not (part == TRAIN).any():
        raise DataError(f"split_global_time: no interaction before {first_held}; timestamps span "
                        f"[{ts.min()}, {ts.max()}]", field="timestamp")
    info: dict[str, object] = {"duplicate_pairs_dropped": dropped}
    _settle_cold(inter, part, drop=True, info=info)
    return _build(inter, part, valid_from is not None, info, f"split_global_time(test_from={test_from})")


def carve_validation(train: Interactions, ratio: float, seed: int = 0) -> tuple[Interactions, Interactions]:
    """Hold out a random share of each user's training rows for validation.

    Every user and item of ``train`` keeps at least one training row, so a test part that was
    valid for ``train`` stays valid. Counts are in ``valid.info`` (module conventions).

    Returns:
        ``(train, valid)`` in the same id space.
    """
    if not 0.0 < ratio < 1.0:
        raise DataError(f"ratio must be in (0, 1), got {ratio}", field="ratio")
    train, part, info = _random_parts(train, 0.0, ratio, seed)
    if not (part == VALID).any():
        raise DataError(f"carve_validation: the validation part is empty ({len(train)} training rows, "
                        f"ratio {ratio}); no user has a row to spare")
    valid = train.subset(part == VALID)
    valid.info = info
    return train.subset(part == TRAIN), valid


def _same_space(a: IdMap, b: IdMap) -> bool:
    return a is b or (len(a) == len(b) and bool(np.array_equal(a.raw, b.raw)))


def _check_part(train: Interactions, held: Interactions, name: str) -> None:
    if not (_same_space(train.user_map, held.user_map) and _same_space(train.item_map, held.item_map)):
        raise DataError(f"{name} does not share train's id maps ({held.num_users} x {held.num_items} vs "
                        f"{train.num_users} x {train.num_items})")
    for field, ids, idmap in (("user", "users", train.user_map), ("item", "items", train.item_map)):
        warm = np.bincount(getattr(train, ids), minlength=len(idmap)) > 0
        cold = np.unique(getattr(held, ids)[~warm[getattr(held, ids)]])
        if len(cold):
            raise DataError(f"{len(cold)} {name} {field}s have no training interactions (first: raw id "
                            f"{str(idmap.to_raw(int(cold[0])))!r}); a model cannot rank for them", field=field)
    train_keys = np.unique(train.users * train.num_items + train.items)
    held_keys = held.users * held.num_items + held.items
    both = np.isin(held_keys, train_keys)
    if both.any():
        row = int(np.flatnonzero(both)[0])
        raise DataError(f"{int(both.sum())} {name} (user, item) pairs are also in train (first: user "
                        f"{str(train.user_map.to_raw(int(held.users[row])))!r}, item "
                        f"{str(train.item_map.to_raw(int(held.items[row])))!r}); that leaks the answer")


def check_split(split: Split) -> None:
    """Raise :class:`DataError` if the split cannot be evaluated fairly.

    Checks test (and valid) against train: the same id maps, every held-out user and item has a
    training row (names the first raw id and the count), and no pair is in both.
    """
    _check_part(split.train, split.test, "test")
    if split.valid is not None:
        _check_part(split.train, split.valid, "valid")
