import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.encoders.graph import normalize_adjacency
from contrarec.encoders.lightgcn import LightGCNEncoder
from contrarec.encoders.propagation import PropagationView, propagate
from contrarec.views.embedding_noise import sign_uniform_noise
from contrarec.views.graph_views import edge_dropout

U, N, D = 7, 6, 3


def tiny_graph(seed=0, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    r = (rng.random((U, N)) < 0.4).astype(float)
    r[np.arange(U), np.arange(U) % N] = 1  # no isolated user
    return normalize_adjacency(sp.csr_matrix(r), dtype=dtype)


def dense_reference(user0, item0, graphs, k_layers, from_input, eps=0.0, gen=None, tap=None, masks=None):
    """Plain autograd over dense matrices: e^k = Ã_k e^{k-1} (+ noise), readout = mean of the layers."""
    eu, ei = (user0, item0) if masks is None else (user0 * masks[0], item0 * masks[1])
    layers = [(eu, ei)]
    for k in range(k_layers):
        a = graphs[k].to_dense().to(user0.dtype)
        e = a @ torch.cat([eu, ei])  # [(U+N), (U+N)] @ [(U+N), D]
        eu, ei = e[:U], e[U:]
        if eps > 0:
            eu = eu + sign_uniform_noise(eu.detach(), eps, gen)
            ei = ei + sign_uniform_noise(ei.detach(), eps, gen)
        layers.append((eu, ei))
    used = layers if from_input else layers[1:]
    mean_u = torch.stack([u for u, _ in used]).mean(0)
    mean_i = torch.stack([i for _, i in used]).mean(0)
    return mean_u, mean_i, (layers[tap] if tap is not None else (None, None))


def weights(seed, *shapes):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]


def score(outs, w):
    """A loss that reads every output with its own random weights."""
    total, j = 0.0, 0
    for o in outs:
        for t in o:
            if t is not None:
                total = total + (t * w[j][: t.shape[0]]).sum()
                j += 1
    return total


def params(seed=1):
    user0, item0 = weights(seed, (U, D), (N, D))
    return user0.requires_grad_(), item0.requires_grad_()


@pytest.mark.parametrize("k_layers", [1, 2, 3])
@pytest.mark.parametrize("from_input", [True, False])
@pytest.mark.parametrize("tap", [None, 0, 1])
def test_forward_and_gradients_match_dense(k_layers, from_input, tap):
    graph = tiny_graph()
    user0, item0 = params()
    out = propagate(user0, item0, [PropagationView(graph, tap_layer=tap)], k_layers, from_input)
    ref_u, ref_i, (tap_u, tap_i) = dense_reference(user0, item0, [graph] * k_layers, k_layers, from_input, tap=tap)
    torch.testing.assert_close(out[0].user, ref_u)
    torch.testing.assert_close(out[0].item, ref_i)
    if tap is not None:
        torch.testing.assert_close(out[0].user_tap, tap_u)
        torch.testing.assert_close(out[0].item_tap, tap_i)
    w = weights(2, (U, D), (N, D), (U, D), (N, D))
    got = torch.autograd.grad(score(out, w), [user0, item0])
    want = torch.autograd.grad(score([(ref_u, ref_i, tap_u, tap_i)], w), [user0, item0])
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r)


@pytest.mark.parametrize("users, items", [([4, 0, 2], [5, 1]),  # unsorted rows: transposed by a sort
                                          ([0, 2, 4], [1, 5])])  # sorted: a column filter of the full block
def test_restricted_rows_equal_full_rows(users, items):
    graph = tiny_graph(1)
    user0, item0 = params()
    users, items = torch.tensor(users), torch.tensor(items)
    sub = propagate(user0, item0, [PropagationView(graph, tap_layer=1)], 3, True, users, items)[0]
    full = propagate(user0, item0, [PropagationView(graph, tap_layer=1)], 3, True)[0]
    for s, f, rows in zip(sub, full, (users, items, users, items)):
        torch.testing.assert_close(s, f[rows])
    w = weights(3, (3, D), (2, D), (3, D), (2, D))
    got = torch.autograd.grad(score([sub], w), [user0, item0])
    want = torch.autograd.grad(score([[f[r] for f, r in zip(full, (users, items, users, items))]], w),
                               [user0, item0])
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r)


def test_noise_views_match_reference_and_share_one_backward():
    graph = tiny_graph(2)
    dropped = edge_dropout(graph, 0.3, torch.Generator().manual_seed(5)).graph
    user0, item0 = params()
    views = [PropagationView(graph), PropagationView(graph, noise_eps=0.1),
             PropagationView(graph, noise_eps=0.1, tap_layer=1), PropagationView(dropped)]
    outs = propagate(user0, item0, views, 2, False, generator=torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    refs = [dense_reference(user0, item0, [v.graph] * 2, 2, False, v.noise_eps, gen, v.tap_layer) for v in views]
    for o, (ru, ri, (tu, ti)) in zip(outs, refs):
        torch.testing.assert_close(o.user, ru)
        torch.testing.assert_close(o.item, ri)
        if tu is not None:
            torch.testing.assert_close(o.user_tap, tu)
    assert not torch.allclose(outs[1].user, outs[2].user)  # two independent noise draws
    w = weights(4, *([(U, D), (N, D)] * 5))
    got = torch.autograd.grad(score(outs, w), [user0, item0])
    want = torch.autograd.grad(score([(u, i, tu, ti) for u, i, (tu, ti) in refs], w), [user0, item0])
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r)


def test_per_layer_graphs_and_input_masks():
    graph = tiny_graph(3)
    g = torch.Generator().manual_seed(0)
    layers = tuple(edge_dropout(graph, 0.25, g).graph for _ in range(3))
    masks = ((torch.rand(U, D, generator=g) > 0.3).double(), (torch.rand(N, D, generator=g) > 0.3).double())
    user0, item0 = params()
    items = torch.tensor([0, 3])
    out = propagate(user0, item0, [PropagationView(layers), PropagationView(graph, input_masks=masks)], 3, True,
                    items=items)
    r1 = dense_reference(user0, item0, list(layers), 3, True)
    r2 = dense_reference(user0, item0, [graph] * 3, 3, True, masks=masks)
    torch.testing.assert_close(out[0].item, r1[1][items])
    torch.testing.assert_close(out[1].user, r2[0])
    w = weights(5, (U, D), (2, D), (U, D), (2, D))
    got = torch.autograd.grad(score(out, w), [user0, item0])
    want = torch.autograd.grad(score([(r1[0], r1[1][items]), (r2[0], r2[1][items])], w), [user0, item0])
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_gradcheck():
    graph = tiny_graph(4)
    user0, item0 = params()
    users = torch.tensor([1, 6])

    def fn(u0, i0):
        o = propagate(u0, i0, [PropagationView(graph, tap_layer=2)], 3, True, users=users)[0]
        return o.user, o.item, o.user_tap

    assert torch.autograd.gradcheck(fn, (user0, item0))


def test_unused_outputs_get_no_gradient_work():
    graph = tiny_graph(5)
    user0, item0 = params()
    out = propagate(user0, item0, [PropagationView(graph)], 2, True)[0]
    gu, gi = torch.autograd.grad(out.user.sum(), [user0, item0])
    ref_u, _, _ = dense_reference(user0, item0, [graph] * 2, 2, True)
    want = torch.autograd.grad(ref_u.sum(), [user0, item0])
    torch.testing.assert_close(gu, want[0])
    torch.testing.assert_close(gi, want[1])


def test_encoder_init_and_validation():
    graph = tiny_graph(0, torch.float32)
    enc = LightGCNEncoder(U, N, dim=8, num_layers=2)
    bound = (6 / (U + 8)) ** 0.5
    assert enc.user_weight.abs().max() <= bound and enc.user_weight.std() > bound / 4
    out = enc(graph, users=torch.tensor([0, 1]), noise_eps=0.1, generator=torch.Generator().manual_seed(0),
              tap_layer=1)
    assert out.user.shape == (2, 8) and out.item.shape == (N, 8) and out.user_tap.shape == (2, 8)
    with pytest.raises(ValueError, match="tap_layer"):
        enc(graph, tap_layer=3)
    with pytest.raises(ValueError, match="embeddings are"):
        LightGCNEncoder(U + 1, N, 4, 2)(graph)
    with pytest.raises(ValueError, match="per-layer"):
        enc((graph,))
    with pytest.raises(ValueError, match=">= 1"):
        LightGCNEncoder(U, N, 4, 0)
