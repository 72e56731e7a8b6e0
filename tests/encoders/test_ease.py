import numpy as np
import pytest
import scipy.sparse as sp

from contrarec.encoders.ease import EASEMemoryError, choose_solver, ease_memory_bytes, ease_weights
from contrarec.encoders.ease_dual import ease_dual


def _closed_form(x: np.ndarray, l2: float) -> np.ndarray:
    """Steck (2019), eq. 8 with numpy: P = (XᵀX + λI)⁻¹, B = I - P·diagMat(1/diag(P))."""
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    return np.eye(x.shape[1]) - p / np.diag(p)[None, :]


def _random(users: int, items: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((users, items)) < 0.25).astype(np.float64)


def test_hand_worked_2x3():
    # X = [[1,1,0],[0,1,1]], λ = 1: G = [[2,1,0],[1,3,1],[0,1,2]], P = G⁻¹ = [[5,-2,1],[-2,4,-2],[1,-2,5]]/8
    # B[i,j] = -P[i,j]/P[j,j]: B[1,0] = 2/5, B[2,0] = -1/5, B[0,1] = 2/4, ...
    x = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float64))
    want = np.array([[0, 0.5, -0.2], [0.4, 0, 0.4], [-0.2, 0.5, 0]])
    np.testing.assert_allclose(ease_weights(x, 1.0, dtype="float64"), want, atol=1e-12)


@pytest.mark.parametrize("shape", [(30, 17), (12, 25)])
@pytest.mark.parametrize("block_size", [1, 5, 2048])
def test_primal_matches_numpy_closed_form(shape, block_size):
    x = _random(*shape)
    b = ease_weights(sp.csr_matrix(x), 3.0, dtype="float64", block_size=block_size)
    np.testing.assert_allclose(b, _closed_form(x, 3.0), atol=1e-10)
    assert (np.diag(b) == 0).all()
    assert b.flags.c_contiguous


@pytest.mark.parametrize("shape", [(30, 17), (12, 25)])
@pytest.mark.parametrize("block_size", [1, 5, 2048])
def test_dual_scores_match_numpy_closed_form(shape, block_size):
    x = _random(*shape)
    fit = ease_dual(sp.csr_matrix(x), 3.0, dtype="float64", block_size=block_size)
    users = np.array([0, 3, 7, 2])
    want = x[users] @ _closed_form(x, 3.0)  # [b, N] X_u B
    np.testing.assert_allclose(fit.scores(users), want, rtol=1e-5, atol=1e-6)
    p = np.linalg.inv(x.T @ x + 3.0 * np.eye(x.shape[1]))
    np.testing.assert_allclose(fit.diag_inverse, np.diag(p), rtol=1e-10)


def test_float32_agrees_with_float64():
    x = sp.csr_matrix(_random(200, 150, seed=1))
    b64 = ease_weights(x, 50.0, dtype="float64")
    b32 = ease_weights(x, 50.0, dtype="float32")
    assert b32.dtype == np.float32
    np.testing.assert_allclose(b32, b64, atol=1e-5 * np.abs(b64).max())
    users = np.arange(200)
    want = (x @ b64)[users]
    np.testing.assert_allclose(ease_dual(x, 50.0, dtype="float32").scores(users), want,
                               atol=1e-4 * np.abs(want).max())


def test_auto_solver_takes_the_smaller_side():
    assert choose_solver(100, 1000, "float32", "auto", float("inf")) == "dual"
    assert choose_solver(1000, 1000, "float32", "auto", float("inf")) == "primal"
    assert ease_memory_bytes(100, 1000, "float32", "dual") < ease_memory_bytes(100, 1000, "float32", "primal")


def test_memory_refusal_names_the_need_and_the_budget():
    need = ease_memory_bytes(30_000, 41_000, "float64", "primal")
    assert need >= 41_000**2 * 8
    with pytest.raises(EASEMemoryError, match=r"41,000 items.*needs about 13\.8 GiB.*41,000 x 41,000 item-item.*budget of 1\.0 GiB"):
        choose_solver(30_000, 41_000, "float64", "primal", 2**30)
    with pytest.raises(EASEMemoryError, match=r"needs about 4\.0 GiB.*30,000 x 30,000 user-user"):
        choose_solver(30_000, 41_000, "float32", "auto", 2**30)
    x = sp.csr_matrix(_random(10, 8))
    with pytest.raises(EASEMemoryError, match="itemknn"):
        ease_weights(x, 1.0, max_memory_bytes=100)
    with pytest.raises(EASEMemoryError, match="itemknn"):
        ease_dual(x, 1.0, max_memory_bytes=100)


def test_bad_arguments_are_named():
    x = sp.csr_matrix(_random(5, 4))
    with pytest.raises(ValueError, match="l2"):
        ease_weights(x, 0.0)
    with pytest.raises(ValueError, match="dtype"):
        ease_weights(x, 1.0, dtype="float16")
    with pytest.raises(ValueError, match="l2"):
        ease_dual(x, -1.0)
