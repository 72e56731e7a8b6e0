"""``lightgcn``: LightGCN trained with BPR, one sampled negative and L2 on the batch's layer-0 embeddings."""

from __future__ import annotations

import torch

from contrarec.data.batches import Batch
from contrarec.recipes.graph_base import GraphRecallModel, GraphSettings, graph_recipe


class LightGCNConfig(GraphSettings):
    """Settings of ``lightgcn`` (defaults: the paper's Yelp2018 / Gowalla runs)."""


class LightGCNModel(GraphRecallModel):
    r"""LightGCN: ``ē = (1/(K+1)) Σ_k Ã^k e⁰``, scores ``ē_u · ē_i``.

    .. math:: \mathcal{L} = -\frac{1}{B}\sum_b \log\sigma(\bar e_u^\top \bar e_i - \bar e_u^\top \bar e_j)
              + \lambda\,\frac{\lVert e^0_u\rVert^2 + \lVert e^0_i\rVert^2 + \lVert e^0_j\rVert^2}{2B}

    He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation",
    SIGIR 2020 (https://arxiv.org/abs/2002.02126), eq. 15.
    """

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "bpr", "reg"}``."""
        rows = self.batch_rows(batch)
        out = self.encoder(self.graph, rows.users, rows.items, tap_layer=0)
        bpr, _ = self.bpr_loss(out, rows)
        reg = self.layer0_l2(out, rows)
        return {"total": bpr + reg, "bpr": bpr, "reg": reg}


RECIPE = graph_recipe("lightgcn", "LightGCN graph encoder (3 layers, layer mean) with BPR and one sampled negative",
                      "He et al. SIGIR 2020", LightGCNConfig, LightGCNModel, sampling="user")
