"""The user tower as a self-contained program (``torch.export``), for users the model has never seen.

The exported program needs only ``torch`` to run: ``torch.export.load(path).module()(*inputs)``.
Inputs (all tensors, B requests, H history slots):

* ``user_ids [B]`` int64 — internal id of a known user, or -1 for an unseen one;
* ``categorical [B, Cc]`` int64 — codes of the user's categorical features (0 = missing);
* ``multi_valued [B, Cm, L]`` int64 — codes of multi-valued features, 0-padded;
* ``numeric [B, Cn]`` float32 — standardised numeric features;
* ``history [B, H]`` int64 — internal ids of items the user interacted with, -1-padded.

A known user is embedded exactly as in training (its id row and stored features; the other inputs are
ignored). An unseen user's id embedding is folded in from its history: the mean, over its history items,
of the mean id embedding of the training users who interacted with each item (the global mean user when
there is no history). The given features then replace the stored ones, and the tower's MLP, projector and
normalisation run as trained.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from contrarec.encoders.tower import TowerEncoder
from contrarec.io import atomic_write


def fold_in_table(id_weight: torch.Tensor, train_csr: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """``([N, D] per-item mean of its users' id embeddings, [D] mean over all users)``.

    Args:
        id_weight: ``[U, D]`` user id embedding table.
        train_csr: ``[U, N]`` training interactions.
    """
    mean_user = id_weight.mean(dim=0)  # [D]
    item_user = sp.csr_matrix(train_csr.T, dtype=np.float32)  # [N, U]
    counts = np.asarray(item_user.sum(axis=1)).reshape(-1)  # [N]
    summed = torch.from_numpy(np.asarray(item_user @ id_weight.detach().numpy()))  # [N, U] @ [U, D] -> [N, D]
    table = summed / torch.from_numpy(np.maximum(counts, 1.0)).unsqueeze(1)
    table[torch.from_numpy(counts == 0)] = mean_user
    return table.float(), mean_user.float()


class ColdStartUserTower(nn.Module):
    """Wraps a trained :class:`TowerEncoder` for known and unseen users alike (see the module doc).

    Args:
        tower: the trained user tower (its weights are shared, not copied).
        fold_in: ``[N, D]`` item -> mean id embedding of its users (:func:`fold_in_table`).
        mean_user: ``[D]`` the mean user id embedding (no history).
    """

    def __init__(self, tower: TowerEncoder, fold_in: torch.Tensor, mean_user: torch.Tensor) -> None:
        super().__init__()
        self.tower = tower
        self.register_buffer("fold_in", fold_in.detach().clone())
        self.register_buffer("mean_user", mean_user.detach().clone())
        feats = tower.features
        self.categorical_names = list(feats.categorical_names) if feats is not None else []
        self.multi_names = list(feats.multi_names) if feats is not None else []
        self.numeric_names = list(feats.numeric_names) if feats is not None else []

    def forward(self, user_ids: torch.Tensor, categorical: torch.Tensor, multi_valued: torch.Tensor,
                numeric: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` user embeddings (shapes in the module doc)."""
        known = (user_ids >= 0).unsqueeze(1)  # [B, 1]
        rows = user_ids.clamp(min=0)
        valid = (history >= 0).unsqueeze(2).to(self.fold_in.dtype)  # [B, H, 1]
        summed = (self.fold_in[history.clamp(min=0)] * valid).sum(dim=1)  # [B, H, D] -> [B, D]
        count = valid.sum(dim=1)  # [B, 1]
        pooled = torch.where(count > 0, summed / count.clamp(min=1), self.mean_user.unsqueeze(0))  # [B, D]
        overrides: dict[str, torch.Tensor] = {}
        for j, name in enumerate(self.categorical_names):
            overrides[name] = categorical[:, j]
        for j, name in enumerate(self.multi_names):
            overrides[name] = multi_valued[:, j, :]
        for j, name in enumerate(self.numeric_names):
            overrides[name] = numeric[:, j]
        as_known = self.tower(rows)  # [B, D]
        as_new = self.tower(rows, feature_overrides=overrides or None,
                            id_embedding=pooled if self.tower.id_embedding is not None else None)  # [B, D]
        return torch.where(known, as_known, as_new)

    def example_inputs(self, batch: int = 3, history: int = 4, width: int = 2) -> tuple[torch.Tensor, ...]:
        """Small valid inputs (used to trace the program)."""
        return (torch.tensor([0] + [-1] * (batch - 1), dtype=torch.int64),
                torch.zeros(batch, len(self.categorical_names), dtype=torch.int64),
                torch.zeros(batch, len(self.multi_names), width, dtype=torch.int64),
                torch.zeros(batch, len(self.numeric_names), dtype=torch.float32),
                torch.full((batch, history), -1, dtype=torch.int64))


def export_user_tower(wrapper: ColdStartUserTower, path: str | Path) -> Path:
    """Save ``wrapper`` as a ``torch.export`` program with dynamic batch, history and multi-value widths."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    hist = torch.export.Dim("history", min=1, max=65536)
    width = torch.export.Dim("width", min=1, max=4096)
    dynamic = ({0: batch}, {0: batch}, {0: batch, 2: width}, {0: batch}, {0: batch, 1: hist})
    wrapper = wrapper.eval()
    with torch.no_grad():
        program = torch.export.export(wrapper, wrapper.example_inputs(), dynamic_shapes=dynamic)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def load_user_tower(path: str | Path) -> nn.Module:
    """The callable saved by :func:`export_user_tower` (needs only torch)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no exported user tower at {path}")
    return torch.export.load(str(path)).module()
