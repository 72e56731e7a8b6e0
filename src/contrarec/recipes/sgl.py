"""``sgl-nd``, ``sgl-ed``, ``sgl-rw``: LightGCN + InfoNCE between two graph views redrawn every epoch.

Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021 (https://arxiv.org/abs/2010.10783).
The views are node dropout, edge dropout, or an independent edge dropout per layer (random walk)
(``contrarec.views.graph_views``); ``feature_mask_rate > 0`` also masks the layer-0 embedding dimensions of
each view (graph feature masking).

Shape legend: B batch, D dim, U users, N items, u / p unique batch users / positive items.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from pydantic import Field

from contrarec.data.batches import Batch
from contrarec.encoders.graph import BipartiteGraph
from contrarec.encoders.propagation import PropagationView
from contrarec.objectives.infonce import info_nce_between_views
from contrarec.recipes.base import Recipe
from contrarec.recipes.graph_base import GraphRecallModel, GraphSettings, gather_rows, graph_recipe
from contrarec.views.graph_views import (GraphView, edge_dropout, embedding_feature_masks, node_dropout,
                                         random_walk)


class SGLConfig(GraphSettings):
    """Settings of the SGL recipes (defaults: SGL on Yelp2018)."""

    temperature: float = Field(0.2, gt=0, description="InfoNCE temperature τ")
    ssl_weight: float = Field(0.1, ge=0, description="contrastive weight λ")
    drop_rate: float = Field(0.1, ge=0, lt=1, description="node / edge drop rate ρ")
    feature_mask_rate: float = Field(0.0, ge=0, lt=1, description="also mask this share of each view's "
                                     "layer-0 embedding coordinates (0 = off)")
    ssl_negatives: Literal["batch", "all"] = Field(
        "batch", description="InfoNCE denominator: the batch's distinct users / items (SELFRec), or every user / "
        "item of the second view, anchors with repeats (the SGL authors' code; slower: full-graph views)")


ViewFn = Callable[[BipartiteGraph, float, int, torch.Generator], GraphView]

_VIEWS: dict[str, ViewFn] = {
    "nd": lambda g, rate, layers, gen: node_dropout(g, rate, gen),
    "ed": lambda g, rate, layers, gen: edge_dropout(g, rate, gen),
    "rw": lambda g, rate, layers, gen: random_walk(g, rate, layers, gen),
}


class SGLModel(GraphRecallModel):
    r"""SGL: BPR on the clean graph plus InfoNCE between two perturbed graphs.

    .. math:: \mathcal{L} = \mathcal{L}_{BPR}(\bar e) + \lambda\,[\mathrm{InfoNCE}_\tau(z'_u, z''_u)
              + \mathrm{InfoNCE}_\tau(z'_i, z''_i)] + \lambda_2\,\frac{\lVert e^0_{u,i,j}\rVert^2}{2B}

    with z', z'' the readouts of the two views at the batch's unique users and positive items (SGL eq. 9–10);
    with ``ssl_negatives="all"`` the anchors are the batch's users and positives (repeats kept) and the
    denominator runs over every user / item of the second view, as in the authors' code.

    Args:
        config: settings.
        train: training interactions.
        augmentation: ``"nd"``, ``"ed"`` or ``"rw"``.
    """

    config: SGLConfig

    def __init__(self, config: SGLConfig, train, augmentation: str) -> None:
        super().__init__(config, train)
        if augmentation not in _VIEWS:
            raise ValueError(f"augmentation must be one of {sorted(_VIEWS)}, got {augmentation!r}")
        self.augmentation = augmentation
        self.views: tuple[PropagationView, PropagationView] | None = None

    def draw_views(self, generator: torch.Generator) -> tuple[PropagationView, PropagationView]:
        """Two independent views of the train graph (and feature masks when enabled)."""
        cfg, make = self.config, _VIEWS[self.augmentation]
        views = []
        for _ in range(2):
            graph = make(self.graph, cfg.drop_rate, cfg.num_layers, generator).graph
            masks = None
            if cfg.feature_mask_rate > 0:
                masks = embedding_feature_masks(self.graph.num_users, self.graph.num_items, cfg.dim,
                                                cfg.feature_mask_rate, generator)
            views.append(PropagationView(graph, input_masks=masks))
        return views[0], views[1]

    def on_epoch_start(self, epoch: int, generator: torch.Generator) -> None:
        """Redraw the two views (SGL draws them once per epoch)."""
        super().on_epoch_start(epoch, generator)
        self.views = self.draw_views(generator)

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "bpr", "ssl", "reg"}``."""
        cfg, rows = self.config, self.batch_rows(batch)
        if self.views is None:
            self.views = self.draw_views(self.generator)
        if cfg.ssl_negatives == "batch":
            clean, view1, view2 = self.encoder.propagate([PropagationView(self.graph, tap_layer=0), *self.views],
                                                         rows.users, rows.items, self.generator)
            pos = rows.positive_pos
            ssl = (info_nce_between_views(view1.user, view2.user, cfg.temperature)
                   + info_nce_between_views(view1.item[pos], view2.item[pos], cfg.temperature))
        else:  # every node of view 2 in the denominator: the views are propagated for all rows
            clean = self.encoder(self.graph, rows.users, rows.items, tap_layer=0)
            view1, view2 = self.encoder.propagate(list(self.views), generator=self.generator)
            ssl = (info_nce_between_views(gather_rows(view1.user, batch.users), view2.user, cfg.temperature,
                                          batch.users)
                   + info_nce_between_views(gather_rows(view1.item, batch.items), view2.item, cfg.temperature,
                                            batch.items))
        bpr, _ = self.bpr_loss(clean, rows)
        ssl = cfg.ssl_weight * ssl
        reg = self.layer0_l2(clean, rows)
        return {"total": bpr + ssl + reg, "bpr": bpr, "ssl": ssl, "reg": reg}


#: SGL's recall stays near zero through epoch 10 (Yelp2018) to 12 (Gowalla, node dropout) before it climbs;
#: early stopping must not end a run inside that stall.
SGL_MIN_EPOCHS = 20


def _recipe(augmentation: str, what: str) -> Recipe:
    return graph_recipe(f"sgl-{augmentation}",
                        f"LightGCN + InfoNCE between two {what} views redrawn every epoch (SGL-{augmentation.upper()})",
                        "Wu et al. SIGIR 2021", SGLConfig, lambda config, train: SGLModel(config, train, augmentation),
                        min_epochs=SGL_MIN_EPOCHS)


SGL_ND = _recipe("nd", "node-dropout")
SGL_ED = _recipe("ed", "edge-dropout")
SGL_RW = _recipe("rw", "random-walk (per-layer edge-dropout)")
