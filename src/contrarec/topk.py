"""The one top-k result type: ``TopK(scores, ids)``, each ``[Q, K]``, in faiss ``(D, I)`` order (STYLE §17)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class TopK(NamedTuple):
    """Top-k result of Q queries.

    Args:
        scores: ``[Q, K]`` float32, best first; ``-inf`` where fewer than K results exist.
        ids: ``[Q, K]`` int64 ids; ``-1`` where fewer than K results exist.
    """

    scores: np.ndarray
    ids: np.ndarray
