"""Micro-batching of index searches: requests that arrive while a search runs share the next one.

One consumer task drains the queue: it takes every waiting request (up to ``max_batch``), runs one index
search for them in a worker thread (faiss releases the GIL, so the event loop keeps accepting requests),
and hands each request its own row. Under light load a batch is a single request and nothing waits; under
heavy load batches grow by themselves. Requests are grouped by the model snapshot they started on, so a hot
swap never mixes two indexes in one search.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from contrarec.evaluate.topk import TopK


@dataclass
class _Pending:
    model: object  # a ServingModel snapshot
    query: np.ndarray  # [D]
    fetch: int
    exclude: np.ndarray | None
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Batches ``model.search`` calls across concurrent requests.

    Args:
        max_batch: most queries in one search call.
        threads: worker threads running searches (1 keeps faiss single-threaded per search).
    """

    def __init__(self, max_batch: int = 64, threads: int = 1) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.max_batch = max_batch
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search")
        self.queue: asyncio.Queue[_Pending] | None = None
        self.task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        self.queries = 0

    def start(self) -> None:
        """Start the consumer task (inside the running event loop)."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self._loop is not loop:  # first use, or a new event loop
            self._loop = loop
            self.queue = asyncio.Queue()
            self.task = loop.create_task(self._consume())

    async def stop(self) -> None:
        """Stop the consumer and the worker threads."""
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None
        self.executor.shutdown(wait=False)

    async def search(self, model, query: np.ndarray, fetch: int, exclude: np.ndarray | None) -> TopK:
        """``TopK [1, fetch]`` for one query, searched together with whatever else is waiting."""
        self.start()
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Pending(model, query, fetch, exclude, future))
        return await future

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                results = await loop.run_in_executor(self.executor, _run, batch)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            self.batches += 1
            self.queries += len(batch)
            for p, result in zip(batch, results):
                if not p.future.done():
                    p.future.set_result(result)

    @property
    def mean_batch(self) -> float:
        """Mean queries per search call so far."""
        return self.queries / self.batches if self.batches else 0.0


def _run(batch: list[_Pending]) -> list[TopK]:
    """Search each snapshot's group at once; slice every request's own row and fetch size."""
    out: list[TopK | None] = [None] * len(batch)
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(batch):
        groups.setdefault(id(p.model), []).append(i)
    for members in groups.values():
        model = batch[members[0]].model
        fetch = max(batch[i].fetch for i in members)
        queries = np.stack([batch[i].query for i in members])  # [b, D]
        exclude = [batch[i].exclude if batch[i].exclude is not None else np.zeros(0, np.int64) for i in members]
        top = model.search(queries, fetch, exclude)
        for row, i in enumerate(members):
            f = batch[i].fetch
            out[i] = TopK(top.scores[row:row + 1, :f], top.ids[row:row + 1, :f])
    return out
