"""``two-tower+item-ssl`` / ``two-tower+user-ssl``: two-tower InfoNCE + α · InfoNCE between masked views."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from contrarec.config import ConfigError
from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.encoders.history import HistoryBagEncoder, padded_histories
from contrarec.objectives.infonce import info_nce_between_views
from contrarec.recipes.base import Recipe
from contrarec.recipes.tower_views import column_mi_table, encode_view, view_columns
from contrarec.recipes.two_tower import TwoTowerConfig, TwoTowerModel, build_two_tower
from contrarec.views.feature_masking import two_views
from contrarec.views.history import history_crop, history_drop


class SSLConfig(TwoTowerConfig):
    """Two-tower settings plus the self-supervised auxiliaries (Yao et al. 2021)."""

    item_ssl_weight: float = Field(0.0, ge=0, description="α of the item-side SSL term (0 = off)")
    user_ssl_weight: float = Field(0.0, ge=0, description="α of the user-side SSL term (0 = off)")
    ssl_temperature: float = Field(0.1, gt=0, description="τ of the SSL InfoNCE")
    ssl_batch_size: int = Field(256, ge=2, description="items (users) drawn uniformly per step for SSL")
    masking: Literal["dropout", "rfm", "cfm"] = Field("rfm", description="how the two views mask columns "
                                                       "(the id, the history bag and the features)")
    feature_dropout_rate: float = Field(0.1, ge=0, lt=1, description="drop rate of masking=dropout")
    user_history: bool = Field(False, description="user tower adds a bag of the user's training items")
    max_history: int = Field(50, ge=1, description="most recent items in the history bag")
    history_augment: Literal["drop", "crop", "none"] = Field("drop", description="history view for user SSL")
    history_rate: float = Field(0.2, ge=0, lt=1, description="drop rate (drop) or share cut away (crop)")


class ItemSSLConfig(SSLConfig):
    """``two-tower+item-ssl`` defaults."""

    item_ssl_weight: float = Field(0.1, ge=0, description="α of the item-side SSL term")


class UserSSLConfig(SSLConfig):
    """``two-tower+user-ssl`` defaults."""

    user_ssl_weight: float = Field(0.1, ge=0, description="α of the user-side SSL term")
    user_history: bool = Field(True, description="user tower adds a bag of the user's training items")


class SSLTwoTowerModel(TwoTowerModel):
    r"""Two-tower InfoNCE plus InfoNCE between two masked views of uniformly sampled items (and users).

    .. math:: \mathcal{L} = \mathcal{L}_{\text{rec}} + \alpha_{item}\,\mathcal{L}_{ssl}(I) +
        \alpha_{user}\,\mathcal{L}_{ssl}(U),\quad
        \mathcal{L}_{ssl}(I) = -\frac1S\sum_{i\in I}\log\frac{e^{z'_i{}^\top z''_i/\tau}}{\sum_{j\in I}
        e^{z'_i{}^\top z''_j/\tau}}

    I is an auxiliary batch of S items drawn uniformly without replacement from the catalogue (not by
    popularity: that is what lets the SSL term reach tail items), z', z'' the tower outputs of two views
    that mask columns (the id, the features; for users also the history bag, whose items are dropped or
    cropped in each view) by dropout, RFM or CFM. Yao et al., "Self-supervised Learning for Large-scale
    Item Recommendations", CIKM 2021 (https://arxiv.org/abs/2007.12865).
    """

    def __init__(self, config: SSLConfig, train: Interactions) -> None:
        super().__init__(config, train)
        self.history = None
        if config.user_history:
            hist = padded_histories(train.users, train.items, train.num_users, config.max_history, train.timestamps)
            self.history = HistoryBagEncoder(train.num_items, config.dim, hist)
        self.item_columns = view_columns(self.item_tower)
        self.user_columns = view_columns(self.user_tower, ("history",) if self.history is not None else ())
        for side, weight, columns in (("item", config.item_ssl_weight, self.item_columns),
                                      ("user", config.user_ssl_weight, self.user_columns)):
            if weight > 0 and len(columns) < 2:
                raise ConfigError(f"model.{side}_ssl_weight={weight}: {side} SSL needs at least two maskable "
                                  f"columns, but the {side} tower has only {columns} (no {side} features"
                                  + (" and model.user_history is off" if side == "user" else "") + ")")
        if config.masking == "cfm":
            self.register_buffer("item_mi", column_mi_table(train.item_features if config.use_features else None),
                                 persistent=False)
            self.register_buffer("user_mi", column_mi_table(train.user_features if config.use_features else None,
                                                            num_extra=1 + (self.history is not None)),
                                 persistent=False)
        self._generator = torch.Generator().manual_seed(0)

    def on_epoch_start(self, epoch: int, generator: torch.Generator) -> None:
        """Keep the trainer's per-epoch generator for the auxiliary batches and views."""
        self._generator = generator

    def encode_query(self, users: torch.Tensor) -> torch.Tensor:
        """``[B] -> [B, D]``; with a history bag the id embedding is ``E_user[u] + bag(u)``."""
        if self.history is None:
            return self.user_tower(users)
        return self.user_tower(users, id_embedding=self.user_tower.id_embedding(users) + self.history(users))

    @torch.no_grad()
    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]`` (full histories, no masking)."""
        rows = torch.arange(self.num_users)
        return torch.cat([self.encode_query(rows[s:s + 65536]) for s in range(0, self.num_users, 65536)])

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "infonce", "ssl_item", "ssl_user"}`` (the SSL terms only when their weight is > 0)."""
        cfg = self.config
        terms = super().compute_loss(batch)
        total = terms["total"]
        if cfg.item_ssl_weight > 0:
            terms["ssl_item"] = self._item_ssl()
            total = total + cfg.item_ssl_weight * terms["ssl_item"]
        if cfg.user_ssl_weight > 0:
            terms["ssl_user"] = self._user_ssl()
            total = total + cfg.user_ssl_weight * terms["ssl_user"]
        terms["total"] = total
        return terms

    def _masks(self, num_rows: int, columns: list[str], mi: str) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        return two_views(cfg.masking, num_rows, len(columns), self._generator, rate=cfg.feature_dropout_rate,
                         mi_table=getattr(self, mi, None))

    def _uniform(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self._generator)[: self.config.ssl_batch_size]  # [S]

    def _item_ssl(self) -> torch.Tensor:
        items = self._uniform(self.num_items)
        keep_a, keep_b = self._masks(len(items), self.item_columns, "item_mi")
        za = encode_view(self.item_tower, items, keep_a)  # [S, D]
        zb = encode_view(self.item_tower, items, keep_b)  # [S, D]
        return info_nce_between_views(za, zb, self.config.ssl_temperature)

    def _user_ssl(self) -> torch.Tensor:
        users = self._uniform(self.num_users)
        keep_a, keep_b = self._masks(len(users), self.user_columns, "user_mi")
        views = []
        for keep in (keep_a, keep_b):
            extra = [] if self.history is None else [self.history.encode(self._augment(self.history.histories[users]))]
            views.append(encode_view(self.user_tower, users, keep, extra))  # [S, D]
        return info_nce_between_views(views[0], views[1], self.config.ssl_temperature)

    def _augment(self, history: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.history_augment == "drop":
            return history_drop(history, cfg.history_rate, self._generator)[0]
        if cfg.history_augment == "crop":
            return history_crop(history, 1.0 - cfg.history_rate, self._generator)[0]
        return history


def build_ssl_two_tower(config: SSLConfig, train: Interactions) -> SSLTwoTowerModel:
    """Build the model (with the items' log p for logQ)."""
    return build_two_tower(config, train, model_class=SSLTwoTowerModel)


_SOURCE = "Yao et al. CIKM 2021 (SSL for large-scale item recommendations)"
ITEM_SSL = Recipe(
    name="two-tower+item-ssl",
    description="two-tower + α·InfoNCE between two masked views (dropout / RFM / CFM) of uniformly sampled items",
    source=_SOURCE, config_class=ItemSSLConfig, build_model=build_ssl_two_tower,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
USER_SSL = Recipe(
    name="two-tower+user-ssl",
    description="two-tower with a history-bag user tower + α·InfoNCE between masked / dropped-history user views",
    source=_SOURCE + "; Xie et al. ICDE 2022 (CL4SRec history crop/mask)",
    config_class=UserSSLConfig, build_model=build_ssl_two_tower,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
