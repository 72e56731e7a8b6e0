"""Recall@K against the exact index and latency per query for hnsw / ivfpq sweeps over a 100,000-item index.

Uses the synthetic export written by ``bench/serve_load.py --workdir DIR`` (or builds one), 1 faiss thread.

    python bench/index_sweep.py --workdir /tmp/svc100k [-k 100] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import record  # noqa: E402
from serve_load import make_service_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--kinds", nargs="+", default=["hnsw", "ivfpq"])
    args = parser.parse_args()
    import faiss

    from contrarec.serve.exported import ExportedModel
    from contrarec.serve.index import IndexConfig, RetrievalIndex
    from contrarec.serve.index_eval import held_out_queries, sweep

    faiss.omp_set_num_threads(1)
    if not (args.workdir / "manifest.json").exists():
        make_service_files(args.workdir, 100_000, 50_000, 64, "hnsw")
    exported = ExportedModel.load(args.workdir, user_tower=False)
    items = exported.item_embeddings
    exact = RetrievalIndex(IndexConfig(kind="flat")).build(items)
    queries = held_out_queries(exported.user_embeddings, args.queries)
    for kind in ["flat", *args.kinds]:
        path = args.workdir / f"{kind}.idx"
        began = time.perf_counter()
        if path.exists():
            index = RetrievalIndex.load(path)
        else:
            config = IndexConfig(kind=kind, refine_factor=4 if kind == "ivfpq" else 0)
            index = RetrievalIndex(config).build(items)
            index.save(path)
        build_s = time.perf_counter() - began
        for row in sweep(index, exact, queries, args.k):
            setting = {key: row[key] for key in ("ef_search", "nprobe") if key in row}
            record("index_sweep", dataset=f"synthetic-{len(items) // 1000}k", recipe=f"index-{kind}",
                   params={"factory": index.factory, "k": args.k, "queries": len(queries), **setting},
                   metrics={key: row[key] for key in (f"recall@{args.k}", "p50_ms", "p99_ms", "qps")},
                   wall_s=round(build_s, 1),
                   note=f"1 faiss thread, one query per call; 1-min load average {os.getloadavg()[0]:.1f} "
                        "(2 shared cores)")


if __name__ == "__main__":
    main()
