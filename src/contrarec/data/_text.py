"""Line-accurate reading of delimited text (CSV, TSV, ``|`` or ``::`` separated).

Every problem becomes one :class:`DataError` naming the file, the 1-based line and the field;
no parser traceback reaches the caller. Clean files go through Arrow's CSV parser; a file it
rejects, and any later error that needs a line number, is rescanned record by record.
"""

from __future__ import annotations

import codecs
import csv
import io
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from contrarec.data._columns import ColumnTable
from contrarec.data.errors import DataError

_SEPARATOR_NAMES = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "'|'", "::": "'::'"}


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole file decoded, without a leading byte-order mark.

    Raises:
        DataError: missing file, unknown encoding, or bytes that do not decode (names byte and line).
    """
    path = Path(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}", path=str(path)) from None
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a regular file", path=str(path))
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"cannot decode as {encoding} ({exc.reason}) at byte offset {exc.start} "
                        f"(byte {data[exc.start:exc.start + 1]!r}); pass the file's encoding, "
                        "e.g. encoding='latin-1'", path=str(path), line=line) from None
    return text[1:] if text.startswith("\ufeff") else text


def sniff_separator(path: str | Path, first_line: str) -> str:
    """``\\t`` for ``.tsv``/``.tab``, ``,`` for ``.csv``, else the first of tab, comma, ``;``, ``|``
    found in the first line (comma when none is)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    return next((sep for sep in ("\t", ",", ";", "|") if sep in first_line), ",")


def _rows(text: str, sep: str, quoting: bool, path: str) -> Iterator[tuple[int, int, list[str]]]:
    """Yield ``(first_line, last_line, fields)`` for every record that is not blank (1-based lines)."""
    if quoting and len(sep) == 1:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(f"malformed record ({exc})", path=path, line=start) from None
            if len(row) > 1 or (row and row[0].strip()):   # skip empty and whitespace-only lines
                yield start, reader.line_num, row
            start = reader.line_num + 1
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, number, line.split(sep)


class TextTable(ColumnTable):
    """Some columns of a delimited text file; errors name the 1-based line of a row.

    Args:
        path, header, columns: as :class:`ColumnTable`.
        lines: ``[R]`` line of each data row, or None to find them by rescanning on the first error.
        rescan: returns the lines when ``lines`` is None.
    """

    def __init__(self, path: str, header: list[str], columns: dict[str, pa.Array],
                 lines: np.ndarray | None, rescan: Callable[[], np.ndarray] | None = None) -> None:
        super().__init__(path, header, columns)
        self.lines = lines
        self._rescan = rescan

    def error(self, row: int, message: str, field: str | None = None) -> DataError:
        """A DataError naming the line of data row ``row`` (0-based)."""
        return DataError(message, path=self.path, line=self.line(row), field=field)

    def line(self, row: int) -> int:
        """The 1-based line where data row ``row`` (0-based) starts."""
        if self.lines is None:
            self.lines = self._rescan()
        return int(self.lines[row])

    def where(self, row: int) -> str:
        """``"line N"`` for data row ``row``."""
        return f"line {self.line(row)}"


def _header(records: Iterator, path: str, names: list[str] | None,
            keep: list[str] | None) -> tuple[int, list[str], list[str]]:
    """``(lines the header takes, header, kept columns)``, checking duplicates and missing names."""
    header_end, header_line = 0, None
    if names is None:
        header_line, header_end, header = next(records)
        header = [h.strip() for h in header]
    else:
        header = list(names)
    for position, name in enumerate(header):
        if name in header[:position]:
            raise DataError(f"duplicate column name {name!r} in the header (columns "
                            f"{header.index(name) + 1} and {position + 1})", path=path, line=header_line,
                            field=name)
    keep = list(header if keep is None else keep)
    for name in keep:
        if name not in header:
            raise DataError(f"column {name!r} not found; columns found: {', '.join(header)}",
                            path=path, line=header_line, field=name)
    return header_end, header, keep


def _exact(text: str, path: str, sep: str, names: list[str] | None, keep: list[str] | None,
           quoting: bool) -> TextTable:
    """Read record by record, checking every record's field count."""
    records = _rows(text, sep, quoting, path)
    _, header, keep = _header(records, path, names, keep)
    index = [header.index(name) for name in keep]
    pick = itemgetter(*index) if len(index) > 1 else (lambda fields: (fields[index[0]],))
    sep_name = _SEPARATOR_NAMES.get(sep, repr(sep))
    kept, lines = [], []
    for first, _, fields in records:
        if len(fields) != len(header):
            raise DataError(f"expected {len(header)} {sep_name}-separated fields ({', '.join(header)}), "
                            f"found {len(fields)}", path=path, line=first)
        kept.append(pick(fields))
        lines.append(first)
    if not lines:
        raise DataError("no data rows" + (" after the header" if names is None else ""), path=path)
    columns = {name: pa.array(col, pa.string()) for name, col in zip(keep, zip(*kept))}
    return TextTable(path, header, columns, np.asarray(lines, dtype=np.int64))


def _fast(text: str, sep: str, quoting: bool, skip: int, header: list[str],
          keep: list[str]) -> dict[str, pa.ChunkedArray] | None:
    """The kept columns parsed by Arrow, or None when Arrow finds anything irregular."""
    if len(header) < 2:
        return None  # a whitespace-only line would be a row for Arrow but is skipped record by record
    if len(sep) > 1:
        if "\x1f" in text:
            return None
        text, sep = text.replace(sep, "\x1f"), "\x1f"
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(skip_rows=skip, column_names=header),
            parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"' if quoting else False,
                                             newlines_in_values=quoting, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(include_columns=keep,
                                                 column_types={k: pa.string() for k in keep},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):
        return None
    return {name: table.column(name) for name in keep} if table.num_rows else None


def read_delimited(path: str | Path, sep: str | None = None, *, encoding: str = "utf-8",
                   names: list[str] | None = None, keep: list[str] | None = None,
                   quoting: bool = True) -> TextTable:
    """Read a delimited text file, checking every record's field count.

    Args:
        path: the file.
        sep: field separator; None sniffs it (see :func:`sniff_separator`).
        encoding: text encoding of the file.
        names: column names for a file without a header line; None reads the header from the
            first non-empty line.
        keep: columns to return (default all); each must exist.
        quoting: honour CSV double quotes (single-character ``sep`` only); False splits plainly.

    Raises:
        DataError: empty file, duplicate header name, missing column (lists those found),
            a record with the wrong number of fields (names the line), undecodable bytes.
    """
    spath = str(path)
    text = read_text(path, encoding)
    if not text.strip():
        raise DataError("file is empty", path=spath)
    if sep is None:
        sep = sniff_separator(path, next(line for line in text.splitlines() if line.strip()))
    skip, header, kept = _header(_rows(text, sep, quoting, spath), spath, names, keep)
    columns = _fast(text, sep, quoting, skip, header, kept)
    if columns is None:
        return _exact(text, spath, sep, names, keep, quoting)
    return TextTable(spath, header, columns, None,
                     rescan=lambda: _exact(text, spath, sep, names, keep, quoting).lines)
