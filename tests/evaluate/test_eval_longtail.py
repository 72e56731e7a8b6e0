"""Popularity groups, head/tail recall and tail share on a constructed case."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.evaluate.evaluator import evaluate_ranking
from contrarec.evaluate.longtail import head_mask, popularity_groups, popularity_rank

# 10 items; popularity makes the order 0, 1, ..., 9 (item 2 and 3 tie: lower id first).
POP = np.array([100, 90, 50, 50, 40, 30, 20, 10, 5, 1])


def test_rank_groups_head():
    assert popularity_rank(POP).tolist() == list(range(10))
    assert popularity_groups(POP, 10).tolist() == list(range(10))
    assert head_mask(POP).tolist() == [True, True] + [False] * 8        # ceil(0.2 * 10) = 2
    assert popularity_groups(np.array([1, 3, 2]), 2).tolist() == [1, 0, 0]  # ranks 2, 0, 1 -> 2*r//3
    assert head_mask(np.arange(7)).sum() == 2                            # ceil(1.4)


def _case():
    """Three users whose score for item j is prefs[u, j] (one-hot item embeddings), no training items."""
    num_users, num_items = 3, 10
    prefs = np.array([
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],      # user 0 ranks 0, 1, 2, ...
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],      # user 1 ranks 9, 8, 7, ...
        [5, 9, 0, 0, 0, 0, 0, 0, 8, 0],      # user 2 ranks 1, 8, 0, then ties by id
    ], dtype=np.float32)
    user_emb = torch.from_numpy(prefs)                     # [U, N]: D = N, item_emb = identity
    item_emb = torch.eye(num_items)
    train = sp.csr_matrix((num_users, num_items), dtype=np.float32)
    test = sp.csr_matrix(np.array([
        [1, 0, 1, 0, 0, 0, 0, 0, 0, 1],      # head item 0, tail items 2, 9
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],      # tail only: 8, 9
        [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],      # head only: 1
    ], dtype=np.float32))
    return user_emb, item_emb, train, test


def test_head_tail_deciles_tail_share():
    user_emb, item_emb, train, test = _case()
    out = evaluate_ranking(user_emb, item_emb, train, test, ks=(2,), item_popularity=POP)
    # top-2: user 0 -> [0, 1]; user 1 -> [9, 8]; user 2 -> [1, 8]
    # head (items 0, 1): user 0 has 1 head test item (0), hit -> 1; user 2: item 1 hit -> 1 => 1.0
    assert out["recall@2_head"] == pytest.approx(1.0)
    # tail: user 0: 2 tail test items, 0 hits -> 0; user 1: 2 tail items, 2 hits -> 1 => 0.5
    assert out["recall@2_tail"] == pytest.approx(0.5)
    # deciles = items: decile 0 only user 0 (hit) -> 1; decile 2 user 0 miss -> 0; decile 8 user 1 -> 1;
    # decile 9: users 0 (miss) and 1 (hit) -> 0.5; decile 3 nobody -> NaN
    assert out["recall@2_decile0"] == pytest.approx(1.0)
    assert out["recall@2_decile1"] == pytest.approx(1.0)
    assert out["recall@2_decile2"] == pytest.approx(0.0)
    assert np.isnan(out["recall@2_decile3"])
    assert out["recall@2_decile8"] == pytest.approx(1.0)
    assert out["recall@2_decile9"] == pytest.approx(0.5)
    # recommended: [0,1], [9,8], [1,8]: tail items 9, 8, 8 of 6 slots
    assert out["tail_share@2"] == pytest.approx(3 / 6)
    assert out["coverage@2"] == pytest.approx(4 / 10)
