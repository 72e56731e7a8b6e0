"""Augmented views of user histories: drop, crop and reorder, on left-aligned padded id tensors.

A history batch is ``[B, L]`` int64 with each row's items at positions ``0..len-1`` (oldest first) and
``PAD`` (-1) after. Every function is pure, takes an explicit ``torch.Generator`` and returns the new
histories plus the mask it used. Xie et al., "Contrastive Learning for Sequential Recommendation"
(CL4SRec), ICDE 2022 (https://arxiv.org/abs/2010.14395), §3.2 (item crop, mask, reorder); Yao et al.,
CIKM 2021, applied to the user side.
"""

from __future__ import annotations

import torch

PAD = -1


def _lengths(history: torch.Tensor) -> torch.Tensor:
    if history.dim() != 2:
        raise ValueError(f"history must be [B, L], got {tuple(history.shape)}")
    return (history != PAD).sum(dim=1)  # [B]


def _check_ratio(name: str, value: float, low_open: bool) -> None:
    ok = (0.0 < value <= 1.0) if low_open else (0.0 <= value < 1.0)
    if not ok:
        raise ValueError(f"{name} must be in {'(0, 1]' if low_open else '[0, 1)'}, got {value}")


def history_drop(history: torch.Tensor, rate: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop each history item with probability ``rate``; a row never loses all its items.

    Kept items are compacted to the left in their original order. A non-empty row whose every item
    was drawn for dropping keeps its most recent item.

    Args:
        history: ``[B, L]`` padded item ids.
        rate: drop probability in [0, 1).
        generator: the random source.

    Returns:
        ``(new_history [B, L], keep [B, L])``; ``keep`` marks kept positions of the input.
    """
    _check_ratio("rate", rate, low_open=False)
    lengths = _lengths(history)
    valid = history != PAD
    keep = (torch.rand(history.shape, generator=generator) >= rate) & valid  # [B, L]
    empty = (keep.sum(1) == 0) & (lengths > 0)
    rows = torch.nonzero(empty).squeeze(1)
    keep[rows, lengths[rows] - 1] = True
    return _compact(history, keep), keep


def history_crop(history: torch.Tensor, ratio: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep a random contiguous window of ``max(1, floor(ratio * len))`` items of each row.

    Returns:
        ``(new_history [B, L], keep [B, L])``; the window is moved to the left.
    """
    _check_ratio("ratio", ratio, low_open=True)
    lengths = _lengths(history)
    width = torch.clamp((lengths.double() * ratio).floor().long(), min=1)
    width = torch.minimum(width, lengths)  # empty rows stay empty
    start = (torch.rand(lengths.shape, generator=generator) * (lengths - width + 1).double()).floor().long()
    pos = torch.arange(history.shape[1]).unsqueeze(0)  # [1, L]
    keep = (pos >= start.unsqueeze(1)) & (pos < (start + width).unsqueeze(1))  # [B, L]
    return _compact(history, keep), keep


def history_reorder(history: torch.Tensor, ratio: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle a random contiguous window of ``floor(ratio * len)`` items of each row.

    Items outside the window keep their positions. Note that a mean-pooled bag of items is unchanged
    by reordering; the view matters for order-aware encoders.

    Returns:
        ``(new_history [B, L], window [B, L])``; ``window`` marks the shuffled positions.
    """
    _check_ratio("ratio", ratio, low_open=True)
    lengths = _lengths(history)
    width = (lengths.double() * ratio).floor().long()  # [B]
    start = (torch.rand(lengths.shape, generator=generator) * (lengths - width + 1).double()).floor().long()
    pos = torch.arange(history.shape[1]).unsqueeze(0).expand_as(history).double()  # [B, L]
    window = (pos >= start.unsqueeze(1)) & (pos < (start + width).unsqueeze(1))  # [B, L]
    jitter = start.unsqueeze(1).double() + torch.rand(history.shape, generator=generator, dtype=torch.float64) \
        * width.unsqueeze(1).double()  # [B, L], values inside the window's span
    order = torch.where(window, jitter, pos).argsort(dim=1)  # [B, L]
    return history.gather(1, order), window


def _compact(history: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Move kept entries to the left (stable), pad the rest."""
    order = (~keep).to(torch.int8).argsort(dim=1, stable=True)  # kept first, original order
    out = history.gather(1, order)
    count = keep.sum(1, keepdim=True)
    pos = torch.arange(history.shape[1]).unsqueeze(0)
    return out.masked_fill(pos >= count, PAD)
