"""Exact top-k through a bfloat16 screen: bound every score from above in bf16, rescore the best in fp32.

The fp32 score GEMM is most of full-ranking evaluation, and on CPUs with bf16 dot-product instructions
(AVX512-BF16, AMX) a bf16 GEMM runs several times faster (Yelp2018 blocks, one core of our EPYC: 36 ms fp32,
7 ms bf16). Rounding to bf16 moves scores, so a bf16 ranking alone is not exact. This module makes it exact:

1. on the CPU, the GEMM runs on one extra coordinate, ``q' = [q, c ||q||]`` and ``v' = [v, ||v||]``, so each screened
   value is ``u~_j = bf16(q') . bf16(v'_j) >= q . v_j``: an *upper bound* of the fp32 score (below);
   excluded items get ``-inf``;
2. the ``C = k + margin`` items with the largest bounds are the candidates; their fp32 scores are computed
   exactly (``[b, C, D] x [b, D]``) and the top k of those is the answer;
3. *certificate*: an item left out has a bound, hence a score, of at most ``t``, the smallest candidate
   bound. A row whose k-th exact score beats ``t`` has its exact top k among the candidates. Other rows
   (and rows with NaN) are redone with the fp32 GEMM, so the result never depends on the screen.

Why ``u~_j`` bounds the score: with unit roundoff ``u = 2^-8`` of bf16, rounding both factors moves each
product by at most ``(2u + u^2) |q'_d v'_d|``, fp32 accumulation (bf16 dot-product instructions accumulate
in fp32) adds at most ``(D + 1) 2^-24 sum |q'_d v'_d|``, and rounding the output to bf16 moves it by
``u |u~|``: under ``3.1u sum_d |q'_d v'_d| <= 3.1u (1 + c) ||q|| ||v_j||`` (Cauchy-Schwarz) for D < 4096.
The extra coordinate adds ``c ||q|| ||v_j||`` to the exact sum, so with ``c = 4u`` (:data:`BOUND_FACTOR`) the
screen never falls below the score. Each item's slack scales with its own norm, not the largest one.

Steps 1-3 run either as whole-block torch ops (item-major blocks, :func:`top_set_grouped`) or, where the
native kernel is built (:mod:`contrarec._native`), row by row in one parallel pass over a row-major block
(``_native/screen_topk.cpp``: exclusion, group maxima, candidates, exact rescoring, certificate): 1.5x
faster end to end on Yelp2018 and Gowalla, with the same result.

Ties go to the lower item id, as in :func:`contrarec.evaluate.select.topk_grouped`; scores equal the fp32
dot products up to summation order (a few ulps), so ids can differ from the fp32 path only where two
scores lie within float32 rounding of each other.
"""

from __future__ import annotations

import torch
from torch import Tensor

from contrarec._native import native_ops_available
from contrarec.evaluate.exclusion import Exclusion
from contrarec.evaluate.select import GROUP_SIZE, top_set_grouped, topk_grouped, topk_stable

#: ``c`` of the extra coordinate ``c ||q||``: 4u with u = 2^-8, above the ``3.1u (1 + c)`` it must exceed.
BOUND_FACTOR = 4.0 * 2.0 ** -8

#: Candidates kept past k before the exact rescoring.
DEFAULT_MARGIN = 28

#: Embedding widths (exclusive) the bound above holds for.
MAX_DIM = 4096


def bf16_screen_available(device: torch.device) -> bool:
    """Whether the screen runs here: a CPU where oneDNN reports bf16 support (oneDNN accumulates in fp32,
    as the bound needs; CUDA's bf16 GEMMs may reduce in bf16, and its fp32 GEMMs are fast anyway)."""
    if device.type != "cpu":
        return False
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


class ScreenedTopK:
    """Block-wise exact top-k of ``query @ items.T`` with a bf16 screen (see the module docstring).

    Args:
        query_emb: ``[Q, D]`` fp32 query embeddings.
        items: ``[W, D]`` fp32 item embeddings, rows past ``num_items`` zero (they are set to ``-inf``).
        k: items per query.
        num_items: N, the real items.
        margin: candidates past k that are rescored exactly.
        native: use the native kernel where it is built and applies (finite embeddings, at least one group
            of ``GROUP_SIZE`` items per candidate); it then wants row-major blocks (:attr:`row_major`).
    """

    def __init__(self, query_emb: Tensor, items: Tensor, k: int, num_items: int, margin: int = DEFAULT_MARGIN,
                 native: bool = True):
        if query_emb.shape[1] >= MAX_DIM:
            raise ValueError(f"the bf16 screen's bound holds for D < {MAX_DIM}, got D = {query_emb.shape[1]}")
        self.query, self.items, self.k, self.num_items = query_emb, items, k, num_items
        self.candidates = min(num_items, k + margin)
        lift = BOUND_FACTOR * query_emb.norm(dim=1, keepdim=True)                         # [Q, 1]
        self.query_bf16 = torch.cat([query_emb, lift], dim=1).to(torch.bfloat16)         # [Q, D+1]
        self.items_bf16 = torch.cat([items, items.norm(dim=1, keepdim=True)], dim=1).to(torch.bfloat16)  # [W, D+1]
        self.rows_redone = 0
        self.row_major = (native and self.candidates * GROUP_SIZE <= items.shape[0]
                          and items.shape[0] % GROUP_SIZE == 0 and native_ops_available()
                          and bool(query_emb.isfinite().all()) and bool(items.isfinite().all()))
        if self.row_major:  # the kernel reads rows in place
            self.query, self.items = query_emb.contiguous(), items.contiguous()

    def block(self, screen: Tensor, start: int, stop: int, exclusion: Exclusion | None) -> tuple[Tensor, Tensor]:
        """Top k of queries ``start..stop-1``, with ``screen`` a ``[b, W]`` bf16 view to write scores into.

        Returns ``([b, k] fp32 scores, [b, k] int64 ids)``, best first, ties to the lower id.
        """
        if self.row_major and screen.stride(1) == 1:
            return self._native_block(screen, start, stop, exclusion)
        query = self.query[start:stop]                                                    # [b, D]
        if screen.stride(1) == 1:
            torch.mm(self.query_bf16[start:stop], self.items_bf16.T, out=screen)          # [b, D+1] x [D+1, W]
        else:
            torch.mm(self.items_bf16, self.query_bf16[start:stop].T, out=screen.T)        # [W, D+1] x [D+1, b]
        if screen.shape[1] > self.num_items:
            screen[:, self.num_items:] = float("-inf")
        if exclusion is not None:
            exclusion.mask(screen, start, stop)
        cand_screen, cand_ids = top_set_grouped(screen, self.candidates)                  # [b, C], a set
        cand_ids, by_id = cand_ids.sort(dim=1)                                            # ids ascending
        cand_screen = cand_screen.gather(1, by_id)
        exact = torch.bmm(self.items[cand_ids], query.unsqueeze(2)).squeeze(2)            # [b, C] fp32
        exact = exact.masked_fill(cand_screen == float("-inf"), float("-inf"))           # excluded stay out
        values, order = topk_stable(exact, self.k)                                        # ties: lower id
        ids = cand_ids.gather(1, order)
        threshold = cand_screen.amin(dim=1).float()                                       # [b]
        proven = values[:, -1] > threshold                  # every item left out scores <= its bound <= t
        doubtful = exact.isnan().any(1) | cand_screen.isnan().any(1) | (cand_ids[:, 1:] == cand_ids[:, :-1]).any(1)
        redo = (~proven | doubtful).nonzero().squeeze(1)
        if len(redo):
            self.rows_redone += len(redo)
            values[redo], ids[redo] = self._exact_rows(redo + start, exclusion)
        return values, ids

    def _native_block(self, screen: Tensor, start: int, stop: int,
                      exclusion: Exclusion | None) -> tuple[Tensor, Tensor]:
        """:meth:`block` through ``torch.ops.contrarec.screen_topk`` on a row-major ``[b, W]`` screen."""
        torch.mm(self.query_bf16[start:stop], self.items_bf16.T, out=screen)              # [b, D+1] x [D+1, W]
        if exclusion is None:
            indptr, indices = torch.zeros(stop - start + 1, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
        else:
            indptr, indices = exclusion.block(start, stop)
        values, ids, proven = torch.ops.contrarec.screen_topk(screen, self.num_items, self.candidates, self.k,
                                                              self.query[start:stop], self.items, indptr, indices)
        redo = (~proven).nonzero().squeeze(1)
        if len(redo):
            self.rows_redone += len(redo)
            values[redo], ids[redo] = self._exact_rows(redo + start, exclusion)
        return values, ids

    def _exact_rows(self, rows: Tensor, exclusion: Exclusion | None) -> tuple[Tensor, Tensor]:
        """The fp32 top k of query rows ``rows`` (absolute positions): GEMM, mask, grouped selection."""
        scores = self.query[rows] @ self.items.T                                         # [r, W]
        scores[:, self.num_items:] = float("-inf")
        if exclusion is not None:
            exclusion.mask_rows(scores, rows)
        return topk_grouped(scores, self.k, self.num_items)
