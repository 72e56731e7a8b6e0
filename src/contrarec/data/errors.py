"""Errors raised for bad input data, always naming where the problem is."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data: names the file, the line, the field and what was expected.

    Args:
        message: What is wrong and what was expected.
        path: The file the problem was found in, if any.
        line: The 1-based line number (for text files), if known.
        field: The column or field name, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
