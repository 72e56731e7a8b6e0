"""Command-line wrappers for serving: ``index build``, ``index bench``, ``prerank`` and ``serve``.

Registered on the main app by :func:`register`; each command resolves paths in a run directory and calls
library functions in :mod:`contrarec.serve`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import typer
import yaml
from rich.console import Console
from rich.table import Table

INDEX_KINDS = ("flat", "hnsw", "ivfpq")


def ensure_export(run_dir: Path, log: Callable[[str], None] = print) -> Path:
    """``RUN_DIR/export``, (re-)exported when missing or older than the best checkpoint."""
    out = run_dir / "export"
    manifest = out / "manifest.json"
    ckpt = run_dir / "checkpoints" / "best.pt"
    if not ckpt.exists():
        ckpt = run_dir / "checkpoints" / "last.pt"
    stale = manifest.exists() and ckpt.exists() and ckpt.stat().st_mtime > manifest.stat().st_mtime
    if not manifest.exists() or stale:
        from contrarec.serve.export import export_run
        from contrarec.train.run import load_run

        log(f"exporting {run_dir} -> {out}")
        export_run(load_run(run_dir), out)
    return out


def resolve_index(run_dir: Path, index: str) -> Path | None:
    """``auto`` = the first of hnsw, ivfpq, flat built in RUN_DIR/index (None: exact, built at start)."""
    from contrarec.serve.index_eval import index_path

    if index == "auto":
        return next((index_path(run_dir, k) for k in ("hnsw", "ivfpq", "flat") if index_path(run_dir, k).exists()),
                    None)
    if index in INDEX_KINDS:
        path = index_path(run_dir, index)
        if not path.exists():
            raise FileNotFoundError(f"no {index} index in {run_dir}; build it: contrarec index build {run_dir} "
                                    f"--kind {index}")
        return path
    return Path(index)


def _params(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param {item!r} is not of the form key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def register(app: typer.Typer, guard: Callable, console: Console) -> None:
    """Add the serving commands to ``app``."""
    index_app = typer.Typer(no_args_is_help=True, help="Build and measure retrieval indexes (FAISS).")
    app.add_typer(index_app, name="index")

    @index_app.command("build")
    @guard
    def index_build(run_dir: Path = typer.Argument(..., help="a run directory"),
                    kind: str = typer.Option("hnsw", "--kind", help="flat | hnsw | ivfpq"),
                    param: list[str] = typer.Option([], "--param", "-p", help="e.g. hnsw_m=32, nprobe=16"),
                    k: int = typer.Option(100, "-k", min=1, help="K of the recall@K measurement"),
                    queries: int = typer.Option(1000, help="held-out user queries measured"),
                    threads: int = typer.Option(1, min=1, help="faiss threads while measuring")) -> None:
        """Build an index over the run's items; store it with its recall@K vs exact and latency.

        Example: contrarec index build runs/tt --kind ivfpq -p nprobe=32
        """
        import faiss

        from contrarec.serve.exported import ExportedModel
        from contrarec.serve.index import IndexConfig
        from contrarec.serve.index_eval import build_and_measure, index_path

        faiss.omp_set_num_threads(threads)
        exported = ExportedModel.load(ensure_export(run_dir, console.print), user_tower=False)
        metric = "cosine" if exported.normalized else "ip"
        config = IndexConfig.model_validate({"kind": kind, "metric": metric, **_params(param)})
        path = index_path(run_dir, kind)
        _, report = build_and_measure(exported.item_embeddings, exported.user_embeddings, config, path, k, queries)
        console.print_json(json.dumps(report))
        console.print(f"index written to {path}")

    @index_app.command("bench")
    @guard
    def index_bench(run_dir: Path = typer.Argument(..., help="a run directory"),
                    kind: list[str] = typer.Option(["hnsw", "ivfpq"], "--kind", help="kinds to sweep (repeatable)"),
                    k: int = typer.Option(100, "-k", min=1), queries: int = typer.Option(500),
                    threads: int = typer.Option(1, min=1, help="faiss threads while measuring")) -> None:
        """Sweep efSearch (hnsw) / nprobe (ivfpq) and print the recall–latency table.

        Example: contrarec index bench runs/tt --kind hnsw --kind ivfpq
        """
        import faiss

        from contrarec.io import atomic_write_json
        from contrarec.serve.exported import ExportedModel
        from contrarec.serve.index import IndexConfig, RetrievalIndex
        from contrarec.serve.index_eval import held_out_queries, index_path, sweep

        faiss.omp_set_num_threads(threads)
        exported = ExportedModel.load(ensure_export(run_dir, console.print), user_tower=False)
        metric = "cosine" if exported.normalized else "ip"
        exact = RetrievalIndex(IndexConfig(kind="flat", metric=metric)).build(exported.item_embeddings)
        qs = held_out_queries(exported.user_embeddings, queries)
        k = min(k, len(exact))
        rows = []
        for name in ["flat", *kind]:
            path = index_path(run_dir, name)
            index = RetrievalIndex.load(path) if path.exists() else RetrievalIndex(
                IndexConfig(kind=name, metric=metric)).build(exported.item_embeddings)
            rows += sweep(index, exact, qs, k)
        table = Table(title=f"recall@{k} vs exact and latency per query ({len(qs)} queries, {len(exact)} items)")
        for col in ("kind", "setting", f"recall@{k}", "p50 ms", "p99 ms", "qps"):
            table.add_column(col, justify="right")
        for r in rows:
            setting = "-" if r["kind"] == "flat" else (f"ef_search={r['ef_search']}" if "ef_search" in r
                                                      else f"nprobe={r['nprobe']}")
            table.add_row(r["kind"], setting, f"{r[f'recall@{k}']:.4f}", f"{r['p50_ms']:.3f}", f"{r['p99_ms']:.3f}",
                          f"{r['qps']:.0f}")
        console.print(table)
        atomic_write_json(run_dir / "index" / "bench.json", rows)

    @app.command("prerank")
    @guard
    def prerank(run_dir: Path = typer.Argument(..., help="a run directory (with a validation split)"),
                set_: list[str] = typer.Option([], "--set", "-s", help="pre-ranker setting, e.g. epochs=20")) -> None:
        """Train a pre-ranker on the run's validation pairs with recall candidates as hard negatives.

        Stores RUN_DIR/prerank/ and prints recall-only vs two-stage metrics on the test split.
        Example: contrarec prerank runs/tt --set candidates=300
        """
        from contrarec.serve.prerank import PreRankConfig
        from contrarec.serve.prerank_run import prerank_for_run
        from contrarec.train.run import load_run

        config = PreRankConfig.model_validate(_params(set_))
        report = prerank_for_run(load_run(run_dir), config, run_dir / "prerank", log=console.print)
        console.print_json(json.dumps(report))

    @app.command("serve")
    @guard
    def serve(run_dir: Path = typer.Argument(..., help="a run directory"),
              index: str = typer.Option("auto", help="auto | flat | hnsw | ivfpq | PATH (auto: built index, "
                                                     "else exact)"),
              host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000),
              workers: int = typer.Option(1, min=1, help="uvicorn worker processes"),
              threads: int = typer.Option(1, min=1, help="faiss / torch threads per worker"),
              max_batch: int = typer.Option(64, min=1, help="most queries per index search"),
              watch: float = typer.Option(2.0, help="seconds between index-file checks for hot swap (0 = off)"),
              use_prerank: bool = typer.Option(True, "--prerank/--no-prerank",
                                               help="use RUN_DIR/prerank when present")) -> None:
        """Serve recommendations over HTTP (FastAPI + uvicorn); OpenAPI docs at /docs.

        Example: contrarec serve runs/tt --index hnsw --port 8000
        """
        from contrarec.serve.service import run_service

        export = ensure_export(run_dir, console.print)
        index_file = resolve_index(run_dir, index)
        prerank_dir = run_dir / "prerank" if use_prerank and (run_dir / "prerank" / "prerank.json").exists() else None
        console.print(f"serving {export} with index {index_file or 'exact (in memory)'}"
                      f"{' + pre-ranker' if prerank_dir else ''} on http://{host}:{port} (docs: /docs)")
        run_service(str(export), None if index_file is None else str(index_file),
                    None if prerank_dir is None else str(prerank_dir), host=host, port=port, workers=workers,
                    threads=threads, max_batch=max_batch, watch=watch)
