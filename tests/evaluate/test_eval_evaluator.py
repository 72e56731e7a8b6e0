"""evaluate_ranking: the golden case, skipped users, score_fn and user subsets."""

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.data.lightgcn import read_lightgcn_split
from contrarec.evaluate.evaluator import evaluate_ranking

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "eval-golden"


def _golden():
    split = read_lightgcn_split(GOLDEN)
    user_emb = torch.from_numpy(np.loadtxt(GOLDEN / "user_emb.txt", dtype=np.float32))
    item_emb = torch.from_numpy(np.loadtxt(GOLDEN / "item_emb.txt", dtype=np.float32))
    return split, user_emb, item_emb


@pytest.mark.skipif(not GOLDEN.exists(), reason="shared eval-golden fixture not present")
def test_golden_case():
    split, user_emb, item_emb = _golden()
    expected = json.loads((GOLDEN / "expected.json").read_text())
    out = evaluate_ranking(user_emb, item_emb, split.train.to_csr(), split.test.to_csr(), ks=(1, 5, 10, 20))
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.skipif(not GOLDEN.exists(), reason="shared eval-golden fixture not present")
def test_golden_score_fn_and_popularity_keys():
    split, user_emb, item_emb = _golden()
    train, test = split.train.to_csr(), split.test.to_csr()
    by_emb = evaluate_ranking(user_emb, item_emb, train, test, ks=(5, 20), item_popularity=split.train.item_popularity())
    by_fn = evaluate_ranking(None, None, train, test, ks=(20, 5), item_popularity=split.train.item_popularity(),
                             score_fn=lambda users: user_emb[users] @ item_emb.T, block_size=7)
    assert by_fn == pytest.approx(by_emb, nan_ok=True)
    for k in (5, 20):
        for key in ("recall", "ndcg", "hit", "precision", "mrr", "coverage"):
            assert f"{key}@{k}" in by_emb
        assert {f"recall@{k}_head", f"recall@{k}_tail", f"tail_share@{k}"} <= set(by_emb)
        assert {f"recall@{k}_decile{d}" for d in range(10)} <= set(by_emb)


def _toy():
    # 4 users x 6 items; user 2 has no test items and must be skipped, not counted as a zero.
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0],
                                    [0, 0, 0, 0, 0, 1]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0],
                                   [1, 0, 0, 0, 0, 0]], dtype=np.float32))
    user_emb = torch.eye(4, 6)                                 # user u prefers item u
    item_emb = torch.eye(6) + 0.1 * torch.arange(6.0).flip(0)[:, None]   # then lower ids
    return user_emb, item_emb, train, test


def test_users_without_tests_are_skipped():
    user_emb, item_emb, train, test = _toy()
    out = evaluate_ranking(user_emb, item_emb, train, test, ks=(1, 2))
    assert out["test_users"] == 3
    # top-1 with train masked: u0 -> 1 (hit), u1 -> 0 (miss), u3 -> 3 (miss)
    assert out["recall@1"] == pytest.approx(1 / 3)
    assert out["hit@1"] == pytest.approx(1 / 3)
    # top-2: u0 -> [1, 2]; u1 -> [0, 2]; u3 -> [3, 0] (hit at rank 2)
    assert out["recall@2"] == pytest.approx(2 / 3)
    assert out["mrr@2"] == pytest.approx((1 + 0 + 0.5) / 3)


def test_user_subset_and_score_fn_receives_user_ids():
    user_emb, item_emb, train, test = _toy()
    seen = []

    def score_fn(users):
        seen.extend(users.tolist())
        return user_emb[users] @ item_emb.T

    out = evaluate_ranking(None, None, train, test, ks=(1,), score_fn=score_fn, users=np.array([3, 2, 0]))
    assert out["test_users"] == 2
    assert sorted(set(seen)) == [0, 3]
    assert out["recall@1"] == pytest.approx(0.5)


def test_bad_inputs():
    user_emb, item_emb, train, test = _toy()
    with pytest.raises(ValueError, match="ks="):
        evaluate_ranking(user_emb, item_emb, train, test, ks=(7,))
    with pytest.raises(ValueError, match="item_emb has 5 rows"):
        evaluate_ranking(user_emb, item_emb[:5], train, test)
    with pytest.raises(ValueError, match="users must lie"):
        evaluate_ranking(user_emb, item_emb, train, test, ks=(1,), users=np.array([4]))
