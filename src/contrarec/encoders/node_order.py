"""A numbering of a bipartite graph's users and items under which propagation reads memory in order.

A propagation layer gathers, for every row, the embedding rows of its neighbours. On Yelp2018 the two
``[U + N, 64]`` float tables are 18 MB, more than this machine's 8 MB L3 cache, and the datasets' own ids
carry no locality (a random renumbering is as fast). Reverse Cuthill–McKee (Cuthill & McKee 1969; George
1971) numbers the nodes breadth-first from a peripheral node, so that a row's neighbours get nearby
numbers and consecutive rows share neighbours, and more of the gathered rows are still in cache.
Measured by ``bench/graph_propagation.py``: one layer over both blocks 24.7 → 18.7 ms, and a training
step 4–13% faster (``xsimgcl`` 4%, ``simgcl`` 8%, ``sgl-ed`` 11%, ``lightgcn`` 13%).

The renumbering is a permutation: the model stores its tables in the new order ("rows") and maps ids to
rows at its boundary (batches in, embeddings out), so results are those of the original numbering up to
the order of floating-point sums.

Shape legend: U users, N items, E edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import reverse_cuthill_mckee


@dataclass(frozen=True)
class NodeOrder:
    """Where each user and item is stored.

    Args:
        user_row: ``[U]`` int64, the row of user id u is ``user_row[u]`` (a permutation of 0..U-1).
        item_row: ``[N]`` int64, the same for items.
    """

    user_row: torch.Tensor
    item_row: torch.Tensor

    def __post_init__(self) -> None:
        for name, perm in (("user_row", self.user_row), ("item_row", self.item_row)):
            if perm.dtype != torch.int64 or perm.ndim != 1 or not torch.equal(
                    torch.sort(perm).values, torch.arange(len(perm))):
                raise ValueError(f"NodeOrder.{name} must be a permutation of 0..{len(perm) - 1} (int64)")

    @property
    def user_at_row(self) -> torch.Tensor:
        """``[U]`` the user id stored at each row (the inverse permutation)."""
        return torch.argsort(self.user_row)

    @property
    def item_at_row(self) -> torch.Tensor:
        """``[N]`` the item id stored at each row."""
        return torch.argsort(self.item_row)


def locality_order(users: np.ndarray | torch.Tensor, items: np.ndarray | torch.Tensor, num_users: int,
                   num_items: int) -> NodeOrder:
    """Reverse Cuthill–McKee order of the bipartite graph of the edges ``users[e]`` – ``items[e]`` ``[E]``.

    Users and items are ordered together (one breadth-first sweep over the ``[(U+N), (U+N)]`` adjacency),
    then each kind keeps its relative order. Nodes without edges are numbered too (RCM puts each in a
    component of its own). Deterministic: the same edges give the same order.

    Example:
        >>> order = locality_order([0, 1, 2], [2, 1, 0], 3, 3)
        >>> sorted(order.user_row.tolist()), sorted(order.item_row.tolist())
        ([0, 1, 2], [0, 1, 2])
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(f"users {users.shape} and items {items.shape} must be equal 1-d arrays")
    size = num_users + num_items
    ones = np.ones(2 * len(users), dtype=np.int8)
    square = sp.csr_matrix((ones, (np.r_[users, items + num_users], np.r_[items + num_users, users])),
                           shape=(size, size))
    perm = reverse_cuthill_mckee(square, symmetric_mode=True)  # [U+N] node at each new position
    user_row = np.empty(num_users, np.int64)
    user_row[perm[perm < num_users]] = np.arange(num_users)
    item_row = np.empty(num_items, np.int64)
    item_row[perm[perm >= num_users] - num_users] = np.arange(num_items)
    return NodeOrder(torch.from_numpy(user_row), torch.from_numpy(item_row))
