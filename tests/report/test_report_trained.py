"""The report from real (tiny) trained runs: every plot present, the embedding map reloaded from checkpoints."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

pytest.importorskip("contrarec.evaluate.evaluator", reason="the evaluator has not landed")
pytest.importorskip("contrarec.evaluate.diagnostics", reason="the diagnostics have not landed")

from contrarec.config import load_config  # noqa: E402
from contrarec.report import build_report  # noqa: E402
from contrarec.train.data_setup import load_split  # noqa: E402
from contrarec.train.run import train_run  # noqa: E402

TINY = ["data.synthetic_users=60", "data.synthetic_items=40", "data.synthetic_interactions=900",
        "train.batch_size=128", "train.progress=false", "train.threads=1"]


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("runs")
    split = load_split(load_config(None, ["recipe=two-tower", *TINY]).data)
    runs = []
    for recipe, extra in (("two-tower", ["train.epochs=2", "model.dim=8", "model.feature_dim=4"]),
                          ("most-popular", [])):
        cfg = load_config(None, [f"recipe={recipe}", *TINY, *extra])
        train_run(cfg, root / recipe, split=split, log=lambda m: None)
        runs.append(root / recipe)
    return runs


def test_trained_runs_report(trained_runs: list[Path], tmp_path: Path, png_size) -> None:
    page = build_report(trained_runs, tmp_path / "report.html", projection="pca").read_text()
    for anchor in ("runs", "comparison", "curves", "alignment-uniformity", "popularity-deciles", "embedding-map"):
        assert f'<section id="{anchor}">' in page
    imgs = [base64.b64decode(m) for m in re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]
    assert len(imgs) == 4  # curves, plane, deciles, one map (most-popular's embeddings are 1-D)
    for data in imgs:
        width, height = png_size(data)
        assert 300 <= width <= 3000 and 200 <= height <= 3000
    assert "could not reload" not in page
    assert "most-popular: item embeddings are 1-dimensional" in page


def test_color_by_item_feature(trained_runs: list[Path], tmp_path: Path) -> None:
    from contrarec.train.run import load_run

    features = load_run(trained_runs[0]).split.train.item_features
    name = features.names[0] if features is not None else "none"
    page = build_report(trained_runs[:1], tmp_path / "report.html", color_by=name, projection="pca").read_text()
    assert f"coloured by item feature &#x27;{name}&#x27;" in page or f"coloured by item feature '{name}'" in page
    assert "no item feature" not in page or features is None
