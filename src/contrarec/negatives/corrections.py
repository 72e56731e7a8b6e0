"""Corrections applied to a ``[B, C]`` logit matrix, in a fixed order.

Order (STYLE §4): temperature, then logQ correction, then accidental-hit mask, then hard-negative mask.
Each is a small pure function on tensors.
"""

from __future__ import annotations

import math

import torch


def masked_value(dtype: torch.dtype) -> float:
    """A large negative logit for masked entries, safe for ``dtype`` (exp() gives 0, no inf arithmetic)."""
    return torch.finfo(dtype).min / 4


def apply_log_q(logits: torch.Tensor, column_log_q: torch.Tensor) -> torch.Tensor:
    """Sampling-bias correction of Yi et al. (RecSys 2019): ``s^c(x, y_j) = s(x, y_j) - log q_j``.

    Args:
        logits: ``[B, C]`` temperature-scaled scores.
        column_log_q: ``[C]`` log of each column item's expected count in the sample.

    Returns:
        ``[B, C]`` corrected logits.
    """
    if column_log_q.shape != logits.shape[1:]:
        raise ValueError(f"column_log_q has shape {tuple(column_log_q.shape)}, expected [{logits.shape[1]}]")
    return logits - column_log_q.to(logits.dtype).unsqueeze(0)


def mask_accidental_hits(logits: torch.Tensor, row_ids: torch.Tensor, column_ids: torch.Tensor,
                         positive_columns: torch.Tensor | None = None, inplace: bool = False) -> torch.Tensor:
    """Mask negatives that are the row's own positive item (an "accidental hit").

    Entry ``(b, c)`` is masked when ``column_ids[c] == row_ids[b]`` and ``c`` is not the row's positive
    column, so a popular item that appears twice in a batch is not pushed away from its own user.

    Args:
        logits: ``[B, C]``.
        row_ids: ``[B]`` id of each row's positive item.
        column_ids: ``[C]`` item id of each column.
        positive_columns: ``[B]`` index of each row's positive column (default ``arange(B)``).
        inplace: write into ``logits`` (a tensor the caller owns, e.g. fresh from a matmul) instead of a copy.

    Returns:
        ``[B, C]`` logits with accidental hits set to a large negative value.
    """
    if positive_columns is None:
        positive_columns = torch.arange(logits.shape[0], device=logits.device)
    rows, cols = accidental_hits(row_ids, column_ids, positive_columns)
    out = logits if inplace else logits.clone()
    return out.index_put_((rows, cols), torch.tensor(masked_value(logits.dtype), dtype=logits.dtype))


def accidental_hits(row_ids: torch.Tensor, column_ids: torch.Tensor,
                    positive_columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``([h], [h])`` row and column of every ``(b, c)`` with ``column_ids[c] == row_ids[b]``, c not b's positive.

    One sort of the ``C`` column ids and two binary searches per row: O((B + C) log C + hits) instead of a
    ``[B, C]`` comparison, which costs as much as the score matrix itself.
    """
    order = torch.argsort(column_ids)
    sorted_ids = column_ids[order].contiguous()
    row_ids = row_ids.to(sorted_ids.dtype).contiguous()
    first = torch.searchsorted(sorted_ids, row_ids)
    counts = torch.searchsorted(sorted_ids, row_ids, right=True) - first  # [B] columns with the row's id
    total = int(counts.sum())
    rows = torch.repeat_interleave(torch.arange(len(row_ids), device=row_ids.device), counts, output_size=total)
    starts = torch.cumsum(counts, 0) - counts
    within = torch.arange(total, device=row_ids.device) - torch.repeat_interleave(starts, counts, output_size=total)
    cols = order[torch.repeat_interleave(first, counts, output_size=total) + within]
    keep = cols != positive_columns[rows]
    return rows[keep], cols[keep]


def mask_all_but_hardest(logits: torch.Tensor, num_hard: int,
                         positive_columns: torch.Tensor | None = None) -> torch.Tensor:
    """Keep only the ``num_hard`` highest-scoring negatives of each row (plus the positive).

    Focusing the softmax on the hardest negatives is what a small temperature does softly; this is
    the hard version (a top-k hard-negative mask).

    Args:
        logits: ``[B, C]`` corrected logits.
        num_hard: negatives kept per row (``>= 1``).
        positive_columns: ``[B]`` positive column per row (default ``arange(B)``).
    """
    rows = torch.arange(logits.shape[0], device=logits.device)
    if positive_columns is None:
        positive_columns = rows
    if num_hard >= logits.shape[1] - 1:
        return logits
    low = masked_value(logits.dtype)
    negatives = logits.detach().clone()
    negatives[rows, positive_columns] = low
    threshold = negatives.topk(num_hard, dim=1).values[:, -1:]  # [B, 1]
    keep = negatives >= threshold
    keep[rows, positive_columns] = True
    return logits.masked_fill(~keep, low)


def mixture_log_q(item_log_p: torch.Tensor, batch_size: int, num_uniform: int, num_items: int) -> torch.Tensor:
    """Log expected count of an item among the negatives of mixed sampling (Yang et al., WWW 2020).

    In-batch negatives arrive with probability ``p_j`` per draw (``B`` draws); uniform ones with ``1/N``
    (``M`` draws). The proposal is the mixture, so ``log q_j = log(B p_j + M / N)``.

    Args:
        item_log_p: ``[C]`` log p_j of the columns' items (their share of training interactions).
    """
    expected = batch_size * item_log_p.exp() + num_uniform / num_items
    return expected.log()


def in_batch_log_q(item_log_p: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``log(B p_j)``: log expected count of item j among ``B`` in-batch draws (constant shift of log p)."""
    return item_log_p + math.log(batch_size)
