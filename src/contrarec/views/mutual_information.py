"""Mutual information between discrete feature columns, computed once from the data (for CFM)."""

from __future__ import annotations

import numpy as np

from contrarec.data.features import FeatureTable


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    r"""Empirical :math:`I(A;B) = \sum_{a,b} p(a,b) \log\frac{p(a,b)}{p(a)p(b)}` in nats.

    Args:
        a: ``[N]`` non-negative integer codes.
        b: ``[N]`` non-negative integer codes of the same rows.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-d of the same length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        return 0.0
    if (a < 0).any() or (b < 0).any():
        raise ValueError("codes must be non-negative integers")
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    nb = int(b.max()) + 1
    joint = np.bincount(a * nb + b).astype(np.float64)
    nz = np.nonzero(joint)[0]
    p_ab = joint[nz] / len(a)
    p_a = np.bincount(a).astype(np.float64) / len(a)
    p_b = np.bincount(b).astype(np.float64) / len(b)
    return float(np.sum(p_ab * (np.log(p_ab) - np.log(p_a[nz // nb]) - np.log(p_b[nz % nb]))))


def mutual_information_table(columns: list[np.ndarray]) -> np.ndarray:
    """``[C, C]`` pairwise mutual information of C discrete columns (diagonal = each column's entropy).

    Args:
        columns: C arrays of ``[N]`` integer codes (use :func:`discretize` for numeric values).

    Returns:
        ``[C, C]`` symmetric float64 matrix.
    """
    c = len(columns)
    table = np.zeros((c, c))
    for i in range(c):
        for j in range(i, c):
            table[i, j] = table[j, i] = mutual_information(columns[i], columns[j])
    return table


def discretize(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """``[N]`` quantile-bin codes of a numeric column (ties share a bin), for MI estimation."""
    values = np.asarray(values, dtype=np.float64)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right").astype(np.int64)


def feature_table_codes(table: FeatureTable, bins: int = 10) -> list[np.ndarray]:
    """One ``[num_rows]`` discrete code array per column of ``table``, in ``table.names`` order.

    Categorical columns give their codes, multi-valued columns their first value (0 = none), numeric
    columns their quantile bin (:func:`discretize`).
    """
    codes = [np.asarray(table.categorical[n], dtype=np.int64) for n in table.categorical]
    codes += [np.asarray(table.multi_valued[n], dtype=np.int64).reshape(table.num_rows, -1)[:, 0]
              for n in table.multi_valued]
    codes += [discretize(table.numeric[n], bins) for n in table.numeric]
    return codes
