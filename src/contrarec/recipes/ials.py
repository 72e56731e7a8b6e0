"""``ials``: implicit ALS (Hu, Koren & Volinsky, ICDM 2008) fitted by the ``implicit`` library.

The factors are fitted on first use (:meth:`IALSModel.fit`, inside the trainer's first evaluation, as
the model has no trainable parameters) and kept as buffers, so checkpoints hold them and a reloaded run
does not refit. Scores are inner products of the factors, so export and ANN serving work as for any
embedding model.
"""

from __future__ import annotations

import torch
from pydantic import Field

from contrarec.config import Strict
from contrarec.data.interactions import Interactions
from contrarec.encoders.ials import fit_ials
from contrarec.model import RecallModel
from contrarec.recipes.base import Recipe


class IALSConfig(Strict):
    """Settings of iALS (defaults tuned on the LightGCN Yelp2018 / Gowalla splits)."""

    factors: int = Field(128, ge=1, description="latent dimension D")
    regularization: float = Field(30.0, ge=0, description="λ, L2 weight on both factor tables (absolute, "
                                  "not scaled by counts; ~1-3 × alpha worked on all three benchmarks)")
    alpha: float = Field(10.0, gt=0, description="confidence of observed pairs relative to unobserved ones "
                         "(implicit's default 1.0 weighs them alike and was 15% worse)")
    iterations: int = Field(15, ge=1, description="ALS sweeps")
    seed: int = Field(0, description="seed of the initial factors")
    threads: int = Field(0, ge=0, description="implicit's worker threads (0 = all cores)")


class IALSModel(RecallModel):
    """``s(u, i) = x_u · y_i`` with iALS factors from ``implicit.cpu.als.AlternatingLeastSquares``."""

    def __init__(self, config: IALSConfig, train: Interactions) -> None:
        super().__init__()
        self.config = config
        self.train_csr = train.to_csr()  # [U, N]
        self.fitted = False
        self.register_buffer("user_table", torch.zeros(train.num_users, config.factors))
        self.register_buffer("item_table", torch.zeros(train.num_items, config.factors))

    def fit(self) -> "IALSModel":
        """Run ALS unless the factors are already fitted (or restored); returns ``self``."""
        if not self.fitted:
            cfg = self.config
            users, items = fit_ials(self.train_csr, cfg.factors, cfg.regularization, cfg.alpha,
                                    cfg.iterations, cfg.seed, cfg.threads)
            self.user_table.copy_(torch.from_numpy(users))
            self.item_table.copy_(torch.from_numpy(items))
            self.fitted = True
        return self

    def user_embeddings(self) -> torch.Tensor:
        """``[U, D]`` user factors."""
        return self.fit().user_table

    def item_embeddings(self) -> torch.Tensor:
        """``[N, D]`` item factors."""
        return self.fit().item_table

    def extra_state_for_checkpoint(self) -> dict:
        """Whether the buffers hold fitted factors."""
        return {"fitted": self.fitted}

    def load_extra_state(self, state: dict) -> None:
        """Restore the fitted flag (the factors come with the state dict)."""
        self.fitted = bool(state.get("fitted", False))


RECIPE = Recipe(name="ials", description="implicit ALS matrix factorisation (the implicit library)",
                source="Hu, Koren & Volinsky, ICDM 2008", config_class=IALSConfig, build_model=IALSModel,
                train_defaults={"epochs": 1, "patience": 0})
