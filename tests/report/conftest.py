"""Hand-made run directories (no training) for the report tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import yaml


def write_run(path: Path, *, recipe: str = "two-tower", epochs: int = 3, loss_terms: tuple[str, ...] = ("infonce",),
              valid: bool = True, diagnostics: bool = True, final: bool = True, deciles: bool = True,
              config: bool = True, temperature: float = 0.1) -> Path:
    """Write a run directory as the trainer would, with the optional parts switchable."""
    path.mkdir(parents=True, exist_ok=True)
    if config:
        cfg = {"recipe": recipe, "data": {"source": "synthetic", "seed": 2026}, "train": {"epochs": epochs, "lr": 0.001},
               "eval": {"ks": [20]}, "model": {"temperature": temperature, "dim": 16}}
        (path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        (path / "data.json").write_text(json.dumps({"users": 50, "items": 40, "train": 400, "valid": 40, "test": 100}))
    rows = []
    for e in range(epochs):
        loss = {"total": 5.0 - e * (1 + temperature)}
        loss.update({t: 4.0 - e * 0.5 for t in loss_terms})
        row = {"epoch": e, "loss": loss, "sec": 0.1, "examples_per_s": 4000.0}
        if valid:
            row["valid"] = {"recall@20": 0.05 + 0.02 * e + temperature / 10, "ndcg@20": 0.03 + 0.01 * e,
                            "recall@20_tail": 0.01 * e}
        if diagnostics:
            row["diagnostics"] = {"alignment": 1.2 - 0.2 * e, "uniformity": -1.0 - 0.4 * e - temperature}
        rows.append(row)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if final:
        test = {"recall@20": 0.1 + temperature / 10, "ndcg@20": 0.07, "hit@20": 0.4, "recall@20_head": 0.15,
                "recall@20_tail": 0.02, "coverage@20": 0.5, "tail_share@20": 0.1}
        if deciles:
            test.update({f"recall@20_decile{d}": 0.01 * (d + 1) + temperature / 10 for d in range(10)})
        (path / "final.json").write_text(json.dumps({"recipe": recipe, "best_epoch": epochs - 1, "epochs_run": epochs,
                                                     "test": test, "wall_s": 1.5}))
    return path


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (fails the test when the bytes are not a PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, "first chunk is not IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(name="write_run")
def write_run_fixture():
    """The :func:`write_run` factory."""
    return write_run


@pytest.fixture(name="png_size")
def png_size_fixture():
    """The :func:`png_size` reader."""
    return png_size


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    """Two complete hand-made runs that differ in temperature."""
    return [write_run(tmp_path / "tau-0.1", temperature=0.1), write_run(tmp_path / "tau-0.5", temperature=0.5)]
