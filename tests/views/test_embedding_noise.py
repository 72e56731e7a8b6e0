import pytest
import torch
import torch.nn.functional as F

from contrarec.views.embedding_noise import sign_uniform_noise, uniform_16bit


def test_matches_selfrec_formula_with_same_draw():
    emb = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    delta = sign_uniform_noise(emb, 0.2, torch.Generator().manual_seed(1))
    r = uniform_16bit((50, 8), torch.Generator().manual_seed(1))
    torch.testing.assert_close(delta, torch.sign(emb) * F.normalize(r, dim=-1) * 0.2)


def test_norm_sign_and_purity():
    emb = torch.randn(100, 16)
    emb[0, 3] = 0.0
    before = emb.clone()
    delta = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(emb, before)
    nonzero = emb != 0
    assert ((torch.sign(delta) == torch.sign(emb)) | (delta == 0)).all()
    assert delta[0, 3] == 0 and (delta[nonzero] != 0).all()
    rows = torch.arange(1, 100)
    torch.testing.assert_close(delta[rows].norm(dim=1), torch.full((99,), 0.1))


def test_deterministic_and_no_grad():
    emb = torch.randn(5, 4, requires_grad=True)
    a = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(3))
    b = sign_uniform_noise(emb, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not a.requires_grad
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
