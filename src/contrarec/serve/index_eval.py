"""How good and how fast an index is: recall@K against the exact index, latency, and parameter sweeps.

Run-directory layout used by ``contrarec index build``::

    RUN_DIR/export/            exported embeddings (``contrarec export``)
    RUN_DIR/index/<kind>.idx   the index (one file, written atomically)
    RUN_DIR/index/<kind>.json  its config, factory string, recall@K vs exact and latency
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from contrarec.io import atomic_write_json
from contrarec.serve.index import IndexConfig, RetrievalIndex

EF_SEARCH_SWEEP = (16, 32, 64, 128, 256, 512)
NPROBE_SWEEP = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def index_path(run_dir: str | Path, kind: str) -> Path:
    """``RUN_DIR/index/<kind>.idx``."""
    return Path(run_dir) / "index" / f"{kind}.idx"


def held_out_queries(user_embeddings: np.ndarray, num: int, seed: int = 0) -> np.ndarray:
    """``[Q, D]`` a seeded sample of ``num`` user embeddings (queries never used to build the index)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(user_embeddings), size=min(num, len(user_embeddings)), replace=False)
    return np.ascontiguousarray(user_embeddings[np.sort(rows)], dtype=np.float32)


def recall_against_exact(ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Mean over queries of ``|top-K ∩ exact top-K| / K`` (faiss ``knn_intersection_measure``).

    Args:
        ids: ``[Q, K]`` ids returned by the index under test.
        exact_ids: ``[Q, K]`` ids of the exact top-K.
    """
    if ids.shape != exact_ids.shape:
        raise ValueError(f"ids {ids.shape} and exact_ids {exact_ids.shape} differ in shape")
    hits = sum(len(np.intersect1d(a[a >= 0], b[b >= 0])) for a, b in zip(ids, exact_ids))
    return hits / max(1, exact_ids.size)


def measure_latency(index: RetrievalIndex, queries: np.ndarray, k: int, repeats: int = 1,
                    **search: int | None) -> dict[str, float]:
    """Per-request latency with one query per search call: p50 / p95 / p99 / mean in ms and queries/s."""
    times = []
    for _ in range(repeats):
        for row in range(len(queries)):
            began = time.perf_counter()
            index.search(queries[row:row + 1], k, **search)
            times.append(time.perf_counter() - began)
    ms = np.asarray(times) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()), "qps": float(1e3 / ms.mean())}


def evaluate_index(index: RetrievalIndex, exact: RetrievalIndex, queries: np.ndarray, k: int,
                   **search: int | None) -> dict[str, float]:
    """``recall@k`` against the exact index plus latency, for one setting of the search parameters."""
    truth = exact.search(queries, k).ids
    found = index.search(queries, k, **search).ids
    return {f"recall@{k}": recall_against_exact(found, truth), **measure_latency(index, queries, k, **search)}


def sweep(index: RetrievalIndex, exact: RetrievalIndex, queries: np.ndarray, k: int) -> list[dict]:
    """The recall–latency table over ``ef_search`` (hnsw) or ``nprobe`` (ivfpq); one row for flat."""
    kind = index.config.kind
    if kind == "hnsw":
        settings = [{"ef_search": ef} for ef in EF_SEARCH_SWEEP]
    elif kind == "ivfpq":
        nlist = _ivf_nlist(index)
        settings = [{"nprobe": p} for p in NPROBE_SWEEP if p <= nlist]
    else:
        settings = [{}]
    return [{"kind": kind, **s, **evaluate_index(index, exact, queries, k, **s)} for s in settings]


def _ivf_nlist(index: RetrievalIndex) -> int:
    import faiss

    return int(faiss.extract_index_ivf(index.index).nlist)


def build_and_measure(item_embeddings: np.ndarray, user_embeddings: np.ndarray, config: IndexConfig,
                      out_path: str | Path | None = None, k: int = 100, num_queries: int = 1000,
                      seed: int = 0, item_ids: np.ndarray | None = None) -> tuple[RetrievalIndex, dict]:
    """Build ``config`` over the items, measure it against the exact index, and save both index and report.

    Returns:
        The index and its report (config, factory, build seconds, recall@k vs exact, latency).
    """
    began = time.perf_counter()
    index = RetrievalIndex(config).build(item_embeddings, item_ids)
    build_s = time.perf_counter() - began
    exact = index if index.is_exact else RetrievalIndex(config.model_copy(update={"kind": "flat"})).build(
        item_embeddings, item_ids)
    queries = held_out_queries(user_embeddings, num_queries, seed)
    k = min(k, len(index))
    report = {"kind": config.kind, "factory": index.factory, "config": config.model_dump(),
              "num_items": len(index), "dim": index.dim, "build_s": round(build_s, 3), "k": k,
              "num_queries": len(queries), **evaluate_index(index, exact, queries, k)}
    if out_path is not None:
        out_path = Path(out_path)
        index.save(out_path)
        atomic_write_json(out_path.with_suffix(".json"), report)
    return index, report
