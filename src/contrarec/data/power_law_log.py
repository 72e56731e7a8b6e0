"""Large synthetic interaction logs written straight to Parquet (millions of items, tens of millions of rows).

The generator is vectorised and works in chunks, so memory stays at a few chunk-sized arrays whatever
the log size. Structure lives in the ids, so any seed (a training log, a later test log) shares it:

- users and items belong to ``clusters`` groups: ``cluster(x) = x mod C``;
- user activity and item popularity follow power laws over the id order (small ids are the active
  users and the popular items);
- a row's item comes, with probability ``in_cluster``, from the user's own cluster (power law over that
  cluster's items, ``item = rank·C + cluster``), otherwise from the global power law.

A recall model that learns the clusters beats popularity; one that does not, cannot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from contrarec.io import atomic_write


def power_law_cdf(size: int, exponent: float) -> np.ndarray:
    """``[size]`` cumulative distribution of ``p(r) ∝ (r + 1)^-exponent`` over ranks ``0..size-1``."""
    weights = np.arange(1, size + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def draw(cdf: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``[count]`` ranks drawn from a distribution given by its CDF (inverse-CDF sampling)."""
    return np.minimum(np.searchsorted(cdf, rng.random(count), side="right"), len(cdf) - 1).astype(np.int64)


def sample_pairs(users: np.ndarray, num_items: int, clusters: int, in_cluster: float, item_cdf: np.ndarray,
                 cluster_cdf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[n]`` items for the users ``[n]``: in-cluster power law with probability ``in_cluster``, else global."""
    n = len(users)
    ranks = draw(cluster_cdf, n, rng)  # rank inside the user's cluster
    own = ranks * clusters + users % clusters
    anywhere = draw(item_cdf, n, rng)
    pick_own = (rng.random(n) < in_cluster) & (own < num_items)
    return np.where(pick_own, own, anywhere)


def write_power_law_log(path: str | Path, num_users: int, num_items: int, num_interactions: int, seed: int = 0,
                        clusters: int = 1000, in_cluster: float = 0.8, item_exponent: float = 0.8,
                        user_exponent: float = 0.5, row_group_size: int = 1_000_000) -> Path:
    """Write a synthetic ``(user, item)`` log (int64 columns) to one Parquet file, chunk by chunk.

    Args:
        path: the Parquet file to write (atomically).
        num_users: U.
        num_items: N.
        num_interactions: rows E (duplicates possible, as in real logs).
        seed: the sampling seed (the cluster structure does not depend on it).
        clusters: C interest groups.
        in_cluster: share of rows whose item comes from the user's group.
        item_exponent: power-law exponent of item popularity.
        user_exponent: power-law exponent of user activity.
        row_group_size: rows per Parquet row group (also the chunk generated at once).

    Returns:
        ``path``.

    Example:
        >>> import tempfile, pyarrow.parquet as pq
        >>> f = write_power_law_log(tempfile.mkdtemp() + "/log.parquet", 100, 50, 1000, row_group_size=300)
        >>> pq.ParquetFile(f).metadata.num_row_groups
        4
    """
    if min(num_users, num_items, num_interactions, clusters, row_group_size) < 1 or not 0 <= in_cluster <= 1:
        raise ValueError("sizes must be >= 1 and in_cluster in [0, 1]")
    rng = np.random.default_rng(seed)
    user_cdf = power_law_cdf(num_users, user_exponent)
    item_cdf = power_law_cdf(num_items, item_exponent)
    cluster_cdf = power_law_cdf(-(-num_items // clusters), item_exponent)
    schema = pa.schema([("user", pa.int64()), ("item", pa.int64())])

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, num_interactions, row_group_size):
                n = min(row_group_size, num_interactions - start)
                users = draw(user_cdf, n, rng)
                items = sample_pairs(users, num_items, clusters, in_cluster, item_cdf, cluster_cdf, rng)
                writer.write_table(pa.table({"user": users, "item": items}, schema=schema),
                                   row_group_size=row_group_size)

    return atomic_write(path, write)
