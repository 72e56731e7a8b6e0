"""contrarec.evaluate: exact full-ranking top-k, ranking metrics, long-tail and alignment/uniformity views.

Shape legend: U users, N items, D dim, Q queries, K top-k, B batch.
"""

from contrarec.evaluate.diagnostics import alignment, alignment_uniformity, uniformity
from contrarec.evaluate.evaluator import evaluate_ranking
from contrarec.evaluate.topk import TopK, topk_scores

__all__ = ["TopK", "alignment", "alignment_uniformity", "evaluate_ranking", "topk_scores", "uniformity"]
