"""Columns read from a file (text or Parquet), converted with errors that name where they are."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from contrarec.data.errors import DataError


def to_float(values: list, allow_empty: bool, error: Callable[[int, str], DataError]) -> np.ndarray:
    """``[R]`` float64 from Python values, value by value (the slow path that finds bad rows).

    Empty strings and None become NaN when ``allow_empty``; any other value that ``float`` rejects,
    or a non-finite one, raises ``error(row, message)`` for the first such row.
    """
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        empty = value is None or (isinstance(value, str) and not value.strip())
        if empty and allow_empty:
            out[row] = np.nan
            continue
        try:
            out[row] = float(value)
            if np.isfinite(out[row]):
                continue
        except (TypeError, ValueError):
            pass
        raise error(row, "expected a finite number, got " + ("an empty value" if empty else repr(value)))
    return out


class ColumnTable:
    """Some columns of one file as Arrow arrays; subclasses say how to locate a row.

    Args:
        path: the file.
        header: every column name the file has.
        columns: name -> Arrow (chunked) array of each kept column.
    """

    def __init__(self, path: str, header: list[str], columns: dict[str, pa.ChunkedArray | pa.Array]) -> None:
        self.path = path
        self.header = header
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def error(self, row: int, message: str, field: str | None = None) -> DataError:
        """A DataError located at data row ``row`` (0-based)."""
        raise NotImplementedError

    def where(self, row: int) -> str:
        """Where data row ``row`` (0-based) is, in words ("line 7", "row 6")."""
        raise NotImplementedError

    def values(self, name: str) -> list:
        """The column's values as Python objects (lists for list columns, None for nulls)."""
        return self.columns[name].to_pylist()

    def strings(self, name: str) -> np.ndarray:
        """``[R]`` object array of str without surrounding whitespace; nulls become ``""``."""
        col = self.columns[name]
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            return np.array(["" if v is None else str(v).strip() for v in col.to_pylist()], dtype=object)
        return pc.utf8_trim_whitespace(pc.fill_null(col, "")).to_numpy(zero_copy_only=False).astype(object)

    def ids(self, name: str) -> np.ndarray:
        """``[R]`` raw ids as str; an empty or null id is an error naming its row."""
        ids = self.strings(name)
        empty = np.flatnonzero(ids == "")
        if len(empty):
            raise self.error(int(empty[0]), "empty id", field=name)
        return ids

    def numbers(self, name: str, allow_empty: bool = False) -> np.ndarray:
        """``[R]`` float64 (Arrow timestamps as Unix seconds); a bad value names its row and value."""
        col = self.columns[name]
        slow = lambda: to_float(self.values(name), allow_empty, lambda r, m: self.error(r, m, field=name))
        if pa.types.is_timestamp(col.type):
            col = pc.divide(pc.cast(pc.cast(col, pa.timestamp("us")), pa.int64()), 1e6)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.utf8_trim_whitespace(col)
            if allow_empty:
                col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            return slow()
        try:
            num = pc.cast(col, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            num = None
        if num is None:
            return slow()  # outside the except block: the DataError carries no Arrow context
        out = num.to_numpy(zero_copy_only=False).astype(np.float64)
        missing = pc.is_null(num).to_numpy(zero_copy_only=False)
        if (~np.isfinite(out) & ~(missing & allow_empty)).any():
            return slow()
        return out
