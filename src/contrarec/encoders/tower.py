"""A tower: id embedding (+ embedded features) -> MLP -> projector -> L2 normalisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from contrarec.data.features import FeatureTable
from contrarec.encoders.features import FeatureEmbedding


class TowerEncoder(nn.Module):
    """One side of a two-tower model.

    ``e = normalize(P(MLP([E_id[x]; φ(features(x))])))``. With no features, no MLP and no projector this
    is a plain (cosine) embedding table, i.e. matrix factorisation.

    Args:
        num_ids: rows of the id embedding table.
        dim: output dimension D (and id embedding size).
        features: optional feature table for these ids.
        feature_dim: embedding size of each feature column.
        mlp_hidden: hidden layer sizes of the MLP (ReLU); empty = none.
        projector: add a final linear projection to D (always added when the input is wider than D).
        dropout: dropout inside the MLP.
        use_ids: embed the id itself (False = features only, for cold-start-only towers).
        normalize: L2-normalise the output.
        init_std: std of the normal init of the id table (None = Xavier uniform).
        sparse: sparse gradients for the id table, so an optimizer such as ``SparseAdam`` updates only the
            batch's rows (large catalogues: no dense ``[num_ids, D]`` gradient per step).

    Shapes:
        ``forward(ids [B]) -> [B, D]``.
    """

    def __init__(self, num_ids: int, dim: int, features: FeatureTable | None = None, feature_dim: int = 16,
                 mlp_hidden: tuple[int, ...] = (), projector: bool = False, dropout: float = 0.0,
                 use_ids: bool = True, normalize: bool = True, init_std: float | None = None,
                 sparse: bool = False) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.normalize = normalize
        self.id_embedding = nn.Embedding(num_ids, dim, sparse=sparse) if use_ids else None
        if self.id_embedding is not None:
            if init_std is None:
                nn.init.xavier_uniform_(self.id_embedding.weight)
            else:
                nn.init.normal_(self.id_embedding.weight, std=init_std)
        self.features = FeatureEmbedding(features, feature_dim) if features is not None and not features.is_empty() else None
        width = (dim if use_ids else 0) + (self.features.output_dim if self.features is not None else 0)
        if width == 0:
            raise ValueError("a tower needs ids or features")
        layers: list[nn.Module] = []
        for hidden in mlp_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.projector = nn.Linear(width, dim) if (projector or width != dim) else None
        self.output_dim = dim

    def forward(self, ids: torch.Tensor, feature_mask: torch.Tensor | None = None,
                feature_overrides: dict[str, torch.Tensor] | None = None,
                id_embedding: torch.Tensor | None = None) -> torch.Tensor:
        """Encode ids.

        Args:
            ids: ``[B]`` internal ids.
            feature_mask: ``[B, C]`` keep-mask over feature columns (augmented views).
            feature_overrides: column -> codes replacing the stored features (cold start).
            id_embedding: ``[B, D]`` replaces the id lookup (e.g. pooled history for unseen users).

        Returns:
            ``[B, D]`` embeddings, unit norm when ``normalize``.
        """
        parts = []
        if self.id_embedding is not None:
            parts.append(self.id_embedding(ids) if id_embedding is None else id_embedding)
        if self.features is not None:
            parts.append(self.features(ids, column_mask=feature_mask, overrides=feature_overrides))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        x = self.mlp(x)
        if self.projector is not None:
            x = self.projector(x)
        return F.normalize(x, dim=-1) if self.normalize else x

    def encode_all(self, num: int, chunk: int = 65536) -> torch.Tensor:
        """``[num, D]`` embeddings of ids ``0..num-1``, computed in chunks."""
        device = next(self.parameters()).device  # the tower's own device (a GPU under torchrun + NCCL)
        outs = [self(torch.arange(s, min(s + chunk, num), device=device)) for s in range(0, num, chunk)]
        return torch.cat(outs) if outs else torch.zeros(0, self.output_dim, device=device)
