"""What every graph recipe shares: the train graph, a LightGCN encoder, batch rows, BPR and clean embeddings.

A graph model propagates the whole graph, but its losses read only the batch's rows, so the propagation is
asked for those rows only (:func:`contrarec.encoders.propagation.propagate`); :class:`BatchRows` maps them
back to the batch's positions.

Shape legend: B batch, M negatives per row, D dim, U users, N items, u / i unique batch users / items.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Literal, NamedTuple

import torch
from pydantic import Field

from contrarec.config import Strict
from contrarec.data.batches import Batch, Sampling
from contrarec.data.interactions import Interactions
from contrarec.encoders.graph import normalize_edges
from contrarec.encoders.lightgcn import LightGCNEncoder
from contrarec.encoders.node_order import NodeOrder, locality_order
from contrarec.encoders.propagation import PropagationOutput
from contrarec.model import RecallModel
from contrarec.objectives.bpr import BPRLoss, l2_regularization
from contrarec.recipes.base import Recipe


class GraphSettings(Strict):
    """Settings every graph recipe has (defaults: LightGCN / SGL / SimGCL papers on Yelp2018)."""

    dim: int = Field(64, ge=1, description="embedding size D")
    num_layers: int = Field(3, ge=1, description="propagation layers K")
    l2: float = Field(1e-4, ge=0, description="L2 regularization weight")
    num_negatives: int = Field(1, ge=1, description="sampled negatives per positive (BPR)")
    node_order: Literal["locality", "input"] = Field(
        "locality", description="store users and items in reverse Cuthill–McKee order, so propagation reads "
        "memory in order (4–13% faster steps; the same results up to float summation order), or in id order")


class BatchRows(NamedTuple):
    """The unique rows a batch reads and where each batch position finds its row.

    Attributes:
        users: ``[u]`` unique user ids (sorted).
        items: ``[i]`` unique ids of positives and negatives (sorted).
        user_pos: ``[B]`` position of each batch user in ``users``.
        item_pos: ``[B]`` position of each positive in ``items``.
        neg_pos: ``[B, M]`` position of each negative in ``items``.
        positive_pos: ``[p]`` positions in ``items`` of the unique positives (the contrastive items).
    """

    users: torch.Tensor
    items: torch.Tensor
    user_pos: torch.Tensor
    item_pos: torch.Tensor
    neg_pos: torch.Tensor
    positive_pos: torch.Tensor

    @classmethod
    def of(cls, batch: Batch, num_users: int, num_items: int) -> "BatchRows":
        """Rows of a batch with ``[B, M]`` negatives, ids below ``num_users`` / ``num_items``."""
        if batch.negatives is None:
            raise ValueError("graph recipes need sampled negatives (batch.negatives is None)")
        users, user_pos = dense_unique(batch.users, num_users)
        both = torch.cat([batch.items, batch.negatives.reshape(-1)])
        items, pos = dense_unique(both, num_items)
        size = len(batch.items)
        positive_pos, _ = dense_unique(pos[:size], len(items))
        return cls(users, items, user_pos, pos[:size], pos[size:].view_as(batch.negatives), positive_pos)


def dense_unique(ids: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.unique(ids, return_inverse=True)`` for ids in ``[0, size)``, by a presence mask (no sort).

    Returns:
        ``([u] sorted distinct ids, [n] position of each id among them)``. O(size + n): a batch's
        distinct rows in a few hundred microseconds where sorting 50k ids takes ~10 ms.
    """
    present = torch.zeros(size, dtype=torch.bool)
    present[ids] = True
    distinct = present.nonzero().squeeze(1)
    slot = torch.empty(size, dtype=torch.long)
    slot[distinct] = torch.arange(len(distinct))
    return distinct, slot[ids]


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for an index of any shape, as ``index_select`` (``[*index.shape, D]``).

    The backward of ``index_select`` is an ``index_add_`` into a zeroed table; that of ``table[index]``
    is an accumulating ``index_put_``, which sorts the index first (~3× slower on a 16k batch).
    """
    return table.index_select(0, index.reshape(-1)).view(*index.shape, table.shape[-1])


class GraphRecallModel(RecallModel):
    """Base of the graph recipes: the normalized train graph, the encoder and the shared loss pieces.

    The graph and the encoder's tables are stored by row, in the order ``config.node_order`` chooses
    (:mod:`contrarec.encoders.node_order`); batches are mapped from ids to rows on the way in
    (:meth:`compute_loss`) and embeddings from rows to ids on the way out. Subclasses implement
    :meth:`rows_loss`, which sees row numbers only.

    Clean embeddings for evaluation are computed by one full propagation and cached until the parameters
    change (their ``_version`` counters move on every optimizer step and on ``load_state_dict``). Fused
    optimizer kernels do not move them: the trainer's optimizer does it after each step
    (:func:`contrarec.train.optim.make_optimizer`), and a fused optimizer of one's own must too.
    """

    readout_from_input: bool = True

    def __init__(self, config: GraphSettings, train: Interactions) -> None:
        super().__init__()
        self.config = config
        edges = train.to_csr().tocoo()  # binary, deduplicated
        self.order: NodeOrder | None = None
        users, items = torch.from_numpy(edges.row.astype("int64")), torch.from_numpy(edges.col.astype("int64"))
        if config.node_order == "locality":
            self.order = locality_order(users, items, train.num_users, train.num_items)
            users, items = self.order.user_row[users], self.order.item_row[items]
            # saved with the weights, so a checkpoint is only loaded into a model with the same rows
            self.register_buffer("user_row", self.order.user_row)
            self.register_buffer("item_row", self.order.item_row)
            self.register_load_state_dict_pre_hook(_check_saved_order)
        self.graph = normalize_edges(users, items, train.num_users, train.num_items)
        self.encoder = LightGCNEncoder(train.num_users, train.num_items, config.dim, config.num_layers,
                                       readout_from_input=self.readout_from_input)
        if self.order is not None:  # row r starts from id at_row[r]'s draw: the same model in either order
            with torch.no_grad():
                self.encoder.user_weight.copy_(self.encoder.user_weight[self.order.user_at_row])
                self.encoder.item_weight.copy_(self.encoder.item_weight[self.order.item_at_row])
        self.bpr = BPRLoss()
        self.generator = torch.Generator().manual_seed(0)
        self._cache: tuple[tuple, torch.Tensor, torch.Tensor] | None = None

    def on_epoch_start(self, epoch: int, generator: torch.Generator) -> None:
        """Keep the epoch's generator for the noise drawn during the epoch."""
        self.generator = generator

    def bpr_loss(self, out: PropagationOutput, rows: BatchRows) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """BPR on the readout rows of the batch; returns the loss and ``(u [B, D], i [B, D], j [B, M, D])``."""
        u = gather_rows(out.user, rows.user_pos)  # [B, D]
        i = gather_rows(out.item, rows.item_pos)  # [B, D]
        j = gather_rows(out.item, rows.neg_pos)  # [B, M, D]
        pos = (u * i).sum(-1)  # [B]
        neg = torch.einsum("bd,bmd->bm", u, j)  # [B, M]
        return self.bpr(pos, neg), (u, i, j)

    def layer0_l2(self, out: PropagationOutput, rows: BatchRows) -> torch.Tensor:
        """LightGCN's penalty ``λ (||e⁰_u||² + ||e⁰_i||² + ||e⁰_j||²) / 2B`` on the batch's layer-0 rows.

        ``out`` is a clean view propagated with ``tap_layer=0``: its taps are the batch's layer-0 rows, so the
        penalty's gradient joins the propagation's backward instead of adding a table-sized gradient of its
        own (three fewer passes over the tables a step).
        """
        if out.user_tap is None or out.item_tap is None:
            raise ValueError("layer0_l2 needs the clean view propagated with tap_layer=0")
        return self.config.l2 * l2_regularization(gather_rows(out.user_tap, rows.user_pos),
                                                  gather_rows(out.item_tap, rows.item_pos),
                                                  gather_rows(out.item_tap, rows.neg_pos.reshape(-1)))

    def compute_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named loss terms of a batch of ids: :meth:`rows_loss` of the batch mapped to rows."""
        return self.rows_loss(self.to_rows(batch))

    def rows_loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named loss terms of a batch whose users and items are row numbers; ``"total"`` is minimised."""
        raise NotImplementedError

    def to_rows(self, batch: Batch) -> Batch:
        """The batch with user and item ids replaced by their rows (unchanged in id order)."""
        if self.order is None:
            return batch
        item_row = self.order.item_row
        return dataclasses.replace(
            batch, users=self.order.user_row[batch.users], items=item_row[batch.items],
            negatives=None if batch.negatives is None else item_row[batch.negatives],
            uniform_items=None if batch.uniform_items is None else item_row[batch.uniform_items])

    def batch_rows(self, batch: Batch) -> BatchRows:
        """The batch's distinct rows (see :class:`BatchRows`)."""
        return BatchRows.of(batch, self.encoder.user_weight.shape[0], self.encoder.item_weight.shape[0])

    def _clean(self) -> tuple[torch.Tensor, torch.Tensor]:
        enc = self.encoder
        key = (enc.user_weight._version, enc.item_weight._version, enc.user_weight.data_ptr())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                out = enc(self.graph)
                users, items = out.user, out.item  # [U, D], [N, D] by row
                if self.order is not None:
                    users, items = users[self.order.user_row], items[self.order.item_row]  # by id
            self._cache = (key, users, items)
        return self._cache[1], self._cache[2]

    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]`` clean layer-mean embeddings (one propagation shared with :meth:`item_embeddings`)."""
        return self._clean()[0]

    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]`` clean layer-mean embeddings."""
        return self._clean()[1]


def _check_saved_order(model: GraphRecallModel, state: dict, prefix: str, *args: Any) -> None:
    """Before ``load_state_dict`` copies anything: the saved rows must be those of this model's graph."""
    saved = [state.get(prefix + key) for key in ("user_row", "item_row")]
    if saved[0] is None or saved[1] is None:
        raise ValueError("the checkpoint has no user_row / item_row: it was saved by a model stored in id order; "
                         "load it with model.node_order=input")
    if not (torch.equal(saved[0], model.order.user_row) and torch.equal(saved[1], model.order.item_row)):
        raise ValueError("the checkpoint stores users/items in another node order than this model's graph "
                         "(trained on other data?); it cannot be loaded")


def graph_recipe(name: str, description: str, source: str, config_class: type[GraphSettings],
                 build_model: Callable[[Any, Interactions], RecallModel],
                 sampling: Sampling = "interaction", min_epochs: int = 10) -> Recipe:
    """A graph recipe: M sampled negatives per positive, batch 2048 and lr 1e-3 (the papers' settings).

    ``sampling`` is the default ``train.sampling`` of the authors' code (``user`` for LightGCN's,
    ``interaction`` for SELFRec's SimGCL / XSimGCL and the SGL authors' NeuRec sampler). Early stopping
    waits for 10 epochs: the contrastive recipes' recall dips for several epochs after the first before it
    climbs (``xsimgcl`` 3 on Yelp2018, ``simgcl`` more than 6).
    """
    return Recipe(name=name, description=description, source=source, config_class=config_class,
                  build_model=build_model, batch_options=lambda cfg: {"num_negatives": cfg.num_negatives},
                  train_defaults={"batch_size": 2048, "lr": 1e-3, "min_epochs": min_epochs,
                                  "sampling": sampling})
