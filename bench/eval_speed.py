"""Full-ranking evaluation speed: contrarec's exact grouped top-k vs a plain ``torch.topk``-over-blocks loop.

For each LightGCN split (Yelp2018, Gowalla) and random 64-d embeddings, times in one process, interleaved:
- ``grouped``: :func:`contrarec.evaluate.evaluate_ranking` end to end (K=20, training items masked);
- ``torch.topk-blocks``: the straightforward loop (GEMM per block, -inf on training items, ``torch.topk``)
  followed by the same metric functions;
- ``gemm``: the score GEMMs alone over the same blocks (the floor for any exact method).
Each figure is the best of ``--repeats`` runs (wall and CPU seconds), at each ``--threads`` setting; both
methods' recall/NDCG, top-k ids and top-k scores are compared (ids can differ only where two scores are within
float32 rounding, since the two paths run the GEMM in different orientations). The load average is recorded:
the machine is shared, and wall time under load is not the method's cost.
Usage: ``python bench/eval_speed.py [--repeats 3] [--datasets yelp2018 gowalla] [--threads 2 1]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import data_root, record  # noqa: E402
from contrarec.data.lightgcn import read_lightgcn_split  # noqa: E402
from contrarec.evaluate import evaluate_ranking  # noqa: E402
from contrarec.evaluate.metrics import hit_matrix, ndcg_at_k, recall_at_k  # noqa: E402
from contrarec.evaluate.topk import default_block_size, topk_scores  # noqa: E402

K, DIM = 20, 64


def baseline_topk(user_emb: torch.Tensor, item_emb: torch.Tensor, train: sp.csr_matrix, k: int,
                  rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``([U, k] scores, [U, k] ids)``: per block, ``u @ i.T``, training items to -inf, ``torch.topk``."""
    values, ids = [], []
    for start in range(0, user_emb.shape[0], rows):
        stop = min(start + rows, user_emb.shape[0])
        scores = user_emb[start:stop] @ item_emb.T                                   # [b, N]
        part = train[start:stop]
        block_rows = np.repeat(np.arange(stop - start), np.diff(part.indptr))
        scores[torch.from_numpy(block_rows), torch.from_numpy(part.indices.astype(np.int64))] = float("-inf")
        top = torch.topk(scores, k, dim=1)
        values.append(top.values)
        ids.append(top.indices)
    return torch.cat(values), torch.cat(ids)


def baseline_eval(user_emb, item_emb, train, test, rows):
    """Recall@K and NDCG@K of the baseline top-k (all users here have test items), and the top-k."""
    values, ids = baseline_topk(user_emb, item_emb, train, K, rows)
    hits = hit_matrix(ids.numpy(), test)
    num_rel = np.diff(test.indptr)
    return {"recall@20": float(recall_at_k(hits, num_rel, K).mean()),
            "ndcg@20": float(ndcg_at_k(hits, num_rel, K).mean())}, (values, ids)


def gemm_only(user_emb, item_emb, rows):
    """The score GEMMs alone, into one reused block buffer."""
    buf = torch.empty(rows, item_emb.shape[0])
    for start in range(0, user_emb.shape[0], rows):
        stop = min(start + rows, user_emb.shape[0])
        torch.mm(user_emb[start:stop], item_emb.T, out=buf[: stop - start])


def timed(fn):
    """``(result, wall_s, cpu_s)`` of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_dataset(name: str, repeats: int, threads: list[int]) -> None:
    began = time.perf_counter()
    split = read_lightgcn_split(data_root() / name)
    read_s = time.perf_counter() - began
    train, test = split.train.to_csr(), split.test.to_csr()
    num_users, num_items = train.shape
    assert (np.diff(test.indptr) > 0).all(), "the LightGCN splits give every user test items"
    gen = torch.Generator().manual_seed(0)
    user_emb, item_emb = torch.randn(num_users, DIM, generator=gen), torch.randn(num_items, DIM, generator=gen)
    rows = default_block_size(num_items)
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        load_before = os.getloadavg()[0]
        best: dict[str, list[float]] = {m: [np.inf, np.inf] for m in ("grouped", "baseline", "gemm")}
        results = {}
        for _ in range(repeats):
            for method, fn in (("grouped", lambda: evaluate_ranking(user_emb, item_emb, train, test, ks=(K,))),
                               ("baseline", lambda: baseline_eval(user_emb, item_emb, train, test, rows)),
                               ("gemm", lambda: gemm_only(user_emb, item_emb, rows))):
                results[method], wall, cpu = timed(fn)
                best[method] = [min(best[method][0], wall), min(best[method][1], cpu)]
        ours_top = topk_scores(user_emb, item_emb, K, exclude=train)
        base_metrics, (base_values, base_ids) = results["baseline"]
        differ = (ours_top.ids != base_ids).any(1)
        params = {"k": K, "dim": DIM, "users": num_users, "items": num_items, "train_masked": int(train.nnz),
                  "block_rows": rows, "threads": n_threads, "repeats": repeats}
        extra = {"load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
                 "read_split_s": round(read_s, 2)}
        shared = {"gemm_seconds": round(best["gemm"][0], 3), "gemm_cpu_seconds": round(best["gemm"][1], 3),
                  "rows_with_different_ids": int(differ.sum()),
                  "max_abs_topk_score_diff": float((ours_top.scores - base_values).abs().max())}
        ours = results["grouped"]
        record("eval_speed", dataset=name, recipe="grouped", params=params,
               selection="last", selection_note="best-of-repeats",
               metrics={"seconds": round(best["grouped"][0], 3), "cpu_seconds": round(best["grouped"][1], 3),
                        "recall@20": ours["recall@20"], "ndcg@20": ours["ndcg@20"], **shared},
               wall_s=round(best["grouped"][0], 3), **extra)
        record("eval_speed", dataset=name, recipe="torch.topk-blocks", params=params,
               selection="last", selection_note="best-of-repeats",
               metrics={"seconds": round(best["baseline"][0], 3), "cpu_seconds": round(best["baseline"][1], 3),
                        **base_metrics, **shared}, wall_s=round(best["baseline"][0], 3), **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["yelp2018", "gowalla"])
    parser.add_argument("--threads", nargs="+", type=int, default=[torch.get_num_threads(), 1],
                        help="torch intra-op thread counts to time (1 thread: CPU seconds are a clean cost)")
    args = parser.parse_args()
    for name in args.datasets:
        run_dataset(name, args.repeats, sorted(set(args.threads), reverse=True))


if __name__ == "__main__":
    main()
