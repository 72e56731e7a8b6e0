"""Side features of the synthetic data: noisy, partial views of the latent taste clusters.

Items: ``category`` (the cluster), ``brand`` (one of a few sub-clusters per cluster), ``tags``
(multi-valued, drawn from three signature tags of the cluster) and ``price`` (numeric, a
cluster-dependent lognormal). Users: ``region`` and ``segment``, which together point to the
user's primary cluster. Every value ignores the cluster with probability ``noise``, and 2% of
categorical values are missing (code 0).
"""

from __future__ import annotations

import numpy as np

from contrarec.data.features import FeatureTable

BRANDS_PER_CLUSTER = 4
TAGS_PER_CLUSTER = 3
MISSING_SHARE = 0.02


def _noisy(codes: np.ndarray, cardinality: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a ``noise`` share of ``codes`` (0-based) with uniform ones."""
    flip = rng.random(len(codes)) < noise
    return np.where(flip, rng.integers(0, cardinality, len(codes)), codes)


def _categorical(table: FeatureTable, name: str, codes: np.ndarray, labels: list[str],
                 rng: np.random.Generator) -> None:
    """Store 0-based ``codes`` as 1-based codes with some missing, and the vocabulary."""
    stored = codes + 1
    stored[rng.random(len(codes)) < MISSING_SHARE] = 0
    table.categorical[name] = stored.astype(np.int64)
    table.cardinalities[name] = len(labels) + 1
    table.vocabularies[name] = np.array(["", *labels], dtype=object)


def item_features(item_cluster: np.ndarray, num_clusters: int, noise: float,
                  rng: np.random.Generator) -> FeatureTable:
    """``[N]``-row table with category, brand, tags and price."""
    n, c = len(item_cluster), num_clusters
    table = FeatureTable(num_rows=n)
    _categorical(table, "category", _noisy(item_cluster, c, noise, rng), [f"cat{k:02d}" for k in range(c)], rng)
    brand = item_cluster * BRANDS_PER_CLUSTER + rng.integers(0, BRANDS_PER_CLUSTER, n)
    _categorical(table, "brand", _noisy(brand, c * BRANDS_PER_CLUSTER, noise, rng),
                 [f"brand{k:03d}" for k in range(c * BRANDS_PER_CLUSTER)], rng)
    num_tags = 2 * c + 10
    signature = np.stack([rng.choice(num_tags, TAGS_PER_CLUSTER, replace=False) for _ in range(c)])  # [C, 3]
    width = TAGS_PER_CLUSTER
    picks = signature[item_cluster[:, None], rng.integers(0, TAGS_PER_CLUSTER, (n, width))]       # [N, 3]
    picks = _noisy(picks.reshape(-1), num_tags, noise, rng).reshape(n, width) + 1
    picks[np.arange(width)[None, :] >= rng.integers(1, width + 1, n)[:, None]] = 0                  # 1..3 tags
    picks.sort(axis=1)
    picks[:, 1:][picks[:, 1:] == picks[:, :-1]] = 0                                                  # no repeats
    table.multi_valued["tags"] = -np.sort(-picks, axis=1)                                            # pad at end
    table.cardinalities["tags"] = num_tags + 1
    table.vocabularies["tags"] = np.array(["", *[f"tag{k:02d}" for k in range(num_tags)]], dtype=object)
    log_price = rng.normal(3.0, 1.0, c)[_noisy(item_cluster, c, noise, rng)] + rng.normal(0.0, 0.3, n)
    table.numeric["price"] = ((log_price - log_price.mean()) / log_price.std()).astype(np.float32)
    return table


def user_features(primary: np.ndarray, secondary: np.ndarray, noise: float,
                  rng: np.random.Generator) -> FeatureTable:
    """``[U]``-row table with region (primary cluster mod R) and segment (cluster group, or secondary)."""
    c = int(max(primary.max(), secondary.max())) + 1
    regions, segments = min(c, 8), max(1, min(c, 4))
    table = FeatureTable(num_rows=len(primary))
    _categorical(table, "region", _noisy(primary % regions, regions, noise, rng),
                 [f"region{k}" for k in range(regions)], rng)
    group = (primary * segments) // c
    _categorical(table, "segment", _noisy(group, segments, noise, rng), [f"segment{k}" for k in range(segments)], rng)
    return table
