"""The optimizer: SparseAdam for sparse id tables beside AdamW, and the learning-rate schedule."""

from __future__ import annotations

import numpy as np
import torch

from contrarec.data.batches import InteractionBatches
from contrarec.data.interactions import IdMap, Interactions
from contrarec.recipes.two_tower import RECIPE, TwoTowerConfig
import pytest

from contrarec.train.optim import DenseSparseOptimizer, lr_factor, make_optimizer, set_lr


def _model(sparse: bool, mlp: bool = False):
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 200), rng.integers(0, 40, 200)
    train = Interactions(users, items, IdMap.identity(30), IdMap.identity(40))
    cfg = TwoTowerConfig(dim=8, use_features=False, sparse_embeddings=sparse, mlp_hidden=[8] if mlp else [])
    torch.manual_seed(0)
    return RECIPE.build_model(cfg, train), InteractionBatches(users, items, 40, batch_size=16, seed=0)


def test_dense_models_keep_plain_adamw():
    model, _ = _model(sparse=False)
    assert isinstance(make_optimizer(model, 1e-3, 0.0), torch.optim.AdamW)


def test_dense_adamw_is_fused_and_steps_as_the_foreach_kernel_does():
    model, _ = _model(sparse=False)
    trained = [p for p in model.parameters() if p.requires_grad]
    start = [p.detach().clone() for p in trained]
    reference = [p.clone().requires_grad_(True) for p in start]
    fused = make_optimizer(model, 1e-2, 0.01)
    assert fused.param_groups[0]["fused"] is True
    plain = torch.optim.AdamW(reference, lr=1e-2, weight_decay=0.01, foreach=True)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        for p, q in zip(trained, reference):
            p.grad = torch.randn(p.shape, generator=gen)
            q.grad = p.grad.clone()
        fused.step()
        plain.step()
    for p, q, p0 in zip(trained, reference, start):
        assert not torch.equal(p.detach(), p0)
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-6)


def test_sparse_tables_update_only_the_batch_rows_and_learn():
    model, batches = _model(sparse=True, mlp=True)
    opt = make_optimizer(model, 0.05, 0.0)
    assert isinstance(opt, DenseSparseOptimizer) and opt.parts["dense"] is not None
    before = model.item_tower.id_embedding.weight.detach().clone()
    batch = next(iter(batches.epoch(0)))
    losses = []
    for _ in range(5):
        loss = model.compute_loss(batch)["total"]
        opt.zero_grad()
        loss.backward()
        assert model.item_tower.id_embedding.weight.grad.is_sparse
        opt.step()
        losses.append(float(loss.detach()))
    changed = (model.item_tower.id_embedding.weight.detach() != before).any(dim=1)
    assert set(torch.nonzero(changed).flatten().tolist()) == set(batch.items.tolist())
    assert losses[-1] < losses[0]
    state = opt.state_dict()
    fresh = make_optimizer(model, 0.05, 0.0)
    fresh.load_state_dict(state)
    assert fresh.state_dict()["sparse"]["state"].keys() == state["sparse"]["state"].keys()


def test_lr_factor_warms_up_then_follows_its_shape_to_the_floor():
    assert [lr_factor(s, 10, "constant", warmup_steps=4) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    # after warm-up, steps 4..9 span the decay: first step at the peak, last at the floor
    assert lr_factor(4, 10, "cosine", warmup_steps=4, min_ratio=0.1) == pytest.approx(1.0)
    assert lr_factor(9, 10, "cosine", warmup_steps=4, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(5, 11, "cosine") == pytest.approx(0.5)  # the midpoint of half a cosine
    assert lr_factor(2, 11, "cosine") == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.2)))
    assert lr_factor(5, 11, "linear") == pytest.approx(0.5)
    assert lr_factor(25, 11, "linear") == 0.0  # past the end: stays at the floor
    with pytest.raises(ValueError, match="unknown lr schedule 'step'"):
        lr_factor(3, 10, "step")


def test_set_lr_reaches_both_parts_of_the_sparse_optimizer():
    model, _ = _model(sparse=True, mlp=True)
    opt = make_optimizer(model, 0.05, 0.0)
    set_lr(opt, 0.0125)
    assert len(opt.param_groups) == 2 and all(g["lr"] == 0.0125 for g in opt.param_groups)
