import json

import pytest
import torch

from contrarec.config import load_config
from contrarec.train.run import train_run
from contrarec.train.trainer import TrainingDiverged


def _cfg(*sets):
    return load_config(None, ["recipe=two-tower", "train.batch_size=256", "train.progress=false",
                              "eval.diagnostics=true", *sets])


def test_two_tower_learns_clearly_above_most_popular(tmp_path, tiny_split):
    tt = train_run(_cfg("train.epochs=12", "train.lr=0.01"), tmp_path / "tt", split=tiny_split, log=lambda m: None)
    pop = train_run(load_config(None, ["recipe=most-popular", "train.progress=false"]), tmp_path / "pop",
                    split=tiny_split, log=lambda m: None)
    assert tt.final["test"]["recall@20"] > 1.15 * pop.final["test"]["recall@20"]
    assert tt.final["test"]["ndcg@20"] > 1.15 * pop.final["test"]["ndcg@20"]
    rows = [json.loads(x) for x in (tmp_path / "tt" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(len(rows)))
    assert all("valid" in r and "diagnostics" in r for r in rows)
    assert (tmp_path / "tt" / "checkpoints" / "best.pt").exists()


def test_resume_reaches_the_same_result(tmp_path, tiny_split):
    full = train_run(_cfg("train.epochs=4", "train.patience=0"), tmp_path / "full", split=tiny_split,
                     log=lambda m: None)
    # an "interrupted" run: 2 epochs, then resumed to 4 in the same directory
    train_run(_cfg("train.epochs=2", "train.patience=0"), tmp_path / "part", split=tiny_split, log=lambda m: None)
    resumed = train_run(_cfg("train.epochs=4", "train.patience=0"), tmp_path / "part", split=tiny_split,
                        resume=True, log=lambda m: None)
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert resumed.final["test"] == pytest.approx(full.final["test"])
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]
    assert [r["epoch"] for r in resumed.fit.history] == [0, 1, 2, 3]  # the epochs before the resume too


def test_warm_start_loads_the_weights_and_starts_the_rest_afresh(tmp_path, tiny_split):
    quiet = {"split": tiny_split, "log": lambda m: None}
    train_run(_cfg("train.epochs=3", "train.patience=0", "train.lr=0.01"), tmp_path / "a", **quiet)
    source = tmp_path / "a" / "checkpoints" / "last.pt"
    # a near-zero lr keeps the warm-started weights where they were loaded
    warm = train_run(_cfg("train.epochs=1", "train.lr=1e-12", f"train.init_from={source}"), tmp_path / "b", **quiet)
    a = torch.load(source, weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)
    for k in a:
        torch.testing.assert_close(b["model"][k], a[k])
    assert b["epoch"] == 0 and [r["epoch"] for r in warm.fit.history] == [0]  # its own epochs, from 0
    cold = train_run(_cfg("train.epochs=1", "train.lr=1e-12"), tmp_path / "c", **quiet)
    assert warm.fit.history[0]["loss"]["total"] < cold.fit.history[0]["loss"]["total"] - 0.1
    assert warm.final["test"]["recall@20"] > cold.final["test"]["recall@20"]


def test_warm_start_from_a_missing_or_misfitting_checkpoint_says_so(tmp_path, tiny_split):
    quiet = {"split": tiny_split, "log": lambda m: None}
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        train_run(_cfg("train.epochs=1", f"train.init_from={tmp_path / 'none.pt'}"), tmp_path / "x", **quiet)
    train_run(_cfg("train.epochs=1", "model.dim=16"), tmp_path / "d16", **quiet)
    with pytest.raises(ValueError, match=r"init_from=.*d16.*do not fit this model.*size mismatch"):
        train_run(_cfg("train.epochs=1", "model.dim=32", f"train.init_from={tmp_path / 'd16/checkpoints/last.pt'}"),
                  tmp_path / "d32", **quiet)
    assert not (tmp_path / "d32" / "checkpoints" / "last.pt").exists()


def test_test_picked_epoch_may_come_from_before_a_resume(tmp_path, tiny_split):
    sets = ("train.patience=0", "eval.eval_test_every_epoch=true")
    train_run(_cfg("train.epochs=2", *sets), tmp_path / "r", split=tiny_split, log=lambda m: None)
    resumed = train_run(_cfg("train.epochs=2", *sets), tmp_path / "r", split=tiny_split, resume=True,
                        log=lambda m: None)  # nothing left to train: the picked epoch is an earlier one
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    best = max(rows, key=lambda r: r["test"]["recall@20"])
    assert resumed.final["test_picked"]["epoch"] == best["epoch"]
    assert resumed.final["test_picked"]["recall@20"] == best["test"]["recall@20"]


def test_nan_loss_stops_with_clear_message_and_keeps_checkpoint(tmp_path, tiny_split, monkeypatch):
    from contrarec.recipes import two_tower

    calls = {"n": 0}
    original = two_tower.TwoTowerModel.compute_loss

    def exploding(self, batch):
        calls["n"] += 1
        terms = original(self, batch)
        if calls["n"] > 20:  # after the first epoch
            terms = {"total": terms["total"] * float("nan"), "infonce": terms["infonce"] * float("nan")}
        return terms

    monkeypatch.setattr(two_tower.TwoTowerModel, "compute_loss", exploding)
    with pytest.raises(TrainingDiverged, match=r"'total' became nan at epoch \d+.*temperature in force 0.1"):
        train_run(_cfg("train.epochs=5"), tmp_path / "nan", split=tiny_split, log=lambda m: None)
    assert (tmp_path / "nan" / "checkpoints" / "last.pt").exists()


def test_bpr_mf_trains_and_improves_over_random(tmp_path, tiny_split):
    bpr = train_run(load_config(None, ["recipe=bpr-mf", "train.epochs=10", "train.batch_size=256", "train.lr=0.01",
                                       "train.progress=false"]), tmp_path / "bpr", split=tiny_split,
                    log=lambda m: None)
    rnd = train_run(load_config(None, ["recipe=random", "train.progress=false"]), tmp_path / "rnd",
                    split=tiny_split, log=lambda m: None)
    assert bpr.final["test"]["recall@20"] > 2 * rnd.final["test"]["recall@20"]


def test_cosine_schedule_decays_to_the_floor_and_resumes_exactly(tmp_path, tiny_split, monkeypatch):
    from contrarec.train import trainer as trainer_module

    seen: list[float] = []
    original = trainer_module.set_lr

    def recording(optimizer, lr):
        seen.append(lr)
        original(optimizer, lr)

    monkeypatch.setattr(trainer_module, "set_lr", recording)
    sets = ("train.epochs=3", "train.patience=0", "train.lr=0.02", "train.lr_schedule=cosine",
            "train.warmup_epochs=1", "train.min_lr_ratio=0.1")
    full = train_run(_cfg(*sets), tmp_path / "full", split=tiny_split, log=lambda m: None)
    per_epoch = len(seen) // 3
    assert seen[0] == pytest.approx(0.02 / per_epoch) and seen[per_epoch - 1] == pytest.approx(0.02)
    assert seen[-1] == pytest.approx(0.002) and max(seen) == pytest.approx(0.02)
    assert all(a >= b for a, b in zip(seen[per_epoch:], seen[per_epoch + 1:]))  # decays after warm-up
    # stopped by the wall-time cap after the first epoch, then resumed: the same weights as the full run
    train_run(_cfg(*sets, "train.max_minutes=1e-9"), tmp_path / "part", split=tiny_split, log=lambda m: None)
    resumed = train_run(_cfg(*sets), tmp_path / "part", split=tiny_split, resume=True, log=lambda m: None)
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    assert resumed.final["test"] == pytest.approx(full.final["test"])


def test_min_epochs_holds_off_early_stopping(tmp_path, tiny_split, monkeypatch):
    from contrarec.train import trainer as trainer_module

    curve = [0.5, 0.1, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1]  # a dip after the first epoch, then a climb
    scores = iter(curve)
    monkeypatch.setattr(trainer_module.Trainer, "_evaluate", lambda self: {"valid": {"recall@20": next(scores)}})
    plain = train_run(_cfg("train.epochs=10", "train.patience=2"), tmp_path / "a", split=tiny_split,
                      log=lambda m: None)
    assert plain.fit.stopped_early and plain.fit.epochs_run == 3 and plain.fit.best_epoch == 0
    scores = iter(curve)
    held = train_run(_cfg("train.epochs=10", "train.patience=2", "train.min_epochs=5"), tmp_path / "b",
                     split=tiny_split, log=lambda m: None)
    assert held.fit.best_epoch == 4 and held.fit.epochs_run == 7 and held.fit.stopped_early
