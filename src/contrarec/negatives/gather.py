"""Global in-batch negatives: every worker's keys gathered with gradient (torch.distributed).

With W data-parallel workers of batch B each, a worker that only scores its own B keys trains with
B - 1 negatives, so W GPUs train a *weaker* model than one GPU with batch W·B. Gathering the keys (their
embeddings, item ids and sampling log-probabilities) from every worker, with gradient, gives each
query the same W·B - 1 negatives as the one-process run, and logQ and accidental-hit masking then
apply across the global batch.

Gradient: ``torch.distributed.nn.functional.all_gather`` sends each worker the sum of every worker's
gradient for its own rows. With each worker's loss the mean over its own B queries and DDP averaging
parameter gradients over W workers, the result is exactly the gradient of the global mean loss.

In one process (no initialised process group, or a group of one) every function here is the identity.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.distributed as dist


def worker_rank_and_count() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` when none is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """``[B, ...] -> [W·B, ...]``: every worker's rows in rank order; gradient flows to each worker's rows.

    Every worker must pass the same shape (the batch sharding guarantees equal B).
    """
    _, world = worker_rank_and_count()
    if world == 1:
        return tensor
    import torch.distributed.nn.functional as dist_fn

    with warnings.catch_warnings():  # deprecated in favour of a private API; its semantics are what we need
        warnings.simplefilter("ignore", FutureWarning)
        parts = dist_fn.all_gather(tensor.contiguous())
    return torch.cat(parts, dim=0)


@torch.no_grad()
def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """``[B, ...] -> [W·B, ...]`` without gradient (ids, log-probabilities, keys for a queue)."""
    _, world = worker_rank_and_count()
    if world == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


class GlobalBatch(NamedTuple):
    """The keys of the global batch and where this worker's rows sit in it.

    Attributes:
        keys: ``[W·B, D]`` item embeddings of every worker's positives (with gradient).
        key_ids: ``[W·B]`` their item ids (for accidental-hit masking).
        key_log_p: ``[W·B]`` their log sampling probabilities (for logQ).
        offset: this worker's first row in the global batch (``rank · B``).
        queries: ``[W·B, D]`` every worker's queries, only when asked for (symmetric loss), else None.
        query_ids: ``[W·B]`` their ids when ``queries`` is gathered, else this worker's ``[B]`` ids.
    """

    keys: torch.Tensor
    key_ids: torch.Tensor
    key_log_p: torch.Tensor
    offset: int
    queries: torch.Tensor | None
    query_ids: torch.Tensor | None


def gather_in_batch(keys: torch.Tensor, key_ids: torch.Tensor, key_log_p: torch.Tensor,
                    queries: torch.Tensor | None = None, query_ids: torch.Tensor | None = None,
                    enabled: bool = True) -> GlobalBatch:
    """Gather a worker's in-batch keys (and optionally its queries) from every worker.

    Args:
        keys: ``[B, D]`` this worker's positive item embeddings.
        key_ids: ``[B]`` their item ids.
        key_log_p: ``[B]`` their log sampling probabilities.
        queries: ``[B, D]`` this worker's queries, gathered too when given (the symmetric
            item→query term needs every worker's queries as its columns).
        query_ids: ``[B]`` their ids (gathered along with ``queries``).
        enabled: False keeps negatives local (returns the inputs, offset 0): the comparison setting.

    Returns:
        A :class:`GlobalBatch`; in one process (or ``enabled=False``) the inputs unchanged, offset 0
        and ``queries`` None.

    Example:
        >>> k = torch.randn(4, 8)
        >>> g = gather_in_batch(k, torch.arange(4), torch.zeros(4))  # one process: the identity
        >>> g.offset, g.keys is k
        (0, True)
    """
    rank, world = worker_rank_and_count()
    if not enabled or world == 1:
        return GlobalBatch(keys, key_ids, key_log_p, 0, None, query_ids)
    all_queries = all_query_ids = None
    if queries is not None:
        all_queries = gather_with_grad(queries)  # [W·B, D]
        all_query_ids = None if query_ids is None else gather_no_grad(query_ids)  # [W·B]
    return GlobalBatch(gather_with_grad(keys), gather_no_grad(key_ids), gather_no_grad(key_log_p),
                       rank * keys.shape[0], all_queries, all_query_ids if queries is not None else query_ids)
