import numpy as np
import pytest
import scipy.sparse as sp

from contrarec.encoders.item_knn import cosine_neighbors, idf_user_weights, score_from_history


def _dense_reference(x: np.ndarray, neighbors: int, shrinkage: float, asymmetry: float = 0.5) -> np.ndarray:
    """Slow loop: sim(i→j) of every item pair, then keep each column's top ``neighbors`` (self excluded)."""
    n = x.shape[1]
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                norm_i, norm_j = np.linalg.norm(x[:, i]), np.linalg.norm(x[:, j])
                sim[i, j] = x[:, i] @ x[:, j] / (norm_i ** (2 * asymmetry) * norm_j ** (2 - 2 * asymmetry) + shrinkage)
    out = np.zeros_like(sim)
    for j in range(n):
        keep = np.argsort(-sim[:, j], kind="stable")[:neighbors]
        out[keep, j] = sim[keep, j]
    return out


def test_hand_worked_3x3():
    # columns x0=(1,1,0), x1=(1,1,1), x2=(0,0,1): cos(0,1)=2/√6, cos(1,2)=1/√3, cos(0,2)=0
    x = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
    w = cosine_neighbors(x, neighbors=2).toarray()
    want = np.array([[0, 2 / 6**0.5, 0], [2 / 6**0.5, 0, 1 / 3**0.5], [0, 1 / 3**0.5, 0]])
    np.testing.assert_allclose(w, want, rtol=1e-6)


@pytest.mark.parametrize("neighbors,shrinkage,block_size", [(1, 0.0, 1), (3, 0.0, 4), (3, 2.0, 5), (50, 1.0, 64)])
def test_matches_dense_loop(neighbors, shrinkage, block_size):
    rng = np.random.default_rng(7)
    # distinct random weights break ties between neighbour candidates
    x = (rng.random((40, 12)) < 0.3) * rng.uniform(0.5, 2.0, (40, 12))
    w = cosine_neighbors(sp.csr_matrix(x), neighbors, shrinkage, block_size=block_size)
    np.testing.assert_allclose(w.toarray(), _dense_reference(x, neighbors, shrinkage), rtol=1e-5, atol=1e-7)
    assert (np.diff(w.tocsc().indptr) <= neighbors).all()


@pytest.mark.parametrize("asymmetry", [0.0, 0.7, 1.0])
def test_asymmetric_cosine_and_user_weights_match_dense_loop(asymmetry):
    rng = np.random.default_rng(11)
    x = (rng.random((30, 10)) < 0.35) * rng.uniform(0.5, 2.0, (30, 10))
    weights = rng.uniform(0.1, 3.0, 30)
    w = cosine_neighbors(sp.csr_matrix(x), 4, shrinkage=1.0, asymmetry=asymmetry, user_weights=weights,
                         block_size=3)
    np.testing.assert_allclose(w.toarray(), _dense_reference(weights[:, None] * x, 4, 1.0, asymmetry), rtol=1e-5)


def test_idf_user_weights():
    x = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    np.testing.assert_allclose(idf_user_weights(x), [0.0, np.log(4), 1.0], rtol=1e-6)


def test_scores_are_sum_of_similarities_of_own_items():
    rng = np.random.default_rng(3)
    x = sp.csr_matrix((rng.random((20, 9)) < 0.4).astype(np.float32))
    w = cosine_neighbors(x, neighbors=4)
    dense = w.toarray()
    rows = np.array([0, 5, 7])
    want = np.stack([dense[x[r].indices].sum(axis=0) for r in rows])
    np.testing.assert_allclose(score_from_history(x[rows], w), want, rtol=1e-6)
    np.testing.assert_allclose(score_from_history(x[rows], dense), want, rtol=1e-6)


def test_bad_arguments_are_named():
    x = sp.csr_matrix(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="neighbors"):
        cosine_neighbors(x, neighbors=0)
    with pytest.raises(ValueError, match="shrinkage"):
        cosine_neighbors(x, neighbors=1, shrinkage=-1.0)
    with pytest.raises(ValueError, match="asymmetry"):
        cosine_neighbors(x, neighbors=1, asymmetry=1.5)
    with pytest.raises(ValueError, match="user_weights has 3 entries, expected 2"):
        cosine_neighbors(x, neighbors=1, user_weights=np.ones(3))
