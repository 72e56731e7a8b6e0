"""The one top-k result type, ``TopK(scores, ids)`` (STYLE §17); defined in :mod:`contrarec.evaluate.topk`."""

from contrarec.evaluate.topk import TopK

__all__ = ["TopK"]
