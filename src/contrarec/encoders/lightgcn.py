"""LightGCN encoder: ID embeddings, K parameter-free propagation layers, layer-mean readout.

He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation", SIGIR 2020,
https://arxiv.org/abs/2002.02126 (eq. 6–8): ``ē = Σ_k α_k Ã^k e⁰`` with α_k = 1/(K+1).

The encoder owns only the layer-0 embeddings. The graph and every perturbation are arguments of
:meth:`LightGCNEncoder.forward`: a dropped-edge / dropped-node graph (SGL), ``noise_eps`` (SimGCL), a tapped
layer (XSimGCL's l*), an input feature mask. Contrastive losses live in ``contrarec.objectives``.

Shape legend: U users, N items, D embedding dim, u / i requested user / item rows.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from contrarec.encoders.graph import BipartiteGraph
from contrarec.encoders.propagation import PropagationOutput, PropagationView, propagate


class LightGCNEncoder(nn.Module):
    """Layer-0 user/item embeddings propagated over a normalized bipartite graph.

    Args:
        num_users: U.
        num_items: N.
        dim: D.
        num_layers: K ≥ 1.
        readout_from_input: average layers 0..K (LightGCN, SGL; default) or 1..K (SELFRec's SimGCL and
            XSimGCL, whose published numbers this reproduces).

    Both tables are initialised Xavier-uniform, each on its own ``[U, D]`` / ``[N, D]`` shape, as in the
    LightGCN/SGL/SimGCL reference code (SimGCL §4.3: +3–4% over Gaussian init).

    Example:
        >>> import scipy.sparse as sp
        >>> from contrarec.encoders.graph import normalize_adjacency
        >>> graph = normalize_adjacency(sp.csr_matrix([[1, 0, 1], [0, 1, 1]]))
        >>> enc = LightGCNEncoder(2, 3, dim=4, num_layers=2)
        >>> out = enc(graph, users=torch.tensor([1]))
        >>> tuple(out.user.shape), tuple(out.item.shape)
        ((1, 4), (3, 4))
    """

    def __init__(self, num_users: int, num_items: int, dim: int, num_layers: int,
                 readout_from_input: bool = True) -> None:
        super().__init__()
        if min(num_users, num_items, dim, num_layers) < 1:
            raise ValueError(f"num_users, num_items, dim and num_layers must be >= 1, got "
                             f"{num_users}, {num_items}, {dim}, {num_layers}")
        self.num_layers = num_layers
        self.readout_from_input = readout_from_input
        self.user_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_users, dim)))
        self.item_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_items, dim)))

    def forward(self, graph: BipartiteGraph | Sequence[BipartiteGraph], users: torch.Tensor | None = None,
                items: torch.Tensor | None = None, noise_eps: float = 0.0,
                generator: torch.Generator | None = None, tap_layer: int | None = None,
                input_masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> PropagationOutput:
        """One view: readout ``[u, D]`` / ``[i, D]`` at the requested rows (all rows when None).

        Args:
            graph: the normalized graph, or one graph per layer (SGL random walk).
            users: ``[u]`` user rows to return; None = all U.
            items: ``[i]`` item rows to return; None = all N.
            noise_eps: SimGCL's ε, added after every layer (0 = clean).
            generator: random source of the noise.
            tap_layer: also return this layer's embeddings (XSimGCL's l*).
            input_masks: ``([U, D], [N, D])`` masks applied to the layer-0 embeddings.
        """
        view = PropagationView(graph, noise_eps, tap_layer, input_masks)
        return self.propagate([view], users, items, generator)[0]

    def propagate(self, views: Sequence[PropagationView], users: torch.Tensor | None = None,
                  items: torch.Tensor | None = None,
                  generator: torch.Generator | None = None) -> list[PropagationOutput]:
        """Several views at once; views over the same graph share the first product and the backward."""
        return propagate(self.user_weight, self.item_weight, views, self.num_layers, self.readout_from_input,
                         users, items, generator)
