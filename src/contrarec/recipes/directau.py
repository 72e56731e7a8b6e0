"""``directau``: towers trained by alignment + γ·uniformity, no negatives (DirectAU)."""

from __future__ import annotations

import torch
from pydantic import Field

from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.objectives.alignment_uniformity import DirectAULoss
from contrarec.recipes.base import Recipe
from contrarec.recipes.two_tower import TowerPairModel, TowerSettings


class DirectAUConfig(TowerSettings):
    """Settings of ``directau`` (the loss normalises internally; scores use the raw tower outputs)."""

    gamma: float = Field(1.0, ge=0, description="uniformity weight γ (paper: 1 on Yelp2018, 5 on Gowalla)")
    normalize: bool = Field(False, description="L2-normalise the tower outputs also for scoring "
                            "(DirectAU scores with the raw embeddings)")


class DirectAUModel(TowerPairModel):
    r"""User and item towers optimised directly for alignment and uniformity.

    ``compute_loss`` returns ``align + γ · uniform`` over the batch's (user, item) pairs
    (:class:`~contrarec.objectives.alignment_uniformity.DirectAULoss`). Wang et al., "Towards
    Representation Alignment and Uniformity in Collaborative Filtering", KDD 2022
    (https://arxiv.org/abs/2206.12811); Wang & Isola, ICML 2020.
    """

    def __init__(self, config: DirectAUConfig, train: Interactions) -> None:
        super().__init__(config, train)
        self.loss_fn = DirectAULoss(gamma=config.gamma)

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "align", "uniform"}`` for the batch's pairs."""
        return self.loss_fn(self.encode_query(batch.users), self.encode_item(batch.items))  # [B, D] each


RECIPE = Recipe(
    name="directau",
    description="towers trained by alignment + γ·uniformity on normalised embeddings, no negatives",
    source="Wang et al. KDD 2022 (DirectAU); Wang & Isola ICML 2020",
    config_class=DirectAUConfig,
    build_model=DirectAUModel,
    train_defaults={"batch_size": 1024, "lr": 1e-3, "weight_decay": 1e-6},
)
