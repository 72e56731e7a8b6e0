import pytest
import torch
import torch.nn.functional as F

from contrarec.views.embedding_noise import sign_uniform_noise


def test_matches_selfrec_formula_with_same_draw():
    emb = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    delta = sign_uniform_noise(emb, 0.2, torch.Generator().manual_seed(1))
    r = torch.rand(50, 8, generator=torch.Generator().manual_seed(1))
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
