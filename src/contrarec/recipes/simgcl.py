"""``simgcl`` and ``xsimgcl``: graph contrastive learning with signed uniform noise instead of graph views.

Both follow the reference code of the papers (SELFRec ``SimGCL.py`` / ``XSimGCL.py``): the readout averages
layers 1..K (not layer 0), the contrastive term is InfoNCE over the batch's unique users plus InfoNCE over
its unique positive items, and the L2 term is SELFRec's ``λ Σ_t ||E_t||_F / B`` on the batch's final user
and positive-item embeddings.

Shape legend: B batch, D dim, u / p unique batch users / positive items.
"""

from __future__ import annotations

import torch
from pydantic import Field

from contrarec.data.batches import Batch
from contrarec.encoders.propagation import PropagationOutput, PropagationView
from contrarec.objectives.infonce import info_nce_between_views
from contrarec.objectives.norm_penalty import frobenius_norm_penalty
from contrarec.recipes.graph_base import BatchRows, GraphRecallModel, GraphSettings, graph_recipe


class SimGCLConfig(GraphSettings):
    """Settings of ``simgcl`` (defaults: SimGCL paper on Yelp2018, 3 layers)."""

    temperature: float = Field(0.2, gt=0, description="InfoNCE temperature τ")
    ssl_weight: float = Field(0.5, ge=0, description="contrastive weight λ")
    noise_eps: float = Field(0.1, ge=0, description="noise magnitude ε (L2 norm of each row's noise)")


class XSimGCLConfig(SimGCLConfig):
    """Settings of ``xsimgcl`` (defaults: SELFRec leaderboard run on Yelp2018)."""

    temperature: float = Field(0.15, gt=0, description="InfoNCE temperature τ")
    ssl_weight: float = Field(0.2, ge=0, description="contrastive weight λ")
    noise_eps: float = Field(0.2, ge=0, description="noise magnitude ε")
    contrast_layer: int = Field(1, ge=0, description="layer l* contrasted with the final embeddings")


def _contrast(a: PropagationOutput, b_user: torch.Tensor, b_item: torch.Tensor, rows: BatchRows,
              temperature: float) -> torch.Tensor:
    """InfoNCE(users) + InfoNCE(positive items) between view a's readout and view b."""
    users = info_nce_between_views(a.user, b_user, temperature)  # over the u unique users
    pos = rows.positive_pos
    items = info_nce_between_views(a.item[pos], b_item[pos], temperature)  # over the p unique positives
    return users + items


class SimGCLModel(GraphRecallModel):
    r"""SimGCL: BPR on the clean propagation, InfoNCE between two noisy propagations.

    .. math:: \mathcal{L} = \mathcal{L}_{BPR}(\bar e) + \lambda\,[\mathrm{InfoNCE}(\bar e'_u, \bar e''_u)
              + \mathrm{InfoNCE}(\bar e'_i, \bar e''_i)] + \mathrm{reg},\quad
              e^k{}' = \tilde A e^{k-1}{}' + \epsilon\,\mathrm{sign}(e)\odot \frac{r}{\lVert r\rVert}

    Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for Recommendation",
    SIGIR 2022 (https://arxiv.org/abs/2112.08679). The three propagations share their first product and
    their backward (``contrarec.encoders.propagation``).
    """

    readout_from_input = False
    config: SimGCLConfig

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "bpr", "ssl", "reg"}``."""
        cfg, rows = self.config, self.batch_rows(batch)
        noisy = PropagationView(self.graph, noise_eps=cfg.noise_eps)
        clean, view1, view2 = self.encoder.propagate([PropagationView(self.graph), noisy, noisy],
                                                     rows.users, rows.items, self.generator)
        bpr, (u, i, _) = self.bpr_loss(clean, rows)
        ssl = cfg.ssl_weight * _contrast(view1, view2.user, view2.item, rows, cfg.temperature)
        reg = cfg.l2 * frobenius_norm_penalty(u, i)
        return {"total": bpr + ssl + reg, "bpr": bpr, "ssl": ssl, "reg": reg}


class XSimGCLModel(GraphRecallModel):
    r"""XSimGCL: one noisy propagation; BPR on its readout, InfoNCE between the readout and layer l*.

    .. math:: \mathcal{L} = \mathcal{L}_{BPR}(\bar e') + \lambda\,[\mathrm{InfoNCE}(\bar e'_u, e^{l^*}{}'_u)
              + \mathrm{InfoNCE}(\bar e'_i, e^{l^*}{}'_i)] + \mathrm{reg}

    Yu et al., "XSimGCL: Towards Extremely Simple Graph Contrastive Learning for Recommendation", TKDE 2023
    (https://arxiv.org/abs/2209.02544). Evaluation uses the clean propagation.
    """

    readout_from_input = False
    config: XSimGCLConfig

    def __init__(self, config: XSimGCLConfig, train) -> None:
        if config.contrast_layer > config.num_layers:
            raise ValueError(f"model.contrast_layer={config.contrast_layer} must be <= "
                             f"model.num_layers={config.num_layers}")
        super().__init__(config, train)

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "bpr", "ssl", "reg"}``."""
        cfg, rows = self.config, self.batch_rows(batch)
        out = self.encoder(self.graph, rows.users, rows.items, noise_eps=cfg.noise_eps, generator=self.generator,
                           tap_layer=cfg.contrast_layer)
        bpr, (u, i, _) = self.bpr_loss(out, rows)
        ssl = cfg.ssl_weight * _contrast(out, out.user_tap, out.item_tap, rows, cfg.temperature)
        reg = cfg.l2 * frobenius_norm_penalty(u, i)
        return {"total": bpr + ssl + reg, "bpr": bpr, "ssl": ssl, "reg": reg}


SIMGCL = graph_recipe("simgcl", "LightGCN + InfoNCE between two propagations perturbed by signed uniform noise",
                      "Yu et al. SIGIR 2022", SimGCLConfig, SimGCLModel)
XSIMGCL = graph_recipe("xsimgcl", "one noisy LightGCN propagation; InfoNCE between its readout and layer l*",
                       "Yu et al. TKDE 2023", XSimGCLConfig, XSimGCLModel)
