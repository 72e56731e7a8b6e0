"""Shared runner of the contrastive benchmarks: one config -> train_run -> one result line.

Each run trains with :func:`contrarec.train.run.train_run` (the one trainer and the one evaluator), on every core
(``$CONTRAREC_BENCH_THREADS`` to limit it), and records the run's test metrics with
``bench/_record.py``. The LightGCN splits have no validation set; their rows are test-picked (the best
evaluated epoch on the test set, the protocol of the LightGCN/BARS numbers) and say so in ``selection`` (``test``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import data_root, record  # noqa: E402

from contrarec.config import load_config  # noqa: E402
from contrarec.train.run import train_run  # noqa: E402

RUNS = Path(__file__).resolve().parent / "runs"


def bench_threads() -> int | None:
    """Intra-op threads of a benchmark run: ``$CONTRAREC_BENCH_THREADS`` (e.g. 1 on a shared machine), else
    torch's default (every core; run benchmarks one at a time)."""
    value = os.environ.get("CONTRAREC_BENCH_THREADS")
    return int(value) if value else None


def source_for(dataset: str) -> dict:
    """The ``data`` section for a benchmark dataset name."""
    if dataset in ("yelp2018", "gowalla"):
        return {"source": f"lightgcn:{data_root() / dataset}", "valid_ratio": 0.0}
    if dataset == "ml-100k":
        return {"source": f"movielens-100k:{data_root() / 'ml-100k'}", "split": "random", "test_ratio": 0.2,
                "valid_ratio": 0.1, "seed": 2026}
    if dataset == "synthetic":
        return {"source": "synthetic", "split": "random", "test_ratio": 0.2, "valid_ratio": 0.1, "seed": 2026}
    raise ValueError(f"unknown dataset {dataset!r}")


def run_one(benchmark: str, dataset: str, recipe: str, model: dict, train: dict, tag: str,
            eval_extra: dict | None = None, extra: dict | None = None, resume: bool = False) -> dict:
    """Train one configuration and append its result line; returns the line.

    With ``resume`` an interrupted (or finished, with more ``epochs`` now) run in the same run directory
    continues from its last checkpoint; the recorded wall time is this invocation's.
    """
    raw = {"recipe": recipe, "data": source_for(dataset),
           "train": {"threads": bench_threads(), "progress": False, **train},
           "eval": {"ks": [20], **(eval_extra or {})}, "model": model}
    config = load_config(base=raw)
    run_dir = RUNS / benchmark / f"{dataset}-{recipe}-{tag}"
    began = time.perf_counter()
    run = train_run(config, run_dir, resume=resume, log=lambda m: print(m, flush=True))
    wall = time.perf_counter() - began
    final = run.final
    picked = final.get("test_picked")
    given_split = dataset in ("yelp2018", "gowalla")
    metrics = dict(final["test"])
    if picked is not None and given_split:
        metrics = {k: v for k, v in picked.items() if k not in ("note", "epoch")}
    last = run.fit.history[-1] if run.fit.history else {}
    metrics.update({f"diag_{k}": v for k, v in (last.get("diagnostics") or {}).items()})
    secs = [r["sec"] for r in run.fit.history if "sec" in r]
    note = ("best evaluated epoch on the test set (LightGCN/BARS protocol; no valid split)"
            if given_split else "best validation epoch, then test")
    return record(benchmark, dataset=dataset, recipe=recipe, params={"tag": tag, "model": model, "train": train},
                  metrics=metrics, selection="test" if given_split else "valid", selection_note=note,
                  epochs=final["epochs_run"],
                  sec_per_epoch=round(sum(secs) / max(len(secs), 1), 2), wall_s=round(wall, 1),
                  best_epoch=final["best_epoch"], resumed=resume, **(extra or {}))


def parse_json_arg(text: str | None) -> dict:
    """``'{"a": 1}'`` -> dict (empty when None)."""
    return json.loads(text) if text else {}
