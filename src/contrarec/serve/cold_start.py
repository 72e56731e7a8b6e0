"""Embedding users the model has never seen: raw features and a recent history -> tower inputs -> ``[B, D]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from contrarec.serve.exported import ExportedModel

FeatureValue = str | int | float | bool | Sequence[str | int | float] | None


class UnknownItem(KeyError):
    """A history item that is not in the catalogue (the message names it)."""


class BadFeature(ValueError):
    """A feature that the model does not have, or a value of the wrong kind (the message names it)."""


@dataclass
class NewUser:
    """One unseen user: raw feature values and raw ids of recently interacted items."""

    features: dict[str, FeatureValue]
    history: list[str]


def _code(vocab: dict[str, int], value: object) -> int:
    """Code of a raw value; unseen values count as missing (0), like unseen values at training time."""
    return vocab.get(str(value), 0)


class ColdStartEncoder:
    """Turns :class:`NewUser` requests into the exported tower's inputs and runs it.

    Args:
        model: the exported model (with or without a user tower).
    """

    def __init__(self, model: ExportedModel) -> None:
        self.model = model
        schema = model.user_features or {"categorical": {}, "multi_valued": {}, "numeric": []}
        self.categorical = {n: {v: i for i, v in enumerate(vocab) if i} for n, vocab in schema["categorical"].items()}
        self.multi = {n: {v: i for i, v in enumerate(vocab) if i} for n, vocab in schema["multi_valued"].items()}
        self.numeric = list(schema["numeric"])

    @property
    def feature_names(self) -> list[str]:
        """Feature columns accepted in requests."""
        return [*self.categorical, *self.multi, *self.numeric]

    def history_rows(self, history: Sequence[str]) -> np.ndarray:
        """Internal ids of raw history item ids; :class:`UnknownItem` naming the first unknown one."""
        rows = []
        for raw in history:
            try:
                rows.append(self.model.item_map.to_internal(raw))
            except KeyError:
                raise UnknownItem(f"unknown item {raw!r} in history: not in the catalogue") from None
        return np.asarray(rows, dtype=np.int64)

    def _check(self, features: dict[str, FeatureValue]) -> None:
        for name, value in features.items():
            if name not in self.categorical and name not in self.multi and name not in self.numeric:
                valid = ", ".join(self.feature_names) or "none (this model has no user features)"
                raise BadFeature(f"unknown feature {name!r}; valid features: {valid}")
            if name in self.numeric and value is not None and (
                    isinstance(value, (bool, str, list, tuple)) or not np.isfinite(float(value))):
                raise BadFeature(f"feature {name!r} is numeric, got {value!r}")
            if name in self.categorical and isinstance(value, (list, tuple, dict)):
                raise BadFeature(f"feature {name!r} takes one value, got {value!r}")

    def encode(self, users: Sequence[NewUser]) -> np.ndarray:
        """``[B, D]`` float32 embeddings of unseen users.

        Without a user tower the embedding is the (normalised) mean of the history items' embeddings.
        """
        for user in users:
            self._check(user.features)
        histories = [self.history_rows(u.history) for u in users]
        if self.model.user_tower is None:
            return self._history_mean(histories)
        inputs = self._tower_inputs(users, histories)
        with torch.no_grad():
            out = self.model.user_tower(*inputs)  # [B, D]
        return np.ascontiguousarray(out.numpy(), dtype=np.float32)

    def _history_mean(self, histories: list[np.ndarray]) -> np.ndarray:
        emb = self.model.item_embeddings
        if any(len(h) == 0 for h in histories):
            raise BadFeature("this model has no user tower: an unseen user needs a non-empty history")
        out = np.stack([emb[h].mean(axis=0) for h in histories]).astype(np.float32)  # [B, D]
        if self.model.normalized:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def feature_arrays(self, users: Sequence[NewUser]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(categorical [B, Cc], multi_valued [B, Cm, L], numeric [B, Cn])`` codes / values of the users."""
        for user in users:
            self._check(user.features)
        batch = len(users)
        cat = np.zeros((batch, len(self.categorical)), dtype=np.int64)
        width = max([1] + [len(v) for u in users for n, v in u.features.items()
                           if n in self.multi and isinstance(v, (list, tuple))])
        multi = np.zeros((batch, len(self.multi), width), dtype=np.int64)
        num = np.zeros((batch, len(self.numeric)), dtype=np.float32)
        for b, user in enumerate(users):
            f = user.features
            for j, (name, vocab) in enumerate(self.categorical.items()):
                cat[b, j] = _code(vocab, f[name]) if f.get(name) is not None else 0
            for j, (name, vocab) in enumerate(self.multi.items()):
                values = f.get(name) or []
                values = values if isinstance(values, (list, tuple)) else [values]
                multi[b, j, :len(values)] = [_code(vocab, v) for v in values]
            for j, name in enumerate(self.numeric):
                num[b, j] = float(f[name]) if f.get(name) is not None else 0.0
        return cat, multi, num

    def overrides(self, users: Sequence[NewUser]) -> dict[str, torch.Tensor]:
        """The users' features by column, as ``FeatureEmbedding`` overrides (for the pre-ranker)."""
        cat, multi, num = self.feature_arrays(users)
        out = {name: torch.from_numpy(cat[:, j]) for j, name in enumerate(self.categorical)}
        out.update({name: torch.from_numpy(multi[:, j]) for j, name in enumerate(self.multi)})
        out.update({name: torch.from_numpy(num[:, j]) for j, name in enumerate(self.numeric)})
        return out

    def _tower_inputs(self, users: Sequence[NewUser], histories: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
        cat, multi, num = self.feature_arrays(users)
        hist = np.full((len(users), max([1] + [len(h) for h in histories])), -1, dtype=np.int64)
        for b, rows in enumerate(histories):
            hist[b, :len(rows)] = rows
        user_ids = np.full(len(users), -1, dtype=np.int64)
        return tuple(torch.from_numpy(a) for a in (user_ids, cat, multi, num, hist))
