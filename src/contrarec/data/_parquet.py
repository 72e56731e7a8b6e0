"""Reading some columns of a Parquet file with errors that name the file, row and column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from contrarec.data._columns import ColumnTable
from contrarec.data.errors import DataError

PARQUET_MAGIC = b"PAR1"


def is_parquet(path: str | Path) -> bool:
    """True for a ``.parquet``/``.pq`` name or a file starting with the Parquet magic bytes."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False


class ParquetTable(ColumnTable):
    """Some columns of a Parquet file; errors name the 1-based row."""

    def error(self, row: int, message: str, field: str | None = None) -> DataError:
        """A DataError naming data row ``row`` (0-based; reported 1-based)."""
        return DataError(f"{self.where(row)}: {message}", path=self.path, field=field)

    def where(self, row: int) -> str:
        """``"row N"`` (1-based) for data row ``row``."""
        return f"row {row + 1}"


def read_parquet(path: str | Path, keep: list[str]) -> ParquetTable:
    """Read the ``keep`` columns of a Parquet file.

    Raises:
        DataError: unreadable file, duplicate or missing column (lists those found), no rows.
    """
    spath = str(path)
    if not Path(path).is_file():
        raise DataError("file not found", path=spath)
    try:
        header = list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", path=spath) from None
    for position, name in enumerate(header):
        if name in header[:position]:
            raise DataError(f"duplicate column name {name!r} in the schema", path=spath, field=name)
    for name in keep:
        if name not in header:
            raise DataError(f"column {name!r} not found; columns found: {', '.join(header)}",
                            path=spath, field=name)
    try:
        table = pq.read_table(path, columns=list(dict.fromkeys(keep)))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", path=spath) from None
    if table.num_rows == 0:
        raise DataError("no data rows", path=spath)
    return ParquetTable(spath, header, {name: table.column(name) for name in keep})
