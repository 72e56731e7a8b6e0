"""``moco``: two towers with a FIFO queue of item keys from earlier batches (MoCo / CLRec; CBNS at momentum 0)."""

from __future__ import annotations

import torch
from pydantic import Field, model_validator

from contrarec.data.batches import Batch
from contrarec.data.interactions import Interactions
from contrarec.encoders.momentum import cosine_momentum, momentum_copy, update_momentum
from contrarec.negatives.corrections import mixture_log_q
from contrarec.negatives.gather import gather_in_batch, gather_no_grad
from contrarec.negatives.queue import EmbeddingQueue
from contrarec.recipes.base import Recipe
from contrarec.recipes.two_tower import TwoTowerConfig, TwoTowerModel, build_two_tower


class MocoConfig(TwoTowerConfig):
    """Settings of ``moco``: the two-tower settings plus the queue and the momentum encoder."""

    queue_size: int = Field(16384, ge=1, description="Q, item keys kept from earlier batches (65,536+ is fine)")
    momentum: float = Field(0.99, ge=0, le=1, description="EMA momentum m of the key (item) tower; "
                            "0 = cross-batch negatives from the online tower, detached (CBNS)")
    momentum_end: float | None = Field(None, ge=0, le=1, description="raise m to this value along a half "
                                       "cosine over momentum_steps (None = constant m)")
    momentum_steps: int = Field(10000, ge=1, description="length of the momentum schedule in steps")
    refresh_queue: bool = Field(False, description="re-encode the queued items with the online item tower at "
                                "every step, with gradient: the queue then picks which items are negatives "
                                "and they are pushed apart too (cheap for ID towers; needs momentum=0)")

    @model_validator(mode="after")
    def _refresh_needs_no_momentum(self) -> "MocoConfig":
        if self.refresh_queue and (self.momentum > 0 or self.momentum_end is not None):
            raise ValueError("refresh_queue=true re-encodes the queue with the online item tower, so no "
                             "momentum tower is used: set momentum=0 (and no momentum_end)")
        return self


class MocoModel(TwoTowerModel):
    r"""User tower queries, item tower positives, and negatives from the batch, a queue (and uniform samples).

    Per step, the logits of query b are over the batch's positive items (online tower, with gradient),
    optional uniform items, and the Q queue entries (detached keys of earlier batches' positive items,
    encoded by the momentum copy of the item tower, or by the online tower itself when m = 0):

    .. math:: \mathcal{L} = -\log\frac{e^{s(q_b, k_b)}}{\sum_{c \in \text{batch} \cup \text{queue}} e^{s(q_b, k_c)}},
        \quad s(q, k_c) = q^\top k_c / \tau - \log\big((B + Q)\,p_c + M/N\big)

    Queue entries were drawn like positives (by popularity p), so their logQ uses the same proposal as
    in-batch keys; queue entries holding the row's own item are masked (accidental hits, via the queue's
    ids). After each optimizer step the momentum tower is updated (θ_k ← m θ_k + (1−m) θ_q) and the
    batch's keys are enqueued.

    Stored keys are constants: the users see Q more negatives, but the item tower is pushed apart only by
    the in-batch columns. For an ID item tower, which (unlike an image encoder) shares nothing between
    items, that leaves the item table poorly spread. ``refresh_queue`` re-encodes the queued ids with the
    online item tower at every step, with gradient, so every queue entry is repelled as well; the queue
    then only decides *which* items are negatives (recent positives, i.e. drawn by popularity, with the
    same logQ). Re-encoding Q ids is a row gather for an ID tower.

    He et al., CVPR 2020 (https://arxiv.org/abs/1911.05722); Zhou et al., CLRec, KDD 2021
    (https://arxiv.org/abs/2005.12964); Wang et al., CBNS, SIGIR 2021 (https://arxiv.org/abs/2110.15154).
    """

    def __init__(self, config: MocoConfig, train: Interactions) -> None:
        super().__init__(config, train)
        self.queue = EmbeddingQueue(config.queue_size, config.dim)
        self.key_tower = momentum_copy(self.item_tower) if config.momentum > 0 else None
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def momentum(self) -> float:
        """m in force at this step (constant, or on the cosine schedule)."""
        cfg = self.config
        if cfg.momentum_end is None:
            return cfg.momentum
        return cosine_momentum(int(self.step), cfg.momentum_steps, cfg.momentum, cfg.momentum_end)

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """InfoNCE over in-batch + uniform + queue negatives; the batch's keys wait to be enqueued."""
        cfg = self.config
        query = self.encode_query(batch.users)  # [B, D]
        key = self.encode_item(batch.items)  # [B, D]
        g = gather_in_batch(key, batch.items, batch.item_log_q, query if cfg.symmetric else None, batch.users,
                            enabled=cfg.negatives == "global")  # every worker's keys [W·B, D]; one process: unchanged
        queued = self.queue.contents()  # [Q', D], [Q'], [Q']
        parts_k, parts_id, parts_lp = [], [], []
        if batch.uniform_items is not None:
            parts_k.append(self.encode_item(batch.uniform_items))  # [M, D]
            parts_id.append(batch.uniform_items)
            parts_lp.append(self._log_p[batch.uniform_items])
        parts_k.append(self.encode_item(queued.ids) if cfg.refresh_queue else queued.embeddings)  # [Q', D]
        parts_id.append(queued.ids)
        parts_lp.append(queued.log_p)
        extra_keys, extra_ids, extra_lp = torch.cat(parts_k), torch.cat(parts_id), torch.cat(parts_lp)
        key_log_q = extra_log_q = None
        if cfg.log_q:
            in_batch = len(g.keys) if cfg.in_batch_negatives else 0
            popular_draws = in_batch + len(self.queue)  # B in-batch + Q' queued, both drawn by popularity
            num_uniform = 0 if batch.uniform_items is None else len(batch.uniform_items)
            key_log_q = mixture_log_q(g.key_log_p, popular_draws, num_uniform, self.num_items)
            extra_log_q = mixture_log_q(extra_lp, popular_draws, num_uniform, self.num_items)
        mask = cfg.mask_accidental_hits
        loss = self.loss_fn(query, g.keys, temperature=self.temperature, key_ids=g.key_ids if mask else None,
                            key_log_q=key_log_q, extra_keys=extra_keys if len(extra_keys) else None,
                            extra_ids=extra_ids, extra_log_q=extra_log_q,
                            query_ids=g.query_ids if mask else None, positive_offset=g.offset,
                            all_queries=g.queries)
        if self.training:
            with torch.no_grad():
                keys = key.detach() if self.key_tower is None else self.key_tower(batch.items)  # [B, D]
            items = batch.items
            if cfg.negatives == "global":  # every worker enqueues the global batch: queues stay identical
                keys, items = gather_no_grad(keys), gather_no_grad(items)  # [W·B, D], [W·B]
            self._pending = (keys, items)
        return {"total": loss, "infonce": loss}

    def on_step_end(self) -> None:
        """Momentum update of the key tower, then enqueue the last batch's keys."""
        if self.key_tower is not None:
            update_momentum(self.item_tower, self.key_tower, self.momentum)
        if self._pending is not None:
            keys, items = self._pending
            self.queue.enqueue(keys, items, self._log_p[items])
            self._pending = None
        self.step += 1


def build_moco(config: MocoConfig, train: Interactions) -> MocoModel:
    """Build the model (with the items' log p for logQ of queue and uniform entries)."""
    return build_two_tower(config, train, model_class=MocoModel)


RECIPE = Recipe(
    name="moco",
    description="two towers + FIFO queue of item keys from a momentum item tower (momentum=0: CBNS), "
                "logQ and accidental-hit masking on queue entries",
    source="He et al. CVPR 2020 (MoCo); Zhou et al. KDD 2021 (CLRec); Wang et al. SIGIR 2021 (CBNS)",
    config_class=MocoConfig,
    build_model=build_moco,
    batch_options=lambda cfg: {"num_uniform": cfg.num_uniform_negatives},
    train_defaults={"batch_size": 256, "lr": 1e-3},
)
