"""Export of a trained run: what serving needs, readable without the training code.

Files written into the export folder::

    users.parquet        raw user id + embedding (known users)
    items.parquet        raw item id + embedding
    seen.npz             [U, N] CSR of train (+ valid) interactions, excluded when recommending
    user_tower.pt2       the user tower as a torch.export program (two-tower models), for unseen users
    user_features.json   the user tower's feature columns and vocabularies (raw value -> code)
    manifest.json        model, dim, normalization, metric, data fingerprint, counts, file names
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
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


def export_run(run, out_dir: str | Path, user_tower: bool = True) -> Path:
    """Write the files listed in the module doc into ``out_dir`` (the manifest last).

    Args:
        run: a :class:`~contrarec.train.run.TrainedRun` (model, split, config).
        out_dir: the export folder.
        user_tower: also export the user tower when the model has one.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run.model.eval()
    with torch.no_grad():
        users = run.model.user_embeddings().numpy()
        items = run.model.item_embeddings().numpy()
    write_embeddings(out_dir / "users.parquet", run.split.train.user_map.raw, users)
    write_embeddings(out_dir / "items.parquet", run.split.train.item_map.raw, items)
    atomic_write(out_dir / "seen.npz", lambda tmp: _save_npz(tmp, run.known_csr))
    files = {"users": "users.parquet", "items": "items.parquet", "seen": "seen.npz"}
    tower = getattr(run.model, "user_tower", None)
    if user_tower and tower is not None:
        files.update(_export_tower(run, tower, out_dir))
    normalized = bool(getattr(run.model, "normalized", False))
    manifest = {
        "model": run.config.recipe,
        "dim": int(items.shape[1]),
        "normalized": normalized,
        "normalization": "l2" if normalized else "none",
        "metric": "cosine" if normalized else "inner_product",
        "num_users": int(users.shape[0]),
        "num_items": int(items.shape[0]),
        "data_fingerprint": data_fingerprint(run),
        "files": files,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
    }
    atomic_write_json(out_dir / "manifest.json", manifest)
    return out_dir


def _save_npz(path: Path, matrix: sp.csr_matrix) -> None:
    with open(path, "wb") as fh:
        sp.save_npz(fh, sp.csr_matrix(matrix, dtype=np.float32))


def _export_tower(run, tower, out_dir: Path) -> dict[str, str]:
    """Write ``user_tower.pt2`` and ``user_features.json``; return their entries for the manifest."""
    from contrarec.serve.tower_export import ColdStartUserTower, export_user_tower, fold_in_table

    if tower.id_embedding is not None:
        fold_in, mean_user = fold_in_table(tower.id_embedding.weight, run.split.train.to_csr())
    else:
        fold_in, mean_user = torch.zeros(run.split.train.num_items, 1), torch.zeros(1)
    wrapper = ColdStartUserTower(tower, fold_in, mean_user)
    export_user_tower(wrapper, out_dir / "user_tower.pt2")
    atomic_write_json(out_dir / "user_features.json", feature_schema(run.split.train.user_features, wrapper))
    return {"user_tower": "user_tower.pt2", "user_features": "user_features.json"}


def feature_schema(table, wrapper) -> dict:
    """Columns the exported tower takes, in input order, with each vocabulary (index = code, 0 = missing)."""

    def vocab(name: str) -> list[str]:
        known = table.vocabularies.get(name) if table is not None else None
        if known is not None:
            return [str(v) for v in known]
        return [""] + [str(i) for i in range(1, table.cardinalities[name])]

    return {
        "categorical": {name: vocab(name) for name in wrapper.categorical_names},
        "multi_valued": {name: vocab(name) for name in wrapper.multi_names},
        "numeric": list(wrapper.numeric_names),
        "numeric_note": "numeric values are standardised (zero mean, unit variance over the training users)",
    }
