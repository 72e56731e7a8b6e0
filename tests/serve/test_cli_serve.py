"""The serving CLI's path resolution and the stored index report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contrarec.cli_serve import _params, resolve_index
from contrarec.serve.index import IndexConfig
from contrarec.serve.index_eval import build_and_measure, index_path


def test_index_build_stores_index_and_report(tmp_path):
    rng = np.random.default_rng(0)
    items, users = rng.normal(size=(500, 8)).astype("float32"), rng.normal(size=(50, 8)).astype("float32")
    path = index_path(tmp_path, "hnsw")
    _, report = build_and_measure(items, users, IndexConfig(kind="hnsw"), path, k=10, num_queries=20)
    stored = json.loads(path.with_suffix(".json").read_text())
    assert stored["recall@10"] == report["recall@10"] > 0.9
    assert stored["factory"] == "HNSW32,Flat" and stored["num_queries"] == 20
    assert resolve_index(tmp_path, "auto") == path == resolve_index(tmp_path, "hnsw")
    assert resolve_index(tmp_path / "empty", "auto") is None  # exact index built at start
    with pytest.raises(FileNotFoundError, match="contrarec index build"):
        resolve_index(tmp_path, "ivfpq")


def test_params_are_typed_values():
    assert _params(["nprobe=32", "metric=ip", "refine_factor=4"]) == {"nprobe": 32, "metric": "ip", "refine_factor": 4}
    with pytest.raises(ValueError, match="key=value"):
        _params(["nprobe"])
