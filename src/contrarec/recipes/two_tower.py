"""``two-tower``: ID (+ feature) towers trained with in-batch InfoNCE, logQ and accidental-hit masking."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field, model_validator

from contrarec.config import Strict
from contrarec.data.batches import Batch
from contrarec.data.features import FeatureTable
from contrarec.data.interactions import Interactions
from contrarec.encoders.tower import TowerEncoder
from contrarec.model import RecallModel
from contrarec.negatives.corrections import in_batch_log_q, mixture_log_q
from contrarec.negatives.gather import gather_in_batch
from contrarec.objectives.infonce import InfoNCELoss
from contrarec.recipes.base import Recipe


class TowerSettings(Strict):
    """Settings shared by every tower recipe (two-tower, moco, swav, directau, item2item, +ssl)."""

    dim: int = Field(64, ge=1, description="embedding size D")
    use_features: bool = Field(True, description="embed user / item features when the data has them")
    feature_dim: int = Field(16, ge=1, description="size of each feature column's embedding")
    mlp_hidden: list[int] = Field(default_factory=list, description="hidden sizes of each tower's MLP")
    projector: bool = Field(False, description="final linear projector in each tower")
    dropout: float = Field(0.0, ge=0, lt=1)
    normalize: bool = Field(True, description="L2-normalise the tower outputs (cosine)")
    init_std: float | None = Field(None, gt=0, description="normal init std of id tables (None = Xavier)")
    sparse_embeddings: bool = Field(False, description="sparse id-table gradients, updated row-wise by "
                                    "SparseAdam (large catalogues; no weight decay on those tables)")


def make_tower(settings: TowerSettings, num_ids: int, features: FeatureTable | None) -> TowerEncoder:
    """One tower for ``num_ids`` ids with these settings (features dropped when ``use_features`` is off)."""
    return TowerEncoder(num_ids, dim=settings.dim, features=features if settings.use_features else None,
                        feature_dim=settings.feature_dim, mlp_hidden=tuple(settings.mlp_hidden),
                        projector=settings.projector, dropout=settings.dropout, normalize=settings.normalize,
                        init_std=settings.init_std, sparse=settings.sparse_embeddings)


class TwoTowerConfig(TowerSettings):
    """Settings of the two-tower recipe.

    Temperature and hard negatives: the gradient of InfoNCE on negative j is proportional to its softmax
    weight ``exp(s_j / τ) / Σ exp(s / τ)``, so a small τ concentrates the loss on the hardest (highest
    scoring) negatives, pushing near neighbours apart (more uniform, less aligned), and a large τ spreads
    it evenly, tolerating near neighbours (better aligned, less uniform) (Wang & Liu, "Understanding the
    Behaviour of Contrastive Loss", CVPR 2021). ``num_hard_negatives``
    is the hard version: only the top-k negatives of each row stay in the softmax.
    """

    temperature: float = Field(0.1, gt=0, description="softmax temperature τ")
    learn_temperature: bool = Field(False, description="learn τ, clamped to [temperature_min, temperature_max]")
    temperature_min: float = Field(0.02, gt=0)
    temperature_max: float = Field(1.0, gt=0)
    log_q: bool = Field(True, description="logQ popularity correction (Yi et al. 2019)")
    mask_accidental_hits: bool = True
    num_uniform_negatives: int = Field(0, ge=0, description="M extra uniform negatives per batch (mixed)")
    in_batch_negatives: bool = Field(True, description="the batch's other positives are negatives; false = "
                                     "sampled softmax over the M uniform negatives only (YoutubeDNN)")
    symmetric: bool = Field(False, description="add the item->user InfoNCE term")
    num_hard_negatives: int | None = Field(None, ge=1, description="keep only the k hardest negatives")
    negatives: Literal["global", "local"] = Field(
        "global", description="distributed runs: global = every worker's in-batch items are negatives "
        "(as one process with the global batch); local = each worker's own batch only")

    @model_validator(mode="after")
    def _sampled_softmax_needs_samples(self) -> "TwoTowerConfig":
        if not self.in_batch_negatives and (self.num_uniform_negatives < 1 or self.symmetric):
            raise ValueError("in_batch_negatives=false leaves only the uniform negatives: set "
                             "num_uniform_negatives >= 1 (and symmetric=false)")
        return self


class TowerPairModel(RecallModel):
    """A user tower and an item tower built from :class:`TowerSettings`; the objective is the subclass's.

    Args:
        config: the tower settings (a recipe's config).
        train: training interactions (for features and the user / item counts).
    """

    def __init__(self, config: TowerSettings, train: Interactions) -> None:
        super().__init__()
        self.config = config
        self.normalized = config.normalize
        self.user_tower = make_tower(config, train.num_users, train.user_features)
        self.item_tower = make_tower(config, train.num_items, train.item_features)
        self.num_users, self.num_items = train.num_users, train.num_items

    def encode_query(self, users: torch.Tensor) -> torch.Tensor:
        """``[B] -> [B, D]`` user embeddings."""
        return self.user_tower(users)

    def encode_item(self, items: torch.Tensor) -> torch.Tensor:
        """``[B] -> [B, D]`` item embeddings."""
        return self.item_tower(items)

    @torch.no_grad()
    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]``."""
        return self.user_tower.encode_all(self.num_users)

    @torch.no_grad()
    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]``."""
        return self.item_tower.encode_all(self.num_items)


class TwoTowerModel(TowerPairModel):
    """Query (user) and item towers whose normalised outputs meet in a temperature-scaled softmax.

    Args:
        config: the recipe settings.
        train: training interactions (for features and the item count).
    """

    def __init__(self, config: TwoTowerConfig, train: Interactions) -> None:
        super().__init__(config, train)
        self.log_tau = torch.nn.Parameter(torch.tensor(math.log(config.temperature)),
                                          requires_grad=config.learn_temperature)
        self.loss_fn = InfoNCELoss(symmetric=config.symmetric, num_hard_negatives=config.num_hard_negatives,
                                   in_batch_negatives=config.in_batch_negatives)

    @property
    def temperature(self) -> torch.Tensor:
        """τ, clamped to the configured range when learnt."""
        tau = self.log_tau.exp()
        if self.config.learn_temperature:
            tau = tau.clamp(self.config.temperature_min, self.config.temperature_max)
        return tau

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """In-batch InfoNCE, with logQ, accidental-hit masking and optional mixed negatives."""
        cfg = self.config
        query = self.encode_query(batch.users)  # [B, D]
        key = self.encode_item(batch.items)  # [B, D]
        g = gather_in_batch(key, batch.items, batch.item_log_q, query if cfg.symmetric else None, batch.users,
                            enabled=cfg.negatives == "global")  # keys [W·B, D]; one process: unchanged
        extra_keys = extra_ids = extra_log_q = key_log_q = None
        if batch.uniform_items is not None:
            extra_keys = self.encode_item(batch.uniform_items)  # [M, D]
            extra_ids = batch.uniform_items
        if cfg.log_q:
            B = len(g.keys) if cfg.in_batch_negatives else 0  # popularity-drawn negatives per row
            M = 0 if batch.uniform_items is None else len(batch.uniform_items)
            key_log_q = mixture_log_q(g.key_log_p, B, M, self.num_items) if M else in_batch_log_q(g.key_log_p, B)
            if M:
                extra_log_q = mixture_log_q(self._log_p[batch.uniform_items], B, M, self.num_items)
        loss = self.loss_fn(query, g.keys, temperature=self.temperature,
                            key_ids=g.key_ids if cfg.mask_accidental_hits else None, key_log_q=key_log_q,
                            extra_keys=extra_keys, extra_ids=extra_ids, extra_log_q=extra_log_q,
                            query_ids=g.query_ids if cfg.mask_accidental_hits else None,
                            positive_offset=g.offset, all_queries=g.queries)
        return {"total": loss, "infonce": loss}

    def set_item_log_p(self, log_p: torch.Tensor) -> None:
        """``[N]`` log p of every item, needed for logQ of uniform negatives."""
        self.register_buffer("_log_p", log_p, persistent=False)


def build_two_tower(config: TwoTowerConfig, train: Interactions,
                    model_class: type[TwoTowerModel] | None = None) -> TwoTowerModel:
    """Build the model (``model_class``, a :class:`TwoTowerModel` by default) with the items' log p attached."""
    from contrarec.data.batches import item_log_probabilities

    model = (model_class or TwoTowerModel)(config, train)
    model.set_item_log_p(torch.from_numpy(item_log_probabilities(train.item_popularity())))
    return model


RECIPE = Recipe(
    name="two-tower",
    description="ID + feature towers, in-batch InfoNCE with temperature, logQ and accidental-hit masking",
    source="Yi et al. RecSys 2019 (logQ); Yang et al. WWW 2020 (mixed negatives); van den Oord et al. 2018",
    config_class=TwoTowerConfig,
    build_model=build_two_tower,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
