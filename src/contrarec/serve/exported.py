"""An export folder read back for serving: embeddings, id maps, seen items, the user tower (no training code)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from torch import nn

from contrarec.data.interactions import IdMap
from contrarec.serve.export import read_embeddings


@dataclass
class ExportedModel:
    """Everything :func:`~contrarec.serve.export.export_run` wrote.

    Args:
        manifest: the manifest (model, dim, normalization, metric, data fingerprint, files).
        user_map: raw <-> internal user ids (U).
        item_map: raw <-> internal item ids (N).
        user_embeddings: ``[U, D]`` float32.
        item_embeddings: ``[N, D]`` float32.
        seen: ``[U, N]`` CSR of the items each known user has seen (excluded by default).
        user_tower: the exported user tower (``None`` for models without one).
        user_features: the tower's feature schema (``None`` without a tower).
    """

    manifest: dict
    user_map: IdMap
    item_map: IdMap
    user_embeddings: np.ndarray
    item_embeddings: np.ndarray
    seen: sp.csr_matrix
    user_tower: nn.Module | None = None
    user_features: dict | None = None

    @property
    def dim(self) -> int:
        """D."""
        return int(self.item_embeddings.shape[1])

    @property
    def normalized(self) -> bool:
        """True when embeddings are L2-normalised (cosine)."""
        return bool(self.manifest.get("normalized", False))

    def seen_items(self, row: int) -> np.ndarray:
        """Internal ids of the items user ``row`` has seen (a view of the CSR row, no copy)."""
        return self.seen.indices[self.seen.indptr[row]:self.seen.indptr[row + 1]]

    @classmethod
    def load(cls, folder: str | Path, user_tower: bool = True) -> "ExportedModel":
        """Read an export folder; ``FileNotFoundError`` naming what is missing."""
        folder = Path(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{folder} is not an export folder (no manifest.json); run `contrarec export`")
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        user_raw, user_emb = read_embeddings(folder / files["users"])
        item_raw, item_emb = read_embeddings(folder / files["items"])
        if "seen" in files:
            seen = sp.load_npz(folder / files["seen"]).tocsr()
        else:
            seen = sp.csr_matrix((len(user_raw), len(item_raw)), dtype=np.float32)
        seen.sort_indices()
        seen.indices = seen.indices.astype(np.int64)
        tower = schema = None
        if user_tower and "user_tower" in files:
            from contrarec.serve.tower_export import load_user_tower

            tower = load_user_tower(folder / files["user_tower"])
            schema = json.loads((folder / files["user_features"]).read_text())
        return cls(manifest=manifest, user_map=IdMap(user_raw), item_map=IdMap(item_raw),
                   user_embeddings=user_emb, item_embeddings=item_emb, seen=seen, user_tower=tower,
                   user_features=schema)
