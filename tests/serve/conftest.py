"""A tiny clustered data set with user and item features, and a two-tower model trained on it (seconds)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch

from contrarec.config import RunConfig
from contrarec.data.batches import InteractionBatches
from contrarec.data.features import FeatureTable
from contrarec.data.interactions import IdMap, Interactions, Split
from contrarec.recipes.two_tower import TwoTowerConfig, build_two_tower
from contrarec.train.run import TrainedRun

NUM_USERS, NUM_ITEMS, GROUPS = 60, 90, 3
torch.set_num_threads(1)  # tiny tensors: one thread avoids contention on the shared 2-core machine
faiss.omp_set_num_threads(1)


def _features(rng: np.random.Generator, group: np.ndarray, users: bool) -> FeatureTable:
    n = len(group)
    if users:
        return FeatureTable(num_rows=n, categorical={"segment": group + 1}, cardinalities={"segment": GROUPS + 1},
                            numeric={"age": rng.normal(size=n).astype(np.float32)},
                            vocabularies={"segment": np.array(["", "a", "b", "c"], dtype=object)})
    tags = np.stack([group + 1, rng.integers(0, 5, size=n)], axis=1).astype(np.int64)
    return FeatureTable(num_rows=n, categorical={"genre": group + 1}, cardinalities={"genre": GROUPS + 1, "tags": 5},
                        multi_valued={"tags": tags})


def tiny_split(seed: int = 0) -> Split:
    """Users like items of their own group 90% of the time; random 80/10/10 split per user."""
    rng = np.random.default_rng(seed)
    user_group = rng.integers(0, GROUPS, size=NUM_USERS)
    item_group = np.arange(NUM_ITEMS) % GROUPS
    users, items = [], []
    for u in range(NUM_USERS):
        same = np.flatnonzero(item_group == user_group[u])
        picks = np.unique(np.where(rng.random(12) < 0.9, rng.choice(same, 12), rng.integers(0, NUM_ITEMS, 12)))
        users += [u] * len(picks)
        items += list(picks)
    users, items = np.array(users), np.array(items)
    part = rng.random(len(users))
    maps = dict(user_map=IdMap(np.array([f"u{i}" for i in range(NUM_USERS)], dtype=object)),
                item_map=IdMap(np.array([f"i{i}" for i in range(NUM_ITEMS)], dtype=object)),
                user_features=_features(rng, user_group, True), item_features=_features(rng, item_group, False))

    def take(mask: np.ndarray) -> Interactions:
        return Interactions(users=users[mask], items=items[mask], **maps)

    return Split(train=take(part < 0.8), valid=take((part >= 0.8) & (part < 0.9)), test=take(part >= 0.9))


def train_tiny(split: Split, epochs: int = 15, seed: int = 0) -> TrainedRun:
    """A two-tower model with features and an MLP, trained for a few epochs."""
    torch.manual_seed(seed)
    cfg = TwoTowerConfig(dim=16, feature_dim=4, mlp_hidden=[24], temperature=0.2)
    model = build_two_tower(cfg, split.train)
    batches = InteractionBatches(split.train.users, split.train.items, split.train.num_items, batch_size=64,
                                 seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for epoch in range(epochs):
        for batch in batches.epoch(epoch):
            opt.zero_grad()
            model.compute_loss(batch)["total"].backward()
            opt.step()
    model.eval()
    return TrainedRun(config=RunConfig(recipe="two-tower"), model=model, split=split, run_dir=None)


@pytest.fixture(scope="session")
def tiny_run() -> TrainedRun:
    return train_tiny(tiny_split())


@pytest.fixture(scope="session")
def export_dir(tiny_run, tmp_path_factory):
    from contrarec.serve.export import export_run

    return export_run(tiny_run, tmp_path_factory.mktemp("export"))
