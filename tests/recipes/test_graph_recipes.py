"""Graph recipes on tiny synthetic data: they learn, their defaults are the papers', their caches are honest."""

import numpy as np
import pytest
import torch

from contrarec.data.synthetic import generate_synthetic
from contrarec.data.splits import split_random_per_user
from contrarec.recipes.catalog import get_recipe
from contrarec.recipes.graph_base import BatchRows, dense_unique, gather_rows
from contrarec.train.optim import make_optimizer
from recipe_loop import build, run_epochs


@pytest.fixture(scope="module")
def split():
    data = generate_synthetic(num_users=200, num_items=150, num_interactions=5000, num_clusters=4, seed=3)
    return split_random_per_user(data, test_ratio=0.2, seed=0)


def recall_at(model, split, k=20):
    """Mean recall@k over test users, train items excluded (a small loop, independent of the evaluator)."""
    scores = model.user_embeddings() @ model.item_embeddings().T  # [U, D] @ [D, N]
    train, test = split.train.to_csr(), split.test.to_csr()
    scores[torch.from_numpy(train.nonzero()[0]), torch.from_numpy(train.nonzero()[1])] = -float("inf")
    top = scores.topk(k, dim=1).indices.numpy()
    recalls = [len(set(top[u]) & set(test[u].indices)) / len(test[u].indices)
               for u in range(test.shape[0]) if test[u].nnz]
    return float(np.mean(recalls))


def train(name, split, epochs=6, batch_size=256, lr=5e-3, sampling="interaction", **raw):
    recipe, cfg, model = build(name, split.train, **raw)
    batches = recipe.make_batches(cfg, split.train, batch_size, 0, sampling)
    before = recall_at(model, split)
    means, terms = run_epochs(model, batches, torch.optim.Adam(model.parameters(), lr=lr), epochs)
    return model, before, recall_at(model, split), means[0], means[-1], terms


# On 200 users and ~100 steps the papers' contrastive weights (tuned for 30k users and thousands of steps)
# swamp BPR, so the contrastive recipes learn here with small weights and noise (and DirectAU with γ 0.5);
# defaults are checked below.
TINY = {"ssl_weight": 0.01}
NOISE = {"ssl_weight": 0.001, "noise_eps": 0.01}
CASES = [("lightgcn", {}), ("sgl-nd", TINY), ("sgl-ed", TINY), ("sgl-rw", TINY),
         ("sgl-ed", {**TINY, "feature_mask_rate": 0.2}), ("sgl-ed", {**TINY, "ssl_negatives": "all"}), ("simgcl", NOISE), ("xsimgcl", NOISE),
         ("xsimgcl", {**NOISE, "num_layers": 2, "contrast_layer": 2}), ("directau-graph", {"gamma": 0.5})]


@pytest.mark.parametrize("name,raw", CASES)
def test_recipe_learns(split, name, raw):
    model, before, after, first, last, terms = train(name, split, **raw)
    expected = {"total", "bpr", "reg"} | ({"ssl"} if name != "lightgcn" else set())
    if name == "directau-graph":
        expected = {"total", "align", "uniform", "reg"}
    assert set(terms) == expected
    assert last < first
    assert after > before + 0.05, (name, before, after)


def test_lightgcn_learns_with_user_first_sampling(split):
    _, before, after, first, last, _ = train("lightgcn", split, sampling="user")
    assert last < first and after > before + 0.05, (before, after)


def test_defaults_are_the_papers():
    cfg = get_recipe("lightgcn").parse_config({})
    assert (cfg.dim, cfg.num_layers, cfg.l2, cfg.num_negatives) == (64, 3, 1e-4, 1)
    sgl = get_recipe("sgl-ed").parse_config({})
    assert (sgl.temperature, sgl.ssl_weight, sgl.drop_rate) == (0.2, 0.1, 0.1)
    sim = get_recipe("simgcl").parse_config({})
    assert (sim.temperature, sim.ssl_weight, sim.noise_eps) == (0.2, 0.5, 0.1)
    x = get_recipe("xsimgcl").parse_config({})
    assert (x.temperature, x.ssl_weight, x.noise_eps, x.contrast_layer) == (0.15, 0.2, 0.2, 1)
    dau = get_recipe("directau-graph").parse_config({})
    assert (dau.gamma, dau.num_layers, dau.l2) == (2.0, 3, 0.0)
    for name in ("lightgcn", "sgl-nd", "simgcl", "xsimgcl", "directau-graph"):
        sampling = "user" if name == "lightgcn" else "interaction"     # as the authors' code samples
        min_epochs = 20 if name.startswith("sgl-") else 10     # SGL's recall stalls longer before it climbs
        assert get_recipe(name).train_defaults == {"batch_size": 2048, "lr": 1e-3, "min_epochs": min_epochs,
                                                   "sampling": sampling}
    from contrarec.config import load_config

    assert load_config(None, ["recipe=xsimgcl"]).train.min_epochs == 10
    assert load_config(None, ["recipe=lightgcn"]).train.sampling == "user"
    assert load_config(None, ["recipe=lightgcn", "train.sampling=interaction"]).train.sampling == "interaction"
    assert load_config(None, ["recipe=xsimgcl", "train.min_epochs=2"]).train.min_epochs == 2  # the user's wins


def test_eval_cache_follows_the_parameters(split):
    _, _, model = build("lightgcn", split.train)
    a = model.user_embeddings()
    assert model.item_embeddings() is model.item_embeddings()  # one propagation per evaluation
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.encoder.user_weight.add_(1.0)  # what an optimizer step does
    b = model.user_embeddings()
    assert not torch.allclose(a, b)
    model.load_state_dict(state)
    torch.testing.assert_close(model.user_embeddings(), a)


def test_eval_cache_sees_the_trainers_optimizer_step(split):
    # the fused AdamW kernel writes parameters without bumping their version; the trainer's optimizer must
    recipe, cfg, model = build("lightgcn", split.train)
    opt = make_optimizer(model, 1e-2, 0.0)
    before = model.user_embeddings()
    model.compute_loss(next(iter(recipe.make_batches(cfg, split.train, 64, 0).epoch(0))))["total"].backward()
    opt.step()
    after = model.user_embeddings()
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, model.encoder(model.graph).user[model.order.user_row].detach())


def test_sgl_views_redrawn_per_epoch_and_deterministic(split):
    _, _, m1 = build("sgl-ed", split.train)
    _, _, m2 = build("sgl-ed", split.train)
    m1.on_epoch_start(0, torch.Generator().manual_seed(5))
    m2.on_epoch_start(0, torch.Generator().manual_seed(5))
    assert torch.equal(m1.views[0].graph.edge_users, m2.views[0].graph.edge_users)
    first = m1.views[0].graph.edge_items.clone()
    m1.on_epoch_start(1, torch.Generator().manual_seed(6))
    assert not torch.equal(first, m1.views[0].graph.edge_items)
    assert m1.views[0].graph.num_edges == m1.graph.num_edges - round(0.1 * m1.graph.num_edges)


@pytest.mark.parametrize("node_order", ["locality", "input"])
def test_sgl_all_node_denominator_is_the_authors_loss(split, node_order):
    """ssl_negatives="all": anchors are the batch's users / positives with repeats, every node of view 2 a candidate."""
    recipe, cfg, model = build("sgl-ed", split.train, ssl_negatives="all", node_order=node_order)
    model.on_epoch_start(0, torch.Generator().manual_seed(5))
    batch = next(iter(recipe.make_batches(cfg, split.train, 64, 0).epoch(0)))
    assert len(torch.unique(batch.users)) < len(batch.users)  # repeats are kept, not deduplicated
    terms = model.compute_loss(batch)
    rows = model.to_rows(batch)
    view1, view2 = model.encoder.propagate(list(model.views))  # [U, D] / [N, D] by row

    def infonce(anchor, every, positive):  # normalised, temperature 0.2, mean over the anchors
        logits = torch.nn.functional.normalize(anchor, dim=-1) @ torch.nn.functional.normalize(every, dim=-1).T
        return torch.nn.functional.cross_entropy(logits / 0.2, positive)

    want = 0.1 * (infonce(view1.user[rows.users], view2.user, rows.users)
                  + infonce(view1.item[rows.items], view2.item, rows.items))
    torch.testing.assert_close(terms["ssl"], want)
    _, _, by_batch = build("sgl-ed", split.train, node_order=node_order)
    by_batch.on_epoch_start(0, torch.Generator().manual_seed(5))
    same = by_batch.compute_loss(batch)
    torch.testing.assert_close(same["bpr"], terms["bpr"])  # only the contrastive term differs
    assert not torch.allclose(same["ssl"], terms["ssl"])


@pytest.mark.parametrize("name", ["lightgcn", "sgl-ed"])
def test_layer0_penalty_through_the_propagation_is_lightgcns_eq_15(split, name):
    recipe, cfg, model = build(name, split.train, node_order="input", l2=0.5)
    batch = next(iter(recipe.make_batches(cfg, split.train, 64, 0).epoch(0)))
    model.on_epoch_start(0, torch.Generator().manual_seed(0))
    reg = model.compute_loss(batch)["reg"]
    reg.backward()
    enc = model.encoder
    user0 = enc.user_weight.detach().clone().requires_grad_(True)
    item0 = enc.item_weight.detach().clone().requires_grad_(True)
    squares = (user0[batch.users].pow(2).sum() + item0[batch.items].pow(2).sum()
               + item0[batch.negatives.reshape(-1)].pow(2).sum())
    want = 0.5 * squares / (2 * len(batch))
    want.backward()
    torch.testing.assert_close(reg, want)
    torch.testing.assert_close(enc.user_weight.grad, user0.grad)
    torch.testing.assert_close(enc.item_weight.grad, item0.grad)
    assert user0.grad.abs().sum() > 0


def test_batch_rows_map_back(split):
    recipe, cfg, _ = build("lightgcn", split.train)
    batch = next(iter(recipe.make_batches(cfg, split.train, 64, 0).epoch(0)))
    rows = BatchRows.of(batch, split.train.num_users, split.train.num_items)
    assert torch.equal(rows.users, torch.unique(batch.users))
    assert torch.equal(rows.users[rows.user_pos], batch.users)
    assert torch.equal(rows.items[rows.item_pos], batch.items)
    assert torch.equal(rows.items[rows.neg_pos], batch.negatives)
    assert torch.equal(rows.items[rows.positive_pos], torch.unique(batch.items))


def test_dense_unique_matches_torch_unique_and_gather_rows_matches_indexing():
    ids = torch.tensor([7, 2, 2, 9, 0, 7, 3])
    distinct, inverse = dense_unique(ids, 10)
    expected, expected_inverse = torch.unique(ids, return_inverse=True)
    assert torch.equal(distinct, expected) and torch.equal(inverse, expected_inverse)
    table = torch.randn(10, 4, requires_grad=True)
    index = torch.tensor([[1, 1], [9, 0]])
    gather_rows(table, index).pow(2).sum().backward()
    via_index = torch.zeros(10, 4)
    via_index.index_put_((index.reshape(-1),), 2 * table.detach()[index.reshape(-1)], accumulate=True)
    assert torch.equal(gather_rows(table, index), table[index])
    torch.testing.assert_close(table.grad, via_index)  # row 1 read twice: its gradient counts twice


def test_bad_settings(split):
    with pytest.raises(ValueError, match="contrast_layer"):
        build("xsimgcl", split.train, num_layers=2, contrast_layer=3)
    with pytest.raises(Exception, match="drop_rate"):
        get_recipe("sgl-ed").parse_config({"drop_rate": 1.0})


@pytest.mark.parametrize("node_order", ["locality", "input"])
def test_directau_graph_loss_is_directau_of_the_propagated_pairs(split, node_order):
    from contrarec.data.batches import Batch
    from contrarec.objectives.alignment_uniformity import DirectAULoss

    _, _, model = build("directau-graph", split.train, gamma=1.5, l2=0.01, node_order=node_order)
    users, items = torch.tensor([0, 3, 3, 7]), torch.tensor([5, 1, 9, 5])
    batch = Batch(users=users, items=items, item_log_q=torch.zeros(4), negatives=torch.zeros(4, 1, dtype=torch.long))
    terms = model.compute_loss(batch)
    expected = DirectAULoss(1.5)(model.user_embeddings()[users], model.item_embeddings()[items])  # by id
    torch.testing.assert_close(terms["align"], expected["align"])
    torch.testing.assert_close(terms["uniform"], expected["uniform"])
    enc, rows = model.encoder, model.to_rows(batch)
    reg = 0.01 * (enc.user_weight[rows.users].pow(2).sum() + enc.item_weight[rows.items].pow(2).sum()) / 8
    torch.testing.assert_close(terms["total"], expected["total"] + reg)


@pytest.mark.parametrize("name", ["lightgcn", "directau-graph"])
def test_locality_order_is_the_same_model_as_id_order(split, name):
    """Stored by RCM rows or by id: the same initial embeddings, losses and (mapped) gradients."""
    recipe, cfg, by_rows = build(name, split.train)
    _, _, by_ids = build(name, split.train, node_order="input")
    assert by_rows.order is not None and by_ids.order is None
    assert not torch.equal(by_rows.order.user_row, torch.arange(split.train.num_users))  # really renumbered
    torch.testing.assert_close(by_rows.user_embeddings(), by_ids.user_embeddings())
    torch.testing.assert_close(by_rows.item_embeddings(), by_ids.item_embeddings())
    batch = next(iter(recipe.make_batches(cfg, split.train, 64, 0).epoch(0)))
    loss_rows, loss_ids = by_rows.compute_loss(batch)["total"], by_ids.compute_loss(batch)["total"]
    torch.testing.assert_close(loss_rows, loss_ids)
    loss_rows.backward()
    loss_ids.backward()
    order = by_rows.order
    torch.testing.assert_close(by_rows.encoder.user_weight.grad[order.user_row], by_ids.encoder.user_weight.grad)
    torch.testing.assert_close(by_rows.encoder.item_weight.grad[order.item_row], by_ids.encoder.item_weight.grad)


def test_checkpoint_of_another_node_order_is_refused(split):
    _, _, model = build("lightgcn", split.train)
    state = model.state_dict()
    state["user_row"] = torch.flip(state["user_row"], [0])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="another node order"):
        model.load_state_dict(state)
    _, _, by_ids = build("lightgcn", split.train, node_order="input")
    with pytest.raises(ValueError, match="node_order=input"):  # saved in id order, loaded into rows
        model.load_state_dict(by_ids.state_dict())
    for key, value in model.state_dict().items():  # a refused checkpoint changed nothing
        assert torch.equal(value, before[key]), key
