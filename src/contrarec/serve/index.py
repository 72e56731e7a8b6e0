"""The retrieval index: an explicit build → search → save/load lifecycle over a faiss factory string.

Kinds (STYLE §18–19):

* ``flat``  — ``IndexFlatIP``, exact brute force; the reference every ANN index is measured against.
* ``hnsw``  — ``HNSW{M},Flat`` with inner product; ``ef_search`` is set per search.
* ``ivfpq`` — ``IVF{nlist},PQ{m}x{bits}np`` (``,RFlat`` with exact re-ranking) with inner product; ``nprobe``
  is set per search.

Vectors go in as float32, C-contiguous, and L2-normalised when the metric is ``cosine`` (so inner product
equals cosine and serving agrees with training). Ids are int64 labels given at build time (internal item
ids by default); exclusions and results are in those ids.

Example:
    >>> import numpy as np
    >>> emb = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
    >>> index = RetrievalIndex(IndexConfig(kind="flat", metric="cosine")).build(emb)
    >>> top = index.search(emb[:2], k=3, exclude=[np.array([0]), np.array([1])])
    >>> top.ids.shape, bool((top.ids[:, 0] != [0, 1]).all())
    ((2, 3), True)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal, Sequence

import faiss
import numpy as np
import scipy.sparse as sp
from pydantic import Field

from contrarec.config import Strict
from contrarec.io import atomic_write
from contrarec.evaluate.topk import TopK  # the one (scores, ids) type; numpy arrays here

Exclude = Sequence[np.ndarray] | sp.csr_matrix | None


class IndexConfig(Strict):
    """Settings of one retrieval index."""

    kind: Literal["flat", "hnsw", "ivfpq"] = Field("flat", description="flat (exact) | hnsw | ivfpq")
    metric: Literal["cosine", "ip"] = Field("cosine", description="cosine = L2-normalise, then inner product")
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW graph degree M")
    ef_construction: int = Field(200, ge=8, description="HNSW build-time beam width")
    ef_search: int = Field(128, ge=1, description="HNSW search beam width (default; per-search override)")
    nlist: int | None = Field(None, ge=1, description="IVF cells (None = about 4·sqrt(N), at least 39 items each)")
    pq_m: int | None = Field(None, ge=1, description="PQ sub-quantizers (None = D/4, a divisor of D)")
    pq_bits: int | None = Field(None, ge=1, le=8, description="bits per PQ code (None = 8, fewer on tiny sets)")
    nprobe: int = Field(16, ge=1, description="IVF cells visited (default; per-search override)")
    refine_factor: int = Field(0, ge=0, description="ivfpq: re-rank refine_factor·k PQ hits exactly (0 = off)")


def factory_string(config: IndexConfig, num_items: int, dim: int) -> str:
    """The faiss factory string of ``config`` for ``num_items`` vectors of size ``dim``."""
    if config.kind == "flat":
        return "Flat"
    if config.kind == "hnsw":
        return f"HNSW{config.hnsw_m},Flat"
    nlist = config.nlist or max(1, min(int(4 * math.sqrt(num_items)), num_items // 39))
    pq_m = config.pq_m or _largest_divisor_at_most(dim, max(1, dim // 4))
    if dim % pq_m:
        raise ValueError(f"pq_m={pq_m} must divide the dimension {dim}")
    bits = config.pq_bits or max(1, min(8, int(math.log2(max(2, num_items // 39)))))
    return f"IVF{nlist},PQ{pq_m}x{bits}np" + (",RFlat" if config.refine_factor else "")  # np: no polysemous training


def _largest_divisor_at_most(n: int, bound: int) -> int:
    return max(d for d in range(1, bound + 1) if n % d == 0)


def as_float32(x: np.ndarray, normalize: bool, name: str) -> np.ndarray:
    """``[n, D]`` float32 C-contiguous copy-if-needed of ``x``, L2-normalised when asked."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-d [n, D] array, got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("nd,nd->n", x, x))  # [n]; NaN or inf anywhere shows up here
    if not np.isfinite(norms).all():
        raise ValueError(f"{name} contains NaN, infinite or overflowing values")
    if normalize:
        x = x / np.maximum(norms, 1e-12)[:, None]
    return x


class RetrievalIndex:
    """Maximum-inner-product search over item embeddings.

    Args:
        config: kind, metric and the kind's parameters.
    """

    def __init__(self, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.index: faiss.Index | None = None
        self.ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._positions: dict[int, int] | None = None  # id -> row, None when ids == arange(N)
        self._hnsw_params: dict[int, faiss.SearchParameters] = {}

    # ------------------------------------------------------------------ lifecycle
    @property
    def is_exact(self) -> bool:
        """True for brute-force search (results equal the exact top-k)."""
        return self.config.kind == "flat"

    @property
    def dim(self) -> int:
        """D."""
        return int(self._built().d)

    def __len__(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @property
    def factory(self) -> str:
        """The faiss factory string in use."""
        return factory_string(self.config, max(len(self), 1), self.dim)

    def build(self, item_embeddings: np.ndarray, item_ids: np.ndarray | None = None) -> "RetrievalIndex":
        """Index ``[N, D]`` item embeddings labelled by ``item_ids`` ``[N]`` (default ``0..N-1``)."""
        x = as_float32(item_embeddings, self.config.metric == "cosine", "item_embeddings")
        if x.shape[0] == 0:
            raise ValueError("cannot build an index over 0 items")
        ids = np.arange(len(x), dtype=np.int64) if item_ids is None else np.asarray(item_ids, dtype=np.int64)
        if ids.shape != (len(x),):
            raise ValueError(f"item_ids has shape {ids.shape}, expected ({len(x)},)")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("item_ids are not unique")
        index = faiss.index_factory(x.shape[1], factory_string(self.config, len(x), x.shape[1]),
                                    faiss.METRIC_INNER_PRODUCT)
        if self.config.kind == "hnsw":
            index.hnsw.efConstruction = self.config.ef_construction
        if not index.is_trained:
            index.train(x)
        index.add(x)
        self.index = index
        self._set_ids(ids)
        return self

    def _set_ids(self, ids: np.ndarray) -> None:
        self.ids = ids
        identity = bool((ids == np.arange(len(ids))).all())
        self._positions = None if identity else {int(v): i for i, v in enumerate(ids)}

    def _built(self) -> faiss.Index:
        if self.index is None:
            raise RuntimeError("the index is empty: call build(item_embeddings) or load(path) first")
        return self.index

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None, *, nprobe: int | None = None,
               ef_search: int | None = None) -> TopK:
        """Top-k items of each query, best first.

        Args:
            queries: ``[Q, D]`` query (user) embeddings.
            k: results per query (``>= 1``); rows with fewer candidates are padded with id -1, score -inf.
            exclude: per-query ids never returned: a list of Q id arrays, or a ``[Q, N]`` CSR matrix whose
                column j is the item at build position j (the item ``item_ids[j]``).
            nprobe: IVF cells visited (ivfpq; default ``config.nprobe``).
            ef_search: HNSW beam width (hnsw; default ``config.ef_search``, raised to the fetch size).

        Returns:
            ``TopK(scores [Q, k], ids [Q, k])``.
        """
        index = self._built()
        q = as_float32(queries, self.config.metric == "cosine", "queries")
        if q.shape[1] != index.d:
            raise ValueError(f"queries have dimension {q.shape[1]}, the index has {index.d}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        excluded = self._exclusions(exclude, len(q))
        longest = max((len(e) for e in excluded), default=0)
        fetch = min(int(index.ntotal), k + longest)
        scores, rows = index.search(q, fetch, params=self._params(fetch, nprobe, ef_search))
        return self._filter(scores, rows, excluded, k)

    def _params(self, fetch: int, nprobe: int | None, ef_search: int | None) -> faiss.SearchParameters | None:
        if self.config.kind == "hnsw":
            ef = max(ef_search or self.config.ef_search, fetch)
            if ef not in self._hnsw_params:  # parameter objects are read-only in search: share them
                self._hnsw_params[ef] = faiss.SearchParametersHNSW(efSearch=ef)
            return self._hnsw_params[ef]
        if self.config.kind == "ivfpq":
            ivf = faiss.SearchParametersIVF(nprobe=nprobe or self.config.nprobe)
            if self.config.refine_factor:
                return faiss.IndexRefineSearchParameters(k_factor=self.config.refine_factor, base_index_params=ivf)
            return ivf
        return None

    def _exclusions(self, exclude: Exclude, num_queries: int) -> list[np.ndarray]:
        """Per-query build positions to drop."""
        if exclude is None:
            return [np.zeros(0, dtype=np.int64)] * num_queries
        if sp.issparse(exclude):
            csr = sp.csr_matrix(exclude)
            if csr.shape[0] != num_queries:
                raise ValueError(f"exclude has {csr.shape[0]} rows, expected one per query ({num_queries})")
            return [csr.indices[csr.indptr[r]:csr.indptr[r + 1]].astype(np.int64) for r in range(num_queries)]
        if len(exclude) != num_queries:
            raise ValueError(f"exclude has {len(exclude)} entries, expected one per query ({num_queries})")
        out = [np.asarray(e, dtype=np.int64).reshape(-1) for e in exclude]
        if self._positions is not None:
            out = [np.array([self._positions[v] for v in e.tolist() if v in self._positions], dtype=np.int64)
                   for e in out]
        return out

    def _filter(self, scores: np.ndarray, rows: np.ndarray, excluded: list[np.ndarray], k: int) -> TopK:
        """Drop excluded / missing rows, keep the first k per query, pad with (-inf, -1)."""
        num_q, fetch = rows.shape
        keep = rows >= 0  # [Q, fetch]
        if any(len(e) for e in excluded):
            n = int(self._built().ntotal)
            keys = rows + np.arange(num_q, dtype=np.int64)[:, None] * n  # [Q, fetch], row-major keys
            drop = np.sort(np.concatenate([e + r * n for r, e in enumerate(excluded)]))
            at = np.minimum(np.searchsorted(drop, keys), len(drop) - 1)
            keep &= drop[at] != keys
        if fetch >= k and keep[:, :k].all():  # common case: nothing dropped among the first k
            ids = self.ids[rows[:, :k]] if self._positions is not None else rows[:, :k]
            return TopK(scores=np.ascontiguousarray(scores[:, :k]), ids=np.ascontiguousarray(ids, dtype=np.int64))
        order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # kept entries first, in score order
        pick = (np.arange(num_q)[:, None], order)
        rows, scores, valid = rows[pick], scores[pick], keep[pick]
        if fetch < k:  # fewer items than k
            pad = k - fetch
            rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            valid = np.pad(valid, ((0, 0), (0, pad)), constant_values=False)
        ids = np.where(valid, self.ids[np.where(valid, rows, 0)], -1)
        return TopK(scores=np.where(valid, scores, -np.inf).astype(np.float32), ids=ids.astype(np.int64))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the index, its ids and its config to one file, atomically (a reader never sees half)."""
        blob = faiss.serialize_index(self._built())
        meta = json.dumps({"config": self.config.model_dump(), "format": 1})

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, index=blob, ids=self.ids, meta=np.array(meta))

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path) -> "RetrievalIndex":
        """Read a file written by :meth:`save` (no pickle)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no index file at {path}")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            out = cls(IndexConfig.model_validate(meta["config"]))
            out.index = faiss.deserialize_index(data["index"])
            out._set_ids(data["ids"].astype(np.int64))
        return out
