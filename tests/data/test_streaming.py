"""Streamed Parquet row groups: one-pass id maps, sharding across workers, the shuffle buffer."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contrarec.data.errors import DataError
from contrarec.data.power_law_log import write_power_law_log
from contrarec.data.streaming import (StreamIndex, StreamingBatches, build_stream_index, read_interactions,
                                      shuffle_buffer)


@pytest.fixture()
def log_file(tmp_path):
    return write_power_law_log(tmp_path / "log.parquet", num_users=50, num_items=40, num_interactions=1000,
                               seed=1, clusters=4, row_group_size=90)  # 12 row groups, the last of 10 rows


def pairs(batches) -> Counter:
    return Counter(zip(*(np.concatenate(a).tolist() for a in zip(*((b.users.numpy(), b.items.numpy())
                                                                    for b in batches)))))


def test_index_counts_and_sorted_maps(log_file, tmp_path):
    index = build_stream_index(log_file)
    table = pq.read_table(log_file)
    raw_items = table.column("item").to_numpy()
    assert index.items.to_pylist() == sorted(set(raw_items.tolist()))
    assert index.users.to_pylist() == sorted(set(table.column("user").to_pylist()))
    assert index.item_counts.tolist() == [int((raw_items == i).sum()) for i in index.items.to_pylist()]
    inter = read_interactions(log_file, index)
    assert len(inter) == 1000 and inter.item_map.raw[inter.items[5]] == str(raw_items[5])
    again = StreamIndex.load(index.save(tmp_path / "index"))
    assert again.items.equals(index.items) and again.users.equals(index.users)
    np.testing.assert_array_equal(again.item_counts, index.item_counts)


def test_one_worker_sees_every_row_once_per_epoch(log_file):
    index = build_stream_index(log_file)
    inter = read_interactions(log_file, index)
    stream = StreamingBatches(log_file, index, batch_size=64, seed=0, buffer_size=200)
    epoch0 = list(stream.epoch(0))
    assert len(epoch0) == len(stream) == -(-1000 // 64)
    assert pairs(epoch0) == Counter(zip(inter.users.tolist(), inter.items.tolist()))
    assert [b.users.tolist() for b in stream.epoch(0)] == [b.users.tolist() for b in epoch0]  # deterministic
    assert [b.users.tolist() for b in stream.epoch(1)] != [b.users.tolist() for b in epoch0]
    batch = epoch0[0]
    np.testing.assert_allclose(batch.item_log_q.numpy(), stream.log_q[batch.items].numpy())


def test_workers_read_disjoint_row_groups_in_lockstep(log_file):
    index = build_stream_index(log_file)
    inter = read_interactions(log_file, index)
    everything = Counter(zip(inter.users.tolist(), inter.items.tolist()))
    for epoch in range(3):
        shards = [list(StreamingBatches(log_file, index, 32, seed=0, rank=r, world_size=3).epoch(epoch))
                  for r in range(3)]
        assert len({len(s) for s in shards}) == 1 and len(shards[0]) > 0
        assert all(len(b) == 32 for s in shards for b in s)  # full batches only, so DDP steps match
        seen = sum((pairs(s) for s in shards), Counter())
        assert not seen - everything  # nothing invented, no row used twice more than it occurs


def test_string_ids_and_missing_columns(tmp_path):
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"u": ["b", "a", "b"], "i": ["x", "y", "x"]}), path)
    index = build_stream_index(path, user_column="u", item_column="i")
    assert index.users.to_pylist() == ["a", "b"] and index.item_counts.tolist() == [2, 1]
    user_map, item_map = index.id_maps()
    assert user_map.to_internal("b") == 1 and item_map.to_internal("y") == 1
    with pytest.raises(DataError, match="columns found: u, i"):
        build_stream_index(path)
    with pytest.raises(DataError, match="no Parquet"):
        build_stream_index(tmp_path / "nothing-here")


def test_shuffle_buffer_emits_every_row_once():
    rng = np.random.default_rng(0)
    chunks = [(np.arange(s, s + 30), np.arange(s, s + 30)) for s in range(0, 300, 30)]
    out = list(shuffle_buffer(iter(chunks), buffer_size=100, batch_size=16, rng=rng))
    users = np.concatenate([u for u, _ in out])
    assert sorted(users.tolist()) == list(range(300))
    assert all(len(u) == 16 for u, _ in out[:-1])
    assert not np.array_equal(users, np.arange(300))
