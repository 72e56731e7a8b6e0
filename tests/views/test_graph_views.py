import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.encoders.graph import normalize_adjacency, normalize_edges
from contrarec.views.graph_views import (edge_dropout, embedding_feature_masks, keep_mask, node_dropout,
                                         random_walk)


@pytest.fixture
def graph():
    rng = np.random.default_rng(0)
    r = (rng.random((40, 30)) < 0.2).astype(float)
    return normalize_adjacency(sp.csr_matrix(r))


def edges_of(g):
    return set(zip(g.edge_users.tolist(), g.edge_items.tolist()))


def assert_is_normalized_subgraph(view_graph, kept_users, kept_items):
    """The view equals normalizing its own kept edges from scratch, and it is symmetric."""
    ref = normalize_edges(kept_users, kept_items, view_graph.num_users, view_graph.num_items)
    dense = view_graph.to_dense()
    torch.testing.assert_close(dense, ref.to_dense())
    torch.testing.assert_close(dense, dense.T)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5])
def test_edge_dropout_rate_and_no_leakage(graph, rate):
    view = edge_dropout(graph, rate, torch.Generator().manual_seed(1))
    assert int(view.edge_mask.sum()) == graph.num_edges - round(rate * graph.num_edges)
    assert edges_of(view.graph) <= edges_of(graph)  # a view only removes edges
    kept_u, kept_i = graph.edge_users[view.edge_mask], graph.edge_items[view.edge_mask]
    assert edges_of(view.graph) == set(zip(kept_u.tolist(), kept_i.tolist()))
    assert_is_normalized_subgraph(view.graph, kept_u, kept_i)


def test_node_dropout_removes_every_edge_of_dropped_nodes(graph):
    view = node_dropout(graph, 0.2, torch.Generator().manual_seed(2))
    assert int((~view.user_mask).sum()) == round(0.2 * 40) and int((~view.item_mask).sum()) == round(0.2 * 30)
    for u, i in edges_of(view.graph):
        assert view.user_mask[u] and view.item_mask[i]
    expected = {(u, i) for u, i in edges_of(graph) if view.user_mask[u] and view.item_mask[i]}
    assert edges_of(view.graph) == expected
    dropped_users = torch.nonzero(~view.user_mask).flatten()
    assert view.graph.to_dense()[dropped_users].abs().sum() == 0
    assert_is_normalized_subgraph(view.graph, view.graph.edge_users, view.graph.edge_items)


def test_random_walk_draws_one_mask_per_layer(graph):
    view = random_walk(graph, 0.3, 3, torch.Generator().manual_seed(3))
    assert view.edge_mask.shape == (3, graph.num_edges) and len(view.graph) == 3
    assert not torch.equal(view.edge_mask[0], view.edge_mask[1])
    for mask, g in zip(view.edge_mask, view.graph):
        assert int(mask.sum()) == graph.num_edges - round(0.3 * graph.num_edges)
        assert edges_of(g) <= edges_of(graph)
        assert_is_normalized_subgraph(g, graph.edge_users[mask], graph.edge_items[mask])


@pytest.mark.parametrize("fn", [lambda g, gen: edge_dropout(g, 0.2, gen), lambda g, gen: node_dropout(g, 0.2, gen),
                                lambda g, gen: random_walk(g, 0.2, 2, gen)])
def test_deterministic_under_generator_and_pure(graph, fn):
    before = graph.to_dense().clone()
    a = fn(graph, torch.Generator().manual_seed(9))
    b = fn(graph, torch.Generator().manual_seed(9))
    c = fn(graph, torch.Generator().manual_seed(10))
    assert torch.equal(a.edge_mask, b.edge_mask) and not torch.equal(a.edge_mask, c.edge_mask)
    torch.testing.assert_close(graph.to_dense(), before)


def test_keep_mask_and_rate_validation():
    assert keep_mask(10, 0.0).all()
    with pytest.raises(ValueError, match="drop rate"):
        keep_mask(10, 1.0)


def test_feature_masks_rate():
    mu, mi = embedding_feature_masks(500, 400, 64, 0.25, torch.Generator().manual_seed(0))
    assert mu.shape == (500, 64) and mi.shape == (400, 64)
    assert abs(float(1 - mu.mean()) - 0.25) < 0.01 and set(mu.unique().tolist()) <= {0.0, 1.0}
