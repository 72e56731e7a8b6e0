"""Tests for the synthetic generator: determinism, size, popularity shape, features tied to clusters."""

from __future__ import annotations


import numpy as np
import pytest

from contrarec.data.errors import DataError
from contrarec.data.splits import split_random_per_user
from contrarec.data.synthetic import SyntheticConfig, generate_synthetic, generate_synthetic_with_truth

SMALL = dict(num_users=800, num_items=600, num_interactions=24_000, num_clusters=10)


@pytest.fixture(scope="module")
def small():
    return generate_synthetic_with_truth(SyntheticConfig(**SMALL, seed=5))


def test_deterministic_under_seed():
    a, b = generate_synthetic(**SMALL, seed=1), generate_synthetic(**SMALL, seed=1)
    c = generate_synthetic(**SMALL, seed=2)
    for name in ("users", "items", "timestamps"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for kind in ("categorical", "multi_valued", "numeric"):
        for table_a, table_b in ((a.item_features, b.item_features), (a.user_features, b.user_features)):
            for name, values in getattr(table_a, kind).items():
                np.testing.assert_array_equal(values, getattr(table_b, kind)[name])
    assert not np.array_equal(a.items, c.items)


def test_size_activity_and_no_duplicate_pairs(small):
    inter, _ = small
    assert (len(inter), inter.num_users, inter.num_items) == (24_000, 800, 600)
    keys = inter.users * inter.num_items + inter.items
    assert len(np.unique(keys)) == len(keys)
    activity = inter.user_activity()
    assert activity.min() >= 5 and activity.max() > 5 * np.median(activity)   # heavy-tailed activity
    assert np.all(np.diff(inter.timestamps) >= 0)


def test_popularity_is_power_law_like_with_a_long_tail(small):
    inter, _ = small
    pop = np.sort(inter.item_popularity())[::-1]
    top = pop[: len(pop) // 10].sum() / pop.sum()
    assert top > 0.3                                               # top 10% of items take > 30%
    assert (pop <= np.median(pop) / 3).sum() > len(pop) * 0.05     # a tail of rare items
    ranks = np.arange(1, 101)
    slope = np.polyfit(np.log(ranks), np.log(pop[:100]), 1)[0]
    assert -2.0 < slope < -0.3                                     # roughly Zipf in the head


def test_users_mostly_stay_in_their_clusters(small):
    inter, truth = small
    cluster = truth.item_cluster[inter.items]
    share = np.mean((cluster == truth.user_primary[inter.users]) | (cluster == truth.user_secondary[inter.users]))
    assert share > 0.6 > 2 / 10


def test_features_follow_clusters(small):
    inter, truth = small
    items, users = inter.item_features, inter.user_features
    assert set(items.names) == {"category", "brand", "tags", "price"} and set(users.names) == {"region", "segment"}
    category = items.categorical["category"]
    assert np.mean(category == truth.item_cluster + 1) > 0.75
    assert np.mean(category == 0) < 0.05                           # a few missing values
    brand = items.categorical["brand"]
    known = brand > 0
    assert np.mean((brand[known] - 1) // 4 == truth.item_cluster[known]) > 0.75
    tags = items.multi_valued["tags"]
    assert tags.shape == (600, 3) and (tags[:, 0] > 0).all()
    has_tag = np.zeros((600, items.cardinalities["tags"]))
    np.put_along_axis(has_tag, tags, 1.0, axis=1)
    has_tag[:, 0] = 0                                              # padding
    overlap = has_tag @ has_tag.T > 0                              # [N, N] items sharing a tag
    same_cluster = truth.item_cluster[:, None] == truth.item_cluster[None, :]
    assert overlap[same_cluster].mean() > 3 * overlap[~same_cluster].mean()
    region = users.categorical["region"]
    assert np.mean(region == truth.user_primary % 8 + 1) > 0.75
    assert items.numeric["price"].dtype == np.float32 and abs(items.numeric["price"].mean()) < 1e-3


def test_features_help_a_model(small):
    """Scoring items by (user region, item category) co-counts beats plain popularity on held-out data."""
    inter, _ = small
    split = split_random_per_user(inter, test_ratio=0.2, seed=0)
    region = inter.user_features.categorical["region"] * 10 + inter.user_features.categorical["segment"]
    category = inter.item_features.categorical["category"]
    train, test = split.train, split.test
    co = np.zeros((region.max() + 1, category.max() + 1))
    np.add.at(co, (region[train.users], category[train.items]), 1)
    pop = train.item_popularity().astype(float)
    seen = train.to_csr().toarray() > 0
    truth = test.to_csr().toarray() > 0

    def hits(scores):
        scores = np.where(seen, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :20]
        return np.take_along_axis(truth, top, axis=1).sum()

    base = hits(np.tile(pop, (inter.num_users, 1)))
    with_features = hits(pop[None, :] * (co[region][:, category] + 1) / (co[region].sum(1, keepdims=True) + 1))
    assert with_features > 1.3 * base


def test_default_size():
    # no wall-clock bound here: a timed test fails on a loaded machine (speed lives in bench/)
    inter = generate_synthetic()
    assert (len(inter), inter.num_users, inter.num_items) == (150_000, 5000, 3000)


@pytest.mark.parametrize("kwargs,field", [
    (dict(num_users=10, num_items=10, num_interactions=10), "num_interactions"),
    (dict(num_users=10, num_items=10, num_interactions=60), "num_interactions"),
    (dict(num_users=10, num_items=10, num_interactions=50, feature_noise=2.0), "feature_noise"),
])
def test_config_is_validated(kwargs, field):
    with pytest.raises(DataError) as info:
        generate_synthetic(**kwargs)
    assert info.value.field == field
