"""SGL's graph views: node dropout, edge dropout and random walk (layer-wise edge dropout).

Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021, §3.2.1
(https://arxiv.org/abs/2010.10783). Each view keeps a random subset of the training edges and is
re-normalized with the degrees of what it kept (``D'^-1/2 A' D'^-1/2``). A view only ever removes edges,
so it never sees an interaction that is not in the training graph.

All functions are pure and vectorised over the edges: they take the training graph, a rate ρ and an explicit
``torch.Generator``, and return a :class:`GraphView` holding the new graph(s) and the masks used. As in the
SGL and SELFRec code, exactly ``round(ρ·E)`` edges (``round(ρ·U)`` users, ``round(ρ·N)`` items) are dropped.

Shape legend: U users, N items, E edges, K layers, D embedding dim.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from contrarec.encoders.graph import BipartiteGraph
from contrarec.views.feature_masking import feature_dropout


class GraphView(NamedTuple):
    """A perturbed graph and the masks that made it.

    Attributes:
        graph: the re-normalized graph, or one graph per layer (random walk).
        edge_mask: ``[E]`` bool (``[K, E]`` for a random walk): True = edge kept.
        user_mask: ``[U]`` bool, True = user kept (node dropout only, else None).
        item_mask: ``[N]`` bool, True = item kept (node dropout only, else None).
    """

    graph: BipartiteGraph | tuple[BipartiteGraph, ...]
    edge_mask: torch.Tensor
    user_mask: torch.Tensor | None = None
    item_mask: torch.Tensor | None = None


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"drop rate must lie in [0, 1), got {rate}")


def keep_mask(size: int, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[size]`` bool mask with exactly ``size - round(rate * size)`` True entries at random positions."""
    _check_rate(rate)
    drop = torch.randperm(size, generator=generator)[: int(round(rate * size))]
    mask = torch.ones(size, dtype=torch.bool)
    mask[drop] = False
    return mask


def edge_dropout(graph: BipartiteGraph, rate: float, generator: torch.Generator | None = None) -> GraphView:
    """SGL-ED: drop ``round(ρ·E)`` random edges (both directions of each), re-normalize.

    Example:
        >>> import scipy.sparse as sp
        >>> from contrarec.encoders.graph import normalize_adjacency
        >>> g = normalize_adjacency(sp.csr_matrix([[1, 1], [1, 0]]))
        >>> view = edge_dropout(g, 1 / 3, torch.Generator().manual_seed(0))
        >>> view.graph.num_edges, int(view.edge_mask.sum())
        (2, 2)
    """
    mask = keep_mask(graph.num_edges, rate, generator)
    return GraphView(graph.subgraph(mask), mask)


def node_dropout(graph: BipartiteGraph, rate: float, generator: torch.Generator | None = None) -> GraphView:
    """SGL-ND: drop ``round(ρ·U)`` users and ``round(ρ·N)`` items with all their edges, re-normalize."""
    user_mask = keep_mask(graph.num_users, rate, generator)
    item_mask = keep_mask(graph.num_items, rate, generator)
    edges = user_mask[graph.edge_users] & item_mask[graph.edge_items]  # [E]
    return GraphView(graph.subgraph(edges), edges, user_mask, item_mask)


def random_walk(graph: BipartiteGraph, rate: float, num_layers: int,
                generator: torch.Generator | None = None) -> GraphView:
    """SGL-RW: an independent edge dropout for each of the K layers (a different subgraph per hop)."""
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    masks = torch.stack([keep_mask(graph.num_edges, rate, generator) for _ in range(num_layers)])  # [K, E]
    return GraphView(tuple(graph.subgraph(m) for m in masks), masks)


def embedding_feature_masks(num_users: int, num_items: int, dim: int, rate: float,
                            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Graph feature masking: float keep-masks ``([U, D], [N, D])`` over the layer-0 embedding dimensions.

    Each coordinate is dropped with probability ``rate``; propagating the masked embeddings over the full
    graph gives the view (attribute masking of GRACE, Zhu et al. 2020, https://arxiv.org/abs/2006.04131,
    applied to ID embeddings).
    """
    users = feature_dropout(num_users, dim, rate, generator).to(torch.float32)
    items = feature_dropout(num_items, dim, rate, generator).to(torch.float32)
    return users, items
