"""A whole run: data -> recipe -> trainer -> best checkpoint -> test metrics, in one run directory.

Run directory layout::

    config.yaml            resolved configuration
    data.json              data summary (users, items, split sizes)
    metrics.jsonl          one line per epoch (losses, valid/test metrics, diagnostics)
    checkpoints/last.pt    every epoch
    checkpoints/best.pt    best validation epoch
    final.json             test metrics of the best checkpoint (+ test-picked numbers when recorded)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from contrarec.config import RunConfig, save_config
from contrarec.data.interactions import Interactions, Split
from contrarec.io import atomic_write_json
from contrarec.model import RecallModel
from contrarec.recipes.catalog import get_recipe
from contrarec.train.allocator import retain_freed_memory
from contrarec.train.checkpoint import load_checkpoint
from contrarec.train.data_setup import load_split
from contrarec.train.distributed import init_distributed, shutdown_distributed
from contrarec.train.trainer import FitResult, Trainer


@dataclass
class TrainedRun:
    """A model with its data and configuration, as trained or as reloaded from a run directory."""

    config: RunConfig
    model: RecallModel
    split: Split
    run_dir: Path | None
    fit: FitResult | None = None
    final: dict | None = None

    @property
    def known_csr(self) -> sp.csr_matrix:
        """``[U, N]`` every interaction the model may have seen (train + valid): excluded when recommending."""
        return known_interactions(self.split)


def known_interactions(split: Split) -> sp.csr_matrix:
    """Train (+ valid) as one binary CSR matrix."""
    mat = split.train.to_csr()
    if split.valid is not None and len(split.valid):
        mat = mat + split.valid.to_csr()
        mat.data[:] = 1.0
    return mat.tocsr()


def make_evaluator(mask: sp.csr_matrix, target: Interactions, ks: list[int],
                   popularity: np.ndarray) -> Callable[[RecallModel], dict[str, float]]:
    """A function scoring a model: full ranking of ``target`` with ``mask`` items excluded."""
    from contrarec.evaluate.evaluator import evaluate_ranking

    target_csr = target.to_csr()

    def evaluate(model: RecallModel) -> dict[str, float]:
        user_emb, item_emb = model.user_embeddings(), model.item_embeddings()
        score_fn = None
        if type(model).score_users is not RecallModel.score_users:
            def score_fn(rows: torch.Tensor) -> torch.Tensor:
                return model.score_users(rows, user_emb, item_emb)
        return evaluate_ranking(user_emb, item_emb, mask, target_csr, ks=ks, item_popularity=popularity,
                                score_fn=score_fn)

    return evaluate


def make_diagnostics(train: Interactions, seed: int, max_pairs: int = 4096) -> Callable[[RecallModel], dict]:
    """Alignment / uniformity of the (normalised) embeddings on a fixed sample of training pairs."""
    from contrarec.evaluate.diagnostics import alignment_uniformity

    def diagnose(model: RecallModel) -> dict[str, float]:
        gen = torch.Generator().manual_seed(seed)
        return alignment_uniformity(model.user_embeddings(), model.item_embeddings(),
                                    torch.from_numpy(train.users), torch.from_numpy(train.items),
                                    max_pairs=max_pairs, generator=gen)

    return diagnose


def build_model(config: RunConfig, train: Interactions) -> RecallModel:
    """The recipe's model for this config and training data (seeded)."""
    recipe = get_recipe(config.recipe)
    torch.manual_seed(config.train.seed)
    return recipe.build_model(recipe.parse_config(config.model), train)


def train_run(config: RunConfig, run_dir: str | Path, split: Split | None = None, resume: bool = False,
              log: Callable[[str], None] = print) -> TrainedRun:
    """Train ``config`` end to end and write everything into ``run_dir``.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every worker trains its shard of each global batch of
    ``W · train.batch_size`` rows; rank 0 alone writes the run directory and returns the test metrics
    (other ranks return ``final=None``).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = init_distributed()  # torchrun's environment; a plain one-process context otherwise
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    if config.train.retain_freed_memory:
        retain_freed_memory()
    recipe = get_recipe(config.recipe)
    model_cfg = recipe.parse_config(config.model)
    split = split if split is not None else load_split(config.data)
    if ctx.is_main:
        save_config(config, run_dir / "config.yaml")
        atomic_write_json(run_dir / "data.json", data_summary(split))
    model = build_model(config, split.train).to(ctx.device)
    batches = ctx.shard(recipe.make_batches(model_cfg, split.train, config.train.batch_size * ctx.world_size,
                                            config.train.seed, config.train.sampling))
    popularity = split.train.item_popularity()
    ks = config.eval.ks
    evaluators = {}
    if split.valid is not None and len(split.valid):
        evaluators["valid"] = make_evaluator(split.train.to_csr(), split.valid, ks, popularity)
    if config.eval.eval_test_every_epoch or "valid" not in evaluators:
        evaluators["test"] = make_evaluator(known_interactions(split), split.test, ks, popularity)
    diagnostics = make_diagnostics(split.train, config.train.seed) if config.eval.diagnostics else None
    trainer = Trainer(model, batches, config.train, run_dir, evaluators, log=log, diagnostics=diagnostics,
                      distributed=ctx)
    began = time.perf_counter()
    fit = trainer.fit(resume=resume)
    wall = time.perf_counter() - began
    del trainer  # its DDP wrapper holds the process group: free it here, not during interpreter teardown
    if not ctx.is_main:
        shutdown_distributed(ctx)
        return TrainedRun(config=config, model=model, split=split, run_dir=run_dir, fit=fit, final=None)
    best_path = run_dir / "checkpoints" / "best.pt"
    if best_path.exists():
        model.load_state_dict(load_checkpoint(best_path)["model"])
    model.eval()
    test = make_evaluator(known_interactions(split), split.test, ks, popularity)(model)
    final = {"recipe": config.recipe, "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run,
             "selection": "valid" if "valid" in evaluators else "last-or-test",
             "test": test, "wall_s": round(wall, 2)}
    test_rows = [r for r in fit.history if "test" in r]
    if test_rows and config.train.select_metric in test_rows[0]["test"]:
        top = max(test_rows, key=lambda r: r["test"][config.train.select_metric])
        final["test_picked"] = {"epoch": top["epoch"], **top["test"],
                                "note": "best epoch chosen on the test set (paper protocol)"}
    atomic_write_json(run_dir / "final.json", final)
    shutdown_distributed(ctx)
    return TrainedRun(config=config, model=model, split=split, run_dir=run_dir, fit=fit, final=final)


def data_summary(split: Split) -> dict:
    """Sizes of the split's parts."""
    return {"users": split.train.num_users, "items": split.train.num_items, "train": len(split.train),
            "valid": 0 if split.valid is None else len(split.valid), "test": len(split.test),
            "user_features": split.train.user_features.names if split.train.user_features else [],
            "item_features": split.train.item_features.names if split.train.item_features else []}


def load_run(run_dir: str | Path, checkpoint: str = "best") -> TrainedRun:
    """Reload a run: its config, its data (re-read deterministically) and its best (or last) weights."""
    from contrarec.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    split = load_split(config.data)
    model = build_model(config, split.train)
    path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not path.exists():
        path = run_dir / "checkpoints" / "last.pt"
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    model.load_extra_state(state["extra"])
    model.eval()
    final = None
    if (run_dir / "final.json").exists():
        import json

        final = json.loads((run_dir / "final.json").read_text())
    return TrainedRun(config=config, model=model, split=split, run_dir=run_dir, final=final)
