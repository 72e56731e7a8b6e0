"""Summary statistics of an interaction table, as plain JSON-able values (``contrarec data stats``)."""

from __future__ import annotations

import numpy as np

from contrarec.data.features import FeatureTable
from contrarec.data.interactions import Interactions

QUANTILES = {"p25": 25, "median": 50, "p75": 75, "p90": 90, "p99": 99}


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative ``values``: 0 when all equal, ``(n-1)/n`` when one holds all.

    ``G = sum_i (2i - n - 1) x_(i) / (n sum_i x_i)`` over the values sorted ascending (i = 1..n).

    Example:
        >>> gini(np.array([1, 1, 1, 1])), gini(np.array([0, 0, 0, 4]))
        (0.0, 0.75)
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


def _summary(counts: np.ndarray) -> dict[str, float]:
    """min, quantiles, max and mean of per-user or per-item counts."""
    if len(counts) == 0:
        return {}
    out: dict[str, float] = {"min": int(counts.min())}
    out.update({name: float(np.percentile(counts, q)) for name, q in QUANTILES.items()})
    out.update({"max": int(counts.max()), "mean": float(counts.mean())})
    return out


def _features(table: FeatureTable | None) -> dict[str, dict[str, object]]:
    """Per column: its kind, cardinality (without the missing code) and share of missing rows."""
    if table is None:
        return {}
    out: dict[str, dict[str, object]] = {}
    for name, codes in table.categorical.items():
        out[name] = {"kind": "categorical", "cardinality": table.cardinalities[name] - 1,
                     "missing": float(np.mean(codes == 0)) if len(codes) else 0.0}
    for name, codes in table.multi_valued.items():
        per_row = (codes > 0).sum(axis=1)
        out[name] = {"kind": "multi_valued", "cardinality": table.cardinalities[name] - 1,
                     "missing": float(np.mean(per_row == 0)) if len(codes) else 0.0,
                     "mean_values": float(per_row.mean()) if len(codes) else 0.0}
    for name in table.numeric:
        out[name] = {"kind": "numeric"}
    return out


def dataset_stats(inter: Interactions) -> dict[str, object]:
    """Size, density, activity / popularity distributions, popularity Gini, time span and features.

    Returns:
        A dict of plain Python values: ``users``, ``items``, ``interactions``, ``unique_pairs``,
        ``duplicate_pairs``, ``density`` (unique pairs / (U N)), ``users_without_interactions``,
        ``items_without_interactions``, ``user_activity`` and ``item_popularity`` (min, p25, median,
        p75, p90, p99, max, mean), ``popularity_gini``, ``head_share`` (interactions on the 20% most
        popular items), ``timestamps`` / ``weights`` (min, max; None when absent),
        ``user_features`` / ``item_features`` (per column kind, cardinality, missing share).
    """
    activity, popularity = inter.user_activity(), inter.item_popularity()
    unique_pairs = int(inter.to_csr().nnz)
    cells = inter.num_users * inter.num_items
    head = np.sort(popularity)[::-1][: max(1, int(np.ceil(0.2 * inter.num_items)))]
    stats: dict[str, object] = {
        "users": inter.num_users,
        "items": inter.num_items,
        "interactions": len(inter),
        "unique_pairs": unique_pairs,
        "duplicate_pairs": len(inter) - unique_pairs,
        "density": unique_pairs / cells if cells else 0.0,
        "users_without_interactions": int((activity == 0).sum()),
        "items_without_interactions": int((popularity == 0).sum()),
        "user_activity": _summary(activity),
        "item_popularity": _summary(popularity),
        "popularity_gini": gini(popularity),
        "head_share": float(head.sum() / max(1, len(inter))),
        "timestamps": None,
        "weights": None,
        "user_features": _features(inter.user_features),
        "item_features": _features(inter.item_features),
    }
    if inter.timestamps is not None and len(inter):
        ts = inter.timestamps
        stats["timestamps"] = {"min": float(ts.min()), "max": float(ts.max()),
                               "span_days": float((ts.max() - ts.min()) / 86_400)}
    if inter.weights is not None and len(inter):
        stats["weights"] = {"min": float(inter.weights.min()), "max": float(inter.weights.max()),
                            "mean": float(inter.weights.mean())}
    return stats
