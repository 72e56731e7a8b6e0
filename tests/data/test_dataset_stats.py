"""Tests for contrarec.data.stats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contrarec.data.features import FeatureTable
from contrarec.data.interactions import IdMap, Interactions
from contrarec.data.stats import dataset_stats, gini
from contrarec.data.synthetic import generate_synthetic


def test_gini_closed_forms():
    assert gini(np.array([3, 3, 3])) == 0.0
    assert gini(np.array([0, 0, 0, 0, 5])) == pytest.approx(4 / 5)
    assert gini(np.array([1, 3])) == pytest.approx(0.25)        # (2*1-3)*1 + (2*2-3)*3 = 2; 2 / (2*4)
    assert gini(np.array([])) == 0.0 and gini(np.zeros(3)) == 0.0


def test_stats_of_a_small_table():
    # 3 users x 4 items; (u0, i0) twice; item 3 never seen.
    features = FeatureTable(num_rows=4, categorical={"brand": np.array([1, 2, 0, 1])},
                            cardinalities={"brand": 3, "tags": 3},
                            multi_valued={"tags": np.array([[1, 2], [1, 0], [0, 0], [2, 0]])},
                            numeric={"price": np.zeros(4, np.float32)})
    inter = Interactions(np.array([0, 0, 0, 1, 2]), np.array([0, 0, 1, 0, 2]), IdMap.identity(3),
                         IdMap.identity(4), timestamps=np.array([0.0, 86_400.0, 5.0, 7.0, 172_800.0]),
                         item_features=features)
    stats = dataset_stats(inter)
    assert (stats["users"], stats["items"], stats["interactions"]) == (3, 4, 5)
    assert stats["unique_pairs"] == 4 and stats["duplicate_pairs"] == 1
    assert stats["density"] == pytest.approx(4 / 12)
    assert stats["items_without_interactions"] == 1 and stats["users_without_interactions"] == 0
    assert stats["item_popularity"]["max"] == 3 and stats["user_activity"]["median"] == 1.0
    assert stats["popularity_gini"] == pytest.approx(gini(np.array([3, 1, 1, 0])))
    assert stats["head_share"] == pytest.approx(3 / 5)
    assert stats["timestamps"]["span_days"] == pytest.approx(2.0) and stats["weights"] is None
    assert stats["item_features"] == {
        "brand": {"kind": "categorical", "cardinality": 2, "missing": 0.25},
        "tags": {"kind": "multi_valued", "cardinality": 2, "missing": 0.25, "mean_values": 1.0},
        "price": {"kind": "numeric"}}
    assert stats["user_features"] == {}
    json.dumps(stats)                                            # plain values only


def test_stats_of_synthetic_data_are_json():
    stats = dataset_stats(generate_synthetic(num_users=100, num_items=80, num_interactions=2000, num_clusters=4))
    assert stats["interactions"] == 2000 and 0 < stats["popularity_gini"] < 1
    assert set(stats["item_features"]) == {"category", "brand", "tags", "price"}
    json.loads(json.dumps(stats))
