"""Data-parallel training on torch.distributed: process group, batch shards, DDP, rank-0 duties.

Launch with ``torchrun --nproc_per_node N -m contrarec train ...``. torchrun sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and picks the
backend: NCCL when CUDA is available (one GPU per process, ``cuda:LOCAL_RANK``), gloo otherwise.
Without those variables (or with ``WORLD_SIZE=1``) nothing is initialised and training is the plain
one-process loop.

What each worker does:

- the same ``(seed, epoch)`` permutation of the training pairs, cut into *global* batches of
  ``W·B`` rows (``B = train.batch_size``, per worker); worker ``r`` takes rows ``[r·B, (r+1)·B)`` of each
  (:class:`ShardedBatches`), so the W workers together see exactly the batches of one process with
  batch ``W·B``;
- forward and backward through :class:`~torch.nn.parallel.DistributedDataParallel` (the loss is computed
  inside the wrapped module's ``forward``, see :class:`LossForward`), which averages gradients;
- only rank 0 evaluates, logs, writes ``metrics.jsonl`` and checkpoints; its stop decisions (early
  stopping, ``max_minutes``) are broadcast so every worker leaves the loop together.

Resuming reads ``checkpoints/last.pt`` on every worker, so several nodes need a shared run directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol

import torch
import torch.distributed as dist
from torch import nn

from contrarec.data.batches import Batch, InteractionBatches
from contrarec.model import RecallModel


class EpochBatches(Protocol):
    """What the trainer iterates: a length (steps per epoch) and a deterministic epoch iterator."""

    def __len__(self) -> int: ...

    def epoch(self, epoch: int) -> Iterator[Batch]: ...


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job.

    Args:
        rank: global rank r in ``0..W-1``.
        world_size: W, the number of processes.
        local_rank: rank on this node (picks the GPU).
        device: where the model and batches live.
        backend: ``"nccl"`` or ``"gloo"``; None for a plain one-process run (no process group).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the worker that evaluates, logs and checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group of more than one worker is running."""
        return self.backend is not None and self.world_size > 1

    def wrap(self, model: RecallModel, find_unused_parameters: bool | None = None) -> nn.Module:
        """A module whose ``forward(batch)`` returns ``model.compute_loss(batch)``, in DDP when distributed.

        ``find_unused_parameters`` (default: the model's ``may_skip_parameters``) lets a step leave some
        parameters without gradient, as SwAV does with its prototypes during the freeze; it costs one
        graph traversal per step, so only models that declare it pay for it.
        """
        if find_unused_parameters is None:
            find_unused_parameters = model.may_skip_parameters
        module = LossForward(model, self.device)
        if not self.enabled:
            return module
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        # buffers (queues, log p) are synced once at init, then updated identically on every worker
        return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, forward_sync_buffers=False,
                                                   find_unused_parameters=find_unused_parameters)

    def sum_values(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over the workers (the values themselves in one process)."""
        if not self.enabled:
            return list(values)
        buf = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        return buf.tolist()

    def decide(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every worker (stop decisions are taken on rank 0)."""
        if not self.enabled:
            return flag
        buf = torch.tensor([1 if flag else 0], dtype=torch.int64, device=self.device)
        dist.broadcast(buf, src=0)
        return bool(buf.item())

    def barrier(self) -> None:
        """Wait for every worker (no-op in one process)."""
        if self.enabled:
            dist.barrier()

    def shard(self, batches: InteractionBatches) -> EpochBatches:
        """This worker's :class:`ShardedBatches` of global batches (``batches`` itself in one process)."""
        return ShardedBatches(batches, self.rank, self.world_size) if self.world_size > 1 else batches


class LossForward(nn.Module):
    """Runs ``compute_loss`` as ``forward``: DDP only synchronises gradients of what its forward computed.

    Args:
        model: the recipe's model.
        device: where batches are moved before the loss (the model must already be there).
    """

    def __init__(self, model: RecallModel, device: torch.device) -> None:
        super().__init__()
        self.model = model
        self.device = device

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named loss terms of ``batch`` (moved to the device)."""
        return self.model.compute_loss(batch_to(batch, self.device))


def batch_to(batch: Batch, device: torch.device) -> Batch:
    """The batch with every tensor on ``device`` (the batch itself when already there)."""
    if batch.users.device == device:
        return batch
    moved = {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}
    return dataclasses.replace(batch, **{k: v.to(device, non_blocking=True) for k, v in moved.items()
                                         if isinstance(v, torch.Tensor)})


class ShardedBatches:
    """One worker's share of every global batch.

    ``batches`` must produce global batches of ``W·B`` rows (same ``(seed, epoch)`` order on every
    worker). Worker ``r`` takes rows ``[r·b, (r+1)·b)`` of each, ``b = len(global batch) // W``: B for full
    batches, and for the last one the few rows that do not divide evenly are dropped (so every worker
    runs the same number of steps on equal shards; a global batch of fewer than W rows is skipped).
    Shared per-batch samples (``uniform_items``) are the same on every worker.

    Args:
        batches: the global batch iterator (``InteractionBatches`` with ``batch_size = W·B``).
        rank: r.
        world_size: W.
    """

    def __init__(self, batches: InteractionBatches, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in [0, {world_size}), got {rank}")
        self.batches = batches
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        full, rest = divmod(len(self.batches.users), self.batches.batch_size)
        return full + (1 if rest >= self.world_size and not self.batches.drop_last else 0)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """This worker's shards of the epoch's global batches."""
        for batch in self.batches.epoch(epoch):
            per = len(batch) // self.world_size
            if per == 0:
                continue
            rows = slice(self.rank * per, (self.rank + 1) * per)
            yield Batch(users=batch.users[rows], items=batch.items[rows], item_log_q=batch.item_log_q[rows],
                        negatives=None if batch.negatives is None else batch.negatives[rows],
                        uniform_items=batch.uniform_items)


def init_distributed(environ: Mapping[str, str] | None = None,
                     timeout_minutes: float = 30.0) -> DistributedContext:
    """Join the process group described by torchrun's environment variables.

    Args:
        environ: the environment (default ``os.environ``): ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
            ``MASTER_ADDR``, ``MASTER_PORT``.
        timeout_minutes: how long a collective waits for a slow worker (rank 0 evaluating, say).

    Returns:
        The context; a plain one-process context when ``WORLD_SIZE`` is unset or 1.

    Raises:
        ValueError: inconsistent ``RANK`` / ``WORLD_SIZE``, naming the values.
    """
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    rank, local_rank = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", env.get("RANK", "0")))
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} must lie in [0, WORLD_SIZE={world})")
    if torch.cuda.is_available():
        backend, device = "nccl", torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        backend, device = "gloo", torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world,
                                timeout=datetime.timedelta(minutes=timeout_minutes))
    return DistributedContext(rank=rank, world_size=world, local_rank=local_rank, device=device, backend=backend)


def shutdown_distributed(ctx: DistributedContext) -> None:
    """Leave the process group (after a barrier, so no worker quits while another still talks)."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
