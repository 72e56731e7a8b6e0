"""Read run directories into plain records for the report (no model is loaded here).

Every file except the directory itself is optional: a missing or unreadable file becomes a note on
the record instead of an error, so a report can be built from a half-finished or hand-made run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

#: The metric used to colour and rank runs when present (falls back to the first ``recall@K``).
HEADLINE = "recall@20"


@dataclass
class RunRecord:
    """What the report knows about one run directory.

    Args:
        name: short label (the directory name, made unique among the runs of a report).
        path: the run directory.
        config: the resolved config (``config.yaml``) as a nested dict, empty when missing.
        data: the data summary (``data.json``), empty when missing.
        epochs: the ``metrics.jsonl`` rows in file order.
        final: ``final.json``, empty when missing.
        notes: what was missing or unreadable, as sentences.
    """

    name: str
    path: Path
    config: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def checkpoint(self) -> Path | None:
        """``checkpoints/best.pt`` or else ``checkpoints/last.pt``, when either exists."""
        for name in ("best.pt", "last.pt"):
            path = self.path / "checkpoints" / name
            if path.exists():
                return path
        return None

    @property
    def test(self) -> dict[str, float]:
        """The final test metrics (numbers only)."""
        return numeric_items(self.final.get("test"))

    @property
    def trained(self) -> bool:
        """False for runs with nothing to train (every epoch's loss is just ``total = 0``)."""
        return any(set(r.get("loss", {})) - {"total"} or r.get("loss", {}).get("total", 0.0) != 0.0
                   for r in self.epochs)


def numeric_items(obj: object) -> dict[str, float]:
    """The finite numeric values of a flat dict (anything else dropped)."""
    if not isinstance(obj, dict):
        return {}
    return {k: float(v) for k, v in obj.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))}


def _read_json(path: Path, notes: list[str]) -> dict:
    if not path.exists():
        notes.append(f"no {path.name}")
        return {}
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} unreadable ({exc})")
        return {}
    return obj if isinstance(obj, dict) else {}


def _read_config(path: Path, notes: list[str]) -> dict:
    if not path.exists():
        notes.append("no config.yaml")
        return {}
    try:
        obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        notes.append(f"config.yaml unreadable ({exc})")
        return {}
    return obj if isinstance(obj, dict) else {}


def _read_epochs(path: Path, notes: list[str]) -> list[dict]:
    if not path.exists():
        notes.append("no metrics.jsonl")
        return []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            notes.append(f"metrics.jsonl line {lineno} is not JSON (skipped)")
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int):
            rows.append(row)
    return rows


def read_run(run_dir: str | Path, name: str | None = None) -> RunRecord:
    """Read one run directory.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory not found: {path}")
    notes: list[str] = []
    record = RunRecord(name=name or path.resolve().name, path=path,
                       config=_read_config(path / "config.yaml", notes),
                       data=_read_json(path / "data.json", notes),
                       epochs=_read_epochs(path / "metrics.jsonl", notes),
                       final=_read_json(path / "final.json", notes), notes=notes)
    if record.checkpoint is None:
        notes.append("no checkpoint")
    return record


def read_runs(run_dirs: list[str | Path]) -> list[RunRecord]:
    """Read several run directories, giving each a unique short name (``parent/dir`` on a clash)."""
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise ValueError("no run directories given")
    names = [p.resolve().name for p in paths]
    for i, p in enumerate(paths):
        if names.count(p.resolve().name) > 1:
            names[i] = f"{p.resolve().parent.name}/{p.resolve().name}"
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} ({seen[n]})"
    return [read_run(p, name) for p, name in zip(paths, names)]


def headline_key(keys: list[str] | set[str]) -> str | None:
    """``recall@20`` when present, else the first ``recall@K`` (smallest K), else None."""
    if HEADLINE in keys:
        return HEADLINE
    recalls = sorted((k for k in keys if re.fullmatch(r"recall@\d+", k)), key=lambda k: int(k.split("@")[1]))
    return recalls[0] if recalls else None


def main_metric_keys(keys: list[str]) -> list[str]:
    """Keys of whole-catalogue ``name@K`` metrics (no ``_head``/``_tail``/``_decileN`` slices), in order."""
    return [k for k in keys if re.fullmatch(r"[a-z_]+@\d+", k) and not re.search(r"@\d+_", k)
            and not k.startswith(("tail_share", "coverage"))]


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}`` (lists kept as values)."""
    out: dict[str, object] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def differing_keys(configs: list[dict[str, object]]) -> list[str]:
    """Flat keys whose value is not the same in every config (a missing key counts as different)."""
    keys: list[str] = []
    for cfg in configs:
        keys.extend(k for k in cfg if k not in keys)
    return [k for k in keys if len({json.dumps(c.get(k, "<missing>"), sort_keys=True, default=str)
                                     for c in configs}) > 1]
