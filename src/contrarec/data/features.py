"""Feature tables for users or items: categorical, multi-valued and numeric columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FeatureTable:
    """Features for the rows of one entity (users or items), indexed by internal id.

    Index 0 of every categorical / multi-valued vocabulary is reserved for "missing / padding";
    real values are coded ``1..cardinality-1``.

    Args:
        num_rows: number of entities (U or N).
        categorical: name -> ``[num_rows]`` int64 codes in ``[0, cardinality)``.
        cardinalities: name -> vocabulary size (including the reserved 0) for every
            categorical and multi-valued column.
        multi_valued: name -> ``[num_rows, L]`` int64 codes padded with 0.
        numeric: name -> ``[num_rows]`` float32 values (standardised by the reader).
        vocabularies: name -> ``[cardinality]`` raw values (index 0 = missing), for display.
        info: what the reader noted (rows skipped for unknown ids, ids without a row), as plain
            JSON-able values; not carried over by :meth:`take`.
    """

    num_rows: int
    categorical: dict[str, np.ndarray] = field(default_factory=dict)
    cardinalities: dict[str, int] = field(default_factory=dict)
    multi_valued: dict[str, np.ndarray] = field(default_factory=dict)
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    vocabularies: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for kind, cols in (("categorical", self.categorical), ("multi_valued", self.multi_valued),
                           ("numeric", self.numeric)):
            for name, arr in cols.items():
                if arr.shape[0] != self.num_rows:
                    raise ValueError(f"{kind} column '{name}' has {arr.shape[0]} rows, expected {self.num_rows}")
                if kind != "numeric" and name not in self.cardinalities:
                    raise ValueError(f"{kind} column '{name}' has no cardinality")
                if kind != "numeric" and len(arr) and (arr.min() < 0 or arr.max() >= self.cardinalities[name]):
                    raise ValueError(f"{kind} column '{name}' has codes outside [0, {self.cardinalities[name]})")

    @property
    def names(self) -> list[str]:
        """All column names, categorical first, then multi-valued, then numeric."""
        return [*self.categorical, *self.multi_valued, *self.numeric]

    def is_empty(self) -> bool:
        """True when the table has no columns."""
        return not (self.categorical or self.multi_valued or self.numeric)

    @classmethod
    def from_frame(cls, frame, categorical=(), multi_valued=(), numeric=(), sep: str = "|") -> "FeatureTable":
        """Encode a pandas frame whose row i is entity i.

        Args:
            frame: pandas DataFrame with one row per entity, in internal-id order.
            categorical: columns encoded as one code each.
            multi_valued: columns holding ``sep``-joined values (or lists), encoded as padded codes.
            numeric: columns standardised to zero mean, unit variance (missing -> 0).
            sep: separator for string-joined multi-valued columns.
        """
        import pandas as pd

        table = cls(num_rows=len(frame))
        for name in categorical:
            col = frame[name].astype("string").fillna("")
            values = col.to_numpy(dtype=object)
            vocab = np.array([""] + sorted({v for v in values if v != ""}), dtype=object)
            lookup = {v: i for i, v in enumerate(vocab)}
            table.categorical[name] = np.array([lookup[v] for v in values], dtype=np.int64)
            table.cardinalities[name] = len(vocab)
            table.vocabularies[name] = vocab
        for name in multi_valued:
            lists = [
                [] if (isinstance(v, float) and np.isnan(v)) or v is None or v == ""
                else (list(v) if isinstance(v, (list, tuple, np.ndarray)) else str(v).split(sep))
                for v in frame[name].tolist()
            ]
            vocab = np.array([""] + sorted({str(x) for row in lists for x in row}), dtype=object)
            lookup = {v: i for i, v in enumerate(vocab)}
            width = max(1, max((len(r) for r in lists), default=1))
            codes = np.zeros((len(lists), width), dtype=np.int64)
            for i, row in enumerate(lists):
                codes[i, : len(row)] = [lookup[str(x)] for x in row]
            table.multi_valued[name] = codes
            table.cardinalities[name] = len(vocab)
            table.vocabularies[name] = vocab
        for name in numeric:
            vals = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
            mean = np.nanmean(vals) if np.isfinite(vals).any() else 0.0
            std = np.nanstd(vals) if np.isfinite(vals).any() else 1.0
            std = std if std > 0 else 1.0
            table.numeric[name] = np.nan_to_num((vals - mean) / std).astype(np.float32)
        return table

    def take(self, rows: np.ndarray) -> "FeatureTable":
        """A table with the given rows, in that order."""
        return FeatureTable(
            num_rows=len(rows),
            categorical={k: v[rows] for k, v in self.categorical.items()},
            cardinalities=dict(self.cardinalities),
            multi_valued={k: v[rows] for k, v in self.multi_valued.items()},
            numeric={k: v[rows] for k, v in self.numeric.items()},
            vocabularies=dict(self.vocabularies),
        )
