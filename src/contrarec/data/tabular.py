"""Readers for interaction and feature tables in CSV, TSV or Parquet files.

Raw ids become contiguous internal ids with :meth:`IdMap.from_raw` (order of first appearance).
Bad input raises one :class:`DataError` naming the file, the line (Parquet: the row) and the field.

Conventions (what is kept, skipped or counted, and where it is reported):
    * Duplicate ``(user, item)`` rows are kept (``Interactions.to_csr`` collapses them);
      their count is ``info["duplicate_pairs"]``.
    * Rows with ``weight < min_weight`` are dropped; count in ``info["below_min_weight"]``.
    * Feature rows whose id is not in the id map are skipped (``info["rows_unknown_id"]`` on the
      :class:`FeatureTable`); ids without a row get the missing code 0 (numeric: 0 after
      standardising), counted in ``info["ids_without_row"]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from contrarec.data._columns import ColumnTable
from contrarec.data._parquet import is_parquet, read_parquet
from contrarec.data._text import read_delimited
from contrarec.data.errors import DataError
from contrarec.data.features import FeatureTable
from contrarec.data.interactions import IdMap, Interactions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns of a table hold the user id, item id, and optionally timestamp and weight.

    Args:
        user: column of raw user ids.
        item: column of raw item ids.
        timestamp: column of Unix seconds (any real number), or None.
        weight: column of interaction weights (e.g. ratings), or None.
    """

    user: str
    item: str
    timestamp: str | None = None
    weight: str | None = None

    def names(self) -> list[str]:
        """The mapped column names, in the order user, item, timestamp, weight."""
        return [n for n in (self.user, self.item, self.timestamp, self.weight) if n is not None]


def open_table(path: str | Path, keep: list[str], sep: str | None = None,
               encoding: str = "utf-8") -> ColumnTable:
    """Read the ``keep`` columns of a Parquet (by suffix or magic bytes) or delimited text file."""
    if is_parquet(path):
        return read_parquet(path, keep)
    return read_delimited(path, sep, encoding=encoding, keep=keep)


def interactions_from_table(table: ColumnTable, columns: ColumnMapping,
                            min_weight: float | None = None) -> Interactions:
    """Build :class:`Interactions` from the mapped columns of a read table (see module conventions)."""
    if min_weight is not None and columns.weight is None:
        raise DataError("min_weight needs a weight column (ColumnMapping.weight)", path=table.path)
    users, items = table.ids(columns.user), table.ids(columns.item)
    timestamps = None if columns.timestamp is None else table.numbers(columns.timestamp)
    weights = None if columns.weight is None else table.numbers(columns.weight)
    info: dict[str, object] = {"source": table.path, "rows_read": len(users)}
    if min_weight is not None:
        keep = weights >= min_weight
        info["below_min_weight"] = int((~keep).sum())
        users, items, weights = users[keep], items[keep], weights[keep]
        timestamps = None if timestamps is None else timestamps[keep]
        if not keep.any():
            raise DataError(f"no rows left with {columns.weight} >= {min_weight}", path=table.path,
                            field=columns.weight)
    user_map, user_ids = IdMap.from_raw(users)
    item_map, item_ids = IdMap.from_raw(items)
    keys = np.sort(user_ids * len(item_map) + item_ids)
    info["duplicate_pairs"] = int((keys[1:] == keys[:-1]).sum())
    if info["duplicate_pairs"]:
        log.info("%s: %d duplicate (user, item) rows kept", table.path, info["duplicate_pairs"])
    return Interactions(users=user_ids, items=item_ids, user_map=user_map, item_map=item_map,
                        timestamps=timestamps,
                        weights=None if weights is None else weights.astype(np.float32), info=info)


def read_table(path: str | Path, columns: ColumnMapping, sep: str | None = None,
               encoding: str = "utf-8", min_weight: float | None = None) -> Interactions:
    """Read interactions from a CSV/TSV file with a header line, or from a Parquet file.

    Args:
        path: the file; ``.parquet``/``.pq`` (or Parquet magic bytes) is read as Parquet.
        columns: which columns hold user, item, timestamp and weight.
        sep: text field separator; None sniffs it from the suffix (``.csv``, ``.tsv``) or the
            header line.
        encoding: text encoding (ignored for Parquet).
        min_weight: drop rows whose weight is below this (needs ``columns.weight``).

    Returns:
        Interactions with ``info`` = ``{"source", "rows_read", "duplicate_pairs"[, "below_min_weight"]}``.

    Raises:
        DataError: empty file, duplicate header name, missing column, malformed row, non-numeric
            timestamp or weight, undecodable bytes; the message names file, line and field.

    Example:
        >>> inter = read_table("ratings.csv", ColumnMapping("user_id", "movie_id", "ts", "rating"))  # doctest: +SKIP
    """
    table = open_table(path, columns.names(), sep, encoding)
    return interactions_from_table(table, columns, min_weight)


def positions_in_map(ids: np.ndarray, table: ColumnTable, id_column: str,
                   idmap: IdMap) -> np.ndarray:
    """``[R]`` internal id of each feature row (-1 for ids not in the map); duplicates are errors."""
    uniq, first, counts = np.unique(ids.astype(str), return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = str(uniq[counts > 1][0])
        rows = np.flatnonzero(ids.astype(str) == dup)
        raise table.error(int(rows[1]), f"id {dup!r} appears again (first at {table.where(int(rows[0]))})",
                          field=id_column)
    return np.array([idmap.index.get(str(i), -1) for i in ids], dtype=np.int64)


def align_features(positions: np.ndarray, values: dict[str, Sequence], num_rows: int, *,
                   categorical: Sequence[str] = (), multi_valued: Sequence[str] = (),
                   numeric: Sequence[str] = (), multi_sep: str = "|") -> FeatureTable:
    """Encode feature values given per file row into a table indexed by internal id.

    Args:
        positions: ``[R]`` internal id of each file row, -1 to skip the row.
        values: column -> ``[R]`` raw values (numeric columns: floats, NaN = missing).
        num_rows: size of the id space (U or N).
        categorical, multi_valued, numeric: column kinds, as in :meth:`FeatureTable.from_frame`.
        multi_sep: separator inside multi-valued string values.

    Returns:
        The table, with ``info = {"rows_unknown_id", "ids_without_row"}``.
    """
    import pandas as pd

    known = positions >= 0
    target = positions[known]
    frame = {}
    for name in [*categorical, *multi_valued]:
        col = np.full(num_rows, "", dtype=object)
        col[target] = np.asarray(values[name], dtype=object)[known]
        frame[name] = col
    for name in numeric:
        col = np.full(num_rows, np.nan)
        col[target] = np.asarray(values[name], dtype=np.float64)[known]
        frame[name] = col
    table = FeatureTable.from_frame(pd.DataFrame(frame, index=range(num_rows)), categorical=categorical,
                                    multi_valued=multi_valued, numeric=numeric, sep=multi_sep)
    table.info = {"rows_unknown_id": int((~known).sum()),
                  "ids_without_row": int(num_rows - len(np.unique(target)))}
    return table


def read_features(path: str | Path, id_column: str, idmap: IdMap, categorical: Sequence[str] = (),
                  multi_valued: Sequence[str] = (), numeric: Sequence[str] = (), sep: str | None = None,
                  encoding: str = "utf-8", multi_sep: str = "|") -> FeatureTable:
    """Read a feature file (one row per entity) aligned to an existing id map.

    Args:
        path: CSV/TSV with a header line, or Parquet (list columns allowed for multi-valued).
        id_column: column of raw ids, matched against ``idmap``.
        idmap: the user or item map of the interactions these features belong to.
        categorical, multi_valued, numeric: the columns to encode, by kind. Empty values are missing.
        sep: text field separator (None sniffs it); encoding: text encoding.
        multi_sep: separator inside a multi-valued text value, e.g. ``"Action|Comedy"``.

    Returns:
        ``FeatureTable`` with ``len(idmap)`` rows and ``info = {"rows_unknown_id", "ids_without_row"}``.

    Raises:
        DataError: as :func:`read_table`, plus a repeated id or a non-numeric numeric value.
    """
    names = [id_column, *categorical, *multi_valued, *numeric]
    table = open_table(path, list(dict.fromkeys(names)), sep, encoding)
    positions = positions_in_map(table.ids(id_column), table, id_column, idmap)
    values: dict[str, Sequence] = {name: table.values(name) for name in [*categorical, *multi_valued]}
    values.update({name: table.numbers(name, allow_empty=True) for name in numeric})
    features = align_features(positions, values, len(idmap), categorical=categorical,
                              multi_valued=multi_valued, numeric=numeric, multi_sep=multi_sep)
    features.info["source"] = table.path
    return features
