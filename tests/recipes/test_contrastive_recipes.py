"""Unit-level checks of the contrastive recipes on tiny synthetic data (no evaluator needed)."""

import numpy as np
import pytest
import torch

from contrarec.config import ConfigError
from contrarec.data.batches import Batch
from contrarec.data.interactions import IdMap, Interactions
from contrarec.data.synthetic import generate_synthetic
from contrarec.recipes.catalog import get_recipe
from recipe_loop import build, run_epochs


@pytest.fixture(scope="module")
def tiny():
    return generate_synthetic(num_users=120, num_items=90, num_interactions=1500, seed=0)


def train_epochs(name, data, epochs=3, batch_size=64, lr=1e-2, **raw):
    recipe, cfg, model = build(name, data, **raw)
    batches = recipe.make_batches(cfg, data, batch_size, 0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    means, terms = run_epochs(model, batches, opt, epochs)
    return model, means, terms


CASES = [
    ("two-tower", {"in_batch_negatives": False, "num_uniform_negatives": 32}),
    ("moco", {"queue_size": 128}),
    ("moco", {"queue_size": 64, "momentum": 0.0, "num_uniform_negatives": 8}),
    ("moco", {"queue_size": 64, "momentum": 0.0, "refresh_queue": True}),
    ("swav", {"num_prototypes": 16}),
    ("swav", {"num_prototypes": 16, "pair": "item-item"}),
    ("directau", {}),
    ("item2item", {}),
    ("two-tower+item-ssl", {"masking": "rfm"}),
    ("two-tower+item-ssl", {"masking": "cfm"}),
    ("two-tower+user-ssl", {"masking": "dropout", "history_augment": "crop"}),
    ("ccl", {"num_uniform_negatives": 32, "margin": 0.3, "negative_weight": 5.0}),
    ("ccl", {"num_uniform_negatives": 16, "in_batch_negatives": True}),
    ("ccl", {"num_uniform_negatives": 32, "history_weight": 0.5, "max_history": 8}),
    ("ccl", {"num_uniform_negatives": 32, "user_dropout": 0.1}),
]


@pytest.mark.parametrize("name,raw", CASES)
def test_recipe_loss_falls_and_embeddings_have_shapes(tiny, name, raw):
    model, means, terms = train_epochs(name, tiny, **raw)
    assert means[-1] < means[0], means
    assert set(terms) >= {"total"}
    assert model.user_embeddings().shape == (tiny.num_users, 64)
    assert model.item_embeddings().shape == (tiny.num_items, 64)


def test_moco_queue_fills_with_batch_items_and_momentum_tower_lags(tiny):
    recipe, cfg, model = build("moco", tiny, queue_size=50, momentum=0.9)
    batch = next(recipe.make_batches(cfg, tiny, 32, 0).epoch(0))
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    model.train()
    before = model.key_tower.id_embedding.weight.clone()
    model.compute_loss(batch)["total"].backward()
    opt.step()
    model.on_step_end()
    assert model.queue.contents().ids.tolist() == batch.items.tolist()
    online = model.item_tower.id_embedding.weight
    assert torch.allclose(model.key_tower.id_embedding.weight, 0.9 * before + 0.1 * online.detach())
    model.compute_loss(batch)
    model.on_step_end()
    assert len(model.queue) == 50  # 64 keys into 50 slots: wrapped around


def test_moco_masks_queue_entries_of_the_rows_own_item(tiny):
    _, _, model = build("moco", tiny, queue_size=8, momentum=0.0, log_q=False)
    model.eval()
    batch = Batch(users=torch.tensor([0]), items=torch.tensor([3]), item_log_q=torch.zeros(1))
    with torch.no_grad():
        plain = float(model.compute_loss(batch)["total"])  # one column, the positive: loss 0
        model.queue.enqueue(model.encode_item(torch.tensor([3, 3])), torch.tensor([3, 3]), torch.zeros(2))
        assert float(model.compute_loss(batch)["total"]) == pytest.approx(plain, abs=1e-6)  # own item masked
        model.queue.enqueue(model.encode_item(torch.tensor([7])), torch.tensor([7]), torch.zeros(1))
        assert float(model.compute_loss(batch)["total"]) > plain + 1e-3


@pytest.mark.parametrize("refresh", [False, True])
def test_moco_refreshed_queue_pushes_the_queued_items_apart(tiny, refresh):
    _, _, model = build("moco", tiny, queue_size=8, momentum=0.0, refresh_queue=refresh, log_q=False)
    model.train()
    queued = torch.tensor([5, 6, 7])
    model.queue.enqueue(model.encode_item(queued).detach(), queued, torch.zeros(3))
    batch = Batch(users=torch.tensor([0, 1]), items=torch.tensor([3, 4]), item_log_q=torch.zeros(2))
    model.compute_loss(batch)["total"].backward()
    grad_rows = model.item_tower.id_embedding.weight.grad.abs().sum(dim=1)  # [N]
    assert bool((grad_rows[queued] > 0).all()) == refresh
    assert bool((grad_rows[[3, 4]] > 0).all())  # the batch's own items learn either way


def test_two_tower_sampled_softmax_needs_uniform_negatives(tiny):
    with pytest.raises(ConfigError, match="num_uniform_negatives >= 1"):
        build("two-tower", tiny, in_batch_negatives=False)


def test_moco_refresh_queue_refuses_a_momentum_tower(tiny):
    with pytest.raises(ConfigError, match="refresh_queue.*momentum=0"):
        build("moco", tiny, refresh_queue=True)


def test_moco_queue_and_momentum_tower_are_checkpointed(tiny):
    model, _, _ = train_epochs("moco", tiny, epochs=1, queue_size=40)
    _, _, fresh = build("moco", tiny, queue_size=40)
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.queue.contents().ids, model.queue.contents().ids)
    assert torch.equal(fresh.key_tower.id_embedding.weight, model.key_tower.id_embedding.weight)
    assert int(fresh.step) == int(model.step) > 0


def test_moco_momentum_schedule(tiny):
    _, _, model = build("moco", tiny, momentum=0.9, momentum_end=1.0, momentum_steps=10)
    assert model.momentum == pytest.approx(0.9)
    model.step.fill_(10)
    assert model.momentum == pytest.approx(1.0)


def test_swav_refuses_more_prototypes_than_items(tiny):
    with pytest.raises(ConfigError, match=r"num_prototypes=500.*90 items"):
        build("swav", tiny, num_prototypes=500)


def test_swav_prototypes_frozen_for_first_steps(tiny):
    recipe, cfg, model = build("swav", tiny, num_prototypes=8, freeze_prototypes_steps=1, infonce_weight=0.0)
    batch = next(recipe.make_batches(cfg, tiny, 32, 0).epoch(0))
    model.train()
    model.compute_loss(batch)["total"].backward()
    assert model.prototypes.weight.grad is None
    model.on_step_end()
    model.compute_loss(batch)["total"].backward()
    assert model.prototypes.weight.grad is not None


def test_directau_terms_and_raw_scores(tiny):
    model, means, terms = train_epochs("directau", tiny, epochs=2)
    assert set(terms) == {"total", "align", "uniform"}
    assert not model.normalized
    assert not torch.allclose(model.item_embeddings().norm(dim=1), torch.ones(tiny.num_items))


def test_item2item_similar_items_and_user_means():
    # two item communities, each consumed together: {0,1,2} and {3,4,5}
    users = np.repeat(np.arange(40), 3)
    items = np.concatenate([[0, 1, 2] if u % 2 == 0 else [3, 4, 5] for u in range(40)])
    data = Interactions(users=users, items=items, user_map=IdMap.identity(40), item_map=IdMap.identity(6))
    model, means, _ = train_epochs("item2item", data, epochs=30, batch_size=16, lr=5e-2, window=2, dim=8)
    top = model.similar_items(torch.tensor([0, 4]), k=2)
    assert sorted(top.ids[0].tolist()) == [1, 2] and sorted(top.ids[1].tolist()) == [3, 5]
    assert top.scores.shape == (2, 2) and (np.diff(top.scores, axis=1) <= 0).all()
    users_emb = model.user_embeddings()
    assert torch.allclose(users_emb.norm(dim=1), torch.ones(40), atol=1e-5)
    want = torch.nn.functional.normalize(model.item_embeddings()[[0, 1, 2]].mean(0), dim=0)
    assert torch.allclose(users_emb[0], want, atol=1e-5)
    with pytest.raises(ValueError):
        model.similar_items(torch.tensor([0]), k=6)


def test_item2item_refuses_user_first_sampling():
    recipe = get_recipe("item2item")
    data = Interactions(users=np.arange(4), items=np.arange(4), user_map=IdMap.identity(4),
                        item_map=IdMap.identity(4))
    with pytest.raises(ConfigError, match="train.sampling=user does not apply to item2item"):
        recipe.make_batches(recipe.parse_config({}), data, 2, 0, "user")


def test_item_ssl_needs_features():
    users = np.repeat(np.arange(10), 2)
    data = Interactions(users=users, items=np.arange(20) % 7, user_map=IdMap.identity(10), item_map=IdMap.identity(7))
    with pytest.raises(ConfigError, match="item_ssl_weight"):
        build("two-tower+item-ssl", data)


def test_user_ssl_history_bag_feeds_the_user_tower(tiny):
    _, _, model = build("two-tower+user-ssl", tiny)
    assert model.history is not None and model.user_columns[:2] == ["id", "history"]
    u = torch.tensor([0, 1])
    with torch.no_grad():
        before = model.encode_query(u)
        model.history.table.weight.mul_(3.0)
        assert not torch.allclose(model.encode_query(u), before)


def test_ccl_masks_the_rows_own_item_among_the_negatives(tiny):
    _, _, model = build("ccl", tiny, num_uniform_negatives=2, margin=-1.0, negative_weight=1.0)
    users, items = torch.tensor([0, 1]), torch.tensor([3, 4])
    batch = Batch(users=users, items=items, item_log_q=torch.zeros(2), uniform_items=torch.tensor([3, 5]))
    q, k = model.encode_query(users), model.encode_item(torch.tensor([3, 4, 5]))
    # margin -1: every valid negative counts with cos + 1; row 0's column "item 3" is its own positive
    want = ((1 - (q[0] * k[0]).sum()) + (q[0] @ k[2] + 1)
            + (1 - (q[1] * k[1]).sum()) + ((q[1] @ k[0] + 1) + (q[1] @ k[2] + 1)) / 2) / 2
    assert float(model.compute_loss(batch)["total"].detach()) == pytest.approx(float(want.detach()), rel=1e-5)


def test_ccl_refuses_unnormalised_towers():
    with pytest.raises(ConfigError, match="normalize"):
        get_recipe("ccl").parse_config({"normalize": False})


def test_ccl_history_mean_mixes_the_users_items_into_the_user_side(tiny):
    _, _, model = build("ccl", tiny, history_weight=0.25, max_history=5, use_features=False)
    user = int(tiny.users[0])
    history = model.histories[user]
    items = history[history >= 0]
    assert 1 <= len(items) <= 5 and set(items.tolist()) <= set(tiny.items[tiny.users == user].tolist())
    user_table, item_table = model.user_tower.id_embedding.weight, model.item_tower.id_embedding.weight
    with torch.no_grad():
        raw = 0.25 * user_table[user] + 0.75 * item_table[items].mean(0)  # V starts at the identity
        assert torch.allclose(model.user_embeddings()[user], torch.nn.functional.normalize(raw, dim=0), atol=1e-6)
        other = next(i for i in range(tiny.num_items) if i not in set(items.tolist()))
        before = model.user_embeddings()[user].clone()
        item_table[other] += 1.0  # an item outside the history changes nothing
        assert torch.equal(model.user_embeddings()[user], before)
        item_table[items[0]] += 1.0  # one inside it moves the user
        assert not torch.allclose(model.user_embeddings()[user], before)


def test_ccl_user_dropout_acts_in_training_only(tiny):
    _, _, model = build("ccl", tiny, user_dropout=0.5, use_features=False)
    users = torch.arange(8)
    model.eval()
    clean = model.encode_query(users)
    assert torch.allclose(clean, model.user_embeddings()[:8])
    model.train()
    torch.manual_seed(1)
    dropped = model.encode_query(users)
    assert not torch.allclose(dropped, clean)
    assert torch.allclose(dropped.norm(dim=1), torch.ones(8))  # dropped out before the normalisation


@pytest.mark.parametrize("mask_hits", [True, False])
def test_ccl_in_batch_negatives_skip_the_own_column_and_hits_only_when_masked(tiny, mask_hits):
    _, _, model = build("ccl", tiny, num_uniform_negatives=1, margin=-1.0, negative_weight=1.0,
                        in_batch_negatives=True, mask_accidental_hits=mask_hits)
    users, items = torch.tensor([0, 1]), torch.tensor([3, 3])  # both rows hold item 3
    batch = Batch(users=users, items=items, item_log_q=torch.zeros(2), uniform_items=torch.tensor([5]))
    with torch.no_grad():
        q, k = model.encode_query(users), model.encode_item(torch.tensor([3, 5]))
        pos = 1 - q @ k[0]  # [2]
        other = 1 + q @ k[1]  # [2] the uniform item 5, cos + 1 at margin -1
        hit = 1 + q @ k[0]  # [2] the other row's column holds this row's own item 3
        negative = other if mask_hits else (other + hit) / 2
        want = (pos + negative).mean()
        assert float(model.compute_loss(batch)["total"]) == pytest.approx(float(want), rel=1e-5)
