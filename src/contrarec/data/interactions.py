"""The interactions table, its id maps, CSR matrices and item popularity.

Shape legend (used across the package): B batch, D embedding dim, U users, N items,
K top-k, Q queue size, F features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from contrarec.data.features import FeatureTable


@dataclass(frozen=True)
class IdMap:
    """A contiguous map between raw ids (strings) and internal ids ``0..n-1``.

    Args:
        raw: ``[n]`` raw ids as strings; position = internal id.
    """

    raw: np.ndarray
    index: dict[str, int] = field(repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.index:
            object.__setattr__(self, "index", {str(r): i for i, r in enumerate(self.raw)})
        if len(self.index) != len(self.raw):
            raise ValueError(f"IdMap: raw ids are not unique ({len(self.raw)} ids, {len(self.index)} distinct)")

    @classmethod
    def from_raw(cls, values: np.ndarray | list) -> tuple["IdMap", np.ndarray]:
        """Build a map from raw values in order of first appearance.

        Returns:
            The map and ``[len(values)]`` internal ids (int64).
        """
        import pandas as pd

        arr = np.asarray(values)
        if arr.dtype == object:
            codes, uniques = pd.factorize(arr)  # hash-based; uniques in order of first appearance
            if (codes >= 0).all() and all(type(u) is str for u in uniques):
                return cls(np.asarray(uniques, dtype=object)), codes.astype(np.int64)
        codes, uniques = pd.factorize(arr.astype(str).astype(object))
        return cls(np.asarray(uniques, dtype=object)), codes.astype(np.int64)

    @classmethod
    def identity(cls, n: int) -> "IdMap":
        """Raw ids ``"0".."n-1"`` mapping to themselves."""
        return cls(np.array([str(i) for i in range(n)], dtype=object))

    def __len__(self) -> int:
        return len(self.raw)

    def to_internal(self, raw_id: str | int) -> int:
        """Internal id of one raw id; ``KeyError`` naming the id if unknown."""
        key = str(raw_id)
        if key not in self.index:
            raise KeyError(f"unknown id {raw_id!r}")
        return self.index[key]

    def to_raw(self, internal: np.ndarray | int) -> np.ndarray:
        """Raw ids of internal ids."""
        return self.raw[internal]


@dataclass
class Interactions:
    """A table of (user, item[, timestamp, weight]) events with internal contiguous ids.

    Args:
        users: ``[E]`` internal user ids (int64).
        items: ``[E]`` internal item ids (int64).
        user_map: raw <-> internal user ids; ``len(user_map)`` is the number of users U.
        item_map: raw <-> internal item ids; ``len(item_map)`` is the number of items N.
        timestamps: ``[E]`` float64 seconds, or None.
        weights: ``[E]`` float32, or None (all ones).
        user_features: optional features, one row per internal user id.
        item_features: optional features, one row per internal item id.
        info: what the reader or generator noted (rows skipped or dropped and why, duplicate
            pairs, ...), as plain JSON-able values; not carried over by :meth:`subset`.
    """

    users: np.ndarray
    items: np.ndarray
    user_map: IdMap
    item_map: IdMap
    timestamps: np.ndarray | None = None
    weights: np.ndarray | None = None
    user_features: FeatureTable | None = None
    item_features: FeatureTable | None = None
    info: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64)
        self.items = np.asarray(self.items, dtype=np.int64)
        if self.users.shape != self.items.shape or self.users.ndim != 1:
            raise ValueError(f"users {self.users.shape} and items {self.items.shape} must be equal 1-d arrays")
        for name, arr in (("timestamps", self.timestamps), ("weights", self.weights)):
            if arr is not None and len(arr) != len(self.users):
                raise ValueError(f"{name} has {len(arr)} rows, expected {len(self.users)}")
        if len(self.users) and (self.users.min() < 0 or self.users.max() >= self.num_users):
            raise ValueError(f"user ids must lie in [0, {self.num_users})")
        if len(self.items) and (self.items.min() < 0 or self.items.max() >= self.num_items):
            raise ValueError(f"item ids must lie in [0, {self.num_items})")

    @property
    def num_users(self) -> int:
        """U, the size of the user id space."""
        return len(self.user_map)

    @property
    def num_items(self) -> int:
        """N, the size of the item id space."""
        return len(self.item_map)

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask_or_index: np.ndarray) -> "Interactions":
        """The same id space and features, restricted to some rows."""
        return Interactions(
            users=self.users[mask_or_index],
            items=self.items[mask_or_index],
            user_map=self.user_map,
            item_map=self.item_map,
            timestamps=None if self.timestamps is None else self.timestamps[mask_or_index],
            weights=None if self.weights is None else self.weights[mask_or_index],
            user_features=self.user_features,
            item_features=self.item_features,
        )

    def to_csr(self, binary: bool = True) -> sp.csr_matrix:
        """``[U, N]`` user×item matrix; duplicates are collapsed to 1 when ``binary``."""
        data = np.ones(len(self), dtype=np.float32) if self.weights is None else self.weights.astype(np.float32)
        mat = sp.csr_matrix((data, (self.users, self.items)), shape=(self.num_users, self.num_items))
        mat.sum_duplicates()
        if binary:
            mat.data[:] = 1.0
        mat.sort_indices()
        return mat

    def item_popularity(self) -> np.ndarray:
        """``[N]`` interaction count per item (int64)."""
        return np.bincount(self.items, minlength=self.num_items).astype(np.int64)

    def user_activity(self) -> np.ndarray:
        """``[U]`` interaction count per user (int64)."""
        return np.bincount(self.users, minlength=self.num_users).astype(np.int64)


@dataclass
class Split:
    """A train / valid / test split sharing one id space.

    ``valid`` is optional (carved from train for early stopping). ``info`` records what the
    splitter did (counts of rows returned to train or dropped, and why).
    """

    train: Interactions
    test: Interactions
    valid: Interactions | None = None
    info: dict[str, object] = field(default_factory=dict, compare=False)
