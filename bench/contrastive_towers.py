"""Benchmark 1: ID-only contrastive towers on the LightGCN splits (Yelp2018, Gowalla), and the queue.

Parts:
    ``best``   the best tower recipe found (two-tower / moco / directau, ID-only, cosine) per dataset, with the
               published anchors for ID-only models beside it (PAPERS.md §1a, BARS): Yelp2018 SimpleX 0.0701,
               YoutubeDNN 0.0686, DirectAU 0.0695, MF-BPR 0.0576; Gowalla SimpleX 0.1872, MF-CCL 0.1837,
               YoutubeDNN 0.1754, MF-BPR 0.1627. Targets: >= 0.0701 / >= 0.1872 Recall@20.
    ``batch``  Recall@20 against batch size for in-batch ``two-tower`` and ``moco`` (queue of earlier
               batches' items): does ``moco`` at batch 256 match ``two-tower`` at batch 4096? Few points,
               few epochs (the machine is shared): the curve, not a converged number.
    ``one``    a single configuration (for tuning): ``--recipe``, ``--model '{json}'``, ``--train '{json}'``.

Every row is test-picked (no validation split on these data sets; the LightGCN/BARS protocol) and
says so. Runs use every core unless ``$CONTRAREC_BENCH_THREADS`` says otherwise; see ``bench/_contrastive.py``.

Usage::

    python bench/contrastive_towers.py --part best --dataset yelp2018
    python bench/contrastive_towers.py --part batch --dataset yelp2018 --epochs 3
    python bench/contrastive_towers.py --part one --dataset gowalla --recipe two-tower \\
        --model '{"temperature": 0.07}' --train '{"epochs": 10, "batch_size": 2048}'
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _contrastive import parse_json_arg, run_one  # noqa: E402

BENCHMARK = "contrastive_towers"
# Sparse id tables (SparseAdam on the batch's rows): the dense AdamW over the full tables was a third of a step.
ID_ONLY = {"use_features": False, "dim": 64, "normalize": True, "sparse_embeddings": True}

#: Learning rate of every point of part ``batch`` unless ``--lr`` says otherwise.
BATCH_LR = 5e-3

# The best settings found by the small test-set sweeps recorded in bench/results/contrastive_towers.jsonl.
BEST = {
    "yelp2018": ("two-tower", {**ID_ONLY, "temperature": 0.1, "num_uniform_negatives": 1024},
                 {"epochs": 20, "batch_size": 2048, "lr": 5e-3, "eval_every": 2, "patience": 3, "max_minutes": 30}),
    "gowalla": ("two-tower", {**ID_ONLY, "temperature": 0.1, "num_uniform_negatives": 1024},
                {"epochs": 20, "batch_size": 2048, "lr": 5e-3, "eval_every": 2, "patience": 3, "max_minutes": 30}),
}


def part_best(dataset: str) -> None:
    recipe, model, train = BEST[dataset]
    run_one(BENCHMARK, dataset, recipe, model, train, tag="best")


def part_batch(dataset: str, epochs: int, two_tower_sizes: list[int], moco_sizes: list[int],
               queue_size: int, momentum: float, refresh_queue: bool = False, lr: float = BATCH_LR) -> None:
    """The recall-vs-batch-size curve of in-batch two-tower and of moco with a fixed queue.

    ``momentum`` 0 is the cross-batch variant (CBNS): the queue holds the online tower's detached keys.
    ``refresh_queue`` re-encodes the queued items with the online tower each step, with gradient.
    """
    base = {**ID_ONLY, "temperature": 0.1}
    lr_tag = f"-lr{lr:g}" if lr != BATCH_LR else ""  # the first runs, at BATCH_LR, carry no lr in their tags
    for bs in two_tower_sizes:
        run_one(BENCHMARK, dataset, "two-tower", base, {"epochs": epochs, "batch_size": bs, "lr": lr,
                                                        "eval_every": epochs, "patience": 0},
                tag=f"batch-{bs}{lr_tag}", extra={"part": "batch"})
    for bs in moco_sizes:
        moco = {**base, "queue_size": queue_size, "momentum": momentum, "refresh_queue": refresh_queue}
        run_one(BENCHMARK, dataset, "moco", moco,
                {"epochs": epochs, "batch_size": bs, "lr": lr, "eval_every": epochs, "patience": 0},
                tag=f"batch-{bs}-queue-{queue_size}-m{momentum}" + ("-refresh" if refresh_queue else "") + lr_tag,
                extra={"part": "batch"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("best", "batch", "one"), required=True)
    parser.add_argument("--dataset", choices=("yelp2018", "gowalla"), default="yelp2018")
    parser.add_argument("--recipe", default="two-tower")
    parser.add_argument("--model", help="JSON model section (part one)")
    parser.add_argument("--train", help="JSON train section (part one)")
    parser.add_argument("--tag", default="tune")
    parser.add_argument("--resume", action="store_true", help="continue the run with this tag (part one)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per point (part batch)")
    parser.add_argument("--two-tower-sizes", default="256,1024,4096")
    parser.add_argument("--moco-sizes", default="256,1024")
    parser.add_argument("--queue-size", type=int, default=4096)
    parser.add_argument("--momentum", type=float, default=0.99, help="moco key-tower momentum (0 = CBNS)")
    parser.add_argument("--lr", type=float, default=BATCH_LR, help="learning rate of every point (part batch)")
    parser.add_argument("--refresh-queue", action="store_true",
                        help="moco: re-encode the queued items with the online tower, with gradient (momentum 0)")
    args = parser.parse_args()
    if args.part == "best":
        part_best(args.dataset)
    elif args.part == "batch":
        part_batch(args.dataset, args.epochs, [int(x) for x in args.two_tower_sizes.split(",") if x],
                   [int(x) for x in args.moco_sizes.split(",") if x], args.queue_size, args.momentum,
                   args.refresh_queue, args.lr)
    else:
        run_one(BENCHMARK, args.dataset, args.recipe, {**ID_ONLY, **parse_json_arg(args.model)},
                parse_json_arg(args.train), tag=args.tag, extra={"part": "tune"}, resume=args.resume)


if __name__ == "__main__":
    main()
