"""Ranking metrics on hand-worked hit matrices."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from contrarec.evaluate.metrics import (
    hit_matrix,
    hit_rate_at_k,
    item_coverage_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

# Two users, K = 3.
# user 0: ranks 1 and 3 are hits, 4 test items.   user 1: only rank 2 is a hit, 1 test item.
HITS = np.array([[True, False, True], [False, True, False]])
NUM_REL = np.array([4, 1])


def test_recall_precision_hit():
    assert recall_at_k(HITS, NUM_REL, 3).tolist() == [2 / 4, 1 / 1]
    assert recall_at_k(HITS, NUM_REL, 1).tolist() == [1 / 4, 0.0]
    assert precision_at_k(HITS, 3).tolist() == [2 / 3, 1 / 3]
    assert hit_rate_at_k(HITS, 1).tolist() == [1.0, 0.0]
    assert hit_rate_at_k(HITS, 2).tolist() == [1.0, 1.0]


def test_ndcg_hand_worked():
    # user 0: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(4, 3) = 3: 1 + 1/log2(3) + 1/2
    # user 1: DCG = 1/log2(3);                IDCG over min(1, 3) = 1: 1
    idcg0 = 1 + 1 / math.log2(3) + 0.5
    np.testing.assert_allclose(ndcg_at_k(HITS, NUM_REL, 3), [1.5 / idcg0, 1 / math.log2(3)])
    # k = 1: user 0 hit at rank 1 -> 1; user 1 -> 0
    np.testing.assert_allclose(ndcg_at_k(HITS, NUM_REL, 1), [1.0, 0.0])


def test_mrr():
    np.testing.assert_allclose(mrr_at_k(HITS, 3), [1.0, 0.5])
    np.testing.assert_allclose(mrr_at_k(HITS, 1), [1.0, 0.0])
    np.testing.assert_allclose(mrr_at_k(np.array([[False, False, True]]), 3), [1 / 3])


def test_ranking_metrics_means():
    out = ranking_metrics(HITS, NUM_REL, (1, 3))
    assert out["recall@3"] == pytest.approx((0.5 + 1.0) / 2)
    assert out["hit@1"] == pytest.approx(0.5)
    assert out["mrr@3"] == pytest.approx(0.75)
    assert set(out) == {f"{m}@{k}" for m in ("recall", "ndcg", "hit", "precision", "mrr") for k in (1, 3)}


def test_hit_matrix_and_valid_slots():
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]]))
    ids = np.array([[3, 0, 1], [1, 2, 0], [0, 1, 2]])
    hits = hit_matrix(ids, relevant)
    assert hits.tolist() == [[True, False, True], [False, False, True], [False, False, False]]
    valid = np.array([[True, True, False], [True, True, True], [True, True, True]])
    assert hit_matrix(ids, relevant, valid)[0].tolist() == [True, False, False]


def test_coverage():
    ids = np.array([[0, 1, 2], [0, 3, 2]])
    assert item_coverage_at_k(ids, 10, 1) == pytest.approx(0.1)
    assert item_coverage_at_k(ids, 10, 3) == pytest.approx(0.4)
    valid = np.array([[True, True, True], [True, False, True]])
    assert item_coverage_at_k(ids, 10, 3, valid) == pytest.approx(0.3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="k=4"):
        recall_at_k(HITS, NUM_REL, 4)
    with pytest.raises(ValueError, match="num_relevant must be > 0"):
        recall_at_k(HITS, np.array([1, 0]), 2)
