"""Exact full-ranking top-k over all items, blocked so memory stays bounded.

Queries are scored in blocks of rows: a ``[b, N]`` block of scores (dot products, or a caller's
``score_fn``), excluded items set to ``-inf`` by index from the CSR rows, then an exact row-wise top-k.
The block height is chosen from a memory budget, so the full ``[Q, N]`` score matrix never exists.

The default ``method="grouped"`` writes each block item-major (``[N, D] x [D, b]``, about 20% faster in
MKL on our 2-core CPU than ``[b, D] x [D, N]``) and selects with
:func:`contrarec.evaluate.select.topk_grouped` (group maxima, then ``torch.topk`` on narrow arrays; ties
go to the lower item id). ``method="torch"`` is the plain ``torch.topk`` reference. On Yelp2018
(31,668 x 38,048, D = 64) the fp32 score GEMM is about 80% of the grouped path's time, so on CPUs with
native bf16 the blocks are scored in bf16 first and only the best candidates in fp32, with a per-query
proof that the fp32 top k is returned (:mod:`contrarec.evaluate.screened`; 1.4-1.7x end to end).

Example:
    >>> q, items = torch.eye(2), torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    >>> top = topk_scores(q, items, k=2)
    >>> top.ids.tolist(), top.scores.tolist()
    ([[2, 0], [1, 0]], [[2.0, 1.0], [1.0, 0.0]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import scipy.sparse as sp
import torch
from torch import Tensor

from contrarec._native import NATIVE
from contrarec.evaluate.exclusion import Exclusion
from contrarec.evaluate.screened import ScreenedTopK, bf16_screen_available
from contrarec.evaluate.select import grouped_width, topk_grouped, topk_stable, topk_torch

#: Bytes of scores held at once per block; the block height is ``budget // (N * itemsize)``.
DEFAULT_BLOCK_BYTES = 64 * 2**20

#: The same for the native kernel's bf16 blocks, which it reads right after the GEMM wrote them.
NATIVE_BLOCK_BYTES = 10 * 2**20

ScoreFn = Callable[[Tensor], Tensor]
METHODS = ("grouped", "torch", "stable")
SCREENS = ("auto", "bf16", "off")


class TopK(NamedTuple):
    """The k best items per query, best first (faiss ``(D, I)`` order, with names).

    Attributes:
        scores: ``[Q, K]`` scores, descending along each row.
        ids: ``[Q, K]`` int64 item ids.
    """

    scores: Tensor
    ids: Tensor


def default_block_size(num_items: int, itemsize: int = 4, budget_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Rows per block so that one ``[b, N]`` score block takes at most ``budget_bytes`` (at least 1)."""
    return max(1, budget_bytes // max(1, num_items * itemsize))


class _BlockBuffer:
    """One reused buffer for ``[b, W]`` score blocks, stored row-major or item-major (``[W, b]``)."""

    def __init__(self, rows: int, width: int, dtype: torch.dtype, device: torch.device, items_major: bool):
        self.storage = torch.empty(rows * width, dtype=dtype, device=device)
        self.width, self.items_major = width, items_major

    def view(self, rows: int) -> Tensor:
        """A ``[rows, W]`` view; its transpose is contiguous when item-major."""
        flat = self.storage[: rows * self.width]
        return flat.view(self.width, rows).T if self.items_major else flat.view(rows, self.width)


def _select(method: str, k: int, num_items: int) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    if method == "grouped":
        return lambda x: topk_grouped(x, k, num_items)
    if method == "torch":
        return lambda x: topk_torch(x[:, :num_items], k)
    return lambda x: topk_stable(x[:, :num_items], k)


def topk_scores(query_emb: Tensor | None, item_emb: Tensor | None, k: int,
                exclude: sp.csr_matrix | None = None, score_fn: ScoreFn | None = None,
                block_size: int | None = None, *, num_queries: int | None = None,
                method: str = "grouped", screen: str = "auto", native: str = "auto") -> TopK:
    """Exact top-k items for every query, with excluded items masked.

    Scores are ``query_emb @ item_emb.T`` (``[b, D] x [D, N] -> [b, N]`` per block) unless ``score_fn``
    is given. Excluded items get ``-inf``; if a query has fewer than k other items, its last slots hold
    ``-inf`` scores (with the lowest remaining ids) and must not count as recommendations.

    Args:
        query_emb: ``[Q, D]`` query (user) embeddings; may be None with ``score_fn``.
        item_emb: ``[N, D]`` item embeddings; may be None with ``score_fn`` when ``exclude`` or
            ``num_queries`` fixes Q, and then N comes from the scores.
        k: number of items per query, ``1 <= k <= N``.
        exclude: optional ``[Q, N]`` CSR; row q lists items never returned for query q.
        score_fn: optional ``f(rows [b] int64) -> [b, N]`` scores for query rows ``rows`` (positions in
            ``0..Q-1``), replacing the dot product (item-item baselines, graph models).
        block_size: rows per block; default from :data:`DEFAULT_BLOCK_BYTES`. Results do not depend on it.
        num_queries: Q when ``query_emb`` is None (default: ``exclude.shape[0]``).
        method: ``"grouped"`` (fast, exact, ties to the lower id), ``"stable"`` (full sort, same result)
            or ``"torch"`` (``torch.topk`` per block; the simple reference).
        screen: ``"bf16"`` scores in bfloat16 first and rescores the best ``k + 28`` per query in fp32,
            proving per query that the result is the fp32 top k (others are redone in fp32; see
            :mod:`contrarec.evaluate.screened`); ``"off"`` scores in fp32 only; ``"auto"`` (default) screens
            when it applies (fp32 embeddings, no ``score_fn``, ``method="grouped"``) on a CPU with native bf16.
        native: ``"auto"`` (default) finishes screened blocks in the native kernel where it is built
            (:mod:`contrarec._native`); ``"off"`` keeps the pure-torch selection. Same results.

    Returns:
        :class:`TopK` with ``scores [Q, K]`` and ``ids [Q, K]``, sorted by score descending.

    Raises:
        ValueError: on mismatched shapes, a bad k or method, or NaN scores.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if screen not in SCREENS:
        raise ValueError(f"screen must be one of {SCREENS}, got {screen!r}")
    if native not in NATIVE:
        raise ValueError(f"native must be one of {NATIVE}, got {native!r}")
    q_count, n_items, device, dtype = _problem(query_emb, item_emb, exclude, score_fn, num_queries)
    if n_items is None:                              # score_fn without item_emb: probe one row for N
        probe = score_fn(torch.zeros(1, dtype=torch.long, device=device))  # type: ignore[misc]
        n_items, dtype = probe.shape[1], probe.dtype
    if not 1 <= k <= n_items:
        raise ValueError(f"k={k} must lie in [1, N={n_items}]")
    width = grouped_width(n_items) if method == "grouped" else n_items
    screened = _screen(screen, method, query_emb, item_emb, score_fn, k, n_items, width, device,
                       native == "auto")
    block_dtype = torch.bfloat16 if screened is not None else dtype
    if block_size is not None:
        rows = block_size
    elif screened is not None and screened.row_major:   # rows finished while in cache: smaller blocks
        rows = default_block_size(width, 2, NATIVE_BLOCK_BYTES)
    else:
        rows = default_block_size(width, torch.finfo(dtype).bits // 8)
    if rows < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    fill = _block_filler(query_emb, item_emb, score_fn, n_items, width)
    excl = None if exclude is None else Exclusion(exclude, q_count, n_items, device)
    select = _select(method, k, n_items)
    # grouped: item-major blocks ([W, D] x [D, b] runs ~20% faster than [b, D] x [D, W] in MKL here)
    items_major = method == "grouped" and not (screened is not None and screened.row_major)
    blocks = _BlockBuffer(min(rows, max(q_count, 1)), width, block_dtype, device, items_major=items_major)
    scores = torch.empty(q_count, k, dtype=dtype, device=device)
    ids = torch.empty(q_count, k, dtype=torch.long, device=device)
    for start in range(0, q_count, rows):
        stop = min(q_count, start + rows)
        block = blocks.view(stop - start)                                          # [b, W]
        if screened is not None:
            scores[start:stop], ids[start:stop] = screened.block(block, start, stop, excl)
            continue
        fill(block, start, stop)
        if excl is not None:
            excl.mask(block, start, stop)
        scores[start:stop], ids[start:stop] = select(block)
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN; check the embeddings or score_fn")
    return TopK(scores, ids)


def _screen(screen: str, method: str, query_emb: Tensor | None, item_emb: Tensor | None,
            score_fn: ScoreFn | None, k: int, n_items: int, width: int,
            device: torch.device, native: bool) -> ScreenedTopK | None:
    """The bf16 screen when ``screen`` asks for it and it applies (fp32 dot products, grouped selection)."""
    applies = (score_fn is None and method == "grouped" and query_emb is not None and item_emb is not None
               and query_emb.dtype == torch.float32 and item_emb.dtype == torch.float32)
    if screen == "bf16" and not applies:
        raise ValueError("screen='bf16' needs fp32 query_emb and item_emb, no score_fn and method='grouped'")
    if screen == "bf16" and device.type != "cpu":
        raise ValueError(f"screen='bf16' runs on the CPU only, got device {device}")
    if screen == "off" or not applies or (screen == "auto" and not bf16_screen_available(device)):
        return None
    return ScreenedTopK(query_emb, _pad_rows(item_emb, width), k, n_items,  # type: ignore[arg-type]
                        native=native)


def _block_filler(query_emb: Tensor | None, item_emb: Tensor | None, score_fn: ScoreFn | None, n_items: int,
                  width: int) -> Callable[[Tensor, int, int], None]:
    """``fill(block [b, W], start, stop)``: scores of queries ``start..stop-1``, ``-inf`` past column N."""
    items = None if score_fn is not None else _pad_rows(item_emb, width)  # type: ignore[arg-type]

    def fill(block: Tensor, start: int, stop: int) -> None:
        if items is not None and block.stride(1) == 1:
            torch.mm(query_emb[start:stop], items.T, out=block)                    # [b, D] x [D, W]
        elif items is not None:
            torch.mm(items, query_emb[start:stop].T, out=block.T)                  # [W, D] x [D, b]
        else:
            part = score_fn(torch.arange(start, stop, device=block.device))        # type: ignore[misc]
            if part.shape != (stop - start, n_items):
                raise ValueError(f"score_fn returned shape {tuple(part.shape)}, expected ({stop - start}, {n_items})")
            block[:, :n_items] = part
        if width > n_items:
            block[:, n_items:] = float("-inf")

    return fill


def _problem(query_emb: Tensor | None, item_emb: Tensor | None, exclude: sp.csr_matrix | None,
             score_fn: ScoreFn | None, num_queries: int | None) -> tuple[int, int | None, torch.device, torch.dtype]:
    """Q, N (None if only the scores can tell), device and dtype, after checking shapes."""
    if score_fn is None and (query_emb is None or item_emb is None):
        raise ValueError("give query_emb and item_emb, or a score_fn")
    if query_emb is not None and query_emb.ndim != 2:
        raise ValueError(f"query_emb must be [Q, D], got shape {tuple(query_emb.shape)}")
    if item_emb is not None and item_emb.ndim != 2:
        raise ValueError(f"item_emb must be [N, D], got shape {tuple(item_emb.shape)}")
    if score_fn is None and query_emb.shape[1] != item_emb.shape[1]:  # type: ignore[union-attr]
        raise ValueError(f"query_emb {tuple(query_emb.shape)} and item_emb {tuple(item_emb.shape)} "  # type: ignore[union-attr]
                         "differ in D")
    if query_emb is not None:
        q_count = query_emb.shape[0]
    elif num_queries is not None:
        q_count = num_queries
    elif exclude is not None:
        q_count = exclude.shape[0]
    else:
        raise ValueError("with score_fn and no query_emb, give num_queries or exclude to fix Q")
    ref = query_emb if query_emb is not None else item_emb
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None else torch.get_default_dtype()
    n_items = item_emb.shape[0] if item_emb is not None else (exclude.shape[1] if exclude is not None else None)
    return q_count, n_items, device, dtype


def _pad_rows(item_emb: Tensor, width: int) -> Tensor:
    """``[W, D]`` item embeddings with zero rows appended up to ``width`` (scores there are reset to -inf)."""
    extra = width - item_emb.shape[0]
    if extra == 0:
        return item_emb
    return torch.cat([item_emb, item_emb.new_zeros(extra, item_emb.shape[1])])
