"""``ccl``: cosine towers trained with SimpleX's cosine contrastive loss over many uniform negatives.

Shape legend: B batch, M uniform negatives shared by the batch, D dim, L history length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.encoders.history import mean_of_history, padded_histories
from contrarec.objectives.ccl import CosineContrastiveLoss
from contrarec.recipes.base import Recipe
from contrarec.recipes.two_tower import TowerPairModel, TowerSettings


class CCLConfig(TowerSettings):
    """Settings of ``ccl`` (defaults: SimpleX's, Mao et al. CIKM 2021: margin 0.9, weight 150, 1000 negatives)."""

    margin: float = Field(0.9, ge=-1, lt=1, description="negatives below this cosine get no gradient")
    negative_weight: float = Field(150.0, ge=0, description="weight w of the mean negative term")
    num_uniform_negatives: int = Field(1000, ge=1, description="M uniform negatives shared by the batch")
    in_batch_negatives: bool = Field(False, description="the batch's other positives are negatives too")
    mask_accidental_hits: bool = Field(True, description="a column holding the row's own positive is "
                                       "not a negative")
    history_weight: float = Field(1.0, ge=0, le=1, description="g: user = g·e_u + (1-g)·V·mean of the item "
                                  "embeddings of its history (SimpleX); 1 = no history (MF-CCL)")
    max_history: int = Field(50, ge=1, description="most recent training items in the history mean")
    user_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the user vector before it is "
                                "normalised, in training (SimpleX's net dropout)")

    @model_validator(mode="after")
    def _cosine_only(self) -> "CCLConfig":
        if not self.normalize:
            raise ValueError("ccl scores are cosines: normalize must stay true")
        return self


class CCLModel(TowerPairModel):
    r"""User and item towers scored by cosine, trained with :class:`~contrarec.objectives.ccl.CosineContrastiveLoss`.

    The negatives of row b are the M uniform items of the batch (and, with ``in_batch_negatives``, the other
    rows' positives); one ``[B, D] x [D, M]`` product scores them all. SimpleX draws 1000 negatives per
    row; sharing them across the batch keeps the cost one matrix product.

    With ``history_weight`` g < 1 the user side is SimpleX's behaviour aggregation,
    ``e_u' = g·e_u + (1 − g)·V·(1/|H_u|) Σ_{i∈H_u} e_i``, over the item tower's own id table (so history
    gradients reach the items) and a linear map V initialised to the identity.
    """

    config: CCLConfig

    def __init__(self, config: CCLConfig, train: Interactions) -> None:
        super().__init__(config, train)
        self.loss_fn = CosineContrastiveLoss(config.margin, config.negative_weight)
        self.history_map: nn.Linear | None = None
        if config.history_weight < 1:
            histories = padded_histories(train.users, train.items, train.num_users, config.max_history,
                                         train.timestamps)
            self.register_buffer("histories", histories, persistent=False)  # [U, L], PAD = -1
            self.history_map = nn.Linear(config.dim, config.dim, bias=False)
            nn.init.eye_(self.history_map.weight)

    def encode_query(self, users: torch.Tensor) -> torch.Tensor:
        """``[B] -> [B, D]``: the user tower; its id embedding mixed with the history mean when g < 1, and
        dropped out in training when ``user_dropout`` > 0."""
        cfg = self.config
        user = self.user_tower.id_embedding(users)  # [B, D]
        if self.history_map is not None:
            bag = mean_of_history(self.item_tower.id_embedding, self.histories[users])  # [B, D]
            user = cfg.history_weight * user + (1 - cfg.history_weight) * self.history_map(bag)
        return self.user_tower(users, id_embedding=F.dropout(user, cfg.user_dropout, self.training))

    @torch.no_grad()
    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]``, in chunks (the history mean gathers ``[chunk, L, D]``)."""
        if self.history_map is None:
            return super().user_embeddings()
        device = self.histories.device
        return torch.cat([self.encode_query(torch.arange(s, min(s + 8192, self.num_users), device=device))
                          for s in range(0, self.num_users, 8192)])

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "ccl"}``."""
        cfg = self.config
        if batch.uniform_items is None:
            raise ValueError("ccl needs uniform negatives (batch.uniform_items is None)")
        query = self.encode_query(batch.users)  # [B, D]
        key = self.encode_item(batch.items)  # [B, D]
        negative_ids = batch.uniform_items  # [M]
        negative_keys = self.encode_item(negative_ids)  # [M, D]
        if cfg.in_batch_negatives:
            negative_ids = torch.cat([batch.items, negative_ids])  # [B + M]
            negative_keys = torch.cat([key, negative_keys])
        scores = query @ negative_keys.T  # [B, B + M] or [B, M]
        valid = None
        if cfg.mask_accidental_hits:  # the row's own item is no negative, in whichever column it appears
            valid = negative_ids.unsqueeze(0) != batch.items.unsqueeze(1)  # [B, ·]
        elif cfg.in_batch_negatives:  # only the row's own positive column is no negative
            valid = torch.ones_like(scores, dtype=torch.bool)
            valid[:, : len(batch.items)].fill_diagonal_(False)
        loss = self.loss_fn((query * key).sum(-1), scores, valid)
        return {"total": loss, "ccl": loss}


RECIPE = Recipe(
    name="ccl",
    description="cosine towers, SimpleX's cosine contrastive loss: (1 - cos+) + w * mean relu(cos- - margin)",
    source="Mao et al. CIKM 2021 (SimpleX, MF-CCL)",
    config_class=CCLConfig,
    build_model=CCLModel,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
