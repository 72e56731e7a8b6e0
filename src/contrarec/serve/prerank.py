"""Pre-ranking (coarse ranking): rescoring the recall stage's top-N candidates with a richer model.

The pre-ranker sees the frozen recall embeddings ``u`` and ``i`` and learns user × item interactions on top:

    score(u, i) = w·⟨u, i⟩ + MLP(h),   h = W_h (u ⊙ i) + w_d ⟨u, i⟩ + W_c (P[u; φ_u] ⊙ R[i; φ_i; log pop])
                                             + W_u [u; φ_u] + W_i [φ_i; log pop]

with φ_u, φ_i embedded user / item features and ``log pop`` the item's log training count. The first layer
is written as a sum of per-part linear maps (the same function as one linear map on the concatenation) so
the item-only parts are computed once per item and cached for serving. The MLP's last layer starts at zero,
so an untrained pre-ranker ranks exactly as the recall stage; training learns the corrections.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from torch import nn

from contrarec.config import Strict
from contrarec.data.features import FeatureTable
from contrarec.encoders.features import FeatureEmbedding
from contrarec.io import atomic_write, atomic_write_json


class PreRankConfig(Strict):
    """Settings of the pre-ranker and of its contrastive training."""

    candidates: int = Field(300, ge=1, description="N: recall candidates per user (training and serving)")
    hidden: int = Field(64, ge=1, description="width of the first layer")
    hidden2: int = Field(32, ge=1, description="width of the second layer")
    feature_dim: int = Field(8, ge=1, description="embedding size of each feature column")
    cross_dim: int = Field(16, ge=1, description="size of the user × item feature cross")
    dropout: float = Field(0.1, ge=0, lt=1)
    temperature: float = Field(0.1, gt=0, description="softmax temperature τ of the listwise loss")
    hard_negatives: int = Field(64, ge=0, description="H negatives per row drawn from the user's candidates")
    in_batch: bool = Field(True, description="the other rows' positives are negatives too")
    log_q: bool = Field(True, description="logQ correction of the sampled negatives (Yi et al. 2019)")
    epochs: int = Field(10, ge=1)
    max_pairs: int | None = Field(None, ge=1, description="train on a seeded random subset of this many pairs")
    batch_size: int = Field(256, ge=2)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    seed: int = 0


def _embedding(table: FeatureTable | None, dim: int) -> FeatureEmbedding | None:
    return FeatureEmbedding(table, dim) if table is not None and not table.is_empty() else None


class PreRankModel(nn.Module):
    """The scorer of the module doc.

    Args:
        dim: D of the recall embeddings.
        item_log_pop: ``[N]`` log(1 + training count) of each item.
        user_features: user feature table (rows = internal user ids) or None.
        item_features: item feature table or None.
        config: sizes.
    """

    def __init__(self, dim: int, item_log_pop: torch.Tensor, user_features: FeatureTable | None,
                 item_features: FeatureTable | None, config: PreRankConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("item_log_pop", item_log_pop.float().reshape(-1, 1))
        self.user_features = _embedding(user_features, config.feature_dim)
        self.item_features = _embedding(item_features, config.feature_dim)
        user_width = dim + (self.user_features.output_dim if self.user_features else 0)
        item_width = 1 + (self.item_features.output_dim if self.item_features else 0)
        h, c = config.hidden, config.cross_dim
        self.user_cross = nn.Linear(user_width, c)
        self.item_cross = nn.Linear(dim + item_width, c)
        self.first_hadamard = nn.Linear(dim, h)
        self.first_dot = nn.Parameter(torch.zeros(h))
        self.first_cross = nn.Linear(c, h, bias=False)
        self.first_user = nn.Linear(user_width, h, bias=False)
        self.first_item = nn.Linear(item_width, h, bias=False)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, config.hidden2), nn.ReLU(),
                                  nn.Linear(config.hidden2, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.dot_weight = nn.Parameter(torch.ones(()))

    def user_part(self, user_rows: torch.Tensor, user_vec: torch.Tensor,
                  overrides: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``([B, H] first-layer term, [B, c] cross side)`` of users (rows -1 = unseen: pass overrides)."""
        parts = [user_vec]
        if self.user_features is not None:
            parts.append(self.user_features(user_rows.clamp(min=0), overrides=overrides))  # [B, Fu]
        side = torch.cat(parts, dim=1)  # [B, Wu]
        return self.first_user(side), self.user_cross(side)

    def item_part(self, item_rows: torch.Tensor, item_vec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``([M, H], [M, c])`` item-only terms of items ``[M]`` with embeddings ``[M, D]`` (cacheable)."""
        parts = [self.item_log_pop[item_rows]]  # [M, 1]
        if self.item_features is not None:
            parts.append(self.item_features(item_rows))  # [M, Fi]
        side = torch.cat(parts, dim=1)  # [M, Wi]
        return self.first_item(side), self.item_cross(torch.cat([item_vec, side], dim=1))

    def score(self, user_vec: torch.Tensor, user_hidden: torch.Tensor, user_cross: torch.Tensor,
              item_vec: torch.Tensor, item_hidden: torch.Tensor, item_cross: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` scores from ``[B, ·]`` user parts and ``[B, C, ·]`` candidate parts."""
        dot = torch.einsum("bd,bcd->bc", user_vec, item_vec)  # [B, D] x [B, C, D] -> [B, C]
        hidden = (self.first_hadamard(user_vec.unsqueeze(1) * item_vec)  # [B, C, D] -> [B, C, H]
                  + dot.unsqueeze(2) * self.first_dot
                  + self.first_cross(user_cross.unsqueeze(1) * item_cross)  # [B, C, c] -> [B, C, H]
                  + user_hidden.unsqueeze(1) + item_hidden)
        return self.dot_weight * dot + self.head(hidden).squeeze(2)

    def forward(self, user_rows: torch.Tensor, user_vec: torch.Tensor, item_rows: torch.Tensor,
                item_vec: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` scores of users ``[B]`` (``[B, D]``) for candidates ``[B, C]`` (``[B, C, D]``)."""
        b, c = item_rows.shape
        user_hidden, user_cross = self.user_part(user_rows, user_vec)
        item_hidden, item_cross = self.item_part(item_rows.reshape(-1), item_vec.reshape(b * c, -1))
        return self.score(user_vec, user_hidden, user_cross, item_vec, item_hidden.reshape(b, c, -1),
                          item_cross.reshape(b, c, -1))


# ------------------------------------------------------------------------------------ persistence
def _table_arrays(prefix: str, table: FeatureTable | None) -> dict[str, np.ndarray]:
    if table is None:
        return {}
    out = {f"{prefix}.num_rows": np.array(table.num_rows)}
    for kind, cols in (("cat", table.categorical), ("multi", table.multi_valued), ("num", table.numeric)):
        for name, arr in cols.items():
            out[f"{prefix}.{kind}.{name}"] = arr
    for name, card in table.cardinalities.items():
        out[f"{prefix}.card.{name}"] = np.array(card)
    return out


def _table_from(arrays: dict[str, np.ndarray], prefix: str) -> FeatureTable | None:
    if f"{prefix}.num_rows" not in arrays:
        return None
    table = FeatureTable(num_rows=int(arrays[f"{prefix}.num_rows"]))
    kinds = {"cat": table.categorical, "multi": table.multi_valued, "num": table.numeric}
    for key, arr in arrays.items():
        parts = key.split(".", 2)
        if parts[0] == prefix and parts[1] in kinds:
            kinds[parts[1]][parts[2]] = arr
        elif parts[0] == prefix and parts[1] == "card":
            table.cardinalities[parts[2]] = int(arr)
    return table


def save_prerank(model: PreRankModel, folder: str | Path, dim: int, extra: dict | None = None) -> Path:
    """Write ``prerank.json`` (config), ``prerank.pt`` (weights) and ``prerank_features.npz`` into ``folder``."""
    folder = Path(folder)
    arrays = {**_table_arrays("user", getattr(model, "_user_table", None)),
              **_table_arrays("item", getattr(model, "_item_table", None))}

    def write_npz(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(folder / "prerank_features.npz", write_npz)
    atomic_write(folder / "prerank.pt", lambda tmp: torch.save(model.state_dict(), tmp))
    atomic_write_json(folder / "prerank.json", {"config": model.config.model_dump(), "dim": dim, **(extra or {})})
    return folder


def build_prerank(dim: int, item_popularity: np.ndarray, user_features: FeatureTable | None,
                  item_features: FeatureTable | None, config: PreRankConfig) -> PreRankModel:
    """A fresh pre-ranker; keeps the feature tables so :func:`save_prerank` can store them."""
    log_pop = torch.from_numpy(np.log1p(np.asarray(item_popularity, dtype=np.float64))).float()
    model = PreRankModel(dim, log_pop, user_features, item_features, config)
    model._user_table, model._item_table = user_features, item_features
    return model


def load_prerank(folder: str | Path) -> PreRankModel:
    """Read what :func:`save_prerank` wrote (no pickle: ``weights_only`` and ``allow_pickle=False``)."""
    folder = Path(folder)
    if not (folder / "prerank.json").exists():
        raise FileNotFoundError(f"no pre-ranker in {folder} (prerank.json missing)")
    meta = json.loads((folder / "prerank.json").read_text())
    with np.load(folder / "prerank_features.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    state = torch.load(folder / "prerank.pt", weights_only=True)
    pop = np.expm1(state["item_log_pop"].reshape(-1).numpy())
    model = build_prerank(int(meta["dim"]), pop, _table_from(arrays, "user"), _table_from(arrays, "item"),
                          PreRankConfig.model_validate(meta["config"]))
    model.load_state_dict(state)
    return model.eval()
