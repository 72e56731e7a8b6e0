"""Worker functions for the 2-process gloo tests (importable by ``torch.multiprocessing.spawn`` children)."""

from __future__ import annotations

import faulthandler
import os
import socket
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from contrarec.data.interactions import IdMap, Interactions
from contrarec.recipes.catalog import get_recipe
from contrarec.train.distributed import DistributedContext, init_distributed, shutdown_distributed

PER_WORKER_BATCH = 8
#: name -> (recipe, settings, steps); the last step's loss and gradients must match a one-process run with
#: batch 2B when negatives are global (moco: the second step, whose queue holds the first global batch)
CASES = {
    "global": ("two-tower", {}, 1),
    "local": ("two-tower", {"negatives": "local"}, 1),
    "global-symmetric-mixed-hard": ("two-tower", {"symmetric": True, "num_uniform_negatives": 3,
                                                  "num_hard_negatives": 9}, 1),
    "moco-global": ("moco", {"queue_size": 64, "momentum": 0.5}, 2),
    "global-sparse": ("two-tower", {"sparse_embeddings": True}, 2),  # sparse gradients through DDP (gloo)
    # runs only: prototypes get no gradient in step 1 (DDP must allow unused parameters); Sinkhorn is per worker
    "swav-freeze": ("swav", {"freeze_prototypes_steps": 1, "num_prototypes": 6}, 2),
    "moco-local": ("moco", {"queue_size": 64, "momentum": 0.5, "negatives": "local"}, 2),
}


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(fn, world: int, *args) -> None:
    """Run ``fn(rank, world, port, *args)`` in ``world`` fresh processes joined by gloo on 127.0.0.1."""
    mp.spawn(fn, args=(world, free_port(), *args), nprocs=world, join=True)


def set_worker_environment(rank: int, world: int, port: int) -> None:
    """torchrun's variables for this worker, one thread, and Python tracebacks on a fatal signal."""
    faulthandler.enable()  # a SIGABRT from C++ (gloo) then says where the worker was
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)


def leave_worker() -> None:
    """End the worker at once, its process group already destroyed.

    Everything the tests check is written by now. One CI run lost a worker to a SIGABRT from C++ ("terminate
    called without an active exception") at a point its log did not show; skipping interpreter teardown
    rules out teardown as that point, and ``faulthandler`` names the place if it happens elsewhere.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def join_group(rank: int, world: int, port: int) -> DistributedContext:
    """Set torchrun's variables for this worker and join the process group."""
    set_worker_environment(rank, world, port)
    return init_distributed()


def tiny_interactions(num_users: int = 24, num_items: int = 7, num_pairs: int = 64, seed: int = 0) -> Interactions:
    """Pairs with a skewed item distribution, so an item often appears in both workers' halves of a batch."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, num_items + 1)
    items = rng.choice(num_items, size=num_pairs, p=p / p.sum())
    users = rng.integers(0, num_users, size=num_pairs)
    return Interactions(users, items, IdMap.identity(num_users), IdMap.identity(num_items))


def train_steps(case: str, global_batch: int, ctx: DistributedContext | None = None) -> dict:
    """Loss (mean over workers) and parameter gradients of the case's last step (SGD steps before it)."""
    ctx = ctx or DistributedContext()
    name, overrides, steps = CASES[case]
    recipe = get_recipe(name)
    train = tiny_interactions()
    cfg = recipe.parse_config({"dim": 8, "use_features": False, "temperature": 0.2, **overrides})
    torch.manual_seed(0)
    model = recipe.build_model(cfg, train)
    batches = ctx.shard(recipe.make_batches(cfg, train, global_batch, seed=3))
    forward = ctx.wrap(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for _, batch in zip(range(steps), batches.epoch(0)):
        optimizer.zero_grad()
        terms = forward(batch)
        terms["total"].backward()
        optimizer.step()
        model.on_step_end()
    loss = ctx.sum_values([float(terms["total"].detach())])[0] / ctx.world_size
    grads = {n: p.grad.detach().to_dense().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"loss": loss, "grads": grads}


def equivalence_worker(rank: int, world: int, port: int, out: str) -> None:
    """Every case's first step on this worker; rank 0 saves the results."""
    ctx = join_group(rank, world, port)
    results = {case: train_steps(case, PER_WORKER_BATCH * world, ctx) for case in CASES}
    if ctx.is_main:
        torch.save(results, Path(out))
    shutdown_distributed(ctx)
    leave_worker()


def tiny_split():
    """96 training pairs (a multiple of the global batch 16) and 24 test pairs over one id space."""
    from contrarec.data.interactions import Split

    full = tiny_interactions(num_users=24, num_items=30, num_pairs=120, seed=5)
    return Split(train=full.subset(np.arange(96)), test=full.subset(np.arange(96, 120)))


def run_config(per_worker_batch: int, epochs: int = 3):
    """Two-tower, ID only, no early stopping, quiet."""
    from contrarec.config import load_config

    return load_config(overrides=[
        "recipe=two-tower", f"train.epochs={epochs}", f"train.batch_size={per_worker_batch}", "train.lr=0.05",
        "train.patience=0", "train.progress=false", "eval.diagnostics=false", "eval.ks=[5]",
        "train.select_metric=recall@5", "model.dim=8", "model.use_features=false", "model.temperature=0.2"])


def train_worker(rank: int, world: int, port: int, run_dir: str, resume: bool, kill_at_epoch: int) -> None:
    """``train_run`` as one of ``world`` workers; rank 0 dies (``os._exit``) when it logs epoch ``kill_at_epoch``.

    The log line comes after the epoch's training and evaluation and before its checkpoint, so a killed run
    leaves the previous epoch's ``last.pt``.
    """
    from contrarec.train.run import train_run

    set_worker_environment(rank, world, port)

    def log(message: str) -> None:
        words = message.split()
        if len(words) > 1 and words[0] == "epoch" and int(words[1]) == kill_at_epoch:
            os._exit(3)

    train_run(run_config(PER_WORKER_BATCH), run_dir, split=tiny_split(), resume=resume, log=log)
    leave_worker()
