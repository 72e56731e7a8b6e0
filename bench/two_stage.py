"""Recall-only vs recall → pre-rank: end-to-end Recall@20 / NDCG@20 and latency per request.

Usage::

    python bench/two_stage.py ml-100k [--candidates 100 300] [--epochs 40]
    python bench/two_stage.py yelp2018 [--candidates 300] [--epochs 20]

The recall stage is a two-tower InfoNCE model (MovieLens-100K with user/item features, random 80/10/10
per-user split, seed 2026; Yelp2018 ids only, LightGCN split with 10% of train carved off for validation).
The pre-ranker is trained on the validation pairs (never seen by the recall model) with a listwise softmax
over the positive, the recall stage's own top-N candidates as hard negatives and in-batch negatives (logQ
corrected). Both pipelines are scored on the test split with train + valid items excluded. Latency is
per request (one user at a time, exact recall index, 1 thread): recall-only = top-20 search; two-stage =
top-N search + pre-rank. Target: NDCG@20 +3% relative at <= 2x the latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import data_root, record  # noqa: E402

from contrarec.config import load_config  # noqa: E402
from contrarec.serve.prerank import PreRankConfig, load_prerank  # noqa: E402
from contrarec.serve.prerank_run import prerank_for_run  # noqa: E402
from contrarec.train.run import load_run, train_run  # noqa: E402

RECALL = {
    "ml-100k": ["recipe=two-tower", "model.use_features=true", "model.mlp_hidden=[128]", "model.temperature=0.1",
                "train.batch_size=1024", "train.lr=0.003"],
    "yelp2018": ["recipe=two-tower", "model.use_features=false", "model.temperature=0.1", "train.batch_size=2048",
                 "train.lr=0.001"],
}
PRERANK = {
    "ml-100k": dict(epochs=8, batch_size=128, hard_negatives=32, lr=3e-3, weight_decay=1e-3, dropout=0.2),
    "yelp2018": dict(epochs=2, batch_size=128, hard_negatives=32, lr=2e-3, max_pairs=40_000),
}


def data_sets(dataset: str) -> list[str]:
    if dataset == "yelp2018":
        return [f"data.source=lightgcn:{data_root() / 'yelp2018'}", "data.valid_ratio=0.1"]
    return [f"data.source=movielens-100k:{data_root() / 'ml-100k'}", "data.split=random", "data.test_ratio=0.1",
            "data.valid_ratio=0.111", "data.seed=2026"]


def measure_saved(run, folder: Path, candidates: int | None = None) -> dict:
    """Compare recall-only with a saved pre-ranker (its training time read from its report)."""
    import json

    import torch

    from contrarec.serve.index import IndexConfig, RetrievalIndex
    from contrarec.serve.prerank_serve import CachedPreRanker
    from contrarec.serve.two_stage import compare_two_stage

    with torch.no_grad():
        user_emb, item_emb = run.model.user_embeddings().numpy(), run.model.item_embeddings().numpy()
    index = RetrievalIndex(IndexConfig(kind="flat", metric="cosine")).build(item_emb)
    prerank = CachedPreRanker(load_prerank(folder), item_emb, user_emb)
    rep = compare_two_stage(user_emb, index, prerank, run.known_csr, run.split.test.to_csr(), k=20,
                            candidates=candidates)
    rep["train_s"] = json.loads((folder / "report.json").read_text())["train_s"]
    return rep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=sorted(RECALL))
    parser.add_argument("--epochs", type=int, default=None, help="recall-model epochs")
    parser.add_argument("--candidates", type=int, nargs="+", default=[200], help="N recall candidates")
    parser.add_argument("--prerank-epochs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve-candidates", type=int, nargs="*", default=[],
                        help="also measure each pre-ranker rescoring only this many candidates")
    parser.add_argument("--reuse-prerank", action="store_true",
                        help="measure the pre-rankers already in OUT/prerank_N instead of training them")
    parser.add_argument("--recall-run", type=Path, default=None,
                        help="reuse a recall run directory trained by this script (skips recall training)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # latency per request on one thread; comparable on a shared machine
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_two_stage_"))
    epochs = args.epochs or (15 if args.dataset == "ml-100k" else 8)
    cfg = load_config(None, [*RECALL[args.dataset], *data_sets(args.dataset), f"train.epochs={epochs}",
                             "train.progress=false", "train.patience=5", "train.threads=1"])
    began = time.perf_counter()
    if args.recall_run is not None:
        run = load_run(args.recall_run)
    else:
        run = train_run(cfg, out / "recall", log=lambda m: print(f"[recall] {m}", flush=True))
    recall_wall = time.perf_counter() - began
    for n in args.candidates:
        settings = {**PRERANK[args.dataset], "candidates": n}
        if args.prerank_epochs:
            settings["epochs"] = args.prerank_epochs
        pcfg = PreRankConfig(**settings)
        folder = out / f"prerank_{n}"
        if args.reuse_prerank:
            rep = measure_saved(run, folder)
            pcfg = load_prerank(folder).config
        else:
            rep = prerank_for_run(run, pcfg, folder, log=lambda m: print(f"[prerank N={n}] {m}", flush=True))
        record_one(args, cfg, run, pcfg, rep, recall_wall, n)
        for served in args.serve_candidates:
            record_one(args, cfg, run, pcfg, measure_saved(run, folder, served), recall_wall, served)


def record_one(args, cfg, run, pcfg, rep: dict, recall_wall: float, served: int) -> None:
    """Append one comparison to bench/results/two_stage.jsonl."""
    ro, ts = rep["recall_only"], rep["two_stage"]
    metrics = {"recall_only_recall@20": ro["recall"], "recall_only_ndcg@20": ro["ndcg"],
               "two_stage_recall@20": ts["recall"], "two_stage_ndcg@20": ts["ndcg"],
               "ndcg_gain_rel": ts["ndcg"] / ro["ndcg"] - 1 if ro["ndcg"] else 0.0,
               f"candidate_recall@{served}": rep["candidate_recall"],
               "recall_only_p50_ms": ro["p50_ms"], "two_stage_p50_ms": ts["p50_ms"],
               "recall_only_mean_ms": ro["mean_ms"], "two_stage_mean_ms": ts["mean_ms"],
               "latency_ratio_mean": ts["mean_ms"] / ro["mean_ms"], "latency_ratio_p50": ts["p50_ms"] / ro["p50_ms"]}
    record("two_stage", dataset=args.dataset, recipe="two-tower -> prerank", selection="valid",
           params={"recall": cfg.model, "prerank": pcfg.model_dump(), "users": rep["users"],
                   "served_candidates": rep["candidates"]},
           metrics=metrics, epochs=run.fit.epochs_run if run.fit else None,
           wall_s=round(recall_wall + rep["train_s"], 1),
           prerank_train_s=rep["train_s"],
           note=f"1-min load average {os.getloadavg()[0]:.1f} (2 shared cores); latency per request, 1 thread")


if __name__ == "__main__":
    main()
