"""A 2-process run that is killed mid-run, resumed, and ends where one uninterrupted process ends."""

from __future__ import annotations

import json

import pytest
import torch
import torch.multiprocessing as mp

from distributed_workers import PER_WORKER_BATCH, run_config, spawn, tiny_split, train_worker
from contrarec.train.checkpoint import load_checkpoint
from contrarec.train.run import train_run


def test_killed_distributed_run_resumes_and_matches_one_process(tmp_path, monkeypatch):
    run_dir = tmp_path / "dist"
    with pytest.raises(mp.ProcessExitedException):  # rank 0 dies in epoch 1, the other worker is stopped
        spawn(train_worker, 2, str(run_dir), False, 1)
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 0
    assert not (run_dir / "final.json").exists()

    spawn(train_worker, 2, str(run_dir), True, -1)  # resume and finish
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2]
    final = json.loads((run_dir / "final.json").read_text())
    assert final["epochs_run"] == 3 and "recall@5" in final["test"]
    resumed = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert resumed["epoch"] == 2

    # one process, batch 2B, never interrupted: the same examples per step and global negatives
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    single = train_run(run_config(2 * PER_WORKER_BATCH), tmp_path / "one", split=tiny_split(), log=lambda m: None)
    reference = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    for name, value in reference["model"].items():
        torch.testing.assert_close(resumed["model"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    one_lines = [json.loads(x) for x in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(lines, one_lines):
        assert a["loss"]["total"] == pytest.approx(b["loss"]["total"], rel=1e-4)
    assert single.final["test"]["recall@5"] == pytest.approx(final["test"]["recall@5"], abs=1e-6)
