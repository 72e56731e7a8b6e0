"""A synthetic interaction log with latent taste clusters, the default data of the library.

How it is made (all draws from one ``numpy`` generator seeded by ``seed``):
    * Items belong to ``num_clusters`` clusters of uneven size; their popularity follows a Zipf law
      (weight ``1 / rank^popularity_exponent`` over a random ranking), so a few items are very
      popular and a long tail is rarely seen.
    * Each user has a primary and a secondary cluster. An interaction picks the primary cluster with
      probability ``0.75 * in_cluster_share``, the secondary with ``0.25 * in_cluster_share``, and
      otherwise any item; within the chosen pool items are drawn by popularity.
    * User activity is heavy-tailed (lognormal) with at least ``min_per_user`` interactions; the
      counts add up to ``num_interactions`` exactly and no ``(user, item)`` pair repeats.
    * Timestamps: each user is active from a random start to the end of ``time_span`` seconds.
    * Features (see :mod:`contrarec.data.synthetic_features`) are noisy views of the clusters, so a
      model that reads them can place cold users and items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap, Interactions
from contrarec.data.synthetic_features import item_features, user_features

ROUNDS = 8
"""Vectorised sampling rounds before the few users still short are topped up one by one."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the generator; validated on creation.

    Args:
        num_users: U.
        num_items: N.
        num_interactions: total (user, item) pairs, all distinct.
        num_clusters: latent taste clusters C.
        seed: the whole dataset is a function of the config.
        in_cluster_share: share of interactions drawn from a user's two clusters.
        popularity_exponent: Zipf exponent of item popularity (0 = uniform).
        activity_sigma: lognormal sigma of user activity (0 = everyone equally active).
        min_per_user: fewest interactions of any user.
        feature_noise: probability that a feature value ignores the latent cluster.
        start_time: Unix seconds of the first possible interaction.
        time_span: seconds covered by the log.
    """

    num_users: int = 5000
    num_items: int = 3000
    num_interactions: int = 150_000
    num_clusters: int = 20
    seed: int = 0
    in_cluster_share: float = 0.8
    popularity_exponent: float = 1.0
    activity_sigma: float = 1.0
    min_per_user: int = 5
    feature_noise: float = 0.15
    start_time: float = 1.6e9
    time_span: float = 365 * 86_400.0

    def __post_init__(self) -> None:
        if self.num_users < 1 or self.num_items < 2 or not 1 <= self.num_clusters <= self.num_items:
            raise DataError(f"need num_users >= 1, num_items >= 2 and 1 <= num_clusters <= num_items, got "
                            f"{self.num_users}, {self.num_items}, {self.num_clusters}", field="num_clusters")
        low, high = self.num_users * self.min_per_user, self.num_users * self.num_items // 2
        if not low <= self.num_interactions <= high:
            raise DataError(f"num_interactions must lie in [num_users * min_per_user, num_users * num_items / 2]"
                            f" = [{low}, {high}], got {self.num_interactions}", field="num_interactions")
        for name in ("in_cluster_share", "feature_noise"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DataError(f"{name} must be in [0, 1], got {getattr(self, name)}", field=name)


@dataclass
class SyntheticTruth:
    """The latent structure behind a synthetic log (for tests and diagnostics).

    Args:
        item_cluster: ``[N]`` cluster of each item.
        item_weight: ``[N]`` Zipf popularity weight of each item (sums to 1).
        user_primary: ``[U]`` primary cluster of each user.
        user_secondary: ``[U]`` secondary cluster of each user.
    """

    item_cluster: np.ndarray
    item_weight: np.ndarray
    user_primary: np.ndarray
    user_secondary: np.ndarray


def _activity(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """``[U]`` interactions per user: lognormal shares, at least ``min_per_user``, capped, exact total."""
    cap = max(cfg.min_per_user, min(cfg.num_items // 2, 20 * cfg.num_interactions // cfg.num_users))
    extra_total = cfg.num_interactions - cfg.num_users * cfg.min_per_user
    share = rng.lognormal(0.0, cfg.activity_sigma, cfg.num_users) if cfg.activity_sigma > 0 else np.ones(cfg.num_users)
    room = np.full(cfg.num_users, float(cap - cfg.min_per_user))
    extra = np.zeros(cfg.num_users)
    for _ in range(50):  # water-filling: hand out what is left in proportion, up to each user's room
        left = extra_total - extra.sum()
        open_ = extra < room
        if left < 1e-9 or not open_.any():
            break
        extra[open_] = np.minimum(room[open_], extra[open_] + left * share[open_] / share[open_].sum())
    counts = np.floor(extra).astype(np.int64)
    short = int(extra_total - counts.sum())
    order = np.argsort(-(extra - counts) - (counts < room))  # largest remainders that still have room
    counts[order[:short]] += 1
    return counts + cfg.min_per_user


def _sampler(item_cluster: np.ndarray, weight: np.ndarray, num_clusters: int):
    """A function ``draw(pool, uniforms) -> items`` where pool -1 = all items, else a cluster."""
    order = np.argsort(item_cluster, kind="stable")
    cum = np.cumsum(weight[order])
    sizes = np.bincount(item_cluster, minlength=num_clusters)
    ends = np.cumsum(sizes)
    mass_end = cum[ends - 1]
    mass_start = np.r_[0.0, mass_end[:-1]]

    def draw(pool: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        lo = np.where(pool < 0, 0.0, mass_start[pool])
        hi = np.where(pool < 0, cum[-1], mass_end[pool])
        pos = np.searchsorted(cum, lo + uniforms * (hi - lo), side="right")
        upper = np.where(pool < 0, len(cum), ends[pool]) - 1
        return order[np.minimum(pos, upper)]

    return draw


def _sample_items(cfg: SyntheticConfig, truth: SyntheticTruth, counts: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``([E] users, [E] items)``: ``counts[u]`` distinct items per user, drawn by taste and popularity.

    A few vectorised rounds draw candidates for the users still short and keep the new ones; users
    whose pools run dry are then topped up by popularity over their unseen items.
    """
    draw = _sampler(truth.item_cluster, truth.item_weight, cfg.num_clusters)
    n = cfg.num_items
    keys = np.zeros(0, dtype=np.int64)
    probs = [0.75 * cfg.in_cluster_share, 0.25 * cfg.in_cluster_share, 1 - cfg.in_cluster_share]
    for _ in range(ROUNDS):
        need = counts - np.bincount(keys // n, minlength=cfg.num_users)
        if not need.any():
            break
        users = np.repeat(np.arange(cfg.num_users), np.ceil(need * 1.3).astype(np.int64) + (need > 0))
        source = rng.choice(3, size=len(users), p=probs)
        pool = np.select([source == 0, source == 1], [truth.user_primary[users], truth.user_secondary[users]], -1)
        short = (need > 0)[keys // n]
        merged = np.r_[keys[short], users * n + draw(pool, rng.random(len(users)))]
        _, first = np.unique(merged, return_index=True)
        first.sort()                                   # accepted keys first, then candidates in draw order
        keys = np.r_[keys[~short], _first_per_user(merged[first], counts, n)]
    keys = _fill_by_popularity(keys, counts, n, truth.item_weight, rng)
    keys.sort()
    return keys // n, keys % n


def _first_per_user(keys: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:
    """The first ``counts[u]`` keys of each user, in the given order."""
    users = keys // n
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    start = np.searchsorted(sorted_users, sorted_users)
    return keys[np.sort(order[np.arange(len(keys)) - start < counts[sorted_users]])]


def _fill_by_popularity(keys: np.ndarray, counts: np.ndarray, n: int, weight: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Top up users still short with unseen items drawn by popularity, without replacement."""
    keys = np.sort(keys)
    extra = [keys]
    have = np.bincount(keys // n, minlength=len(counts))
    for user in np.flatnonzero(have < counts):
        lo, hi = np.searchsorted(keys, [user * n, (user + 1) * n])
        unseen = np.setdiff1d(np.arange(n), keys[lo:hi] % n, assume_unique=True)
        p = weight[unseen] / weight[unseen].sum()
        extra.append(user * n + rng.choice(unseen, size=counts[user] - have[user], replace=False, p=p))
    return np.concatenate(extra)


def generate_synthetic_with_truth(config: SyntheticConfig) -> tuple[Interactions, SyntheticTruth]:
    """The synthetic log and the latent clusters behind it."""
    cfg = config
    rng = np.random.default_rng(cfg.seed)
    c = cfg.num_clusters
    sizes = rng.dirichlet(np.full(c, 2.0))
    item_cluster = rng.permutation(np.r_[np.arange(c), rng.choice(c, cfg.num_items - c, p=sizes)])
    rank = rng.permutation(cfg.num_items)
    weight = 1.0 / (rank + 1.0) ** cfg.popularity_exponent
    primary = rng.integers(0, c, cfg.num_users)
    secondary = (primary + rng.integers(1, c, cfg.num_users)) % c if c > 1 else primary
    truth = SyntheticTruth(item_cluster, weight / weight.sum(), primary, secondary)
    users, items = _sample_items(cfg, truth, _activity(cfg, rng), rng)
    start = rng.uniform(0.0, 0.8, cfg.num_users)[users]
    timestamps = cfg.start_time + cfg.time_span * (start + (1.0 - start) * rng.random(len(users)))
    order = np.argsort(timestamps, kind="stable")
    inter = Interactions(users[order], items[order], IdMap.identity(cfg.num_users), IdMap.identity(cfg.num_items),
                         timestamps=timestamps[order],
                         user_features=user_features(primary, secondary, cfg.feature_noise, rng),
                         item_features=item_features(item_cluster, c, cfg.feature_noise, rng),
                         info={"source": "synthetic", "seed": cfg.seed, "num_clusters": c})
    return inter, truth


def generate_synthetic(num_users: int = 5000, num_items: int = 3000, num_interactions: int = 150_000,
                       num_clusters: int = 20, seed: int = 0, **options: float) -> Interactions:
    """A synthetic log with taste clusters, Zipf popularity, heavy-tailed activity and features.

    Args:
        num_users, num_items, num_interactions, num_clusters, seed: see :class:`SyntheticConfig`;
            ``num_clusters`` is capped at ``num_items``.
        **options: any other :class:`SyntheticConfig` field (``in_cluster_share``, ...).

    Returns:
        Interactions with timestamps (rows in time order), identity id maps, ``user_features``
        (``region``, ``segment``) and ``item_features`` (``category``, ``brand``, ``tags``, ``price``).

    Example:
        >>> inter = generate_synthetic(num_users=100, num_items=80, num_interactions=2000, num_clusters=4)
        >>> len(inter), inter.num_users, inter.num_items
        (2000, 100, 80)
    """
    config = SyntheticConfig(num_users=num_users, num_items=num_items, num_interactions=num_interactions,
                             num_clusters=min(num_clusters, num_items), seed=seed, **options)
    return generate_synthetic_with_truth(config)[0]
