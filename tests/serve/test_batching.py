"""Micro-batching: concurrent searches share index calls and each gets its own answer."""

from __future__ import annotations

import asyncio

import numpy as np

from contrarec.serve.batching import MicroBatcher
from contrarec.serve.recommender import ServingModel


def test_concurrent_searches_are_batched_and_answered_individually(export_dir):
    model = ServingModel.load(export_dir, user_tower=False)
    emb = model.exported.user_embeddings
    batcher = MicroBatcher(max_batch=8)

    async def scenario():
        jobs = [batcher.search(model, emb[u], 3 + u % 4, model.exported.seen_items(u)) for u in range(20)]
        out = await asyncio.gather(*jobs)
        await batcher.stop()
        return out

    results = asyncio.run(scenario())
    assert batcher.queries == 20 and batcher.batches < 20 and batcher.mean_batch > 1
    for u, top in enumerate(results):
        want = model.index.search(emb[u:u + 1], 3 + u % 4, exclude=[model.exported.seen_items(u)])
        np.testing.assert_array_equal(top.ids, want.ids)
        np.testing.assert_allclose(top.scores, want.scores, rtol=1e-6)


def test_a_failing_search_fails_only_its_batch(export_dir):
    model = ServingModel.load(export_dir, user_tower=False)
    batcher = MicroBatcher()

    async def scenario():
        bad = batcher.search(model, np.zeros(3, dtype=np.float32), 5, None)  # wrong dimension
        try:
            await bad
        except ValueError as exc:
            message = str(exc)
        good = await batcher.search(model, model.exported.user_embeddings[0], 5, None)
        await batcher.stop()
        return message, good

    message, good = asyncio.run(scenario())
    assert "dimension" in message and good.ids.shape == (1, 5)
