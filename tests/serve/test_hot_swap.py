"""Hot swap: reloading the index while requests run drops none of them and mixes no snapshots."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient

from contrarec.serve.app import create_app
from contrarec.serve.exported import ExportedModel
from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.recommender import ServingModel
from contrarec.serve.swap import ModelHolder


def test_reload_under_concurrent_requests(export_dir, tmp_path):
    exported = ExportedModel.load(export_dir, user_tower=False)
    paths = {}
    for kind in ("flat", "hnsw"):
        index = RetrievalIndex(IndexConfig(kind=kind, metric="cosine")).build(exported.item_embeddings)
        paths[kind] = str(index.save(tmp_path / f"{kind}.idx"))
    loader = functools.partial(ServingModel.load, user_tower=False)  # loading the tower is not under test
    holder = ModelHolder.from_paths(export=str(export_dir), index=paths["flat"], loader=loader)
    expected = {"u5": holder.current.recommend(["u5"], k=10).ids[0].tolist()}
    stop = threading.Event()
    results: list[tuple[int, dict]] = []

    with TestClient(create_app(holder)) as client:
        def hammer() -> None:
            while not stop.is_set():
                r = client.get("/recommend", params={"user_id": "u5", "k": 10})
                results.append((r.status_code, r.json()))

        with ThreadPoolExecutor(4) as pool:
            workers = [pool.submit(hammer) for _ in range(4)]
            for i in range(6):
                kind = "hnsw" if i % 2 == 0 else "flat"
                r = client.post("/admin/reload", json={"index": paths[kind]})
                assert r.status_code == 200 and r.json()["index"] == kind
            bad = client.post("/admin/reload", json={"index": str(tmp_path / "missing.idx")})
            assert bad.status_code == 422 and "still serving" in bad.json()["error"]
            stop.set()
            for w in workers:
                w.result()
        assert client.get("/health").json()["swaps"] == 6

    assert len(results) > 20
    assert all(status == 200 for status, _ in results), {s for s, _ in results}
    assert {body["version"] for _, body in results} <= {"flat.idx", "hnsw.idx"}
    assert all(body["items"] == expected["u5"] for _, body in results)  # same catalogue, same answers


def test_watch_reloads_when_the_index_file_is_replaced(export_dir, tmp_path):
    import asyncio

    exported = ExportedModel.load(export_dir, user_tower=False)
    path = tmp_path / "live.idx"
    RetrievalIndex(IndexConfig(kind="flat")).build(exported.item_embeddings).save(path)
    holder = ModelHolder.from_paths(export=str(export_dir), index=str(path),
                                    loader=functools.partial(ServingModel.load, user_tower=False))

    async def scenario() -> None:
        watcher = asyncio.create_task(holder.watch(0.05))
        await asyncio.sleep(0.1)
        RetrievalIndex(IndexConfig(kind="hnsw")).build(exported.item_embeddings).save(path)  # atomic replace
        for _ in range(100):
            await asyncio.sleep(0.05)
            if holder.swaps:
                break
        watcher.cancel()

    asyncio.run(scenario())
    assert holder.swaps == 1 and holder.current.index.config.kind == "hnsw"
    np.testing.assert_array_equal(holder.current.recommend(["u1"], k=3).ids.shape, (1, 3))
