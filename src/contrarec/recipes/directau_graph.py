"""``directau-graph``: alignment + γ·uniformity on LightGCN-propagated embeddings (DirectAU's graph encoder).

Shape legend: B batch, D dim, u / i unique batch users / positive items.
"""

from __future__ import annotations

import torch
from pydantic import Field

from contrarec.data.batches import Batch
from contrarec.objectives.alignment_uniformity import DirectAULoss
from contrarec.objectives.bpr import l2_regularization
from contrarec.recipes.graph_base import GraphRecallModel, GraphSettings, dense_unique, gather_rows, graph_recipe


class DirectAUGraphConfig(GraphSettings):
    """Settings of ``directau-graph`` (defaults: SELFRec's DirectAU with a LightGCN encoder on Yelp2018)."""

    gamma: float = Field(2.0, ge=0, description="uniformity weight γ")
    l2: float = Field(0.0, ge=0, description="L2 weight on the batch's layer-0 rows (the paper uses "
                      "optimizer weight decay instead: set train.weight_decay)")


class DirectAUGraphModel(GraphRecallModel):
    r"""LightGCN encoder, no negatives: align each (user, item) pair, spread users and items on the sphere.

    .. math:: \mathcal{L} = \frac{1}{B}\sum_b \lVert \tilde e_u - \tilde e_i\rVert^2
              + \frac{\gamma}{2}\Big(\log \frac{1}{B^2}\sum_{b,b'} e^{-2\lVert \tilde e_u - \tilde e_{u'}\rVert^2}
              + \log \frac{1}{B^2}\sum_{b,b'} e^{-2\lVert \tilde e_i - \tilde e_{i'}\rVert^2}\Big)

    with :math:`\tilde e = \bar e / \lVert \bar e\rVert` of the layer-mean LightGCN readout
    (:class:`~contrarec.objectives.alignment_uniformity.DirectAULoss`). Wang et al., "Towards
    Representation Alignment and Uniformity in Collaborative Filtering", KDD 2022
    (https://arxiv.org/abs/2206.12811), which reports DirectAU with MF and with LightGCN encoders.
    The graph recipes' sampled negative is drawn but not read.
    """

    def __init__(self, config: DirectAUGraphConfig, train) -> None:
        super().__init__(config, train)
        self.loss = DirectAULoss(config.gamma)

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "align", "uniform", "reg"}``."""
        enc = self.encoder
        users, user_pos = dense_unique(batch.users, enc.user_weight.shape[0])  # [u], [B]
        items, item_pos = dense_unique(batch.items, enc.item_weight.shape[0])  # [i], [B]
        out = enc(self.graph, users, items)
        terms = self.loss(gather_rows(out.user, user_pos), gather_rows(out.item, item_pos))  # [B, D] pairs
        reg = self.config.l2 * l2_regularization(gather_rows(enc.user_weight, batch.users),
                                                  gather_rows(enc.item_weight, batch.items))
        return {"total": terms["total"] + reg, "align": terms["align"], "uniform": terms["uniform"], "reg": reg}


RECIPE = graph_recipe("directau-graph", "LightGCN encoder trained by alignment + uniformity (no negatives)",
                      "Wang et al. KDD 2022", DirectAUGraphConfig, DirectAUGraphModel)
