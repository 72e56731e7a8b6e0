"""Exact top-k: the grouped selection against torch.topk / a stable sort, masking, ties, blocks."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.evaluate.select import grouped_width, topk_grouped, topk_stable
from contrarec.evaluate.topk import default_block_size, topk_scores


def _random_exclude(rng: np.random.Generator, q: int, n: int, density: float) -> sp.csr_matrix:
    return sp.random(q, n, density=density, format="csr", random_state=rng, dtype=np.float32)


def _reference(query: torch.Tensor, items: torch.Tensor, k: int, exclude: sp.csr_matrix | None):
    """Full score matrix, dense -inf mask, torch.topk: the simple reference."""
    scores = query @ items.T                                              # [Q, N]
    if exclude is not None:
        scores[torch.from_numpy(exclude.toarray() > 0)] = float("-inf")
    return scores, torch.topk(scores, k, dim=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [37, 500, 2003])
def test_matches_torch_topk_on_random_data(seed, n):
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    q, k = 41, 10
    query, items = torch.randn(q, 16, generator=gen), torch.randn(n, 16, generator=gen)
    exclude = _random_exclude(rng, q, n, 0.1)
    _, ref = _reference(query, items, k, exclude)
    got = topk_scores(query, items, k, exclude=exclude, block_size=8)
    assert torch.equal(got.ids, ref.indices)
    torch.testing.assert_close(got.scores, ref.values)
    simple = topk_scores(query, items, k, exclude=exclude, method="torch")
    assert torch.equal(simple.ids, ref.indices)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ties_break_to_lower_id(seed):
    # small integer embeddings: dot products are exact and tie often
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    q, n, k = 30, 3000, 20
    query = torch.randint(-2, 3, (q, 4), generator=gen).float()
    items = torch.randint(-2, 3, (n, 4), generator=gen).float()
    exclude = _random_exclude(rng, q, n, 0.2)
    scores, ref = _reference(query, items, k, exclude)
    stable_values, stable_ids = topk_stable(scores, k)
    got = topk_scores(query, items, k, exclude=exclude, block_size=7)
    assert torch.equal(got.ids, stable_ids)
    assert torch.equal(got.scores, stable_values)
    assert torch.equal(got.scores, ref.values)                 # torch.topk agrees on the values


def test_grouped_selection_against_stable_sort():
    gen = torch.Generator().manual_seed(0)
    for trial in range(40):
        n = int(torch.randint(5, 40000 if trial % 8 == 0 else 4000, (1,), generator=gen))
        k = int(torch.randint(1, min(n, 60) + 1, (1,), generator=gen))
        width = grouped_width(n)
        x = torch.full((9, width), float("-inf"))
        if trial % 2:
            x[:, :n] = torch.randint(0, 6, (9, n), generator=gen).float()      # many ties
        else:
            x[:, :n] = torch.randn(9, n, generator=gen)
        drop = torch.rand(9, n, generator=gen) < (0.995 if trial % 5 == 0 else 0.3)
        x[:, :n][drop] = float("-inf")                                        # some rows < k finite
        values, ids = topk_grouped(x, k, n)
        ref_values, ref_ids = topk_stable(x[:, :n], k)
        assert torch.equal(ids, ref_ids), (trial, n, k)
        assert torch.equal(values, ref_values)
        assert ids.max() < n


def test_fewer_items_than_k_after_masking():
    query, items = torch.ones(2, 1), torch.arange(5.0)[:, None]
    exclude = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]]))
    got = topk_scores(query, items, 4, exclude=exclude)
    assert got.ids[0, :2].tolist() == [4, 3]
    assert torch.isinf(got.scores[0, 2:]).all()
    assert got.ids[1].tolist() == [4, 3, 2, 1]


@pytest.mark.parametrize("dyadic", [False, True])
def test_block_size_does_not_change_results(dyadic):
    gen = torch.Generator().manual_seed(5)
    rng = np.random.default_rng(5)
    query, items = torch.randn(50, 8, generator=gen), torch.randn(700, 8, generator=gen)
    if dyadic:                                   # exactly representable sums: bit-identical scores
        query, items = (query * 8).round() / 8, (items * 8).round() / 8
    exclude = _random_exclude(rng, 50, 700, 0.05)
    runs = [topk_scores(query, items, 15, exclude=exclude, block_size=b) for b in (1, 7, 50, None)]
    for run in runs[1:]:
        assert torch.equal(run.ids, runs[0].ids)
        if dyadic:
            assert torch.equal(run.scores, runs[0].scores)
        else:                                    # BLAS kernels differ by block height (gemv at 1 row)
            torch.testing.assert_close(run.scores, runs[0].scores)


def test_score_fn_replaces_dot_product():
    gen = torch.Generator().manual_seed(3)
    query, items = torch.randn(20, 8, generator=gen), torch.randn(300, 8, generator=gen)
    exclude = _random_exclude(np.random.default_rng(3), 20, 300, 0.1)
    calls = []

    def score_fn(rows):
        calls.append(rows.clone())
        return query[rows] @ items.T

    by_emb = topk_scores(query, items, 7, exclude=exclude)
    by_fn = topk_scores(None, None, 7, exclude=exclude, score_fn=score_fn, block_size=6)
    assert torch.equal(by_fn.ids, by_emb.ids)
    assert torch.cat(calls).tolist()[-20:] == list(range(20))


def test_default_block_size_bounds_memory():
    assert default_block_size(38048, 4, budget_bytes=16 * 2**20) == 16 * 2**20 // (38048 * 4)
    assert default_block_size(10**9, 4) == 1


def test_errors():
    query, items = torch.randn(3, 4), torch.randn(10, 4)
    with pytest.raises(ValueError, match="k=11"):
        topk_scores(query, items, 11)
    with pytest.raises(ValueError, match="exclude has shape"):
        topk_scores(query, items, 2, exclude=sp.csr_matrix((3, 9)))
    with pytest.raises(ValueError, match="differ in D"):
        topk_scores(query, torch.randn(10, 5), 2)
    bad = items.clone()
    bad[4, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        topk_scores(query, bad, 2)


@pytest.mark.parametrize("lower_wins", [True, False])
def test_tie_at_the_boundary_between_groups(lower_wins):
    # distinct scores, then one outside item copies the k-th best score: the lower id must be kept
    gen = torch.Generator().manual_seed(11)
    n, k = 20000, 10
    x = torch.full((3, grouped_width(n)), float("-inf"))
    x[:, :n] = torch.randperm(n, generator=gen).float().expand(3, n)
    kth = int(torch.topk(x[0, :n], k).indices[-1])
    other = kth - 5 if lower_wins and kth >= 5 else (kth + 7) % n
    x[:, other] = x[0, kth]
    values, ids = topk_grouped(x, k, n)
    ref_values, ref_ids = topk_stable(x[:, :n], k)
    assert torch.equal(ids, ref_ids) and torch.equal(values, ref_values)
    assert min(kth, other) in ids[0].tolist() and max(kth, other) not in ids[0].tolist()


def test_nan_raises_on_the_grouped_path():
    query, items = torch.randn(4, 8), torch.randn(3000, 8)
    items[1234] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        topk_scores(query, items, 5)
    with pytest.raises(ValueError, match="block_size"):
        topk_scores(query, torch.randn(3000, 8), 5, block_size=0)
