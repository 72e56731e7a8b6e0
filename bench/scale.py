"""Scale-out benchmark: examples/s for 1 vs 2 processes, and a 1M-item / 10M-interaction two-tower run.

``throughput``: the ID-only two-tower on an in-memory power-law log (20k users, 50k items, 300k pairs),
one epoch at the same global batch, as one process (1 and 2 threads) and as two gloo processes
launched by torchrun (1 thread each), with global and with local negatives. Examples/s come from the
run's ``metrics.jsonl`` (global examples over the epoch's wall time).

``large``: a synthetic log of 1,000,000 items and 10,000,000 interactions (1,000,000 users) is written to
Parquet once (vectorised, chunked), its id maps are built in one pass, and the ID-only two-tower trains
on it for one epoch (or ``--max-steps``, with the epoch time extrapolated), either streamed from the row
groups (``--mode stream``) or loaded in memory (``--mode memory``). The item embeddings are then exported
to Parquet chunk by chunk, indexed (exact inner product), and a held-out log (same structure, another
seed) is scored chunk by chunk: hit rate @100 against the popularity ranking. No users × items matrix
is ever built. Peak memory is the process's maximum RSS.

    .venv/bin/python bench/scale.py throughput
    nohup .venv/bin/python bench/scale.py large --mode stream > /tmp/scale_stream.log 2>&1 &

Results go to ``bench/results/scale.jsonl`` (with the machine's load average at start and end, since the
machine is shared).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from contrarec.config import TrainConfig  # noqa: E402
from contrarec.data.batches import InteractionBatches, item_log_probabilities  # noqa: E402
from contrarec.data.interactions import IdMap, Interactions  # noqa: E402
from contrarec.data.power_law_log import power_law_cdf, sample_pairs, write_power_law_log  # noqa: E402
from contrarec.data.power_law_log import draw  # noqa: E402
from contrarec.data.streaming import StreamIndex, StreamingBatches, build_stream_index, read_interactions  # noqa: E402
from contrarec.recipes.two_tower import RECIPE, TwoTowerConfig  # noqa: E402
from contrarec.serve.export import embeddings_table  # noqa: E402
from contrarec.train.distributed import init_distributed, shutdown_distributed  # noqa: E402
from contrarec.train.trainer import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parent


def load() -> list[float]:
    """1, 5 and 15-minute load averages (the machine is shared)."""
    return [round(x, 2) for x in os.getloadavg()]


# ------------------------------------------------------------------------------------------ throughput
SMALL = {"users": 20_000, "items": 50_000, "pairs": 300_000, "clusters": 100}


def small_log(seed: int = 0) -> Interactions:
    """The in-memory log of the throughput runs (same on every worker)."""
    rng = np.random.default_rng(seed)
    users = draw(power_law_cdf(SMALL["users"], 0.5), SMALL["pairs"], rng)
    items = sample_pairs(users, SMALL["items"], SMALL["clusters"], 0.8, power_law_cdf(SMALL["items"], 0.8),
                         power_law_cdf(SMALL["items"] // SMALL["clusters"], 0.8), rng)
    return Interactions(users, items, IdMap.identity(SMALL["users"]), IdMap.identity(SMALL["items"]))


def worker(args: argparse.Namespace) -> None:
    """One training epoch of the throughput setting (run directly, or by torchrun as one of W workers)."""
    ctx = init_distributed()
    torch.set_num_threads(args.threads)
    train = small_log()
    cfg = TwoTowerConfig(dim=64, use_features=False, negatives=args.negatives)
    torch.manual_seed(0)
    model = RECIPE.build_model(cfg, train)
    batches = ctx.shard(RECIPE.make_batches(cfg, train, args.global_batch, seed=0))
    train_cfg = TrainConfig(epochs=1, batch_size=args.global_batch // ctx.world_size, progress=False)
    Trainer(model, batches, train_cfg, Path(args.run_dir), distributed=ctx).fit()
    shutdown_distributed(ctx)


def throughput(args: argparse.Namespace) -> None:
    """1 process (1, 2 threads) vs 2 torchrun processes (global / local negatives), interleaved rounds."""
    settings = [(1, 1, "global"), (1, 2, "global"), (2, 1, "global"), (2, 1, "local")]
    for round_ in range(args.rounds):
        for procs, threads, negatives in settings:
            with tempfile.TemporaryDirectory() as run_dir:
                cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", "--threads", str(threads),
                       "--negatives", negatives, "--global-batch", str(args.global_batch), "--run-dir", run_dir]
                if procs > 1:
                    cmd[1:2] = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
                                str(Path(__file__).resolve())]
                before = load()
                began = time.perf_counter()
                subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
                wall = time.perf_counter() - began
                row = json.loads((Path(run_dir) / "metrics.jsonl").read_text().splitlines()[0])
            record("scale", dataset=f"power-law-{SMALL['users']}u-{SMALL['items']}i-{SMALL['pairs']}", recipe="two-tower",
                   params={"part": "throughput", "processes": procs, "threads_per_process": threads,
                           "negatives": negatives, "global_batch": args.global_batch, "dim": 64, "round": round_},
                   metrics={"examples_per_s": row["examples_per_s"], "loss": row["loss"]["total"]},
                   epochs=1, sec_per_epoch=row["sec"], wall_s=round(wall, 2), load_before=before, load_after=load())


# ------------------------------------------------------------------------------------------ large
class FirstSteps:
    """The first ``steps`` batches of every epoch (a bounded run)."""

    def __init__(self, batches, steps: int) -> None:
        self.batches, self.steps = batches, steps

    def __len__(self) -> int:
        return min(len(self.batches), self.steps)

    def epoch(self, epoch: int):
        return itertools.islice(self.batches.epoch(epoch), self.steps)


def prepare(data: Path, timings: dict) -> StreamIndex:
    """Write the 10M-row training log and a held-out log once; build (or load) the id maps."""
    data.mkdir(parents=True, exist_ok=True)
    shape = dict(num_users=1_000_000, num_items=1_000_000, clusters=1000)
    if not (data / "train.parquet").exists():
        began = time.perf_counter()
        write_power_law_log(data / "train.parquet", num_interactions=10_000_000, seed=0, **shape)
        timings["generate_s"] = round(time.perf_counter() - began, 2)
        write_power_law_log(data / "test.parquet", num_interactions=20_000, seed=1, **shape)
    if not (data / "index" / "stream_index.json").exists():
        began = time.perf_counter()
        build_stream_index(data / "train.parquet").save(data / "index")
        timings["index_build_s"] = round(time.perf_counter() - began, 2)
    return StreamIndex.load(data / "index")


def known_rows(path: Path, index: StreamIndex) -> tuple[np.ndarray, np.ndarray]:
    """Internal ``(users, items)`` of a log's rows whose user and item occur in the training log."""
    table = pq.read_table(path)
    users = pc.index_in(table.column("user"), value_set=index.users)
    items = pc.index_in(table.column("item"), value_set=index.items)
    keep = pc.and_(pc.is_valid(users), pc.is_valid(items))
    return (pc.filter(users, keep).to_numpy().astype(np.int64), pc.filter(items, keep).to_numpy().astype(np.int64))


def export_items_chunked(model, item_map: IdMap, path: Path, chunk: int) -> None:
    """Item embeddings to Parquet, one row group per chunk (never all rows in one table)."""
    writer = None
    with torch.no_grad():
        for s in range(0, model.num_items, chunk):
            ids = torch.arange(s, min(s + chunk, model.num_items))
            table = embeddings_table(item_map.raw[s:s + chunk], model.item_tower(ids).numpy())
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    writer.close()


def index_and_score(model, index: StreamIndex, emb_path: Path, test: tuple[np.ndarray, np.ndarray], k: int,
                    chunk: int) -> dict:
    """Flat inner-product index filled row group by row group; held-out hit rate @k, queries in chunks."""
    import faiss

    began = time.perf_counter()
    flat = faiss.IndexFlatIP(model.config.dim)
    parquet = pq.ParquetFile(emb_path)
    for g in range(parquet.num_row_groups):
        col = parquet.read_row_group(g, columns=["embedding"]).column("embedding").combine_chunks()
        flat.add(np.ascontiguousarray(col.values.to_numpy().reshape(-1, model.config.dim), dtype=np.float32))
    index_s = time.perf_counter() - began
    users, items = test
    hits = 0
    began = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(users), chunk):
            queries = model.user_tower(torch.from_numpy(users[s:s + chunk])).numpy()  # [b, D]
            _, top = flat.search(np.ascontiguousarray(queries, dtype=np.float32), k)  # [b, k], never [b, N]
            hits += int((top == items[s:s + chunk, None]).any(axis=1).sum())
    search_s = time.perf_counter() - began
    popular = np.argsort(-index.item_counts, kind="stable")[:k]
    return {f"hit@{k}": hits / len(users), f"popularity_hit@{k}": float(np.isin(items, popular).mean()),
            "index_add_s": round(index_s, 2), "search_s": round(search_s, 2), "test_rows": len(users)}


def large(args: argparse.Namespace) -> None:
    """One epoch (or --max-steps) on the 1M-item / 10M-row log, streamed or in memory; export, index, score."""
    torch.set_num_threads(args.threads)
    load_before, timings = load(), {}
    began = time.perf_counter()
    index = prepare(Path(args.data_dir), timings)
    user_map, item_map = index.id_maps()
    timings["index_load_s"] = round(time.perf_counter() - began, 2)
    cfg = TwoTowerConfig(dim=args.dim, use_features=False, sparse_embeddings=args.sparse)
    torch.manual_seed(0)
    stub = Interactions(np.zeros(0, np.int64), np.zeros(0, np.int64), user_map, item_map)
    model = RECIPE.build_model(cfg, stub)
    model.set_item_log_p(torch.from_numpy(item_log_probabilities(index.item_counts)))
    began = time.perf_counter()
    train_path = Path(args.data_dir) / "train.parquet"
    if args.mode == "stream":
        batches = StreamingBatches(train_path, index, args.batch_size, seed=0, buffer_size=args.buffer)
    else:
        inter = read_interactions(train_path, index)
        batches = InteractionBatches(inter.users, inter.items, inter.num_items, args.batch_size, seed=0,
                                     item_popularity=index.item_counts)
    timings["data_setup_s"] = round(time.perf_counter() - began, 2)
    full_steps = len(batches)
    if args.max_steps:
        batches = FirstSteps(batches, args.max_steps)
    cpu = time.process_time()
    with tempfile.TemporaryDirectory(dir=args.data_dir) as run_dir:
        train_cfg = TrainConfig(epochs=1, batch_size=args.batch_size, lr=args.lr, progress=False)
        fit = Trainer(model, batches, train_cfg, Path(run_dir)).fit()
        ckpt_mb = (Path(run_dir) / "checkpoints" / "last.pt").stat().st_size / 2**20
    timings["train_and_checkpoint_cpu_s"] = round(time.process_time() - cpu, 1)
    row = fit.history[0]
    steps = len(batches)
    sec_per_epoch = row["sec"] * full_steps / steps
    model.eval()
    scores = {}
    if args.test_rows:
        emb_path = Path(args.data_dir) / f"items_{args.mode}.parquet"
        began = time.perf_counter()
        export_items_chunked(model, item_map, emb_path, chunk=args.chunk)
        timings["export_s"] = round(time.perf_counter() - began, 2)
        users, items = known_rows(Path(args.data_dir) / "test.parquet", index)
        test = users[:args.test_rows], items[:args.test_rows]
        scores = index_and_score(model, index, emb_path, test, k=100, chunk=args.chunk // 16)
    record("scale", dataset="power-law-1Mu-1Mi-10M", recipe="two-tower",
           params={"part": "large", "mode": args.mode, "dim": args.dim, "batch_size": args.batch_size,
                   "lr": args.lr, "threads": args.threads, "sparse_embeddings": args.sparse, "steps_run": steps, "steps_per_epoch": full_steps,
                   "buffer": args.buffer if args.mode == "stream" else None},
           metrics={"examples_per_s": row["examples_per_s"], "loss": row["loss"]["total"], **scores},
           epochs=steps / full_steps, sec_per_epoch=round(sec_per_epoch, 1), wall_s=round(row["sec"], 1),
           timings=timings, checkpoint_mb=round(ckpt_mb, 1), load_before=load_before, load_after=load(),
           note="sec_per_epoch extrapolated from steps_run" if steps < full_steps else "full epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--rounds", type=int, default=2)
    t.add_argument("--global-batch", type=int, default=2048)
    w = sub.add_parser("_worker")
    w.add_argument("--threads", type=int, default=1)
    w.add_argument("--negatives", default="global")
    w.add_argument("--global-batch", type=int, default=2048)
    w.add_argument("--run-dir", required=True)
    g = sub.add_parser("large")
    g.add_argument("--mode", choices=["stream", "memory"], default="stream")
    g.add_argument("--data-dir", default="/tmp/contrarec-scale")
    g.add_argument("--batch-size", type=int, default=2048)
    g.add_argument("--sparse", action=argparse.BooleanOptionalAction, default=True,
                   help="sparse id tables + SparseAdam (--no-sparse: dense AdamW over all rows every step)")
    g.add_argument("--dim", type=int, default=64)
    g.add_argument("--lr", type=float, default=1e-2)
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--buffer", type=int, default=1 << 21)
    g.add_argument("--max-steps", type=int, default=0, help="bound the run (0 = the whole epoch)")
    g.add_argument("--chunk", type=int, default=65536)
    g.add_argument("--test-rows", type=int, default=2000, help="held-out rows scored (0 = no export/index/score)")
    args = parser.parse_args()
    {"throughput": throughput, "_worker": worker, "large": large}[args.command](args)


if __name__ == "__main__":
    main()
