"""The one model contract every recipe follows.

A recall model gives user and item embeddings for evaluation and export, and a loss with its
named parts for logging. The trainer knows nothing else about it.
"""

from __future__ import annotations

import torch
from torch import nn

from contrarec.data.batches import Batch


class RecallModel(nn.Module):
    """Base class of every recipe's model.

    Subclasses implement :meth:`compute_loss`, :meth:`user_embeddings` and :meth:`item_embeddings`.
    Scores are inner products of the two (``[U, D] @ [D, N]``) unless :meth:`score_users` is
    overridden (item-item baselines do).
    """

    #: True when the embeddings are L2-normalised (so inner product = cosine).
    normalized: bool = False
    #: True when a step may leave some parameters without gradient (SwAV's prototype freeze); DDP then
    #: traverses the autograd graph every step to find them, which the other recipes need not pay for.
    may_skip_parameters: bool = False

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named loss terms for one batch; ``"total"`` is the one that is back-propagated."""
        raise NotImplementedError

    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]`` embeddings of all users (no grad, eval mode is the caller's job)."""
        raise NotImplementedError

    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]`` embeddings of all items."""
        raise NotImplementedError

    def score_users(self, users: torch.Tensor, user_emb: torch.Tensor | None = None,
                    item_emb: torch.Tensor | None = None) -> torch.Tensor:
        """``[b, N]`` scores of every item for the users ``[b]`` (inner product by default)."""
        u = self.user_embeddings() if user_emb is None else user_emb
        i = self.item_embeddings() if item_emb is None else item_emb
        return u[users] @ i.T  # [b, D] @ [D, N] -> [b, N]

    def on_epoch_start(self, epoch: int, generator: torch.Generator) -> None:
        """Hook before each epoch (graph views are redrawn here). ``generator`` is seeded per epoch."""

    def on_step_end(self) -> None:
        """Hook after each optimizer step (momentum encoders update here)."""

    def extra_state_for_checkpoint(self) -> dict:
        """Non-parameter state to checkpoint (tensors or plain values only)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what :meth:`extra_state_for_checkpoint` returned."""
