"""Masked views of a tower's input: the id (and a history bag) as maskable columns beside the features."""

from __future__ import annotations

import numpy as np
import torch

from contrarec.data.features import FeatureTable
from contrarec.encoders.tower import TowerEncoder
from contrarec.views.mutual_information import feature_table_codes, mutual_information_table


def view_columns(tower: TowerEncoder, extra: tuple[str, ...] = ()) -> list[str]:
    """The maskable columns of a tower: ``"id"``, the ``extra`` inputs (e.g. ``"history"``), the features."""
    features = tower.features.column_names if tower.features is not None else []
    return ["id", *extra, *features]


def column_mi_table(table: FeatureTable | None, num_extra: int = 1) -> torch.Tensor:
    """``[C, C]`` mutual information of the view columns, computed once from the data (for CFM).

    The first ``num_extra`` columns (the id, a history bag) are not discrete features: their mutual
    information with every other column is set to 0, so they are masked together with a group only
    when drawn as the seed (the id's empirical MI with any feature would equal that feature's entropy and
    put the id in every group).
    """
    feats = mutual_information_table(feature_table_codes(table)) if table is not None and not table.is_empty() \
        else np.zeros((0, 0))
    c = num_extra + feats.shape[0]
    out = np.zeros((c, c))
    out[num_extra:, num_extra:] = feats
    return torch.from_numpy(out)


def encode_view(tower: TowerEncoder, ids: torch.Tensor, keep: torch.Tensor,
                extra_parts: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Encode ``ids`` with masked columns zeroed.

    Args:
        tower: the tower.
        ids: ``[B]``.
        keep: ``[B, C]`` bool keep-mask over :func:`view_columns` (id, extras, features).
        extra_parts: one ``[B, D]`` tensor per extra column, added to the id embedding when kept.

    Returns:
        ``[B, D]``.
    """
    extra_parts = extra_parts or []
    keep_f = keep.to(tower.id_embedding.weight.dtype)  # [B, C]
    id_part = tower.id_embedding(ids) * keep_f[:, :1]  # [B, D]
    for col, part in enumerate(extra_parts, start=1):
        id_part = id_part + part * keep_f[:, col:col + 1]
    first_feature = 1 + len(extra_parts)
    feature_mask = keep[:, first_feature:] if tower.features is not None else None
    return tower(ids, feature_mask=feature_mask, id_embedding=id_part)
