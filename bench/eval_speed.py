"""Full-ranking evaluation speed: contrarec's exact grouped top-k vs a plain ``torch.topk``-over-blocks loop.

For each LightGCN split (Yelp2018, Gowalla) and 64-d embeddings (random, or a trained model's with
``--embeddings DIR``: ``DIR/<dataset>.pt`` holding ``{"user": [U, D], "item": [N, D]}``), times in one process,
interleaved:
- ``grouped+bf16``: :func:`contrarec.evaluate.evaluate_ranking` end to end (K=20, training items masked) with
  the bf16 screen (:mod:`contrarec.evaluate.screened`; the default where bf16 is native), its blocks finished
  by the native kernel where it is built (``params.native_kernel``);
- ``grouped+bf16 (torch selection)``: the same with ``native="off"``, the pure-torch selection;
- ``grouped``: the same with ``screen="off"`` (fp32 GEMM only);
- ``torch.topk-blocks``: the straightforward loop (GEMM per block, -inf on training items, ``torch.topk``)
  followed by the same metric functions;
- ``per-user``: the shape of SELFRec's test loop (``--peer``, timed once): per test user one score row
  ``u·Iᵀ``, its training items masked one by one in Python, a top-K selection (``np.argpartition`` plus a
  sort of the K, standing in for SELFRec's numba heap), then the same metric functions;
- ``gemm``: the fp32 score GEMMs alone over the same blocks (the floor for an fp32 method), and
  ``gemm_bf16``: the screen's bf16 GEMMs alone (D + 1 columns).
Each figure is the best of ``--repeats`` runs (wall and CPU seconds), at each ``--threads`` setting; both
methods' recall/NDCG, top-k ids and top-k scores are compared (ids can differ only where two scores are within
float32 rounding, since the two paths run the GEMM in different orientations). The load average is recorded:
the machine is shared, and wall time under load is not the method's cost.
The screened path's ``rows_redone`` counts the queries its certificate could not prove and that fell back
to fp32. Usage: ``python bench/eval_speed.py [--repeats 3] [--datasets yelp2018 gowalla] [--threads 2 1]
[--embeddings DIR] [--peer]``.
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
from contrarec.evaluate.exclusion import Exclusion  # noqa: E402
from contrarec._native import native_ops_available  # noqa: E402
from contrarec.evaluate.screened import ScreenedTopK  # noqa: E402
from contrarec.evaluate.select import grouped_width  # noqa: E402
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


def per_user_eval(user_emb: torch.Tensor, item_emb: torch.Tensor, train: sp.csr_matrix, test: sp.csr_matrix):
    """Recall@K and NDCG@K by a per-user loop (SELFRec's test structure).

    Training items get -inf (SELFRec writes 0, which lets a rated item back into the list when scores are
    negative); the cost is the same and the metrics stay comparable.
    """
    num_users = user_emb.shape[0]
    ids = np.empty((num_users, K), dtype=np.int64)
    item_t = item_emb.T.contiguous()
    for user in range(num_users):
        scores = (user_emb[user] @ item_t).numpy()                                   # [N]
        for item in train.indices[train.indptr[user]:train.indptr[user + 1]]:
            scores[item] = -np.inf
        top = np.argpartition(-scores, K)[:K]
        ids[user] = top[np.argsort(-scores[top], kind="stable")]
    hits = hit_matrix(ids, test)
    num_rel = np.diff(test.indptr)
    return {"recall@20": float(recall_at_k(hits, num_rel, K).mean()),
            "ndcg@20": float(ndcg_at_k(hits, num_rel, K).mean())}


def gemm_only(user_emb, item_emb, rows):
    """The score GEMMs alone, into one reused block buffer."""
    buf = torch.empty(rows, item_emb.shape[0], dtype=user_emb.dtype)
    for start in range(0, user_emb.shape[0], rows):
        stop = min(start + rows, user_emb.shape[0])
        torch.mm(user_emb[start:stop], item_emb.T, out=buf[: stop - start])


def screened_rows_redone(user_emb, item_emb, train, k, rows) -> int:
    """Queries whose bf16 screen could not prove the top k (redone in fp32), block by block as in the evaluator."""
    num_items, width = item_emb.shape[0], grouped_width(item_emb.shape[0])
    padded = torch.cat([item_emb, item_emb.new_zeros(width - num_items, item_emb.shape[1])])
    screen = ScreenedTopK(user_emb, padded, k, num_items)
    exclusion = Exclusion(train, user_emb.shape[0], num_items, torch.device("cpu"))
    buf = torch.empty(width * rows, dtype=torch.bfloat16)
    for start in range(0, user_emb.shape[0], rows):
        stop = min(start + rows, user_emb.shape[0])
        screen.block(buf[: width * (stop - start)].view(width, stop - start).T, start, stop, exclusion)
    return screen.rows_redone


def load_embeddings(directory: Path | None, name: str, num_users: int, num_items: int):
    """``(user [U, D], item [N, D], source)``: a trained model's from ``directory/<name>.pt``, else random."""
    if directory is None:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(num_users, DIM, generator=gen), torch.randn(num_items, DIM, generator=gen), "random"
    path = directory / f"{name}.pt"
    saved = torch.load(path)
    user_emb, item_emb = saved["user"].float().contiguous(), saved["item"].float().contiguous()
    if user_emb.shape[0] != num_users or item_emb.shape[0] != num_items:
        raise SystemExit(f"{path}: user {tuple(user_emb.shape)} / item {tuple(item_emb.shape)} do not fit "
                         f"{name} (U = {num_users}, N = {num_items})")
    return user_emb, item_emb, str(path)


def timed(fn):
    """``(result, wall_s, cpu_s)`` of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run_dataset(name: str, repeats: int, threads: list[int], embeddings: Path | None, peer: bool) -> None:
    began = time.perf_counter()
    split = read_lightgcn_split(data_root() / name)
    read_s = time.perf_counter() - began
    train, test = split.train.to_csr(), split.test.to_csr()
    num_users, num_items = train.shape
    assert (np.diff(test.indptr) > 0).all(), "the LightGCN splits give every user test items"
    user_emb, item_emb, source = load_embeddings(embeddings, name, num_users, num_items)
    rows = default_block_size(num_items)
    lifted_user = torch.cat([user_emb, user_emb.norm(dim=1, keepdim=True)], 1).bfloat16()   # the screen's GEMM
    lifted_item = torch.cat([item_emb, item_emb.norm(dim=1, keepdim=True)], 1).bfloat16()
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        load_before = os.getloadavg()[0]
        methods = {
            "grouped+bf16": lambda: evaluate_ranking(user_emb, item_emb, train, test, ks=(K,), screen="bf16"),
            "grouped+bf16 (torch selection)": lambda: evaluate_ranking(user_emb, item_emb, train, test, ks=(K,),
                                                                       screen="bf16", native="off"),
            "grouped": lambda: evaluate_ranking(user_emb, item_emb, train, test, ks=(K,), screen="off"),
            "baseline": lambda: baseline_eval(user_emb, item_emb, train, test, rows),
            "gemm": lambda: gemm_only(user_emb, item_emb, rows),
            "gemm_bf16": lambda: gemm_only(lifted_user, lifted_item, rows)}
        best: dict[str, list[float]] = {m: [np.inf, np.inf] for m in methods}
        results = {}
        if peer:  # once: tens of seconds, and its cost is dominated by the per-user Python loop
            results["per-user"], wall, cpu = timed(lambda: per_user_eval(user_emb, item_emb, train, test))
            best["per-user"] = [wall, cpu]
        for _ in range(repeats):
            for method, fn in methods.items():
                results[method], wall, cpu = timed(fn)
                best[method] = [min(best[method][0], wall), min(best[method][1], cpu)]
        ours_top = topk_scores(user_emb, item_emb, K, exclude=train, screen="off")
        screened_top = topk_scores(user_emb, item_emb, K, exclude=train, screen="bf16")
        base_metrics, (base_values, base_ids) = results["baseline"]
        differ = (ours_top.ids != base_ids).any(1)
        params = {"k": K, "dim": DIM, "users": num_users, "items": num_items, "train_masked": int(train.nnz),
                  "block_rows": rows, "threads": n_threads, "native_kernel": native_ops_available(),
                  "repeats": repeats, "embeddings": source}
        extra = {"load_avg_before": round(load_before, 2), "load_avg_after": round(os.getloadavg()[0], 2),
                 "read_split_s": round(read_s, 2)}
        shared = {"gemm_seconds": round(best["gemm"][0], 3), "gemm_cpu_seconds": round(best["gemm"][1], 3),
                  "rows_with_different_ids": int(differ.sum()),
                  "max_abs_topk_score_diff": float((ours_top.scores - base_values).abs().max())}
        screen_extra = {"gemm_bf16_seconds": round(best["gemm_bf16"][0], 3),
                        "rows_redone": screened_rows_redone(user_emb, item_emb, train, K, rows),
                        "rows_with_different_ids_vs_fp32": int((screened_top.ids != ours_top.ids).any(1).sum()),
                        "max_abs_topk_score_diff_vs_fp32": float((screened_top.scores - ours_top.scores).abs().max())}
        for method in ("grouped+bf16", "grouped+bf16 (torch selection)", "grouped"):
            ours = results[method]
            record("eval_speed", dataset=name, recipe=method, params=params,
                   selection="last", selection_note="best-of-repeats",
                   metrics={"seconds": round(best[method][0], 3), "cpu_seconds": round(best[method][1], 3),
                            "recall@20": ours["recall@20"], "ndcg@20": ours["ndcg@20"], **shared,
                            **(screen_extra if method == "grouped+bf16" else {})},
                   wall_s=round(best[method][0], 3), **extra)
        record("eval_speed", dataset=name, recipe="torch.topk-blocks", params=params,
               selection="last", selection_note="best-of-repeats",
               metrics={"seconds": round(best["baseline"][0], 3), "cpu_seconds": round(best["baseline"][1], 3),
                        **base_metrics, **shared}, wall_s=round(best["baseline"][0], 3), **extra)
        if peer:
            record("eval_speed", dataset=name, recipe="per-user (SELFRec-style)", params={**params, "repeats": 1},
                   selection="last", selection_note="one run",
                   metrics={"seconds": round(best["per-user"][0], 3), "cpu_seconds": round(best["per-user"][1], 3),
                            **results["per-user"],
                            "speedup_of_grouped+bf16": round(best["per-user"][0] / best["grouped+bf16"][0], 1)},
                   wall_s=round(best["per-user"][0], 3), **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["yelp2018", "gowalla"])
    parser.add_argument("--threads", nargs="+", type=int, default=[torch.get_num_threads(), 1],
                        help="torch intra-op thread counts to time (1 thread: CPU seconds are a clean cost)")
    parser.add_argument("--embeddings", type=Path, default=None,
                        help="directory of <dataset>.pt trained embeddings (default: random Gaussian)")
    parser.add_argument("--peer", action="store_true",
                        help="also time the per-user loop of SELFRec's test (once per thread setting)")
    args = parser.parse_args()
    for name in args.datasets:
        run_dataset(name, args.repeats, sorted(set(args.threads), reverse=True), args.embeddings, args.peer)


if __name__ == "__main__":
    main()
