"""The main job: synthetic data -> two-tower InfoNCE vs MostPopular and Random -> a metrics table."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from contrarec.config import load_config
from contrarec.io import atomic_write_json
from contrarec.train.data_setup import load_split
from contrarec.train.run import train_run

METRIC_KEYS = ["recall@20", "ndcg@20", "hit@20", "recall@20_tail", "coverage@20"]


def run_quickstart(out: str | Path, epochs: int = 15, console: Console | None = None) -> dict:
    """Train the default recipe and the two references on the synthetic default data.

    Writes ``out/two-tower``, ``out/most-popular``, ``out/random`` run directories and ``out/summary.json``.

    Returns:
        model name -> test metrics.
    """
    from contrarec.cli import metrics_table

    console = console or Console()
    out = Path(out)
    began = time.perf_counter()
    base = load_config(None, ["recipe=two-tower"])
    console.print("generating the synthetic dataset and splitting it (80/20 per user, 10% of train for validation)")
    split = load_split(base.data)
    console.print(f"  {split.train.num_users} users, {split.train.num_items} items, {len(split.train)} train / "
                  f"{len(split.valid)} valid / {len(split.test)} test interactions")
    results = {}
    for recipe, sets in (("two-tower", [f"train.epochs={epochs}"]), ("most-popular", []), ("random", [])):
        cfg = load_config(None, [f"recipe={recipe}", *sets])
        console.print(f"[bold]training {recipe}[/]")
        run = train_run(cfg, out / recipe, split=split, log=lambda m: console.print("  " + m, highlight=False))
        results[recipe] = run.final["test"]
    console.print(metrics_table(results, METRIC_KEYS, title="test metrics, synthetic default (full ranking)"))
    atomic_write_json(out / "summary.json", {"test": results, "wall_s": round(time.perf_counter() - began, 1)})
    console.print(f"run directory: {out / 'two-tower'}  (all runs under {out})")
    from contrarec.report import build_report

    report = build_report([out / r for r in results], out / "report.html", title="contrarec quickstart report")
    console.print(f"report: {report}")
    console.print(f"finished in {time.perf_counter() - began:.0f} s")
    return results
