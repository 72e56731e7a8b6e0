"""Interactions that do not fit in memory: a stream of Parquet row groups with a shuffle buffer.

Three steps:

1. :func:`build_stream_index` reads the user and item columns once (one row group at a time) and
   builds the id maps (raw ids sorted, so the maps do not depend on file order) and the item counts
   for logQ; :meth:`StreamIndex.save` / :meth:`StreamIndex.load` keep them next to the run.
2. :class:`StreamingBatches` yields training batches: every epoch the row groups are permuted with
   ``(seed, epoch)``, worker ``r`` of ``W`` reads row groups ``r, r+W, ...`` of that order, maps the raw
   ids with a hash lookup and mixes rows through a shuffle buffer.
3. :func:`read_interactions` loads everything into an :class:`Interactions` when memory allows (same
   id maps), for comparison with the stream.

No torch.distributed here: the worker's place is given as ``rank`` / ``world_size`` integers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import torch

from contrarec.data.batches import Batch, item_log_probabilities
from contrarec.data.errors import DataError
from contrarec.data.interactions import IdMap, Interactions
from contrarec.io import atomic_write, atomic_write_json


@dataclass(frozen=True)
class RowGroup:
    """One Parquet row group: the unit of reading and of sharding."""

    path: str
    index: int
    num_rows: int


def list_row_groups(source: str | Path) -> list[RowGroup]:
    """Every row group of the Parquet file(s) at ``source`` (a file or a folder), in sorted path order.

    Raises:
        DataError: nothing readable at ``source``.
    """
    if not Path(source).exists():
        raise DataError("no Parquet file or folder here", path=str(source))
    try:
        dataset = ds.dataset(str(source), format="parquet")
        groups = []
        for path in sorted(dataset.files):
            meta = pq.ParquetFile(path).metadata
            groups += [RowGroup(path, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file or folder ({exc})", path=str(source)) from None
    if not groups:
        raise DataError("no Parquet row groups found", path=str(source))
    return groups


def _read_columns(group: RowGroup, columns: list[str]) -> pa.Table:
    missing: list[str] = []
    try:
        handle = pq.ParquetFile(group.path)
        missing = [c for c in columns if c not in handle.schema_arrow.names]
        if not missing:
            return handle.read_row_group(group.index, columns=columns)
        problem = f"column {missing[0]!r} not found; columns found: {', '.join(handle.schema_arrow.names)}"
    except (pa.ArrowException, OSError) as exc:
        problem = f"row group {group.index} is not readable ({exc})"
    raise DataError(problem, path=group.path, field=missing[0] if missing else None)


@dataclass
class StreamIndex:
    """Id maps and item counts of a streamed interaction log.

    Args:
        users: ``[U]`` raw user ids (sorted, in the column's own type); position = internal id.
        items: ``[N]`` raw item ids (sorted); position = internal id.
        item_counts: ``[N]`` interactions per item (int64), for logQ.
        user_column: the user id column.
        item_column: the item id column.
    """

    users: pa.Array
    items: pa.Array
    item_counts: np.ndarray
    user_column: str = "user"
    item_column: str = "item"

    @property
    def num_rows(self) -> int:
        """Interactions in the log."""
        return int(self.item_counts.sum())

    def id_maps(self) -> tuple[IdMap, IdMap]:
        """``(user_map, item_map)`` with raw ids as strings (the :class:`IdMap` contract)."""
        as_str = lambda arr: np.asarray(arr.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)  # noqa: E731
        return IdMap(as_str(self.users)), IdMap(as_str(self.items))

    def to_internal(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """``([R] users, [R] items)`` internal ids of a table's rows (hash lookup; unknown ids are an error)."""
        users = pc.index_in(table.column(self.user_column), value_set=self.users)
        items = pc.index_in(table.column(self.item_column), value_set=self.items)
        if users.null_count or items.null_count:
            raise DataError(f"{users.null_count} user / {items.null_count} item ids are not in the id maps "
                            "(rebuild the stream index after the data changed)")
        return (users.to_numpy(zero_copy_only=False).astype(np.int64),
                items.to_numpy(zero_copy_only=False).astype(np.int64))

    def save(self, folder: str | Path) -> Path:
        """Write ``users.parquet``, ``items.parquet`` (with counts) and ``stream_index.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        users, items = pa.table({"raw": self.users}), pa.table({"raw": self.items, "count": self.item_counts})
        atomic_write(folder / "users.parquet", lambda tmp: pq.write_table(users, tmp))
        atomic_write(folder / "items.parquet", lambda tmp: pq.write_table(items, tmp))
        atomic_write_json(folder / "stream_index.json", {"user_column": self.user_column,
                                                         "item_column": self.item_column,
                                                         "num_users": len(self.users), "num_items": len(self.items),
                                                         "num_rows": self.num_rows})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "StreamIndex":
        """Read what :meth:`save` wrote."""
        folder = Path(folder)
        if not (folder / "stream_index.json").exists():
            raise DataError("no stream_index.json (build it with build_stream_index)", path=str(folder))
        meta = json.loads((folder / "stream_index.json").read_text())
        items = pq.read_table(folder / "items.parquet")
        return cls(users=pq.read_table(folder / "users.parquet").column("raw").combine_chunks(),
                   items=items.column("raw").combine_chunks(),
                   item_counts=items.column("count").to_numpy().astype(np.int64),
                   user_column=meta["user_column"], item_column=meta["item_column"])


def build_stream_index(source: str | Path, user_column: str = "user", item_column: str = "item") -> StreamIndex:
    """Id maps and item counts in one pass over the row groups (memory: the distinct ids, not the rows).

    Raises:
        DataError: unreadable files or missing columns, naming the file and the columns found.
    """
    user_parts, item_parts, count_parts = [], [], []
    for group in list_row_groups(source):
        table = _read_columns(group, [user_column, item_column])
        user_parts.append(pc.unique(table.column(user_column)))
        counts = pc.value_counts(table.column(item_column))
        item_parts.append(counts.field("values"))
        count_parts.append(counts.field("counts"))
    users = pc.unique(pa.concat_arrays(user_parts))
    totals = (pa.table({"raw": pa.concat_arrays(item_parts), "count": pa.concat_arrays(count_parts)})
              .group_by("raw").aggregate([("count", "sum")]))
    order = pc.sort_indices(totals.column("raw"))
    return StreamIndex(users=users.take(pc.sort_indices(users)),
                       items=totals.column("raw").take(order).combine_chunks(),
                       item_counts=totals.column("count_sum").take(order).to_numpy().astype(np.int64),
                       user_column=user_column, item_column=item_column)


def read_interactions(source: str | Path, index: StreamIndex) -> Interactions:
    """The whole log in memory, with the index's id maps (row groups in file order)."""
    users, items = zip(*(index.to_internal(_read_columns(g, [index.user_column, index.item_column]))
                         for g in list_row_groups(source)))
    user_map, item_map = index.id_maps()
    return Interactions(np.concatenate(users), np.concatenate(items), user_map, item_map)


def shuffle_buffer(chunks: Iterator[tuple[np.ndarray, np.ndarray]], buffer_size: int, batch_size: int,
                   rng: np.random.Generator) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of ``(users [B], items [B])`` from a stream of chunks, mixed through a buffer.

    Rows accumulate until ``buffer_size``; the buffer is then permuted and full batches are taken until
    half of it is left to mix with the next chunks. At the end the rest is permuted and emitted (the
    last batch may be short). Every row is emitted exactly once.
    """
    keep = max(buffer_size // 2, 0)
    users = items = np.zeros(0, dtype=np.int64)
    for chunk_users, chunk_items in chunks:
        users, items = np.concatenate([users, chunk_users]), np.concatenate([items, chunk_items])
        if len(users) < buffer_size:
            continue
        perm = rng.permutation(len(users))
        users, items = users[perm], items[perm]
        take = (len(users) - keep) // batch_size * batch_size
        for s in range(0, take, batch_size):
            yield users[s:s + batch_size], items[s:s + batch_size]
        users, items = users[take:], items[take:]
    perm = rng.permutation(len(users))
    users, items = users[perm], items[perm]
    for s in range(0, len(users), batch_size):
        yield users[s:s + batch_size], items[s:s + batch_size]


class StreamingBatches:
    """Training batches read from Parquet row groups, one worker's shard per epoch.

    Every worker permutes the row groups with the same ``(seed, epoch)`` generator and reads every
    W-th one starting at its rank. Each worker's shard holds a different number of rows, so with
    ``world_size > 1`` every worker stops after the same number of full batches (the smallest shard's),
    which keeps the workers' steps in lockstep; in one process the last short batch is kept.

    Args:
        source: a Parquet file or a folder of them.
        index: the id maps and item counts (:func:`build_stream_index`).
        batch_size: B per worker.
        seed: base seed.
        rank: this worker's rank r.
        world_size: W.
        buffer_size: rows mixed by the shuffle buffer (larger = closer to a full shuffle, more memory).
    """

    def __init__(self, source: str | Path, index: StreamIndex, batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1, buffer_size: int = 1 << 20) -> None:
        if batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need batch_size >= 1 and 0 <= rank < world_size, got {batch_size}, {rank}, {world_size}")
        self.source, self.index = source, index
        self.row_groups = list_row_groups(source)
        if len(self.row_groups) < world_size:
            raise DataError(f"{len(self.row_groups)} row groups cannot feed {world_size} workers "
                            "(write the file with smaller row groups)", path=str(source))
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.buffer_size = buffer_size
        self.log_q = torch.from_numpy(item_log_probabilities(index.item_counts))
        self.num_items = len(index.items)

    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng(self.seed * 1_000_003 + epoch).permutation(len(self.row_groups))

    def steps(self, epoch: int) -> int:
        """Batches this worker yields in ``epoch`` (the same on every worker)."""
        order = self._order(epoch)
        rows = [sum(self.row_groups[g].num_rows for g in order[r::self.world_size]) for r in range(self.world_size)]
        if self.world_size == 1:
            return -(-rows[0] // self.batch_size)
        return min(rows) // self.batch_size

    def __len__(self) -> int:
        return self.steps(0)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """This worker's batches of ``epoch``, deterministic in ``(seed, epoch, rank)``."""
        mine = self._order(epoch)[self.rank::self.world_size]
        columns = [self.index.user_column, self.index.item_column]
        chunks = (self.index.to_internal(_read_columns(self.row_groups[g], columns)) for g in mine)
        rng = np.random.default_rng([self.seed, epoch, self.rank])
        batches = shuffle_buffer(chunks, self.buffer_size, self.batch_size, rng)
        for _, (users, items) in zip(range(self.steps(epoch)), batches):
            items_t = torch.from_numpy(items)
            yield Batch(users=torch.from_numpy(users), items=items_t, item_log_q=self.log_q[items_t])
