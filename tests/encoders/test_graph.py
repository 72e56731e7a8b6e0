import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.encoders.graph import normalize_adjacency, normalize_edges


def dense_reference(r: np.ndarray) -> np.ndarray:
    """D^-1/2 A D^-1/2 for A = [[0, R], [R^T, 0]], worked out densely."""
    u, n = r.shape
    a = np.zeros((u + n, u + n))
    a[:u, u:] = r
    a[u:, :u] = r.T
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0.0)
    return inv[:, None] * a * inv[None, :]


def test_two_by_two_by_hand():
    # R = [[1, 1], [0, 1]]: d_u = (2, 1), d_i = (1, 2)
    # R~ = [[1/sqrt(2*1), 1/sqrt(2*2)], [0, 1/sqrt(1*2)]]
    g = normalize_adjacency(sp.csr_matrix([[1, 1], [0, 1]]))
    want = torch.tensor([[2 ** -0.5, 0.5], [0.0, 2 ** -0.5]])
    torch.testing.assert_close(g.user_item.to_dense(), want)
    torch.testing.assert_close(g.item_user.to_dense(), want.T)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_dense_hand_computation(seed):
    rng = np.random.default_rng(seed)
    r = (rng.random((7, 5)) < 0.35).astype(np.float64)
    r[3] = 0  # an isolated user
    r[:, 2] = 0  # an isolated item
    g = normalize_adjacency(sp.csr_matrix(r), dtype=torch.float64)
    np.testing.assert_allclose(g.to_dense().numpy(), dense_reference(r), atol=1e-12)
    assert g.num_users == 7 and g.num_items == 5 and g.num_edges == int(r.sum())


def test_symmetric_and_weights_ignored():
    r = sp.csr_matrix(np.array([[3.0, 0, 2.0], [0, 5.0, 1.0]]))
    dense = normalize_adjacency(r).to_dense()
    torch.testing.assert_close(dense, dense.T)
    binary = normalize_adjacency(sp.csr_matrix((r.toarray() > 0).astype(float))).to_dense()
    torch.testing.assert_close(dense, binary)


def test_explicit_zeros_and_duplicates():
    coo = sp.coo_matrix((np.array([1.0, 0.0, 1.0, 1.0]), (np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))),
                        shape=(2, 2))
    g = normalize_adjacency(coo)
    assert g.num_edges == 2  # (0, 1) is an explicit zero, (1, 1) is duplicated
    torch.testing.assert_close(g.to_dense(), torch.from_numpy(dense_reference(np.eye(2))).float())


def test_edge_order_and_transpose_order():
    g = normalize_edges(np.array([1, 0, 1, 0]), np.array([0, 2, 2, 1]), 2, 3)
    assert g.edge_users.tolist() == [0, 0, 1, 1] and g.edge_items.tolist() == [1, 2, 0, 2]
    torch.testing.assert_close(g.item_user.values, g.user_item.values[g.transpose_order])
    assert g.edge_items[g.transpose_order].tolist() == [0, 1, 2, 2]


def test_select_rows_and_matmul():
    rng = np.random.default_rng(3)
    r = (rng.random((6, 4)) < 0.5).astype(float)
    g = normalize_adjacency(sp.csr_matrix(r), dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64)
    full = g.user_item.to_dense() @ x
    torch.testing.assert_close(g.user_item.matmul(x), full)
    rows = torch.tensor([5, 0, 3])
    torch.testing.assert_close(g.user_item.select_rows(rows).matmul(x), full[rows])


def test_bad_inputs():
    with pytest.raises(ValueError, match="must lie in"):
        normalize_edges(np.array([0, 3]), np.array([0, 0]), 2, 2)
    g = normalize_adjacency(sp.csr_matrix(np.eye(2)))
    with pytest.raises(ValueError, match="columns"):
        g.user_item.matmul(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="edge_mask"):
        g.subgraph(torch.ones(3, dtype=torch.bool))


def test_transpose_of_a_row_block():
    rng = np.random.default_rng(4)
    g = normalize_adjacency(sp.csr_matrix((rng.random((9, 7)) < 0.4).astype(float)), dtype=torch.float64)
    sub = g.user_item.select_rows(torch.tensor([8, 2, 5]))
    t = sub.transpose()
    torch.testing.assert_close(t.to_dense(), sub.to_dense().T)
    torch.testing.assert_close(g.user_item.transpose().to_dense(), g.item_user.to_dense())


def test_column_filter_of_the_transpose_is_the_transpose_of_sorted_rows():
    rng = np.random.default_rng(5)
    g = normalize_adjacency(sp.csr_matrix((rng.random((9, 7)) < 0.4).astype(float)), dtype=torch.float64)
    rows = torch.tensor([1, 2, 5, 8])
    by_sort = g.user_item.select_rows(rows).transpose()
    by_filter = g.item_user.select_columns(rows)
    assert torch.equal(by_filter.indptr, by_sort.indptr) and torch.equal(by_filter.indices, by_sort.indices)
    torch.testing.assert_close(by_filter.values, by_sort.values, rtol=0, atol=0)
    assert by_filter.num_cols == 4 and by_filter.num_rows == 7
