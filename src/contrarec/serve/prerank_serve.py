"""The pre-ranker at serving time, in NumPy with everything that does not depend on the request cached.

Per request only the user-dependent products remain. With ``A_u = diag(u) W_hᵀ`` and ``B_u = diag(c_u) W_cᵀ``
the first layer of :class:`~contrarec.serve.prerank.PreRankModel` is

    h = I A_u + C_I B_u + ⟨u, i⟩ w_d + (W_u [u; φ_u] + b) + W_i [φ_i; log pop]        ([C, D] @ [D, H] ...)

and the dot term folds in as ``I (u w_dᵀ)``: a request costs one gather of its C candidates' cached rows,
one ``[C, D + c] @ [D + c, H]`` matmul and the head; item terms and known users' terms are computed once.
"""

from __future__ import annotations

import numpy as np
import torch

from contrarec.evaluate.topk import TopK
from contrarec.serve.prerank import PreRankModel


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


class CachedPreRanker:
    """Rescore recall candidates and keep the top-k.

    Args:
        model: a trained :class:`PreRankModel` (eval mode is set here).
        item_emb: ``[N, D]`` the recall item embeddings the model was trained on.
        user_emb: ``[U, D]`` known users' embeddings, to cache their terms (None = compute per request).
    """

    def __init__(self, model: PreRankModel, item_emb: np.ndarray, user_emb: np.ndarray | None = None) -> None:
        self.model = model.eval()
        item_vec = np.ascontiguousarray(item_emb, dtype=np.float32)  # [N, D]
        with torch.no_grad():
            hidden, cross = model.item_part(torch.arange(len(item_emb)), torch.from_numpy(item_vec))
            # one row per item: [embedding (D) | cross side (c) | first-layer item term + bias (H)]
            self.item_table = np.ascontiguousarray(
                np.concatenate([item_vec, _np(cross), _np(hidden + model.first_hadamard.bias)], axis=1))
            self.user_cache = None
            if user_emb is not None:
                u = torch.from_numpy(np.ascontiguousarray(user_emb, dtype=np.float32))
                self.user_cache = tuple(_np(t) for t in model.user_part(torch.arange(len(u)), u))
        head = model.head
        self.dim, self.cross_dim = item_vec.shape[1], cross.shape[1]
        # ⟨u,i⟩ w_d = i (u w_dᵀ): the dot term joins the Hadamard term in one [D, H] matrix per request
        self.w_had = _np(model.first_hadamard.weight.T)  # [D, H]
        self.w_dot = _np(model.first_dot)  # [H]
        self.w_cross = _np(model.first_cross.weight.T)  # [c, H]
        self.w2, self.b2 = _np(head[2].weight.T), _np(head[2].bias)  # [H, H2], [H2]
        self.w3, self.b3 = _np(head[4].weight.reshape(-1)), float(head[4].bias.detach())  # [H2], scalar
        self.dot_weight = float(model.dot_weight.detach())

    @property
    def candidates(self) -> int:
        """N candidates the model was trained to rescore."""
        return self.model.config.candidates

    def _user_terms(self, user_rows: np.ndarray, user_vec: np.ndarray,
                    overrides: dict[str, torch.Tensor] | None) -> tuple[np.ndarray, np.ndarray]:
        if self.user_cache is not None and (user_rows >= 0).all() and not overrides:
            return self.user_cache[0][user_rows], self.user_cache[1][user_rows]
        if self.model.user_features is not None and (user_rows < 0).any():
            overrides = self._fill_unseen(user_rows, overrides or {})
        with torch.no_grad():
            hidden, cross = self.model.user_part(torch.from_numpy(user_rows), torch.from_numpy(user_vec), overrides)
        return _np(hidden), _np(cross)

    def scores(self, user_rows: np.ndarray, user_vec: np.ndarray, candidates: np.ndarray,
               overrides: dict[str, torch.Tensor] | None = None) -> np.ndarray:
        """``[B, C]`` pre-rank scores (``-inf`` where the candidate is -1 padding)."""
        user_vec = np.ascontiguousarray(user_vec, dtype=np.float32)
        user_hidden, user_cross = self._user_terms(user_rows, user_vec, overrides)  # [B, H], [B, c]
        out = np.empty(candidates.shape, dtype=np.float32)
        d, dc = self.dim, self.dim + self.cross_dim
        for b in range(len(candidates)):
            rows = self.item_table[np.maximum(candidates[b], 0)]  # [C, D + c + H]
            u = user_vec[b]
            first = np.concatenate([u[:, None] * (self.w_had + self.w_dot), user_cross[b][:, None] * self.w_cross])
            hidden = rows[:, :dc] @ first + rows[:, dc:] + user_hidden[b]  # [C, D + c] @ [D + c, H] -> [C, H]
            second = np.maximum(np.maximum(hidden, 0) @ self.w2 + self.b2, 0)  # [C, H] @ [H, H2] -> [C, H2]
            out[b] = self.dot_weight * (rows[:, :d] @ u) + second @ self.w3 + self.b3
        return np.where(candidates >= 0, out, -np.inf)

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
        scores = self.scores(np.asarray(user_rows, dtype=np.int64), user_vec, candidates, overrides)
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
