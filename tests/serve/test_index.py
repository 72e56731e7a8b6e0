"""RetrievalIndex: exact search equals brute force, ANN recall against exact, exclusion, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from contrarec.serve.index import IndexConfig, RetrievalIndex
from contrarec.serve.index_eval import build_and_measure, recall_against_exact, sweep


def clustered(n: int, dim: int = 16, clusters: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim))
    x = centers[rng.integers(0, clusters, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


ITEMS = clustered(3000)
QUERIES = clustered(100, seed=1)


def brute_force(queries: np.ndarray, items: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ items.T  # [Q, D] @ [D, N] -> [Q, N]
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


def test_flat_is_exact_brute_force():
    index = RetrievalIndex(IndexConfig(kind="flat")).build(ITEMS)
    assert index.is_exact and len(index) == 3000 and index.dim == 16
    top = index.search(QUERIES, 10)
    scores, ids = brute_force(QUERIES, ITEMS, 10)
    np.testing.assert_allclose(top.scores, scores, rtol=1e-5)
    assert recall_against_exact(top.ids, ids) > 0.999  # ties may swap
    assert top.scores.dtype == np.float32 and top.ids.dtype == np.int64


@pytest.mark.parametrize("kind, floor", [("hnsw", 0.95), ("ivfpq", 0.5)])
def test_ann_recall_against_exact(kind, floor):
    index, report = build_and_measure(ITEMS, QUERIES, IndexConfig(kind=kind), k=10, num_queries=100)
    assert not index.is_exact
    assert report["recall@10"] >= floor, report
    assert report["p50_ms"] > 0


def test_more_search_effort_does_not_lose_recall():
    index = RetrievalIndex(IndexConfig(kind="ivfpq", refine_factor=4)).build(ITEMS)
    exact = RetrievalIndex().build(ITEMS)
    rows = sweep(index, exact, QUERIES[:30], 10)
    recalls = [r["recall@10"] for r in rows]
    assert [r["nprobe"] for r in rows][:3] == [1, 2, 4]
    assert recalls[-1] >= recalls[0] and recalls[-1] > 0.9


def test_cosine_ignores_query_scale():
    index = RetrievalIndex(IndexConfig(metric="cosine")).build(ITEMS * 3)
    a = index.search(QUERIES, 5)
    b = index.search(QUERIES * 7, 5)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert np.all(a.scores <= 1.0 + 1e-5)


def test_exclusion_as_lists_or_csr_and_padding():
    index = RetrievalIndex().build(ITEMS[:20])
    full = index.search(QUERIES[:3], 20)
    drop = [full.ids[0, :5], np.array([], dtype=np.int64), full.ids[2, ::2]]
    by_list = index.search(QUERIES[:3], 20, exclude=drop)
    csr = sp.csr_matrix((np.ones(15), (np.repeat([0, 2], [5, 10]), np.concatenate([drop[0], drop[2]]))),
                        shape=(3, 20))
    by_csr = index.search(QUERIES[:3], 20, exclude=csr)
    np.testing.assert_array_equal(by_list.ids, by_csr.ids)
    for row, excluded in enumerate(drop):
        kept = by_list.ids[row][by_list.ids[row] >= 0]
        assert not set(kept) & set(excluded)
        assert len(kept) == 20 - len(excluded)  # everything else, in score order, then padding
        np.testing.assert_array_equal(kept, [i for i in full.ids[row] if i not in set(excluded)])
        assert np.isneginf(by_list.scores[row][len(kept):]).all()


def test_custom_ids_and_k_larger_than_catalogue():
    index = RetrievalIndex().build(ITEMS[:4], np.array([40, 10, 30, 20]))
    top = index.search(ITEMS[:1], 6, exclude=[np.array([10, 999])])
    assert top.ids[0, 0] == 40 and set(top.ids[0, :3]) == {40, 30, 20}
    assert list(top.ids[0, 3:]) == [-1, -1, -1]


def test_save_load_round_trip(tmp_path):
    index = RetrievalIndex(IndexConfig(kind="hnsw", hnsw_m=8, ef_search=32)).build(ITEMS, np.arange(3000) + 7)
    path = index.save(tmp_path / "index" / "hnsw.idx")
    assert [p.name for p in path.parent.iterdir()] == ["hnsw.idx"]  # no temp file left behind
    loaded = RetrievalIndex.load(path)
    assert loaded.config == index.config
    a, b = index.search(QUERIES, 10), loaded.search(QUERIES, 10)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.scores, b.scores)


def test_bad_input_is_refused_with_the_problem_named():
    with pytest.raises(RuntimeError, match="build"):
        RetrievalIndex().search(QUERIES, 5)
    index = RetrievalIndex().build(ITEMS)
    with pytest.raises(ValueError, match="dimension 8"):
        index.search(QUERIES[:, :8], 5)
    with pytest.raises(ValueError, match="k must be"):
        index.search(QUERIES, 0)
    with pytest.raises(ValueError, match="NaN"):
        RetrievalIndex().build(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="one per query"):
        index.search(QUERIES[:2], 5, exclude=[np.array([1])])
    with pytest.raises(ValueError, match="kind"):
        IndexConfig(kind="lsh")
