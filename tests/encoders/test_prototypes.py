import torch

from contrarec.encoders.prototypes import Prototypes


def test_normalize_and_freeze():
    p = Prototypes(5, 3, frozen_steps=2)
    with torch.no_grad():
        p.weight.mul_(3)
    p.normalize()
    assert torch.allclose(p.weight.norm(dim=1), torch.ones(5))
    z = torch.randn(4, 3, requires_grad=True)
    p(z, step=0).sum().backward()
    assert p.weight.grad is None
    p(z, step=2).sum().backward()
    assert p.weight.grad is not None
    assert p(z).shape == (4, 5) and p.num_prototypes == 5
