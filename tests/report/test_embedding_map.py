"""The item-embedding map: projection, sampling, colouring, and the section with a stand-in model loader."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest

from contrarec.data.features import FeatureTable
from contrarec.report import embedding_map
from contrarec.report.embedding_map import Coloring, coloring, embedding_section, map_figure, pca_2d, sample_items
from contrarec.report.figures import to_png_base64
from contrarec.report.item_view import ItemView
from contrarec.report.runs import read_run


def _view(n: int = 120, dim: int = 8, seed: int = 0) -> ItemView:
    rng = np.random.default_rng(seed)
    genre = rng.integers(1, 4, size=n)
    table = FeatureTable(num_rows=n, categorical={"genre": genre}, cardinalities={"genre": 4},
                         vocabularies={"genre": np.array(["", "drama", "comedy", "news"], dtype=object)},
                         numeric={"price": rng.normal(size=n).astype(np.float32)})
    return ItemView(embeddings=rng.normal(size=(n, dim)).astype(np.float32),
                    popularity=rng.integers(0, 50, size=n).astype(float), features=table)


def test_pca_on_a_line_explains_everything() -> None:
    t = np.linspace(-1, 1, 50)[:, None]  # [50, 1]
    emb = t @ np.array([[1.0, 2.0, -1.0]]) + 3.0  # [50, 1] @ [1, 3] -> [50, 3], all on one line
    xy, explained = pca_2d(emb)
    assert xy.shape == (50, 2)
    assert explained == pytest.approx(1.0)
    assert np.allclose(xy[:, 1], 0.0, atol=1e-9)
    assert np.allclose(np.abs(xy[:, 0]), np.abs(t[:, 0]) * np.sqrt(6))


def test_sampling_is_capped_and_deterministic() -> None:
    assert np.array_equal(sample_items(30, 100), np.arange(30))
    a, b = sample_items(10_000, 500, seed=3), sample_items(10_000, 500, seed=3)
    assert len(a) == 500 and len(np.unique(a)) == 500 and np.array_equal(a, b)


def test_coloring_by_feature_and_fallback() -> None:
    view = _view()
    idx = np.arange(10)
    col, note = coloring(view, idx, "genre")
    assert note is None and col.codes is not None and col.names[1] == "drama"
    col, note = coloring(view, idx, "price")
    assert note is None and col.values.shape == (10,)
    col, note = coloring(view, idx, "colour")
    assert "no item feature 'colour'" in note and "genre" in note and col.label.startswith("log10")


def test_map_figure_renders(png_size) -> None:
    xy = np.random.default_rng(0).normal(size=(40, 2))
    codes = np.array([1, 2, 3, 0] * 10)
    fig = map_figure([("a", xy, Coloring("pop", values=np.arange(40.0))),
                      ("b", xy, Coloring("genre", codes=codes, names=["missing", "x", "y", "z"]))])
    width, height = png_size(base64.b64decode(to_png_base64(fig)))
    assert width > 500 and height > 200


def test_section_with_stand_in_loader(tmp_path: Path, write_run, png_size, monkeypatch) -> None:
    runs = []
    for name in ("tower", "popular", "nockpt"):
        path = write_run(tmp_path / name)
        if name != "nockpt":
            (path / "checkpoints").mkdir()
            (path / "checkpoints" / "best.pt").write_bytes(b"")
        runs.append(read_run(path))
    views = {"tower": _view(), "popular": ItemView(np.ones((120, 1), np.float32), np.ones(120), None)}
    monkeypatch.setattr(embedding_map, "load_item_view", lambda run, cache: views[run.name])
    sec = embedding_section(runs, color_by="genre", max_points=50, projection="pca")
    assert len(sec.images) == 1
    assert png_size(base64.b64decode(sec.images[0].png_base64))[0] > 300
    notes = " ".join(sec.notes)
    assert "popular: item embeddings are 1-dimensional" in notes
    assert "nockpt: no checkpoint" in notes


def test_loader_failure_becomes_a_note(tmp_path: Path, write_run, monkeypatch) -> None:
    path = write_run(tmp_path / "broken")
    (path / "checkpoints").mkdir()
    (path / "checkpoints" / "best.pt").write_bytes(b"not a checkpoint")

    def boom(run, cache):
        raise RuntimeError("data folder moved")

    monkeypatch.setattr(embedding_map, "load_item_view", boom)
    sec = embedding_section([read_run(path)], projection="pca")
    assert sec.images == [] and re.search(r"broken: could not reload the model \(RuntimeError: data folder moved",
                                          " ".join(sec.notes))


def test_umap_missing_is_a_note(tmp_path: Path, write_run, monkeypatch) -> None:
    monkeypatch.setattr(embedding_map, "umap_available", lambda: False)
    sec = embedding_section([read_run(write_run(tmp_path / "a"))], projection="umap")
    assert any("umap package is not installed" in n for n in sec.notes)
