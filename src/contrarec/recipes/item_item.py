"""Closed-form item-item baselines: ``itemknn`` (cosine neighbourhoods) and ``ease`` (EASE^R).

Both score a user as the sum of item-item weights over the user's training items, ``X_u @ W``
(``[b, N] @ [N, N]``), through :meth:`RecallModel.score_users`, so the full-ranking evaluator, its
metrics and the long-tail breakdown apply unchanged. They have no trainable parameters (the trainer
runs no loop) and no embeddings: :meth:`user_embeddings` / :meth:`item_embeddings` are ``[U, 1]`` /
``[N, 1]`` zero placeholders, so export and alignment/uniformity say nothing about them
(``has_embeddings = False``). ``W`` is computed on first use (:meth:`ItemItemModel.fit`) and is not
checkpointed (EASE's is ``N²`` floats); reloading a run recomputes it from the training data.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field

from contrarec.config import Strict
from contrarec.data.interactions import Interactions
from contrarec.encoders.ease import choose_solver, ease_weights
from contrarec.encoders.ease_dual import EASEDual, ease_dual
from contrarec.encoders.item_knn import cosine_neighbors, idf_user_weights, score_from_history
from contrarec.model import RecallModel
from contrarec.recipes.base import Recipe


class ItemKNNConfig(Strict):
    """Settings of item-kNN (defaults tuned on the LightGCN Yelp2018 / Gowalla splits).

    ``asymmetry=0.5, user_weighting="none"`` is the textbook cosine item-kNN; the defaults (asymmetric
    cosine, idf-weighted users) gave +10% Recall@20 over it on both splits.
    """

    neighbors: int = Field(400, ge=1, description="most similar items kept per item (small catalogues "
                           "like MovieLens-100K prefer ~50)")
    shrinkage: float = Field(0.0, ge=0, description="added to the similarity denominator")
    asymmetry: float = Field(0.75, ge=0, le=1, description="α of the asymmetric cosine (0.5 = plain cosine; "
                             "> 0.5 discounts popular history items)")
    user_weighting: Literal["none", "idf"] = Field("idf", description="weight users by log(N / |I_u|) "
                                                   "before the co-occurrences ('none' = plain)")


class EASEConfig(Strict):
    """Settings of EASE^R (λ default tuned on the LightGCN Yelp2018 / Gowalla splits)."""

    l2: float = Field(300.0, gt=0, description="λ, L2 weight on B (hundreds for sparse implicit data)")
    dtype: Literal["float32", "float64"] = Field("float32", description="precision of the N x N inverse")
    solver: Literal["auto", "primal", "dual"] = Field(
        "auto", description="primal inverts N x N; dual inverts U x U (Woodbury); auto takes the smaller")
    max_memory_gb: float = Field(16.0, gt=0, description="refuse when the dense matrices would exceed this")
    threads: int | None = Field(None, ge=1, description="BLAS threads for the inverse (None = BLAS default; "
                                "1 is fastest on a machine shared with other jobs)")


class ItemItemModel(RecallModel):
    """Scores ``X_u @ W`` with an item-item weight matrix ``W`` computed from the training data."""

    #: no embeddings: the placeholders are not meant for export or ANN search.
    has_embeddings: bool = False

    def __init__(self, train: Interactions) -> None:
        super().__init__()
        self.num_users, self.num_items = train.num_users, train.num_items
        self.history = train.to_csr().astype(np.float32)  # [U, N] binary training matrix
        self.weights: Any = None  # [N, N] sparse or dense once fitted (EASE dual: its factors)

    def compute_weights(self) -> Any:
        """The ``[N, N]`` item-item weights (subclasses)."""
        raise NotImplementedError

    def fit(self) -> "ItemItemModel":
        """Compute ``W`` unless already done; returns ``self``."""
        if self.weights is None:
            self.weights = self.compute_weights()
        return self

    def user_embeddings(self) -> torch.Tensor:
        """``[U, 1]`` zeros: item-item models have no user embeddings."""
        return torch.zeros(self.num_users, 1)

    def item_embeddings(self) -> torch.Tensor:
        """``[N, 1]`` zeros: item-item models have no item embeddings."""
        return torch.zeros(self.num_items, 1)

    def score_users(self, users: torch.Tensor, user_emb: torch.Tensor | None = None,
                    item_emb: torch.Tensor | None = None) -> torch.Tensor:
        """``[b, N]`` scores ``X_u @ W`` for the users ``[b]`` (the embedding arguments are ignored)."""
        self.fit()
        rows = users.detach().cpu().numpy()
        scores = score_from_history(self.history[rows], self.weights)  # [b, N] @ [N, N] -> [b, N]
        return torch.from_numpy(scores).to(users.device)


class ItemKNNModel(ItemItemModel):
    """Item-kNN: ``W`` = top-``neighbors`` cosine similarities per item (Sarwar et al., WWW 2001)."""

    def __init__(self, config: ItemKNNConfig, train: Interactions) -> None:
        super().__init__(train)
        self.config = config

    def compute_weights(self) -> sp.csr_matrix:
        """``[N, N]`` sparse cosine neighbourhoods."""
        cfg = self.config
        weights = idf_user_weights(self.history) if cfg.user_weighting == "idf" else None
        return cosine_neighbors(self.history, cfg.neighbors, cfg.shrinkage, cfg.asymmetry, weights)


class EASEModel(ItemItemModel):
    """EASE^R: ``W = B``, the closed-form L2-regularised item-item regression (Steck, WWW 2019).

    With the dual solver ``B`` is never formed: scores come from ``(λ I + X Xᵀ)⁻¹`` (see
    :mod:`contrarec.encoders.ease_dual`) and :attr:`weights` holds that :class:`EASEDual`. The memory
    check runs when the model is built, so data too large for the budget fails at once with the memory
    it would need (:class:`contrarec.encoders.ease.EASEMemoryError`).
    """

    def __init__(self, config: EASEConfig, train: Interactions) -> None:
        super().__init__(train)
        self.config = config
        self.solver = choose_solver(self.num_users, self.num_items, config.dtype, config.solver,
                                    config.max_memory_gb * 2**30)

    def compute_weights(self) -> np.ndarray | EASEDual:
        """``[N, N]`` dense ``B`` with a zero diagonal (primal), or the dual factors."""
        cfg = self.config
        fit = ease_dual if self.solver == "dual" else ease_weights
        return fit(self.history, cfg.l2, dtype=cfg.dtype, max_memory_bytes=cfg.max_memory_gb * 2**30,
                   threads=cfg.threads)

    def score_users(self, users: torch.Tensor, user_emb: torch.Tensor | None = None,
                    item_emb: torch.Tensor | None = None) -> torch.Tensor:
        """``[b, N]`` scores ``X_u @ B`` for the users ``[b]``."""
        if self.solver != "dual":
            return super().score_users(users, user_emb, item_emb)
        self.fit()
        scores = self.weights.scores(users.detach().cpu().numpy())  # [b, N]
        return torch.from_numpy(scores).to(users.device)


_CLOSED_FORM = {"epochs": 1, "patience": 0}

ITEMKNN = Recipe(name="itemknn", description="item-item cosine neighbourhoods, user score = sum over own items",
                 source="Sarwar et al., WWW 2001", config_class=ItemKNNConfig, build_model=ItemKNNModel,
                 train_defaults=_CLOSED_FORM)
EASE = Recipe(name="ease", description="EASE^R closed-form item-item regression (dense N x N)",
              source="Steck, WWW 2019", config_class=EASEConfig, build_model=EASEModel,
              train_defaults=_CLOSED_FORM)
