"""Two-tower InfoNCE vs BPR-MF: Yelp2018 (LightGCN split, ids only) and MovieLens-100K (ids vs features).

Usage::

    python bench/two_tower.py yelp2018 [--epochs 30] [--only two-tower]
    python bench/two_tower.py ml-100k
    python bench/two_tower.py yelp2018 --out runs/bench_tt --max-minutes 60 [--resume]

Yelp2018 follows the LightGCN protocol (all-ranking Recall@20 / NDCG@20 on test.txt). 10% of train.txt is
carved off for validation; both the validation-picked test number (what a user should trust) and the
test-picked number (the papers' protocol, labelled so) are recorded. Published anchors on this split:
MF-BPR 0.0576 / 0.0468, LightGCN 0.0649 / 0.0530, YoutubeDNN 0.0686 / 0.0567.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import data_root, record  # noqa: E402

from contrarec.config import load_config  # noqa: E402
from contrarec.train.data_setup import load_split  # noqa: E402
from contrarec.train.run import train_run  # noqa: E402

YELP_RUNS = {
    "two-tower": ["recipe=two-tower", "model.use_features=false", "model.temperature=0.1",
                  "train.batch_size=2048", "train.lr=0.001"],
    "bpr-mf": ["recipe=bpr-mf", "train.batch_size=2048", "train.lr=0.001"],
}
THREADS = 1  # one intra-op thread: the figures stay comparable when the machine is shared

ML_RUNS = {
    "two-tower (ids)": ["recipe=two-tower", "model.use_features=false", "model.temperature=0.1",
                        "train.batch_size=512", "train.lr=0.002"],
    "two-tower (ids+features)": ["recipe=two-tower", "model.use_features=true", "model.mlp_hidden=[128]",
                                 "model.temperature=0.1", "train.batch_size=512", "train.lr=0.002"],
    "bpr-mf": ["recipe=bpr-mf", "train.batch_size=512", "train.lr=0.002"],
}


def run_one(name: str, sets: list[str], data_sets: list[str], dataset: str, split, epochs: int,
            out: Path, max_minutes: float | None = None, resume: bool = False) -> None:
    limit = [f"train.max_minutes={max_minutes}"] if max_minutes else []
    cfg = load_config(None, [*sets, *data_sets, *limit, f"train.epochs={epochs}", "train.progress=false",
                             "train.patience=5", "eval.eval_test_every_epoch=true",
                             f"train.threads={THREADS}"])
    began = time.perf_counter()
    run = train_run(cfg, out / name.replace(" ", "_"), split=split, resume=resume,
                    log=lambda m: print(f"[{name}] {m}", flush=True))
    wall = time.perf_counter() - began
    import json

    rows = [json.loads(x) for x in (run.run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    secs = [r["sec"] for r in rows]  # every epoch of the run, resumed parts included
    common = dict(dataset=dataset, recipe=cfg.recipe, params={"variant": name, **cfg.model, **cfg.train.model_dump()},
                  epochs=len(rows), sec_per_epoch=round(sum(secs) / len(secs), 2),
                  wall_s=round(wall if not resume else sum(secs), 1))
    keys = ("recall@20", "ndcg@20", "recall@20_head", "recall@20_tail", "coverage@20")
    test = run.final["test"]
    record("two_tower", selection="valid", metrics={k: test[k] for k in keys if k in test},
           best_epoch=run.final["best_epoch"], **common)
    if "test_picked" in run.final:
        tp = run.final["test_picked"]
        record("two_tower", selection="test", metrics={k: tp[k] for k in keys if k in tp}, best_epoch=tp["epoch"],
               **common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["yelp2018", "ml-100k"])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--only", default=None, help="comma-separated run names")
    parser.add_argument("--out", type=Path, default=None, help="run directories (reuse with --resume)")
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time cap per run (checkpointed)")
    parser.add_argument("--resume", action="store_true", help="continue the runs found in --out")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_two_tower_"))
    if args.dataset == "yelp2018":
        data_sets = [f"data.source=lightgcn:{data_root() / 'yelp2018'}", "data.valid_ratio=0.1"]
        runs, epochs = YELP_RUNS, args.epochs or 30
    else:
        data_sets = [f"data.source=movielens-100k:{data_root() / 'ml-100k'}", "data.split=random",
                     "data.test_ratio=0.1", "data.valid_ratio=0.111", "data.seed=2026"]
        runs, epochs = ML_RUNS, args.epochs or 40
    split = load_split(load_config(None, data_sets).data)
    for name, sets in runs.items():
        if args.only and name not in args.only.split(","):
            continue
        run_one(name, sets, data_sets, args.dataset, split, epochs, out, args.max_minutes, args.resume)


if __name__ == "__main__":
    main()
