"""Embedding of a feature table's columns into one dense vector per row."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from contrarec.data.features import FeatureTable


class FeatureEmbedding(nn.Module):
    """Embeds categorical, multi-valued (mean-pooled, padding 0 ignored) and numeric columns.

    The table is held as buffers, so a forward pass takes only row ids.

    Args:
        table: the feature table (rows = internal ids).
        dim: embedding size per categorical / multi-valued column.

    Shapes:
        ``forward(rows [B]) -> [B, F_out]`` with ``F_out = dim * (#categorical + #multi_valued) + #numeric``.
    """

    def __init__(self, table: FeatureTable, dim: int) -> None:
        super().__init__()
        self.categorical_names = list(table.categorical)
        self.multi_names = list(table.multi_valued)
        self.numeric_names = list(table.numeric)
        self.embeddings = nn.ModuleDict()
        for name in self.categorical_names + self.multi_names:
            self.embeddings[name] = nn.Embedding(table.cardinalities[name], dim, padding_idx=0)
            nn.init.normal_(self.embeddings[name].weight, std=0.1)
            with torch.no_grad():
                self.embeddings[name].weight[0].zero_()
        for name in self.categorical_names:
            self.register_buffer(f"cat_{name}", torch.from_numpy(table.categorical[name].astype(np.int64)),
                                 persistent=False)
        for name in self.multi_names:
            self.register_buffer(f"multi_{name}", torch.from_numpy(table.multi_valued[name].astype(np.int64)),
                                 persistent=False)
        if self.numeric_names:
            stacked = np.stack([table.numeric[n] for n in self.numeric_names], axis=1).astype(np.float32)
            self.register_buffer("numeric", torch.from_numpy(stacked), persistent=False)
        self.output_dim = dim * (len(self.categorical_names) + len(self.multi_names)) + len(self.numeric_names)

    @property
    def column_names(self) -> list[str]:
        """Columns in the order their blocks appear in the output."""
        return self.categorical_names + self.multi_names + self.numeric_names

    def codes(self, name: str) -> torch.Tensor:
        """``[num_rows]`` or ``[num_rows, L]`` codes of one categorical / multi-valued column."""
        prefix = "cat_" if name in self.categorical_names else "multi_"
        return getattr(self, prefix + name)

    def forward(self, rows: torch.Tensor, column_mask: torch.Tensor | None = None,
                overrides: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Embed the rows' features.

        Args:
            rows: ``[B]`` internal ids.
            column_mask: ``[B, C]`` bool over :attr:`column_names`, True = keep (feature masking views).
            overrides: name -> ``[B]`` / ``[B, L]`` codes (``[B]`` standardised values for numeric columns)
                used instead of the stored ones (cold start).

        Returns:
            ``[B, F_out]``.
        """
        parts = []
        overrides = overrides or {}
        for name in self.categorical_names:
            codes = overrides.get(name, None)
            codes = self.codes(name)[rows] if codes is None else codes
            parts.append(self.embeddings[name](codes))  # [B, dim]
        for name in self.multi_names:
            codes = overrides.get(name, None)
            codes = self.codes(name)[rows] if codes is None else codes  # [B, L]
            emb = self.embeddings[name](codes)  # [B, L, dim]; padding rows are zero
            count = (codes > 0).sum(dim=1, keepdim=True).clamp(min=1)
            parts.append(emb.sum(dim=1) / count)
        if self.numeric_names:
            numeric = self.numeric[rows]  # [B, #numeric]
            if any(name in overrides for name in self.numeric_names):  # cold start: given (standardised) values
                numeric = torch.stack([overrides[n].to(numeric.dtype) if n in overrides else numeric[:, j]
                                       for j, n in enumerate(self.numeric_names)], dim=1)
            parts.append(numeric)
        if column_mask is not None:
            widths = [p.shape[1] for p in parts[: len(self.categorical_names) + len(self.multi_names)]]
            widths += [1] * len(self.numeric_names)
            expanded = torch.repeat_interleave(column_mask.to(parts[0].dtype),
                                               torch.tensor(widths, device=rows.device), dim=1)
            return torch.cat(parts, dim=1) * expanded
        return torch.cat(parts, dim=1)
