"""Train a graph recipe on a LightGCN split and record Recall@20 / NDCG@20 next to the published numbers.

Two protocols, one run each (``--selection``):

* ``test``: train on all of train.txt, score test.txt after every epoch, keep the best epoch on the test
  set. This is how LightGCN, SGL, SimGCL and XSimGCL report, so it is the number to compare with the papers.
* ``valid``: carve 10% of each user's training items as validation, pick the epoch on validation, report
  the test metrics of that epoch's checkpoint. This is the number a user should trust.

Runs live in ``--runs`` (default ``bench/runs/<dataset>/<recipe>-<selection>``), are checkpointed every epoch
and resume when the command is repeated. Each finished (or time-limited) run appends one line to
``bench/results/graph_recipes.jsonl``.

    nohup .venv/bin/python bench/graph_recipes.py --recipe xsimgcl --dataset yelp2018 --selection test \\
        --epochs 40 --max-minutes 60 > bench/runs/xsimgcl.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import data_root, record  # noqa: E402

from contrarec.config import load_config  # noqa: E402
from contrarec.recipes.catalog import get_recipe  # noqa: E402
from contrarec.train.checkpoint import load_checkpoint  # noqa: E402
from contrarec.train.run import train_run  # noqa: E402

#: Published Recall@20 / NDCG@20 (test-picked, LightGCN splits, 3 layers); see PAPERS.md §1a.
PUBLISHED = {
    ("yelp2018", "sgl-nd"): (0.0644, 0.0528), ("yelp2018", "sgl-ed"): (0.0675, 0.0555),
    ("yelp2018", "sgl-rw"): (0.0667, 0.0547), ("yelp2018", "simgcl"): (0.0721, 0.0601),
    ("yelp2018", "xsimgcl"): (0.0723, 0.0604),
}

#: LightGCN by its number of layers K (LightGCN paper, Table 3). The paper's headline figures (Table 4:
#: Yelp2018 0.0649 / 0.0530, Gowalla 0.1830 / 0.1554) are its K = 4 rows; SGL and SimGCL quote K = 3.
LIGHTGCN_PUBLISHED = {
    ("yelp2018", 1): (0.0631, 0.0515), ("yelp2018", 2): (0.0622, 0.0504),
    ("yelp2018", 3): (0.0639, 0.0525), ("yelp2018", 4): (0.0649, 0.0530),
    ("gowalla", 1): (0.1755, 0.1492), ("gowalla", 2): (0.1777, 0.1524),
    ("gowalla", 3): (0.1823, 0.1555), ("gowalla", 4): (0.1830, 0.1554),
}


def published_anchor(dataset: str, recipe: str, num_layers: int) -> tuple[float, float] | None:
    """The published Recall@20 / NDCG@20 to set a run beside, or None where no paper reports one."""
    if recipe == "lightgcn":
        return LIGHTGCN_PUBLISHED.get((dataset, num_layers))
    return PUBLISHED.get((dataset, recipe)) if num_layers == 3 else None

#: The train settings each result line carries.
RECORDED_TRAIN_KEYS = ("batch_size", "lr", "lr_schedule", "warmup_epochs", "min_lr_ratio", "seed", "epochs",
                       "patience", "eval_every", "sampling", "init_from")


def wall_to_epoch(events_path: Path, epoch: int) -> float:
    """Seconds of wall time (summed over resumed sessions) until ``epoch`` was evaluated."""
    total, start, last = 0.0, None, None
    for line in events_path.read_text().splitlines():
        event = json.loads(line)
        if "start" in event:
            if start is not None and last is not None:
                total += last - start
            start, last = event["start"], None
        elif event["epoch"] <= epoch:
            last = event["t"]
    if start is not None and last is not None:
        total += last - start
    return total


def warm_start_wall(init_from: str | None) -> float:
    """Wall seconds the run whose checkpoint a warm start loads took to reach that checkpoint's epoch (0
    without one), so that a two-phase run's ``wall_s`` counts both phases. The source's
    ``bench_events.jsonl`` sits beside its ``checkpoints/``."""
    if not init_from:
        return 0.0
    events = Path(init_from).resolve().parent.parent / "bench_events.jsonl"
    if not events.exists():
        raise SystemExit(f"train.init_from={init_from}: no {events} to take the first phase's wall time from")
    return wall_to_epoch(events, int(load_checkpoint(Path(init_from))["epoch"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--dataset", default="yelp2018")
    parser.add_argument("--selection", choices=["test", "valid"], default="test")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--patience", type=int, default=10, help="evaluations without gain before stopping")
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time budget of this session")
    parser.add_argument("--runs", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    args = parser.parse_args()

    run_dir = args.runs or Path(__file__).resolve().parent / "runs" / args.dataset / f"{args.recipe}-{args.selection}"
    run_dir.mkdir(parents=True, exist_ok=True)
    overrides = [f"data.source=lightgcn:{data_root() / args.dataset}",
                 f"data.valid_ratio={0.1 if args.selection == 'valid' else 0.0}",
                 f"eval.eval_test_every_epoch={args.selection == 'test'}", "eval.diagnostics=false",
                 "train.progress=false", f"train.epochs={args.epochs}", f"train.patience={args.patience}",
                 *([f"train.max_minutes={args.max_minutes}"] if args.max_minutes else []), *args.overrides]
    config = load_config(overrides=overrides, base={"recipe": args.recipe})
    source_wall = warm_start_wall(config.train.init_from)  # before training: a missing source fails now
    events = run_dir / "bench_events.jsonl"
    resume = (run_dir / "checkpoints" / "last.pt").exists()
    if not resume and events.exists():
        events.unlink()
    with open(events, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"start": time.time()}) + "\n")

    def log(message: str) -> None:
        print(message, flush=True)
        metrics = run_dir / "metrics.jsonl"
        done = len(metrics.read_text().splitlines()) if metrics.exists() else 0
        with open(events, "a", encoding="utf-8") as fh:  # the summary line precedes the epoch's metrics line
            fh.write(json.dumps({"epoch": done, "t": time.time()}) + "\n")

    run = train_run(config, run_dir, resume=resume, log=log)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    sec_per_epoch = sum(r["sec"] for r in rows) / max(len(rows), 1)
    final = run.final or {}
    if args.selection == "test":
        picked = final.get("test_picked", {})
        epoch, metrics = picked.get("epoch"), {k: v for k, v in picked.items() if k not in ("epoch", "note")}
    else:
        epoch, metrics = final.get("best_epoch"), final.get("test", {})
    num_layers = get_recipe(args.recipe).parse_config(config.model).num_layers
    anchor = published_anchor(args.dataset, args.recipe, num_layers)
    own_wall = wall_to_epoch(events, epoch) if epoch is not None else None
    record("graph_recipes", dataset=args.dataset, recipe=args.recipe, selection=args.selection,
           params={"model": config.model, "train": {k: v for k, v in config.train.model_dump().items()
                                                    if k in RECORDED_TRAIN_KEYS},
                   "data": {"valid_ratio": config.data.valid_ratio}},
           metrics=metrics, epochs=len(rows), sec_per_epoch=round(sec_per_epoch, 2),
           wall_s=round(own_wall + source_wall, 1) if own_wall is not None else None,
           best_epoch=epoch, wall_total_s=round(wall_to_epoch(events, 10 ** 9) + source_wall, 1),
           **({"warm_start_wall_s": round(source_wall, 1)} if config.train.init_from else {}),
           stopped_early=bool(run.fit and run.fit.stopped_early),
           published={"recall@20": anchor[0], "ndcg@20": anchor[1]} if anchor else None)


if __name__ == "__main__":
    main()
