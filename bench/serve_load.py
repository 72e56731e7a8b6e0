"""Load test of the HTTP service: ``GET /recommend?k=100`` against a 100,000-item index.

One process serves (``contrarec.serve.service.run_service`` on 127.0.0.1, uvicorn), a second process drives it
for a bounded time with keep-alive HTTP/1.1 connections (a small asyncio client, so the load generator costs
little CPU on a 2-core machine). Users, items and embeddings are synthetic (clustered, L2-normalised); each
user has seen items that the service excludes. Records rps, p50/p95/p99 ms and errors to
``bench/results/serve_load.jsonl``.

    python bench/serve_load.py --seconds 20 --connections 16 --index hnsw
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_service_files(folder: Path, num_items: int, num_users: int, dim: int, kind: str, seed: int = 0) -> Path:
    """Write a synthetic export folder and an index file; returns the index path."""
    import scipy.sparse as sp

    from contrarec.io import atomic_write_json
    from contrarec.serve.export import write_embeddings
    from contrarec.serve.index import IndexConfig, RetrievalIndex

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(256, dim)).astype(np.float32)
    items = centers[rng.integers(0, 256, num_items)] + 0.5 * rng.normal(size=(num_items, dim)).astype(np.float32)
    users = centers[rng.integers(0, 256, num_users)] + 0.5 * rng.normal(size=(num_users, dim)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    users /= np.linalg.norm(users, axis=1, keepdims=True)
    write_embeddings(folder / "users.parquet", np.array([f"u{i}" for i in range(num_users)], dtype=object), users)
    write_embeddings(folder / "items.parquet", np.array([f"i{i}" for i in range(num_items)], dtype=object), items)
    seen_counts = rng.integers(5, 60, num_users)
    rows = np.repeat(np.arange(num_users), seen_counts)
    seen = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, rng.integers(0, num_items, len(rows)))),
                         shape=(num_users, num_items))
    seen.data[:] = 1.0
    with open(folder / "seen.npz", "wb") as fh:
        sp.save_npz(fh, seen)
    atomic_write_json(folder / "manifest.json", {
        "model": "synthetic", "dim": dim, "normalized": True, "normalization": "l2", "metric": "cosine",
        "num_users": num_users, "num_items": num_items, "data_fingerprint": "synthetic",
        "files": {"users": "users.parquet", "items": "items.parquet", "seen": "seen.npz"}})
    index = RetrievalIndex(IndexConfig(kind=kind, metric="cosine", ef_search=128)).build(items)
    return index.save(folder / f"{kind}.idx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, timeout: float = 120.0) -> dict:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the service on port {port} did not become healthy in {timeout:.0f}s")


# ----------------------------------------------------------------------------------------- load generator
async def _connection(port: int, paths: list[bytes], until: float, latencies: list[float], errors: list[str],
                      offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < until:
            path = paths[i % len(paths)]
            i += 7
            began = time.perf_counter()
            writer.write(b"GET " + path + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200 or b'"items"' not in body:
                errors.append(f"{status}: {body[:120]!r}")
    except (OSError, asyncio.IncompleteReadError) as exc:
        errors.append(f"connection error: {exc!r}")
    finally:
        writer.close()


async def _drive(port: int, seconds: float, connections: int, num_users: int, k: int) -> dict:
    rng = np.random.default_rng(1)
    paths = [f"/recommend?user_id=u{u}&k={k}".encode() for u in rng.integers(0, num_users, 20_000)]
    latencies: list[float] = []
    errors: list[str] = []
    warm_until = time.perf_counter() + 2.0  # warm-up, not recorded
    warm: list[float] = []
    await asyncio.gather(*[_connection(port, paths, warm_until, warm, [], c) for c in range(connections)])
    began = time.perf_counter()
    await asyncio.gather(*[_connection(port, paths, began + seconds, latencies, errors, c * 1000)
                           for c in range(connections)])
    wall = time.perf_counter() - began
    ms = np.asarray(latencies) * 1e3
    return {"requests": len(latencies), "wall_s": wall, "rps": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "errors": len(errors),
            "error_samples": errors[:3], "warm_requests": len(warm)}


def drive_main(args: argparse.Namespace) -> None:
    """Entry of the load-generator process: prints one JSON line."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_drive(args.port, args.seconds, args.connections, args.users, args.k))))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# ----------------------------------------------------------------------------------------- orchestration
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--index", default="hnsw", choices=["flat", "hnsw", "ivfpq"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the synthetic export + index here and reuse them on the next run")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        drive_main(args)
        return
    from _record import record

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        index_path = folder / f"{args.index}.idx"
        began = time.perf_counter()
        if not (index_path.exists() and (folder / "manifest.json").exists()):
            index_path = make_service_files(folder, args.items, args.users, args.dim, args.index)
        print(f"{args.index} over {args.items} items ready in {time.perf_counter() - began:.1f}s", flush=True)
        port = free_port()
        code = ("from contrarec.serve.service import run_service; "
                f"run_service({str(folder)!r}, {str(index_path)!r}, port={port}, workers={args.workers}, "
                f"threads=1, max_batch={args.max_batch})")
        server = subprocess.Popen([sys.executable, "-c", code])
        try:
            health = wait_healthy(port)
            print(f"service up: {health}", flush=True)
            cpu_before = cpu_seconds(server.pid)
            drive = subprocess.run([sys.executable, __file__, "--drive", "--port", str(port), "--seconds",
                                    str(args.seconds), "--connections", str(args.connections), "--users",
                                    str(args.users), "-k", str(args.k)], capture_output=True, text=True, check=True)
            result = json.loads(drive.stdout.strip().splitlines()[-1])
            server_cpu = cpu_seconds(server.pid) - cpu_before  # warm-up and measured requests
        finally:
            server.terminate()
            server.wait(timeout=30)
    load_after = os.getloadavg()
    params = {"items": args.items, "users": args.users, "dim": args.dim, "index": args.index, "k": args.k,
              "seconds": args.seconds, "connections": args.connections, "workers": args.workers,
              "max_batch": args.max_batch, "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in load_after]}
    metrics = {m: result[m] for m in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors")}
    record("serve_load", dataset=f"synthetic-{args.items // 1000}k", recipe=f"serve-{args.index}", params=params,
           metrics=metrics,
           wall_s=round(result["wall_s"], 2), requests=result["requests"], max_ms=result["max_ms"],
           error_samples=result["error_samples"],
           server_cpu_ms_per_request=round(1e3 * server_cpu / max(1, result["requests"] + result["warm_requests"]), 3),
           note=f"GET /recommend?k={args.k}; 1-min load average {load_before[0]:.1f} before, "
                f"{load_after[0]:.1f} after (2 shared cores)")


if __name__ == "__main__":
    main()
