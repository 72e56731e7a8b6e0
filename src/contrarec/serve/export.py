"""Export of a trained run: user and item embeddings with raw ids (Parquet) and a manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from contrarec.io import atomic_write, atomic_write_json


def embeddings_table(raw_ids: np.ndarray, embeddings: np.ndarray) -> pa.Table:
    """A table with ``id`` (string) and ``embedding`` (fixed-size list of float32)."""
    flat = pa.array(embeddings.astype(np.float32).reshape(-1))
    emb = pa.FixedSizeListArray.from_arrays(flat, embeddings.shape[1])
    return pa.table({"id": pa.array([str(r) for r in raw_ids], pa.string()), "embedding": emb})


def write_embeddings(path: Path, raw_ids: np.ndarray, embeddings: np.ndarray) -> None:
    """Write ``[n, D]`` embeddings with their raw ids to Parquet, atomically."""
    table = embeddings_table(raw_ids, embeddings)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_embeddings(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(raw ids [n], embeddings [n, D] float32)`` from a file written by :func:`write_embeddings`."""
    table = pq.read_table(path)
    ids = np.array(table.column("id").to_pylist(), dtype=object)
    col = table.column("embedding").combine_chunks()
    dim = col.type.list_size
    emb = col.values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
    return ids, emb


def data_fingerprint(run) -> str:
    """A short hash of the training interactions (users, items) so serving can check what it was built on."""
    h = hashlib.sha256()
    h.update(run.split.train.users.tobytes())
    h.update(run.split.train.items.tobytes())
    return h.hexdigest()[:16]


def export_run(run, out_dir: str | Path) -> Path:
    """Write ``users.parquet``, ``items.parquet`` and ``manifest.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        users = run.model.user_embeddings().numpy()
        items = run.model.item_embeddings().numpy()
    write_embeddings(out_dir / "users.parquet", run.split.train.user_map.raw, users)
    write_embeddings(out_dir / "items.parquet", run.split.train.item_map.raw, items)
    manifest = {
        "model": run.config.recipe,
        "dim": int(items.shape[1]),
        "normalized": bool(getattr(run.model, "normalized", False)),
        "metric": "inner_product",
        "num_users": int(users.shape[0]),
        "num_items": int(items.shape[0]),
        "data_fingerprint": data_fingerprint(run),
        "files": {"users": "users.parquet", "items": "items.parquet"},
    }
    atomic_write_json(out_dir / "manifest.json", manifest)
    return out_dir
