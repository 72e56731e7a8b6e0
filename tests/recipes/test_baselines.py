"""The baseline recipes (itemknn, ease, ials) through the registry, the model contract and the evaluator."""

import numpy as np
import pytest
import torch

from contrarec.data.interactions import IdMap, Interactions
from contrarec.encoders.ease import EASEMemoryError
from contrarec.recipes.catalog import get_recipe

BASELINES = {
    "itemknn": {"neighbors": 10},
    "ease": {"l2": 1.0},
    "ials": {"factors": 4, "regularization": 0.01, "iterations": 15},
}


def block_data(blocks: int = 3, users_per_block: int = 6, items_per_block: int = 6):
    """Checkerboard: users of block k hold every item of block k but one (a different one per user).

    Returns ``(train, held_out [U])``: the held-out item is the only unseen item of the user's block,
    so every personalised model must rank it first once train items are masked.
    """
    users, items, held_out = [], [], []
    for b in range(blocks):
        for u in range(users_per_block):
            user = b * users_per_block + u
            out = b * items_per_block + u % items_per_block
            held_out.append(out)
            for i in range(b * items_per_block, (b + 1) * items_per_block):
                if i != out:
                    users.append(user)
                    items.append(i)
    num_users, num_items = blocks * users_per_block, blocks * items_per_block
    train = Interactions(np.array(users), np.array(items), IdMap.identity(num_users), IdMap.identity(num_items))
    return train, np.array(held_out)


def build(name: str, train: Interactions, **overrides):
    recipe = get_recipe(name)
    return recipe.build_model(recipe.parse_config({**BASELINES[name], **overrides}), train)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_held_out_item_ranks_first(name):
    train, held_out = block_data()
    model = build(name, train)
    users = torch.arange(train.num_users)
    with torch.no_grad():
        scores = model.score_users(users, model.user_embeddings(), model.item_embeddings())  # [U, N]
    assert scores.shape == (train.num_users, train.num_items)
    seen = torch.from_numpy(train.to_csr().toarray() > 0)
    scores = scores.masked_fill(seen, float("-inf"))
    assert torch.equal(scores.argmax(dim=1), torch.from_numpy(held_out))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_closed_form_recipes_have_no_trainable_parameters(name):
    train, _ = block_data()
    model = build(name, train)
    assert not [p for p in model.parameters() if p.requires_grad]
    assert get_recipe(name).train_defaults == {"epochs": 1, "patience": 0}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_through_the_full_ranking_evaluator(name):
    evaluator = pytest.importorskip("contrarec.evaluate.evaluator")
    from contrarec.train.run import make_evaluator

    train, held_out = block_data()
    test = Interactions(np.arange(train.num_users), held_out, train.user_map, train.item_map)
    metrics = make_evaluator(train.to_csr(), test, [1, 5], train.item_popularity())(build(name, train))
    assert evaluator is not None
    assert metrics["recall@1"] == pytest.approx(1.0)
    assert metrics["ndcg@5"] == pytest.approx(1.0)


def test_ials_factors_are_checkpointed_and_not_refitted():
    train, _ = block_data()
    model = build("ials", train)
    users = model.user_embeddings().clone()
    state, extra = model.state_dict(), model.extra_state_for_checkpoint()
    fresh = build("ials", train, seed=123)  # a different seed would give different factors if refitted
    fresh.load_state_dict(state)
    fresh.load_extra_state(extra)
    assert torch.equal(fresh.user_embeddings(), users)


def test_ials_learns_the_blocks():
    train, _ = block_data()
    model = build("ials", train)
    scores = model.user_embeddings() @ model.item_embeddings().T  # [U, N]
    block_of_user = np.arange(train.num_users) // 6
    block_of_item = np.arange(train.num_items) // 6
    same = torch.from_numpy(block_of_user[:, None] == block_of_item[None, :])
    assert scores[same].min() > scores[~same].max()


def test_ease_refuses_a_catalogue_over_budget_when_built():
    train, _ = block_data()
    with pytest.raises(EASEMemoryError, match="GiB"):
        build("ease", train, max_memory_gb=1e-9)


def test_itemknn_scores_match_sum_of_neighbour_similarities():
    train, _ = block_data(blocks=2, users_per_block=4, items_per_block=4)
    model = build("itemknn", train).fit()
    w = model.weights.toarray()
    x = train.to_csr().toarray()
    scores = model.score_users(torch.arange(train.num_users))
    np.testing.assert_allclose(scores.numpy(), x @ w, rtol=1e-6)
