"""``swav``: two towers + swapped prediction of Sinkhorn prototype codes (optionally with InfoNCE)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from contrarec.config import ConfigError
from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.encoders.prototypes import Prototypes
from contrarec.objectives.swav import SwaVLoss
from contrarec.recipes.base import Recipe
from contrarec.recipes.tower_views import view_columns
from contrarec.recipes.two_tower import TwoTowerConfig, TwoTowerModel, build_two_tower
from contrarec.views.feature_masking import feature_dropout


class SwavConfig(TwoTowerConfig):
    """Two-tower settings plus prototypes and the swapped-prediction term."""

    num_prototypes: int = Field(256, ge=2, description="K prototypes (must not exceed the number of items)")
    pair: Literal["user-item", "item-item"] = Field("user-item", description="the two sides whose codes are "
                                                     "swapped: a user and its item, or two views of the item")
    view_dropout: float = Field(0.2, ge=0, lt=1, description="item-item views: drop rate of id-embedding "
                                "dimensions and feature columns")
    swav_weight: float = Field(1.0, ge=0, description="weight of the SwAV term")
    infonce_weight: float = Field(1.0, ge=0, description="weight of the two-tower InfoNCE term (0 = SwAV only)")
    swav_temperature: float = Field(0.1, gt=0, description="τ of the code prediction softmax")
    sinkhorn_epsilon: float = Field(0.05, gt=0, description="ε of Sinkhorn")
    sinkhorn_iterations: int = Field(3, ge=1)
    freeze_prototypes_steps: int = Field(300, ge=0, description="steps during which prototypes get no gradient")


class SwavModel(TwoTowerModel):
    r"""``infonce_weight · InfoNCE + swav_weight · SwAV`` on a two-tower model with K learnable prototypes.

    With ``pair="user-item"`` the user's prototype scores predict the Sinkhorn code of its item and vice
    versa; with ``pair="item-item"`` two dropout views of each positive item swap codes. Prototypes are
    renormalised before every step and frozen for the first ``freeze_prototypes_steps`` steps. Caron et
    al., SwAV, NeurIPS 2020 (https://arxiv.org/abs/2006.09882).
    """

    may_skip_parameters = True  # the prototypes get no gradient during the freeze

    def __init__(self, config: SwavConfig, train: Interactions) -> None:
        if train.num_items < config.num_prototypes:
            raise ConfigError(f"model.num_prototypes={config.num_prototypes} is larger than the catalogue "
                              f"({train.num_items} items): Sinkhorn would have to split fewer items over more "
                              f"prototypes; use num_prototypes <= {train.num_items}")
        super().__init__(config, train)
        self.prototypes = Prototypes(config.num_prototypes, config.dim, config.freeze_prototypes_steps)
        self.swav_loss = SwaVLoss(config.swav_temperature, config.sinkhorn_epsilon, config.sinkhorn_iterations)
        self.item_columns = view_columns(self.item_tower)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self._generator = torch.Generator().manual_seed(0)

    def on_epoch_start(self, epoch: int, generator: torch.Generator) -> None:
        """Keep the trainer's per-epoch generator for the item views."""
        self._generator = generator

    def on_step_end(self) -> None:
        """Count steps (for the prototype freeze)."""
        self.step += 1

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "infonce", "swav"}``."""
        cfg = self.config
        self.prototypes.normalize()
        if cfg.pair == "user-item":
            a, b = self.encode_query(batch.users), self.encode_item(batch.items)  # [B, D] each
        else:
            a, b = self._item_view(batch.items), self._item_view(batch.items)
        step = int(self.step)
        swav = self.swav_loss(self.prototypes(F.normalize(a, dim=-1), step),
                              self.prototypes(F.normalize(b, dim=-1), step))  # [B, K] scores each side
        terms = {"swav": swav}
        total = cfg.swav_weight * swav
        if cfg.infonce_weight > 0:
            terms["infonce"] = super().compute_loss(batch)["infonce"]
            total = total + cfg.infonce_weight * terms["infonce"]
        terms["total"] = total
        return terms

    def _item_view(self, items: torch.Tensor) -> torch.Tensor:
        """One dropout view: id-embedding dimensions and feature columns dropped at ``view_dropout``."""
        rate, n = self.config.view_dropout, len(items)
        keep = feature_dropout(n, len(self.item_columns), rate, self._generator)  # [B, C]
        # column 0 (the id) is thinned dimension-wise below instead of dropped whole
        dims = feature_dropout(n, self.config.dim, rate, self._generator).to(self.item_tower.id_embedding.weight.dtype)
        id_part = self.item_tower.id_embedding(items) * dims / (1 - rate)  # [B, D]
        feature_mask = keep[:, 1:] if self.item_tower.features is not None else None
        return self.item_tower(items, feature_mask=feature_mask, id_embedding=id_part)


def build_swav(config: SwavConfig, train: Interactions) -> SwavModel:
    """Build the model (with the items' log p for logQ)."""
    return build_two_tower(config, train, model_class=SwavModel)


RECIPE = Recipe(
    name="swav",
    description="two towers + SwAV swapped prediction of Sinkhorn prototype codes (user↔item or two item "
                "views), with InfoNCE as configured",
    source="Caron et al. NeurIPS 2020 (SwAV)",
    config_class=SwavConfig,
    build_model=build_swav,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
