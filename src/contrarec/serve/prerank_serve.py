"""The pre-ranker at serving time: item-side terms cached once, then each request rescores its candidates."""

from __future__ import annotations

import numpy as np
import torch

from contrarec.evaluate.topk import TopK
from contrarec.serve.prerank import PreRankModel


class CachedPreRanker:
    """Rescore recall candidates and keep the top-k.

    Args:
        model: a trained :class:`PreRankModel` (eval mode is set here).
        item_emb: ``[N, D]`` the recall item embeddings the model was trained on.
    """

    def __init__(self, model: PreRankModel, item_emb: np.ndarray) -> None:
        self.model = model.eval()
        self.item_vec = torch.from_numpy(np.ascontiguousarray(item_emb, dtype=np.float32))  # [N, D]
        with torch.no_grad():
            self.item_hidden, self.item_cross = model.item_part(torch.arange(len(item_emb)), self.item_vec)

    @property
    def candidates(self) -> int:
        """N candidates the model was trained to rescore."""
        return self.model.config.candidates

    def rerank(self, user_rows: np.ndarray, user_vec: np.ndarray, candidates: np.ndarray, k: int,
               overrides: dict[str, torch.Tensor] | None = None) -> TopK:
        """Top-k of each row's candidates by pre-rank score.

        Args:
            user_rows: ``[B]`` internal user ids (-1 for unseen users; their features come from ``overrides``).
            user_vec: ``[B, D]`` user embeddings.
            candidates: ``[B, C]`` candidate item ids from recall (-1 = padding, never returned).
            k: results per row.
            overrides: unseen users' feature codes by column (see ``FeatureEmbedding``).

        Returns:
            ``TopK(scores [B, k], ids [B, k])``, padded with (-inf, -1).
        """
        if self.model.user_features is not None and (user_rows < 0).any():
            overrides = self._fill_unseen(user_rows, overrides or {})
        valid = candidates >= 0
        cols = torch.from_numpy(np.where(valid, candidates, 0))  # [B, C]
        with torch.no_grad():
            users = torch.from_numpy(np.asarray(user_vec, dtype=np.float32))
            user_hidden, user_cross = self.model.user_part(torch.from_numpy(user_rows), users, overrides)
            scores = self.model.score(users, user_hidden, user_cross, self.item_vec[cols], self.item_hidden[cols],
                                      self.item_cross[cols]).numpy()  # [B, C]
        scores = np.where(valid, scores, -np.inf)
        k_eff = min(k, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k_eff]
        out_scores = np.take_along_axis(scores, top, axis=1).astype(np.float32)
        out_ids = np.where(np.isfinite(out_scores), np.take_along_axis(candidates, top, axis=1), -1)
        if k_eff < k:
            out_scores = np.pad(out_scores, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
            out_ids = np.pad(out_ids, ((0, 0), (0, k - k_eff)), constant_values=-1)
        return TopK(scores=out_scores, ids=out_ids.astype(np.int64))

    def _fill_unseen(self, user_rows: np.ndarray, overrides: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Columns not given for unseen users (rows -1) count as missing: code 0, numeric 0 (the mean)."""
        feats = self.model.user_features
        rows = torch.from_numpy(np.maximum(user_rows, 0))
        unseen = torch.from_numpy(user_rows < 0)
        out = dict(overrides)
        for name in feats.categorical_names + feats.multi_names:
            if name not in out:
                codes = feats.codes(name)[rows].clone()
                codes[unseen] = 0
                out[name] = codes
        for j, name in enumerate(feats.numeric_names):
            if name not in out:
                out[name] = feats.numeric[rows, j].masked_fill(unseen, 0.0)
        return out
