"""The bf16 screen: same top k as the fp32 path, the rounding bound it relies on, and its fallback."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from contrarec.evaluate.exclusion import Exclusion
from contrarec.evaluate.screened import BOUND_FACTOR, ScreenedTopK
from contrarec.evaluate.select import grouped_width
from contrarec.evaluate.topk import topk_scores


def _case(seed: int, q: int, n: int, d: int, normalise: bool):
    gen = torch.Generator().manual_seed(seed)
    query, items = torch.randn(q, d, generator=gen), torch.randn(n, d, generator=gen)
    if normalise:
        query, items = torch.nn.functional.normalize(query, dim=1), torch.nn.functional.normalize(items, dim=1)
    exclude = sp.random(q, n, density=0.05, format="csr", random_state=np.random.default_rng(seed))
    return query, items, exclude


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_screen_gives_the_fp32_top_k(seed, normalise):
    query, items, exclude = _case(seed, 57, 3001, 32, normalise)
    exact = topk_scores(query, items, 10, exclude=exclude, screen="off", block_size=16)
    screened = topk_scores(query, items, 10, exclude=exclude, screen="bf16", block_size=16)
    assert torch.equal(screened.ids, exact.ids)
    torch.testing.assert_close(screened.scores, exact.scores, rtol=0, atol=1e-5)
    assert screened.scores.dtype == torch.float32


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("dim", [8, 64, 512])
def test_screen_bounds_every_score_from_above(scale, dim):
    gen = torch.Generator().manual_seed(dim)
    query = torch.randn(64, dim, generator=gen) * scale
    items = torch.randn(500, dim, generator=gen) * torch.rand(500, 1, generator=gen) * scale   # mixed norms
    screen = ScreenedTopK(query, items, 5, 500)
    bounds = (screen.query_bf16 @ screen.items_bf16.T).double()                 # what block() ranks by
    exact = query.double() @ items.double().T
    norms = query.norm(dim=1, keepdim=True).double() * items.norm(dim=1).double()
    assert (bounds >= exact).all()
    assert (bounds - exact <= 2 * BOUND_FACTOR * norms).all()                   # and stays close
    plain = (query.bfloat16() @ items.bfloat16().T).double()                   # without the lift ...
    assert (plain < exact).any()                                               # ... bf16 falls below


def test_rows_the_screen_cannot_prove_are_redone_in_fp32():
    # items differ by far less than bf16's resolution: the screen sees near-equal scores and picks its
    # candidates blindly, so the certificate must fail and the rows must come back exact
    n, k = 4000, 5
    items = torch.zeros(n, 8)
    items[:, 0] = 1.0 + torch.randperm(n, generator=torch.Generator().manual_seed(0)).float() * 1e-5
    query = torch.zeros(3, 8)
    query[:, 0] = torch.tensor([1.0, 2.0, 0.5])
    width = grouped_width(n)
    padded = torch.cat([items, items.new_zeros(width - n, 8)])
    screen = ScreenedTopK(query, padded, k, n, margin=3)
    block = torch.empty(width, 3, dtype=torch.bfloat16).T                       # item-major
    values, ids = screen.block(block, 0, 3, None)
    assert screen.rows_redone == 3
    expected = (query @ items.T).topk(k, dim=1)
    assert torch.equal(ids, expected.indices)
    assert torch.equal(values, expected.values)


def test_screen_keeps_excluded_items_out_and_matches_on_ties():
    gen = torch.Generator().manual_seed(3)
    query = torch.randint(-2, 3, (20, 4), generator=gen).float()       # integer scores: many exact ties
    items = torch.randint(-2, 3, (3000, 4), generator=gen).float()
    exclude = sp.random(20, 3000, density=0.3, format="csr", random_state=np.random.default_rng(3))
    exact = topk_scores(query, items, 15, exclude=exclude, screen="off")
    screened = topk_scores(query, items, 15, exclude=exclude, screen="bf16", block_size=6)
    assert torch.equal(screened.ids, exact.ids)
    excluded = exclude.toarray() > 0
    assert not excluded[np.arange(20)[:, None], screened.ids.numpy()].any()


def test_exclusion_mask_rows_in_any_order():
    exclude = sp.random(12, 40, density=0.3, format="csr", random_state=np.random.default_rng(0))
    excl = Exclusion(exclude, 12, 40, torch.device("cpu"))
    rows = torch.tensor([7, 2, 11, 2, 0])
    scores = torch.zeros(len(rows), 40)
    excl.mask_rows(scores, rows)
    assert torch.equal(torch.isinf(scores), torch.from_numpy(exclude.toarray()[rows.numpy()] > 0))


def test_screen_errors():
    query, items = torch.randn(3, 4), torch.randn(50, 4)
    with pytest.raises(ValueError, match="screen must be one of"):
        topk_scores(query, items, 2, screen="fp8")
    with pytest.raises(ValueError, match="screen='bf16' needs"):
        topk_scores(query, items, 2, screen="bf16", method="torch")
    with pytest.raises(ValueError, match="screen='bf16' needs"):
        topk_scores(query.double(), items.double(), 2, screen="bf16")


# --- the native kernel (_native/screen_topk.cpp), built by `make install` ------------------------------


def test_native_kernel_is_built():
    from contrarec._native import native_ops_available
    assert native_ops_available(), "the native operators did not build; see setup.py"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_native_kernel_matches_the_torch_selection(seed):
    query, items, exclude = _case(seed, 70, 2500, 16, normalise=seed == 1)
    query[3] = 0.0                                       # a query whose every score ties at 0
    torch_path = topk_scores(query, items, 12, exclude=exclude, screen="bf16", native="off", block_size=32)
    native = topk_scores(query, items, 12, exclude=exclude, screen="bf16", block_size=32)
    exact = topk_scores(query, items, 12, exclude=exclude, screen="off")
    assert torch.equal(native.ids, torch_path.ids)
    assert torch.equal(native.ids, exact.ids)
    torch.testing.assert_close(native.scores, exact.scores, rtol=0, atol=1e-5)


def test_native_kernel_finishes_row_major_blocks_and_redoes_unproven_rows():
    n, k = 4000, 5                                       # as above: scores closer than bf16 can tell apart
    items = torch.zeros(n, 8)
    items[:, 0] = 1.0 + torch.randperm(n, generator=torch.Generator().manual_seed(0)).float() * 1e-5
    query = torch.zeros(3, 8)
    query[:, 0] = torch.tensor([1.0, 2.0, 0.5])
    width = grouped_width(n)
    screen = ScreenedTopK(query, torch.cat([items, items.new_zeros(width - n, 8)]), k, n, margin=3)
    assert screen.row_major
    values, ids = screen.block(torch.empty(3, width, dtype=torch.bfloat16), 0, 3, None)
    assert screen.rows_redone == 3
    expected = (query @ items.T).topk(k, dim=1)
    assert torch.equal(ids, expected.indices)
    assert torch.equal(values, expected.values)


def test_native_kernel_keeps_rows_with_few_candidates_exact():
    # a query with fewer than k items left: its last slots are -inf with the lowest remaining ids
    query, items = torch.randn(2, 4, generator=torch.Generator().manual_seed(5)), torch.randn(800, 4)
    exclude = sp.csr_matrix(np.vstack([np.r_[np.zeros(3), np.ones(797)], np.zeros(800)]))
    native = topk_scores(query, items, 5, exclude=exclude, screen="bf16")
    exact = topk_scores(query, items, 5, exclude=exclude, screen="off")
    assert torch.equal(native.ids, exact.ids)
    assert torch.equal(torch.isinf(native.scores), torch.isinf(exact.scores))
    assert native.ids[0, :3].tolist() == sorted(native.ids[0, :3].tolist(), key=lambda j: -float(query[0] @ items[j]))


def test_screen_leaves_non_finite_embeddings_to_the_torch_path():
    query, items = torch.randn(4, 8), torch.randn(1000, 8)
    items[7, 2] = float("nan")
    width = grouped_width(1000)
    assert not ScreenedTopK(query, torch.cat([items, items.new_zeros(width - 1000, 8)]), 5, 1000).row_major
    with pytest.raises(ValueError, match="NaN"):
        topk_scores(query, items, 5, screen="bf16")


def test_native_kernel_rejects_bad_exclusions():
    screen = torch.zeros(2, 1024, dtype=torch.bfloat16)
    query, items = torch.randn(2, 4), torch.randn(1024, 4)
    indptr, indices = torch.tensor([0, 1, 2]), torch.tensor([3, 5000])
    from contrarec._native import native_ops_available
    assert native_ops_available()
    with pytest.raises(RuntimeError, match="excluded item 5000 outside"):
        torch.ops.contrarec.screen_topk(screen, 1000, 30, 5, query, items, indptr, indices)
    with pytest.raises(RuntimeError, match="screen must be a row-major"):
        torch.ops.contrarec.screen_topk(screen.float(), 1000, 30, 5, query, items, indptr, indices)


def test_native_kernel_with_scores_spread_over_many_octaves():
    # a few items score ~1e12 times the rest: the candidates' threshold lies far below the best score
    query, items, exclude = _case(4, 30, 3000, 8, normalise=False)
    items[:5] *= 1e12
    native = topk_scores(query, items, 10, exclude=exclude, screen="bf16")
    exact = topk_scores(query, items, 10, exclude=exclude, screen="off")
    assert torch.equal(native.ids, exact.ids)
    torch.testing.assert_close(native.scores, exact.scores, rtol=1e-6, atol=1e-5)
