"""Non-learnt reference recipes: ``most-popular`` and ``random``."""

from __future__ import annotations

import torch
from pydantic import Field

from contrarec.config import Strict
from contrarec.data.interactions import Interactions
from contrarec.model import RecallModel
from contrarec.recipes.base import Recipe


class PopularityConfig(Strict):
    """MostPopular has no settings."""


class RandomConfig(Strict):
    """Settings of the random recommender."""

    seed: int = Field(0, description="seed of the random scores")


class MostPopularModel(RecallModel):
    """Scores every item by its training interaction count, the same for every user."""

    def __init__(self, config: PopularityConfig, train: Interactions) -> None:
        super().__init__()
        self.num_users = train.num_users
        pop = torch.from_numpy(train.item_popularity().astype("float32"))
        self.register_buffer("popularity", pop)

    def user_embeddings(self) -> torch.Tensor:
        """``[U, 1]`` ones: score = popularity."""
        return torch.ones(self.num_users, 1)

    def item_embeddings(self) -> torch.Tensor:
        """``[N, 1]`` popularity counts."""
        return self.popularity.unsqueeze(1)


class RandomModel(RecallModel):
    """Uniformly random scores, fixed by a seed (a floor any model must clear)."""

    def __init__(self, config: RandomConfig, train: Interactions) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(config.seed)
        self.register_buffer("user_table", torch.randn(train.num_users, 8, generator=gen))
        self.register_buffer("item_table", torch.randn(train.num_items, 8, generator=gen))

    def user_embeddings(self) -> torch.Tensor:
        """``[U, 8]`` random vectors."""
        return self.user_table

    def item_embeddings(self) -> torch.Tensor:
        """``[N, 8]`` random vectors."""
        return self.item_table


MOST_POPULAR = Recipe(name="most-popular", description="rank items by training popularity (no learning)",
                      source="the standard popularity baseline", config_class=PopularityConfig,
                      build_model=MostPopularModel, train_defaults={"epochs": 1, "patience": 0})
RANDOM = Recipe(name="random", description="random scores (the floor)", source="-", config_class=RandomConfig,
                build_model=RandomModel, train_defaults={"epochs": 1, "patience": 0})
