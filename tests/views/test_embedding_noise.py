import pytest
import torch
import torch.nn.functional as F

from contrarec.views.embedding_noise import sign_uniform_noise, uniform_16bit


def test_matches_selfrec_formula_with_same_draw():
    emb = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    delta = sign_uniform_noise(emb, 0.2, torch.Generator().manual_seed(1), native=False)
    r = uniform_16bit((50, 8), torch.Generator().manual_seed(1))
    torch.testing.assert_close(delta, torch.sign(emb) * F.normalize(r, dim=-1) * 0.2)


@pytest.mark.parametrize("native", [True, False])
def test_norm_sign_and_purity(native):
    emb = torch.randn(100, 16)
    emb[0, 3] = 0.0
    before = emb.clone()
    delta = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(0), native=native)
    assert torch.equal(emb, before)
    nonzero = emb != 0
    assert ((torch.sign(delta) == torch.sign(emb)) | (delta == 0)).all()
    assert delta[0, 3] == 0 and (delta[nonzero] != 0).all()
    rows = torch.arange(1, 100)
    torch.testing.assert_close(delta[rows].norm(dim=1), torch.full((99,), 0.1))


@pytest.mark.parametrize("native", [True, False])
def test_deterministic_and_no_grad(native):
    emb = torch.randn(5, 4, requires_grad=True)
    a = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(3), native=native)
    b = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(3), native=native)
    assert torch.equal(a, b) and not a.requires_grad
    assert not torch.equal(a, sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(4), native=native))
    with pytest.raises(ValueError, match="noise_eps"):
        sign_uniform_noise(emb, -1.0)


def test_uniform_16bit_is_uniform_on_open_interval_and_seeded():
    x = uniform_16bit((400, 250), torch.Generator().manual_seed(3))
    assert x.shape == (400, 250) and x.dtype == torch.float32
    assert float(x.min()) > 0.0 and float(x.max()) < 1.0
    # every lane is uniform: mean 1/2, variance 1/12, each tenth of (0, 1) holds ~10% (no biased top lane)
    assert abs(float(x.mean()) - 0.5) < 0.005 and abs(float(x.var()) - 1 / 12) < 0.002
    for lane in range(3):
        share = torch.histc(x.reshape(-1)[lane::3], bins=10, min=0, max=1) / x.reshape(-1)[lane::3].numel()
        assert float((share - 0.1).abs().max()) < 0.01
    again = uniform_16bit((400, 250), torch.Generator().manual_seed(3))
    assert torch.equal(x, again)
    assert not torch.equal(x, uniform_16bit((400, 250), torch.Generator().manual_seed(4)))
    assert uniform_16bit((7,), torch.Generator().manual_seed(0), torch.float64).dtype == torch.float64


def test_native_noise_draws_from_the_torch_paths_distribution():
    from contrarec._native import native_ops_available
    assert native_ops_available()
    emb = torch.ones(20000, 64)                       # all signs +: Δ / ε is r / ||r|| itself
    native = sign_uniform_noise(emb, 1.0, torch.Generator().manual_seed(0))
    reference = sign_uniform_noise(emb, 1.0, torch.Generator().manual_seed(0), native=False)
    assert not torch.equal(native, reference)
    for stat in (lambda x: x.mean(), lambda x: x.std(), lambda x: x.amax(dim=1).mean(), lambda x: x.amin(dim=1).mean()):
        assert abs(float(stat(native)) - float(stat(reference))) < 2e-3
    grid = native * native.norm(dim=1, keepdim=True).reciprocal()   # still unit rows
    torch.testing.assert_close(grid.norm(dim=1), torch.ones(20000))
    # rows and coordinates are uncorrelated: the correlation matrix of the columns is near the identity
    centred = native - native.mean(0)
    corr = (centred.T @ centred) / (centred.norm(dim=0)[:, None] * centred.norm(dim=0)[None, :])
    off_diagonal = corr - torch.diag(torch.diag(corr))
    assert off_diagonal.abs().max() < 0.06
    assert not torch.equal(native[0], native[1])


def test_native_noise_does_not_depend_on_the_thread_count():
    emb = torch.randn(3000, 64, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = sign_uniform_noise(emb, 0.2, torch.Generator().manual_seed(7))
        torch.set_num_threads(2)
        two = sign_uniform_noise(emb, 0.2, torch.Generator().manual_seed(7))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_native_noise_rejects_what_it_cannot_take():
    with pytest.raises(RuntimeError, match="contiguous"):
        torch.ops.contrarec.signed_noise(torch.randn(4, 3).double(), 0.1, 0)
    with pytest.raises(RuntimeError, match="eps must be"):
        torch.ops.contrarec.signed_noise(torch.randn(4, 3), -0.1, 0)
