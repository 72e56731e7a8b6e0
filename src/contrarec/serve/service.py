"""Running the service under uvicorn (one or more worker processes) from files on disk."""

from __future__ import annotations

import json
import os

ENV = "CONTRAREC_SERVE_CONFIG"


def app_factory():
    """The app for one uvicorn worker, configured by the JSON in ``$CONTRAREC_SERVE_CONFIG``.

    Each worker pins faiss, torch and NumPy's BLAS to ``threads`` threads (1 by default): with several workers on few
    cores, one thread each avoids oversubscription; micro-batching supplies the parallelism.
    """
    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    from contrarec.serve.app import app_from_paths

    cfg = json.loads(os.environ[ENV])
    threads = int(cfg.get("threads", 1))
    faiss.omp_set_num_threads(threads)
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")  # NumPy's BLAS (the pre-ranker's small matmuls)
    return app_from_paths(cfg["export"], cfg.get("index"), cfg.get("prerank"), max_batch=cfg.get("max_batch", 64),
                          max_body_bytes=cfg.get("max_body_bytes", 64 * 1024), watch_seconds=cfg.get("watch", 0.0))


def run_service(export: str, index: str | None = None, prerank: str | None = None, host: str = "127.0.0.1",
                port: int = 8000, workers: int = 1, threads: int = 1, max_batch: int = 64, watch: float = 0.0,
                max_body_bytes: int = 64 * 1024, log_level: str = "warning") -> None:
    """Serve until interrupted.

    Args:
        export: export folder.
        index: index file (None = exact index built at start).
        prerank: pre-ranker folder (None = recall only).
        host: bind address (127.0.0.1 by default: the admin route is unauthenticated).
        port: TCP port.
        workers: uvicorn worker processes (each loads its own copy of the model).
        threads: faiss / torch threads per worker.
        max_batch: most queries per index search.
        watch: seconds between checks of the index file for a hot swap (0 = off; with several workers this
            is how a new index reaches all of them).
        max_body_bytes: larger request bodies get 413.
        log_level: uvicorn's log level.
    """
    import uvicorn

    os.environ[ENV] = json.dumps({"export": str(export), "index": None if index is None else str(index),
                                  "prerank": None if prerank is None else str(prerank), "threads": threads,
                                  "max_batch": max_batch, "watch": watch, "max_body_bytes": max_body_bytes})
    uvicorn.run("contrarec.serve.service:app_factory", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False, timeout_keep_alive=30)
