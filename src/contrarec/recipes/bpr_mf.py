"""``bpr-mf``: matrix factorisation trained with BPR and one sampled negative (the classical baseline)."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from contrarec.config import Strict
from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.model import RecallModel
from contrarec.objectives.bpr import BPRLoss, l2_regularization
from contrarec.recipes.base import Recipe


class BPRMFConfig(Strict):
    """Settings of BPR-MF."""

    dim: int = Field(64, ge=1, description="embedding size D")
    l2: float = Field(1e-4, ge=0, description="L2 weight on the batch's embeddings")
    num_negatives: int = Field(1, ge=1, description="sampled negatives per positive")


class BPRMFModel(RecallModel):
    """``s(u, i) = e_u · e_i`` with Xavier-initialised tables (Rendle et al., UAI 2009)."""

    def __init__(self, config: BPRMFConfig, train: Interactions) -> None:
        super().__init__()
        self.config = config
        self.user_table = nn.Embedding(train.num_users, config.dim)
        self.item_table = nn.Embedding(train.num_items, config.dim)
        nn.init.xavier_uniform_(self.user_table.weight)
        nn.init.xavier_uniform_(self.item_table.weight)
        self.loss_fn = BPRLoss()

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """BPR + L2 on the batch's embeddings."""
        u = self.user_table(batch.users)  # [B, D]
        i = self.item_table(batch.items)  # [B, D]
        j = self.item_table(batch.negatives)  # [B, M, D]
        pos = (u * i).sum(-1)  # [B]
        neg = torch.einsum("bd,bmd->bm", u, j)  # [B, M]
        bpr = self.loss_fn(pos, neg)
        reg = self.config.l2 * l2_regularization(u, i, j.reshape(-1, j.shape[-1]))
        return {"total": bpr + reg, "bpr": bpr, "reg": reg}

    @torch.no_grad()
    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]``."""
        return self.user_table.weight.detach().clone()

    @torch.no_grad()
    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]``."""
        return self.item_table.weight.detach().clone()


RECIPE = Recipe(
    name="bpr-mf",
    description="matrix factorisation with BPR and one sampled negative",
    source="Rendle et al., UAI 2009",
    config_class=BPRMFConfig,
    build_model=BPRMFModel,
    batch_options=lambda cfg: {"num_negatives": cfg.num_negatives},
    train_defaults={"batch_size": 2048, "lr": 1e-3},
)
