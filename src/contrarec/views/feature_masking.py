"""Feature-masking views of users or items: keep-masks over feature columns, drawn with an explicit generator.

Every function is pure: it takes sizes (and a mutual-information table for CFM) plus a
``torch.Generator`` and returns boolean keep-masks ``[B, C]`` (True = the column is kept), which the
tower applies (``TowerEncoder(..., feature_mask=keep)``). Column 0 may stand for the id itself when the
caller includes it. Yao et al., "Self-supervised Learning for Large-scale Item Recommendations",
CIKM 2021 (https://arxiv.org/abs/2007.12865), §3.2.
"""

from __future__ import annotations

import torch


def _check(num_rows: int, num_columns: int) -> None:
    if num_rows < 0 or num_columns < 1:
        raise ValueError(f"need num_rows >= 0 and num_columns >= 1, got {num_rows}, {num_columns}")


def feature_dropout(num_rows: int, num_columns: int, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Drop each (row, column) independently with probability ``rate``.

    Args:
        num_rows: B.
        num_columns: C.
        rate: drop probability in [0, 1).
        generator: the random source.

    Returns:
        ``[B, C]`` bool keep-mask.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> feature_dropout(2, 3, 0.0, g).all().item()
        True
    """
    _check(num_rows, num_columns)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    return torch.rand(num_rows, num_columns, generator=generator) >= rate


def random_feature_masking(num_rows: int, num_columns: int,
                           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """RFM: split each row's columns at random into two complementary halves, one masked per view.

    Per row, a random ``floor(C / 2)`` columns are masked in view a and kept in view b; the other
    ``C - floor(C / 2)`` are kept in a and masked in b, so the two views share no feature
    (Yao et al. 2021, "Random Feature Masking").

    Returns:
        ``(keep_a, keep_b)``, each ``[B, C]`` bool, with ``keep_b == ~keep_a``.
    """
    _check(num_rows, num_columns)
    scores = torch.rand(num_rows, num_columns, generator=generator)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # [B, C] rank of each column in a random order
    keep_a = ranks >= num_columns // 2
    return keep_a, ~keep_a


def correlated_sets(mi_table: torch.Tensor, num_masked: int | None = None) -> torch.Tensor:
    """For each seed column, the set it masks in CFM: itself and its most informative partners.

    Args:
        mi_table: ``[C, C]`` mutual information between columns (symmetric; diagonal ignored).
        num_masked: set size (default ``floor(C / 2)``, at least 1).

    Returns:
        ``[C, C]`` bool, row c = columns masked when c is the seed (c plus the ``num_masked - 1`` columns
        of highest MI with c; ties broken by the lower column index).
    """
    if mi_table.dim() != 2 or mi_table.shape[0] != mi_table.shape[1]:
        raise ValueError(f"mi_table must be [C, C], got {tuple(mi_table.shape)}")
    c = mi_table.shape[0]
    k = max(1, c // 2) if num_masked is None else num_masked
    if not 1 <= k <= c:
        raise ValueError(f"num_masked must be in [1, {c}], got {k}")
    mi = mi_table.double().clone()
    mi.fill_diagonal_(float("inf"))  # the seed itself always comes first
    # stable descending order: sort by (-mi, index)
    order = torch.stack([torch.sort(-mi[r], stable=True).indices for r in range(c)])  # [C, C]
    sets = torch.zeros(c, c, dtype=torch.bool)
    sets.scatter_(1, order[:, :k], True)
    return sets


def correlated_feature_masking(num_rows: int, mi_table: torch.Tensor, generator: torch.Generator,
                               num_masked: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CFM: mask a random seed column together with the columns most correlated with it.

    Per row a seed column is drawn uniformly; view a masks the seed's set from :func:`correlated_sets`
    (seed + the columns with the highest mutual information with it), view b masks the complement.
    Masking correlated features together makes the task harder than RFM: the model cannot recover a
    masked feature from a kept, redundant one (Yao et al. 2021, "Correlated Feature Masking").

    Args:
        num_rows: B.
        mi_table: ``[C, C]`` mutual information, computed once from the data
            (:func:`contrarec.views.mutual_information.mutual_information_table`).
        generator: the random source.
        num_masked: columns masked in view a (default ``floor(C / 2)``).

    Returns:
        ``(keep_a, keep_b)``, each ``[B, C]`` bool, with ``keep_b == ~keep_a``.
    """
    sets = correlated_sets(mi_table, num_masked)  # [C, C]
    _check(num_rows, sets.shape[0])
    seeds = torch.randint(0, sets.shape[0], (num_rows,), generator=generator)  # [B]
    keep_a = ~sets[seeds]  # [B, C]
    return keep_a, ~keep_a


MASKINGS = ("dropout", "rfm", "cfm")


def two_views(masking: str, num_rows: int, num_columns: int, generator: torch.Generator, rate: float = 0.1,
              mi_table: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep-masks of two views by one of :data:`MASKINGS` (two independent dropouts, RFM or CFM).

    Args:
        masking: ``"dropout"`` (``rate`` per column, each view drawn independently), ``"rfm"`` or ``"cfm"``.
        num_rows: B.
        num_columns: C (must match ``mi_table`` for CFM).
        generator: the random source.
        rate: drop probability for ``"dropout"``.
        mi_table: ``[C, C]`` mutual information, required for ``"cfm"``.

    Returns:
        ``(keep_a, keep_b)``, each ``[B, C]`` bool.
    """
    if masking == "dropout":
        return (feature_dropout(num_rows, num_columns, rate, generator),
                feature_dropout(num_rows, num_columns, rate, generator))
    if masking == "rfm":
        return random_feature_masking(num_rows, num_columns, generator)
    if masking == "cfm":
        if mi_table is None or mi_table.shape != (num_columns, num_columns):
            got = None if mi_table is None else tuple(mi_table.shape)
            raise ValueError(f"cfm needs a [{num_columns}, {num_columns}] mi_table, got {got}")
        return correlated_feature_masking(num_rows, mi_table, generator)
    raise ValueError(f"unknown masking {masking!r}; valid: {', '.join(MASKINGS)}")
