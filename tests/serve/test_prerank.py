"""Pre-ranker: starts as the recall order, learns from held-out pairs, round-trips through save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrarec.objectives.listwise import ListwiseSoftmaxLoss
from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.prerank import PreRankConfig, build_prerank, load_prerank, save_prerank
from contrarec.serve.prerank_serve import CachedPreRanker
from contrarec.serve.prerank_train import recall_candidates, train_prerank


@pytest.fixture(scope="module")
def embeddings(tiny_run):
    return tiny_run.model.user_embeddings().numpy(), tiny_run.model.item_embeddings().numpy()


def test_listwise_loss_closed_form_and_mask():
    # 2x3 scores, positives on the diagonal, τ = 1: row 0 = -log(e^2 / (e^2 + e^0 + e^1)).
    scores = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 3.0]])
    loss = ListwiseSoftmaxLoss(reduction="none")(scores, temperature=1.0)
    assert float(loss[0]) == pytest.approx(-np.log(np.e ** 2 / (np.e ** 2 + 1 + np.e)), rel=1e-5)
    masked = ListwiseSoftmaxLoss(reduction="none")(scores, temperature=1.0,
                                                   mask=torch.tensor([[True, False, True], [False, False, True]]))
    assert float(masked[1]) == pytest.approx(-np.log(np.e ** 3 / (1 + np.e ** 3)), rel=1e-5)
    assert float(masked[0]) == pytest.approx(-np.log(np.e ** 2 / (np.e ** 2 + 1)), rel=1e-5)  # positive kept
    log_q = torch.zeros(2, 3)
    log_q[:, 2] = 1.0  # subtracting log Q = 1 from column 2 equals lowering its score by 1
    shifted = scores.clone()
    shifted[:, 2] -= 1.0
    assert torch.allclose(ListwiseSoftmaxLoss()(scores, temperature=1.0, log_q=log_q),
                          ListwiseSoftmaxLoss()(shifted, temperature=1.0))
    with pytest.raises(ValueError, match="temperature"):
        ListwiseSoftmaxLoss()(scores, temperature=0.0)


def test_untrained_prerank_keeps_the_recall_order(tiny_run, embeddings):
    user_emb, item_emb = embeddings
    split = tiny_run.split
    cfg = PreRankConfig(candidates=30)
    model = build_prerank(item_emb.shape[1], split.train.item_popularity(), split.train.user_features,
                          split.train.item_features, cfg)
    index = RetrievalIndex(IndexConfig(metric="ip")).build(item_emb)
    users = np.arange(10)
    cands = recall_candidates(index, user_emb, users, tiny_run.known_csr, 30)
    top = CachedPreRanker(model, item_emb).rerank(users, user_emb[users], cands, k=10)
    np.testing.assert_array_equal(top.ids, cands[:, :10])


def test_training_lowers_the_loss_and_round_trips(tiny_run, embeddings, tmp_path):
    user_emb, item_emb = embeddings
    split = tiny_run.split
    cfg = PreRankConfig(candidates=30, hard_negatives=8, epochs=4, batch_size=32, lr=5e-3)
    losses: list[float] = []
    model = train_prerank(user_emb, item_emb, split.valid, split.train.to_csr(), split.train.item_popularity(), cfg,
                          split.train.user_features, split.train.item_features,
                          log=lambda m: losses.append(float(m.split("loss ")[1].split()[0])))
    assert len(losses) == 4 and losses[-1] < losses[0]
    save_prerank(model, tmp_path, dim=item_emb.shape[1])
    loaded = load_prerank(tmp_path)
    cands = recall_candidates(RetrievalIndex().build(item_emb), user_emb, np.arange(5), tiny_run.known_csr, 30)
    a = CachedPreRanker(model, item_emb).rerank(np.arange(5), user_emb[:5], cands, k=7)
    b = CachedPreRanker(loaded, item_emb).rerank(np.arange(5), user_emb[:5], cands, k=7)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)
    with torch.no_grad():  # the cached NumPy scorer computes the model's function
        rows = torch.arange(5)
        want = model(rows, torch.from_numpy(user_emb[:5]), torch.from_numpy(cands), torch.from_numpy(item_emb[cands]))
    for cached in (CachedPreRanker(model, item_emb), CachedPreRanker(model, item_emb, user_emb)):
        np.testing.assert_allclose(cached.scores(np.arange(5), user_emb[:5], cands), want.numpy(), rtol=1e-4,
                                   atol=1e-4)
    unseen = CachedPreRanker(model, item_emb).scores(np.array([-1]), user_emb[:1], cands[:1])
    assert np.isfinite(unseen).all()
    padded = CachedPreRanker(model, item_emb).rerank(np.arange(1), user_emb[:1], np.array([[3, -1, 5]]), k=4)
    assert set(padded.ids[0, :2]) == {3, 5} and list(padded.ids[0, 2:]) == [-1, -1]
