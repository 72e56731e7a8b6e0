"""``item2item``: an item tower trained with InfoNCE on items consumed close together; users = mean of their items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from contrarec.config import ConfigError
from contrarec.data.batches import Batch, Sampling, item_log_probabilities
from contrarec.data.interactions import Interactions
from contrarec.model import RecallModel
from contrarec.negatives.corrections import apply_log_q, in_batch_log_q, mask_accidental_hits
from contrarec.recipes.base import Recipe
from contrarec.recipes.two_tower import TowerSettings, make_tower
from contrarec.topk import TopK
from contrarec.views.cooccurrence import cooccurrence_pairs


class Item2ItemConfig(TowerSettings):
    """Settings of ``item2item``."""

    window: int = Field(3, ge=1, description="items at most this many steps apart in a history are positives")
    max_gap: float | None = Field(None, gt=0, description="and at most this far apart in time (None = any)")
    pairs_per_epoch: int | None = Field(None, ge=1, description="pairs sampled per epoch (None = all)")
    temperature: float = Field(0.1, gt=0, description="softmax temperature τ")
    log_q: bool = Field(True, description="logQ correction by the context items' frequency among pairs")


class PairBatches:
    """Batches of (anchor item, context item) pairs, reshuffled (and subsampled) per epoch.

    ``Batch.users`` holds the anchor items, ``Batch.items`` the context items, ``item_log_q`` the log
    frequency of the context item among all pairs.

    Args:
        anchors: ``[P]`` anchor items.
        contexts: ``[P]`` context items.
        num_items: N.
        batch_size: B.
        seed: epoch e draws from ``seed * 1_000_003 + e``.
        pairs_per_epoch: pairs drawn per epoch (None = every pair once).
    """

    def __init__(self, anchors: torch.Tensor, contexts: torch.Tensor, num_items: int, batch_size: int, seed: int,
                 pairs_per_epoch: int | None = None) -> None:
        if len(anchors) == 0:
            raise ValueError("no co-occurring item pairs: every user has a single item (raise model.window?)")
        self.anchors, self.contexts = anchors.numpy(), contexts.numpy()
        self.batch_size, self.seed = batch_size, seed
        self.per_epoch = len(self.anchors) if pairs_per_epoch is None else min(pairs_per_epoch, len(self.anchors))
        counts = np.bincount(self.contexts, minlength=num_items)
        self.log_q = torch.from_numpy(item_log_probabilities(counts))

    def __len__(self) -> int:
        return -(-self.per_epoch // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """The batches of one epoch, deterministic in ``(seed, epoch)``."""
        rng = np.random.default_rng(self.seed * 1_000_003 + epoch)
        order = rng.permutation(len(self.anchors))[: self.per_epoch]
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            items = torch.from_numpy(self.contexts[idx])
            yield Batch(users=torch.from_numpy(self.anchors[idx]), items=items, item_log_q=self.log_q[items])


class Item2ItemModel(RecallModel):
    r"""Item tower trained on co-occurrence positives; a user is the normalised mean of its items.

    For anchor item a_b with context (positive) item c_b and in-batch context items as negatives:

    .. math:: \mathcal{L} = -\frac1B\sum_b\log\frac{e^{s_{bb}}}{\sum_c e^{s_{bc}}},\quad
        s_{bc} = e_{a_b}^\top e_{c_c} / \tau - \log Q_c

    with columns holding the row's own context item elsewhere (accidental hits) or the anchor item itself
    masked. Item2vec (Barkan & Koenigstein 2016, https://arxiv.org/abs/1603.04259) with a softmax over
    in-batch negatives and logQ (Yi et al., RecSys 2019).
    """

    def __init__(self, config: Item2ItemConfig, train: Interactions) -> None:
        super().__init__()
        self.config = config
        self.normalized = config.normalize
        self.num_users, self.num_items = train.num_users, train.num_items
        self.item_tower = make_tower(config, train.num_items, train.item_features)
        csr = train.to_csr()
        self.register_buffer("_bag_items", torch.from_numpy(csr.indices.astype(np.int64)), persistent=False)
        self.register_buffer("_bag_offsets", torch.from_numpy(csr.indptr[:-1].astype(np.int64)), persistent=False)

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"total", "infonce"}`` over the batch's (anchor, context) pairs."""
        anchor = self.item_tower(batch.users)  # [B, D]
        context = self.item_tower(batch.items)  # [B, D]
        logits = (anchor / self.config.temperature) @ context.T  # [B, D] @ [D, B] -> [B, B]
        if self.config.log_q:
            logits = apply_log_q(logits, in_batch_log_q(batch.item_log_q, len(batch)))
        logits = mask_accidental_hits(logits, batch.items, batch.items)  # the row's own context elsewhere
        logits = mask_accidental_hits(logits, batch.users, batch.items)  # the anchor item as a column
        loss = F.cross_entropy(logits, torch.arange(len(batch)))
        return {"total": loss, "infonce": loss}

    @torch.no_grad()
    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]``."""
        return self.item_tower.encode_all(self.num_items)

    @torch.no_grad()
    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]`` mean of each user's training-item embeddings (normalised when the items are)."""
        users = F.embedding_bag(self._bag_items, self.item_embeddings(), self._bag_offsets, mode="mean")  # [U, D]
        return F.normalize(users, dim=-1) if self.normalized else users

    @torch.no_grad()
    def similar_items(self, items: torch.Tensor, k: int = 10) -> TopK:
        """The k items most similar to each of ``items [Q]`` (itself excluded), as ``TopK([Q, k], [Q, k])``."""
        if not 1 <= k < self.num_items:
            raise ValueError(f"k must be in [1, {self.num_items - 1}], got {k}")
        emb = self.item_embeddings()
        scores = emb[items] @ emb.T  # [Q, D] @ [D, N] -> [Q, N]
        scores[torch.arange(len(items)), items] = float("-inf")
        top = scores.topk(k, dim=1)
        return TopK(scores=top.values.numpy().astype(np.float32), ids=top.indices.numpy().astype(np.int64))


@dataclass(frozen=True)
class PairRecipe(Recipe):
    """A recipe whose batches are co-occurring item pairs instead of (user, item) interactions."""

    def make_batches(self, config: Any, train: Interactions, batch_size: int, seed: int,
                     sampling: Sampling = "interaction") -> PairBatches:
        """Pairs of items within ``config.window`` steps (and ``max_gap`` time) in a user's history."""
        if sampling != "interaction":
            raise ConfigError(f"train.sampling={sampling} does not apply to item2item, whose batches are item "
                              "pairs; leave it at interaction")
        order = None if train.timestamps is None else torch.from_numpy(np.asarray(train.timestamps))
        if config.max_gap is not None and order is None:
            raise ConfigError("model.max_gap needs timestamps, and this data has none; leave max_gap unset")
        anchors, contexts = cooccurrence_pairs(torch.from_numpy(train.users), torch.from_numpy(train.items),
                                               order=order, window=config.window, max_gap=config.max_gap)
        return PairBatches(anchors, contexts, train.num_items, batch_size, seed, config.pairs_per_epoch)


RECIPE = PairRecipe(
    name="item2item",
    description="item tower trained with InfoNCE on items consumed close together (window in a user's "
                "history); users are the mean of their items; gives similar_items",
    source="Barkan & Koenigstein 2016 (item2vec); Grbovic & Cheng KDD 2018; Yi et al. RecSys 2019 (logQ)",
    config_class=Item2ItemConfig,
    build_model=Item2ItemModel,
    train_defaults={"batch_size": 1024, "lr": 1e-3},
)
