"""Tiny end-to-end runs of the contrastive recipes through train_run: each learns (beats random by far)."""

import math

import pytest

pytest.importorskip("contrarec.evaluate.evaluator")

from contrarec.config import load_config  # noqa: E402
from contrarec.train.checkpoint import load_checkpoint  # noqa: E402
from contrarec.train.run import build_model, train_run  # noqa: E402

RUNS = [
    ("moco", ["model.queue_size=256", "model.momentum=0.9"]),
    ("moco", ["model.queue_size=256", "model.momentum=0.0"]),
    ("swav", ["model.num_prototypes=16"]),
    ("directau", ["model.gamma=1.0"]),
    ("item2item", ["model.window=3"]),
    ("two-tower+item-ssl", ["model.masking=cfm", "model.ssl_batch_size=64"]),
    ("two-tower+user-ssl", ["model.ssl_batch_size=64"]),
    ("ccl", ["model.num_uniform_negatives=64", "model.margin=0.5", "model.negative_weight=10"]),
]


def fit(recipe, sets, split, out, epochs=6):
    config = load_config(None, [f"recipe={recipe}", "train.batch_size=128", "train.lr=0.01", f"train.epochs={epochs}",
                                "train.patience=0", "train.progress=false", *sets])
    return train_run(config, out, split=split, log=lambda m: None)


@pytest.fixture(scope="module")
def random_recall(tiny_split, tmp_path_factory):
    return fit("random", [], tiny_split, tmp_path_factory.mktemp("random"), epochs=1).final["test"]["recall@20"]


@pytest.mark.parametrize("recipe,sets", RUNS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(RUNS)])
def test_recipe_learns_end_to_end(recipe, sets, tiny_split, tmp_path, random_recall):
    run = fit(recipe, sets, tiny_split, tmp_path)
    test = run.final["test"]
    assert test["recall@20"] > 2 * random_recall, (recipe, test["recall@20"], random_recall)
    history = run.fit.history
    assert history[-1]["loss"]["total"] < history[0]["loss"]["total"]
    assert all(not math.isnan(v) for v in history[-1].get("diagnostics", {}).values())
    fresh = build_model(run.config, tiny_split.train)  # checkpoints (queue, momentum tower, prototypes) load back
    fresh.load_state_dict(load_checkpoint(tmp_path / "checkpoints" / "best.pt")["model"])
    fresh.eval()
    assert (fresh.item_embeddings() - run.model.item_embeddings()).abs().max() < 1e-5
