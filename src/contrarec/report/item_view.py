"""Reload what the embedding map needs from a run: item embeddings, popularity and item features.

The data of runs that share a data config is read once per report (the quickstart's three runs share it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from contrarec.data.features import FeatureTable
from contrarec.data.interactions import Split
from contrarec.report.runs import RunRecord


@dataclass
class ItemView:
    """One run's items, ready to map.

    Args:
        embeddings: ``[N, D]`` float32 item embeddings of the selected checkpoint.
        popularity: ``[N]`` training interaction counts.
        features: the item feature table, or None.
    """

    embeddings: np.ndarray
    popularity: np.ndarray
    features: FeatureTable | None


class SplitCache:
    """Splits keyed by their data config, so runs on the same data read it once."""

    def __init__(self) -> None:
        self._splits: dict[str, Split] = {}

    def get(self, data_config) -> Split:
        """The split for a :class:`~contrarec.config.DataConfig` (read on first use)."""
        from contrarec.train.data_setup import load_split

        key = json.dumps(data_config.model_dump(mode="json"), sort_keys=True)
        if key not in self._splits:
            self._splits[key] = load_split(data_config)
        return self._splits[key]


def load_item_view(run: RunRecord, cache: SplitCache) -> ItemView:
    """Rebuild ``run``'s model from its config and checkpoint and take its item embeddings.

    Raises:
        FileNotFoundError: the run has no config or checkpoint.
    """
    from contrarec.config import load_config
    from contrarec.train.checkpoint import load_checkpoint
    from contrarec.train.run import build_model

    if not (run.path / "config.yaml").exists():
        raise FileNotFoundError(f"{run.path}: no config.yaml")
    if run.checkpoint is None:
        raise FileNotFoundError(f"{run.path}: no checkpoint")
    config = load_config(run.path / "config.yaml")
    split = cache.get(config.data)
    model = build_model(config, split.train)
    state = load_checkpoint(run.checkpoint)
    model.load_state_dict(state["model"])
    model.load_extra_state(state.get("extra", {}))
    model.eval()
    with torch.no_grad():
        emb = model.item_embeddings().detach().float().cpu().numpy()  # [N, D]
    features = split.train.item_features
    return ItemView(embeddings=emb, popularity=np.asarray(split.train.item_popularity(), dtype=np.float64),
                    features=None if features is None or features.is_empty() else features)
