"""Reader for the LightGCN split format: ``train.txt`` / ``test.txt``, one line "user item item ...".

Ids in these files are already 0-based and contiguous; they are kept as the internal ids and
their decimal strings are the raw ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap, Interactions, Split


def _read_lines(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``([E] users, [E] items)`` from one LightGCN file; errors name the line and token."""
    if not path.exists():
        raise DataError("file not found", path=str(path))
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path)) from None
    if not text.strip():
        raise DataError("file is empty; expected lines 'user item item ...'", path=str(path))
    for lineno, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            ids = np.array([int(t) for t in tokens], dtype=np.int64)
        except ValueError:
            bad = next(t for t in tokens if not t.lstrip("-").isdigit())
            field = "user" if bad == tokens[0] else "item"
            raise DataError(f"expected an integer id, got {bad!r}", path=str(path), line=lineno,
                            field=field) from None
        if (ids < 0).any():
            raise DataError("ids must be non-negative", path=str(path), line=lineno)
        if len(ids) > 1:
            users.append(np.full(len(ids) - 1, ids[0], dtype=np.int64))
            items.append(ids[1:])
    if not users:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(users), np.concatenate(items)


def read_lightgcn_split(directory: str | Path) -> Split:
    """Read ``train.txt`` and ``test.txt`` of a LightGCN-format folder into one :class:`Split`.

    Raises:
        DataError: a malformed line, an empty file, or a test user / item absent from train.
    """
    directory = Path(directory)
    tr_u, tr_i = _read_lines(directory / "train.txt")
    te_u, te_i = _read_lines(directory / "test.txt")
    if len(tr_u) == 0:
        raise DataError("no interactions in train file", path=str(directory / "train.txt"))
    num_users = int(max(tr_u.max(), te_u.max() if len(te_u) else 0)) + 1
    num_items = int(max(tr_i.max(), te_i.max() if len(te_i) else 0)) + 1
    train_users = np.zeros(num_users, dtype=bool)
    train_users[tr_u] = True
    if len(te_u) and not train_users[te_u].all():
        missing = int(te_u[~train_users[te_u]][0])
        raise DataError(f"test user {missing} has no training interactions; "
                        "a model cannot rank for a user it never saw", path=str(directory / "test.txt"),
                        field="user")
    umap, imap = IdMap.identity(num_users), IdMap.identity(num_items)
    return Split(train=Interactions(tr_u, tr_i, umap, imap), test=Interactions(te_u, te_i, umap, imap))
