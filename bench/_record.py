"""Shared helpers for benchmarks: data paths, peak memory, and the results file format.

Each benchmark appends one JSON object per line to ``bench/results/<benchmark>.jsonl`` with at least
``benchmark, dataset, recipe, params, metrics, selection, epochs, sec_per_epoch, wall_s, peak_rss_mb,
commit, date, machine``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import resource
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def data_root() -> Path:
    """The benchmark data folder: ``$CONTRAREC_DATA`` or ``../shared/data`` beside the repo."""
    env = os.environ.get("CONTRAREC_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (and finished children) in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def commit() -> str:
    """Short hash of HEAD, with ``+dirty`` when the tree has changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True).strip()
        dirty = subprocess.call(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=root) != 0
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{os.cpu_count()} cores, {cpu}, torch {torch.__version__}, threads {torch.get_num_threads()}"


def record(benchmark: str, *, dataset: str, recipe: str, params: dict, metrics: dict, selection: str = "last",
           epochs: int | None = None, sec_per_epoch: float | None = None, wall_s: float | None = None,
           **extra) -> dict:
    """Append one result line to ``bench/results/<benchmark>.jsonl``, print it, and return it."""
    row = {
        "benchmark": benchmark, "dataset": dataset, "recipe": recipe, "params": params,
        "metrics": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()},
        "selection": selection, "epochs": epochs, "sec_per_epoch": sec_per_epoch, "wall_s": wall_s,
        "peak_rss_mb": round(peak_rss_mb(), 1), "commit": commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(), **extra,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{benchmark}.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return row
