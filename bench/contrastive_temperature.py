"""Benchmark 3: temperature sweep of ID-only two-tower on Yelp2018, with and without L2 normalisation.

For each τ in 0.05 → 1.0 and normalize ∈ {true, false}: Recall@20 / NDCG@20 (test-picked, no validation
split) and the alignment and uniformity of the trained embeddings (the evaluator's diagnostics, on a
fixed sample of training pairs, computed on normalised embeddings either way). The claims under test: a
small τ focuses the loss on hard negatives, pushing near neighbours apart (more uniform, less aligned), a
large τ spreads it and tolerates them (more aligned, less uniform), and normalisation keeps training stable
across τ (Wang & Liu, CVPR 2021; Wang & Isola, ICML 2020). Few epochs per point: the trend, not converged
numbers.

Usage::

    python bench/contrastive_temperature.py --epochs 2
    python bench/contrastive_temperature.py --temperatures 0.05,0.2 --normalize true
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _contrastive import run_one  # noqa: E402

BENCHMARK = "contrastive_temperature"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="yelp2018", choices=("yelp2018", "gowalla"))
    parser.add_argument("--temperatures", default="0.05,0.1,0.2,0.5,1.0")
    parser.add_argument("--normalize", default="true,false")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=5e-3)
    args = parser.parse_args()
    for norm in (s.strip().lower() == "true" for s in args.normalize.split(",")):
        for tau in (float(t) for t in args.temperatures.split(",")):
            model = {"use_features": False, "dim": 64, "temperature": tau, "normalize": norm, "sparse_embeddings": True}
            train = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                     "eval_every": args.epochs, "patience": 0}
            try:
                run_one(BENCHMARK, args.dataset, "two-tower", model, train, tag=f"tau{tau}-norm{norm}",
                        extra={"temperature": tau, "normalize": norm})
            except RuntimeError as err:  # a diverged run is a result too
                from _record import record
                record(BENCHMARK, dataset=args.dataset, recipe="two-tower",
                       params={"model": model, "train": train}, metrics={"diverged": str(err)[:300]},
                       temperature=tau, normalize=norm)


if __name__ == "__main__":
    main()
