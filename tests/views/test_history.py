import pytest
import torch

from contrarec.views.history import PAD, history_crop, history_drop, history_reorder


def histories():
    h = torch.full((4, 6), PAD)
    h[0, :6] = torch.tensor([1, 2, 3, 4, 5, 6])
    h[1, :3] = torch.tensor([7, 8, 9])
    h[2, :1] = torch.tensor([10])
    return h  # row 3 empty


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def valid(row):
    return [int(v) for v in row if v != PAD]


def test_drop_rate_and_never_empties_a_row():
    big = torch.arange(1, 20001).reshape(1000, 20)
    out, keep = history_drop(big, 0.3, gen())
    assert abs(1 - keep.float().mean().item() - 0.3) < 0.01
    h = histories()
    out, keep = history_drop(h, 0.99, gen())
    assert [len(valid(r)) >= 1 for r in out[:3]] == [True] * 3
    assert valid(out[3]) == []
    out0, _ = history_drop(h, 0.0, gen())
    assert torch.equal(out0, h)


def test_drop_keeps_order_and_is_deterministic():
    h = histories()
    a, ka = history_drop(h, 0.5, gen(3))
    b, kb = history_drop(h, 0.5, gen(3))
    assert torch.equal(a, b) and torch.equal(ka, kb)
    for r in range(4):
        kept = valid(a[r])
        assert kept == [int(v) for v, k in zip(h[r], ka[r]) if k]


@pytest.mark.parametrize("ratio", [0.2, 0.5, 1.0])
def test_crop_length_and_contiguity(ratio):
    h = histories()
    out, keep = history_crop(h, ratio, gen())
    for r, n in enumerate([6, 3, 1, 0]):
        want = 0 if n == 0 else max(1, int(n * ratio))
        got = valid(out[r])
        assert len(got) == want
        if got:
            orig = valid(h[r])
            s = orig.index(got[0])
            assert orig[s:s + want] == got
    assert torch.equal(out, history_crop(h, ratio, gen())[0])


def test_crop_starts_vary_over_seeds():
    h = histories()
    firsts = {int(history_crop(h, 0.5, gen(s))[0][0, 0]) for s in range(30)}
    assert firsts == {1, 2, 3, 4}


@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_reorder_permutes_only_inside_window(ratio):
    h = histories()
    out, window = history_reorder(h, ratio, gen(1))
    for r in range(4):
        assert sorted(valid(out[r])) == sorted(valid(h[r]))
        assert torch.equal(out[r][~window[r]], h[r][~window[r]])
        assert int(window[r].sum()) == int(len(valid(h[r])) * ratio)
    changed = sum(not torch.equal(history_reorder(h, 1.0, gen(s))[0][0], h[0]) for s in range(20))
    assert changed >= 15
    assert torch.equal(out, history_reorder(h, ratio, gen(1))[0])
