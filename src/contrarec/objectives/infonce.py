"""InfoNCE / sampled softmax over a logit matrix, with the usual recommender corrections."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from contrarec.negatives.corrections import mask_accidental_hits, mask_all_but_hardest
from contrarec.objectives.bounded_softmax import MAX_BOUND, bounded_cross_entropy


def _check_temperature(temperature: float | torch.Tensor) -> None:
    value = float(temperature)
    if not value > 0:
        raise ValueError(f"temperature must be > 0, got {value}")


class InfoNCELoss(nn.Module):
    r"""InfoNCE with in-batch (and optional extra) negatives as cross-entropy on a logit matrix.

    For query :math:`q_b` and keys :math:`k_c` (the batch's positives, then extra negatives):

    .. math::
        s_{bc} = q_b^\top k_c / \tau - \log Q_c,\qquad
        \mathcal{L} = -\frac{1}{B}\sum_b \log \frac{e^{s_{bb}}}{\sum_{c} e^{s_{bc}}}

    with accidental hits (column c holds row b's own positive item, c ≠ b) masked out and, optionally,
    only the ``num_hard_negatives`` hardest negatives kept. A small τ concentrates the gradient on hard
    negatives; logQ (``log Q_c``, the log expected count of item c among the negatives) removes the
    popularity bias of in-batch sampling.

    Sources: van den Oord et al., "Representation Learning with Contrastive Predictive Coding", 2018
    (https://arxiv.org/abs/1807.03748); Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large
    Corpus Item Recommendations", RecSys 2019 (logQ); Yang et al., "Mixed Negative Sampling for Learning
    Two-tower Neural Networks in Recommendations", WWW 2020 (extra uniform negatives).

    Args:
        symmetric: also add the item→query direction (columns as rows, over the batch only) and
            average the two.
        num_hard_negatives: keep only this many hardest negatives per row (None = all).
        in_batch_negatives: False = sampled softmax (YoutubeDNN, Covington et al., RecSys 2016): each row's
            columns are its own positive and the extra negatives only, ``[B, 1 + M]``; the other rows'
            positives are not negatives. Needs ``extra_keys``; not with ``symmetric``.
        reduction: ``"mean" | "sum" | "none"``.

    Example:
        >>> q = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
        >>> loss = InfoNCELoss()(q, q, temperature=0.1)
        >>> float(loss) < 0.01
        True
    """

    def __init__(self, symmetric: bool = False, num_hard_negatives: int | None = None,
                 reduction: str = "mean", in_batch_negatives: bool = True) -> None:
        super().__init__()
        if symmetric and not in_batch_negatives:
            raise ValueError("the symmetric term needs in-batch negatives (in_batch_negatives=True)")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        if num_hard_negatives is not None and num_hard_negatives < 1:
            raise ValueError(f"num_hard_negatives must be >= 1 or None, got {num_hard_negatives}")
        self.symmetric = symmetric
        self.num_hard_negatives = num_hard_negatives
        self.reduction = reduction
        self.in_batch_negatives = in_batch_negatives

    def forward(self, query: torch.Tensor, key: torch.Tensor, *, temperature: float | torch.Tensor,
                key_ids: torch.Tensor | None = None, key_log_q: torch.Tensor | None = None,
                extra_keys: torch.Tensor | None = None, extra_ids: torch.Tensor | None = None,
                extra_log_q: torch.Tensor | None = None, query_ids: torch.Tensor | None = None,
                positive_offset: int | None = None, all_queries: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss.

        Args:
            query: ``[B, D]`` query (user) embeddings.
            key: ``[B, D]`` positive key (item) embeddings, row b is query b's positive; or ``[W·B, D]``
                keys gathered from W workers (global in-batch negatives), row ``positive_offset + b``
                being query b's positive.
            temperature: τ > 0 (float or 0-d tensor, may be learnable).
            key_ids: ``[B]`` item ids of the keys, for accidental-hit masking (None = no masking).
            key_log_q: ``[B]`` log Q of each key's item (None = no logQ correction).
            extra_keys: ``[M, D]`` extra negatives (uniform samples, a queue).
            extra_ids: ``[M]`` their item ids (needed for masking when ``key_ids`` is given).
            extra_log_q: ``[M]`` their log Q (needed when ``key_log_q`` is given).
            query_ids: ``[B]`` query ids, masking repeated queries in the symmetric term (``[W·B]`` with
                ``all_queries``).
            positive_offset: first row of this worker's positives in gathered keys (``rank · B``); None
                (default) means ``key`` is exactly ``[B, D]``.
            all_queries: ``[W·B, D]`` every worker's queries: the columns of the symmetric term when the keys
                are gathered (required then).

        Returns:
            Scalar loss, or ``[B]`` (``[2B]`` when symmetric) with ``reduction="none"``.
        """
        _check_temperature(temperature)
        num_queries = query.shape[0]
        if positive_offset is None:
            if query.shape != key.shape:
                raise ValueError(f"query {tuple(query.shape)} and key {tuple(key.shape)} must have the same shape")
            positive_offset = 0
        elif query.shape[1:] != key.shape[1:] or not 0 <= positive_offset <= key.shape[0] - num_queries:
            raise ValueError(f"gathered key {tuple(key.shape)} must hold the positives of query "
                             f"{tuple(query.shape)} at rows {positive_offset}..{positive_offset + num_queries - 1}")
        labels = torch.arange(num_queries, device=query.device) + positive_offset  # [B] positive columns
        scaled = query / temperature  # [B, D]: dividing the queries, not the [B, C] scores
        if not self.in_batch_negatives:
            logits = _sampled_softmax_logits(scaled, key[labels], key_ids, key_log_q, extra_keys, extra_ids,
                                             extra_log_q, labels)  # [B, 1 + M]
            labels = torch.zeros_like(labels)
        else:
            logits = _in_batch_logits(scaled, key, key_ids, key_log_q, extra_keys, extra_ids, extra_log_q,
                                      labels)  # [B, C]
        if self.num_hard_negatives is not None:
            logits = mask_all_but_hardest(logits, self.num_hard_negatives, positive_columns=labels)
        loss = F.cross_entropy(logits, labels, reduction="none")  # [B]
        if self.symmetric:
            if all_queries is None and key.shape[0] != num_queries:
                raise ValueError("the symmetric term with gathered keys needs all_queries (every worker's queries)")
            columns, rev_labels = (query, labels - positive_offset) if all_queries is None else (all_queries, labels)
            reverse = (key[labels] / temperature) @ columns.T  # [B, D] @ [D, B'] -> [B, B'], B' = B or W·B
            if query_ids is not None:
                reverse = mask_accidental_hits(reverse, query_ids[rev_labels], query_ids, positive_columns=rev_labels,
                                               inplace=True)
            loss = torch.cat([loss, F.cross_entropy(reverse, rev_labels, reduction="none")])
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()


def _need(value: torch.Tensor | None, name: str) -> torch.Tensor:
    if value is None:
        raise ValueError(f"{name} is required when extra_keys are given together with ids / log_q for the batch")
    return value


def _in_batch_logits(scaled: torch.Tensor, key: torch.Tensor, key_ids: torch.Tensor | None,
                     key_log_q: torch.Tensor | None, extra_keys: torch.Tensor | None,
                     extra_ids: torch.Tensor | None, extra_log_q: torch.Tensor | None,
                     labels: torch.Tensor) -> torch.Tensor:
    """``[B, C]`` corrected logits over every key (then the extra keys), accidental hits masked."""
    keys = key if extra_keys is None else torch.cat([key, extra_keys], dim=0)  # [C, D], C = B + M
    if key_log_q is not None:  # s / τ - log q in one GEMM with a broadcast bias
        log_q = key_log_q if extra_keys is None else torch.cat([key_log_q, _need(extra_log_q, "extra_log_q")])
        if log_q.shape != (keys.shape[0],):
            raise ValueError(f"log q has shape {tuple(log_q.shape)}, expected [{keys.shape[0]}]")
        logits = torch.addmm(-log_q.to(scaled.dtype), scaled, keys.T)  # [B, C]
    else:
        logits = scaled @ keys.T  # [B, D] @ [D, C] -> [B, C]
    if key_ids is not None:  # the logits are this function's own: masked in place
        ids = key_ids if extra_keys is None else torch.cat([key_ids, _need(extra_ids, "extra_ids")])
        logits = mask_accidental_hits(logits, key_ids[labels], ids, positive_columns=labels, inplace=True)
    return logits


def _sampled_softmax_logits(scaled: torch.Tensor, positives: torch.Tensor, key_ids: torch.Tensor | None,
                            key_log_q: torch.Tensor | None, extra_keys: torch.Tensor | None,
                            extra_ids: torch.Tensor | None, extra_log_q: torch.Tensor | None,
                            labels: torch.Tensor) -> torch.Tensor:
    """``[B, 1 + M]``: column 0 is each row's positive, then the M extra negatives (hits masked, logQ)."""
    extra = _need(extra_keys, "extra_keys")
    pos = (scaled * positives).sum(dim=-1, keepdim=True)  # [B, 1]
    if key_log_q is not None:
        lq = _need(extra_log_q, "extra_log_q")
        if lq.shape != (extra.shape[0],):
            raise ValueError(f"extra log q has shape {tuple(lq.shape)}, expected [{extra.shape[0]}]")
        negatives = torch.addmm(-lq.to(scaled.dtype), scaled, extra.T)  # [B, M]
        pos = pos - key_log_q[labels].to(scaled.dtype)[:, None]
    else:
        negatives = scaled @ extra.T  # [B, D] @ [D, M] -> [B, M]
    if key_ids is not None:
        no_positive = torch.full_like(labels, -1)  # none of these columns is a row's positive
        negatives = mask_accidental_hits(negatives, key_ids[labels], _need(extra_ids, "extra_ids"),
                                         positive_columns=no_positive, inplace=True)
    return torch.cat([pos, negatives], dim=1)


def info_nce_between_views(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float,
                           positives: torch.Tensor | None = None) -> torch.Tensor:
    r"""InfoNCE between two views of the same nodes (SGL / SimGCL contrastive term).

    .. math:: \mathcal{L} = -\frac{1}{B}\sum_b \log\frac{e^{z'_b{}^\top z''_{p_b}/\tau}}{\sum_c e^{z'_b{}^\top z''_c/\tau}}

    with ``z = normalize(view)``. Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021.
    Without ``positives``, ``view_b`` holds the same B nodes as ``view_a`` (p_b = b; the batch's nodes are
    the negatives, as in SELFRec); with them, ``view_b`` may hold every node and the sum runs over all of
    them (as in the SGL authors' code).

    Args:
        view_a: ``[B, D]`` first view (not necessarily normalized).
        view_b: ``[M, D]`` second view (M = B without ``positives``).
        temperature: τ > 0.
        positives: ``[B]`` row of ``view_b`` that is each anchor's positive, or None (the diagonal).

    Returns:
        Scalar mean loss.
    """
    _check_temperature(temperature)
    if positives is None:
        if view_a.shape[0] != view_b.shape[0]:
            raise ValueError(f"views of {view_a.shape[0]} and {view_b.shape[0]} nodes need explicit positives")
        positives = torch.arange(view_a.shape[0], device=view_a.device)
    a = F.normalize(view_a, dim=-1) / temperature  # [B, D]: dividing the anchors, not the [B, M] scores
    b = F.normalize(view_b, dim=-1)
    bound = 1.0 / float(temperature)  # |a_b . b_m| <= 1/τ
    if bound <= MAX_BOUND:
        return bounded_cross_entropy(a, b, positives, bound)  # three passes over [B, M] instead of ~ten
    return F.cross_entropy(a @ b.T, positives)  # [B, D] @ [D, M] -> [B, M]
