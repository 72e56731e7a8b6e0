"""One training loop for every recipe: AdamW, per-epoch validation, early stopping, checkpoints, resume."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from contrarec.config import TrainConfig
from contrarec.data.batches import InteractionBatches
from contrarec.io import atomic_write_text
from contrarec.model import RecallModel
from contrarec.train.checkpoint import load_checkpoint, save_checkpoint
from contrarec.train.distributed import DistributedContext, EpochBatches
from contrarec.train.optim import lr_factor, make_optimizer, set_lr
from contrarec.train.progress import EpochProgress

Evaluator = Callable[[RecallModel], dict[str, float]]


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class FitResult:
    """What a finished (or stopped) fit reports."""

    best_epoch: int | None
    best_metrics: dict[str, float]
    epochs_run: int
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    gen = torch.Generator()
    gen.manual_seed(seed * 1_000_003 + epoch + 17)
    return gen


def _check_finite(terms: dict[str, torch.Tensor], epoch: int, step: int, model: RecallModel) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value).all():
            tau = getattr(model, "temperature", None)
            tau_txt = f", temperature in force {float(tau):.4g}" if tau is not None else ""
            raise TrainingDiverged(f"loss term '{name}' became {float(value.detach())} at epoch {epoch}, step {step}"
                                   f"{tau_txt}; the last good checkpoint is kept. Try a higher temperature or "
                                   "a lower learning rate.")


class Trainer:
    """Trains a :class:`RecallModel` and keeps its run directory up to date.

    Files written under ``run_dir``: ``metrics.jsonl`` (one line per epoch), ``checkpoints/last.pt`` and
    ``checkpoints/best.pt`` (atomic, each epoch / on improvement).

    Args:
        model: the model.
        batches: the training batch iterator (deterministic per epoch).
        config: trainer settings.
        run_dir: where to write.
        evaluators: name -> function scoring the model (``"valid"`` drives early stopping when present).
        log: a function for one-line messages.
        distributed: this worker's place in a distributed job (default: one process). With several
            workers the model trains inside DDP, and only rank 0 evaluates, logs and checkpoints.
    """

    def __init__(self, model: RecallModel, batches: InteractionBatches | EpochBatches, config: TrainConfig,
                 run_dir: Path, evaluators: dict[str, Evaluator] | None = None, log: Callable[[str], None] = print,
                 diagnostics: Callable[[RecallModel], dict[str, float]] | None = None,
                 distributed: DistributedContext | None = None) -> None:
        self.model = model
        self.dist = distributed or DistributedContext()
        self.loss_forward = self.dist.wrap(model)  # forward(batch) = model.compute_loss(batch), DDP if distributed
        self.batches = batches
        self.config = config
        self.run_dir = Path(run_dir)
        self.evaluators = evaluators or {}
        self.diagnostics = diagnostics
        self.log = log if self.dist.is_main else (lambda message: None)
        self.optimizer = make_optimizer(model, config.lr, config.weight_decay)  # AdamW (+ SparseAdam), or None
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.jsonl"

    # ----------------------------------------------------------------------------------- state
    def _state(self, epoch: int, best: dict, bad_evals: int) -> dict:
        return {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "extra": self.model.extra_state_for_checkpoint(),
            "optimizer": self.optimizer.state_dict() if self.optimizer else {},
            "best": best,
            "bad_evals": bad_evals,
        }

    def _restore(self) -> tuple[int, dict, int, list[dict]]:
        state = load_checkpoint(self.ckpt_dir / "last.pt")
        self.model.load_state_dict(state["model"])
        self.model.load_extra_state(state["extra"])
        if self.optimizer and state["optimizer"]:
            self.optimizer.load_state_dict(state["optimizer"])
        epoch = int(state["epoch"])
        earlier = self._truncate_metrics(epoch)
        self.log(f"resumed from {self.ckpt_dir / 'last.pt'} after epoch {epoch}")
        return epoch + 1, dict(state["best"]), int(state["bad_evals"]), earlier

    def _warm_start(self, path: Path) -> None:
        """Load the model weights (and the model's extra state) of another run's checkpoint; nothing else.

        Raises:
            FileNotFoundError: no checkpoint at ``path``.
            ValueError: the checkpoint is not a trainer checkpoint, or its tables do not fit this model
                (another recipe, dataset or dimension).
        """
        state = load_checkpoint(path)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError(f"train.init_from={path}: not a contrarec checkpoint (no 'model' entry)")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:  # missing / unexpected keys, size mismatches
            first = str(err).strip().splitlines()
            detail = "; ".join(line.strip() for line in first[1:4]) or first[0]
            raise ValueError(f"train.init_from={path}: its weights do not fit this model (another recipe, "
                             f"dataset or dim?): {detail}") from None
        self.model.load_extra_state(state.get("extra", {}))
        self.log(f"warm start from {path} (epoch {state.get('epoch')})")

    def _truncate_metrics(self, last_epoch: int) -> list[dict]:
        """Drop metric lines written after the checkpointed epoch (an interrupted epoch's); returns the kept rows.

        Only rank 0 keeps the file; other workers get ``[]``.
        """
        if not self.metrics_path.exists() or not self.dist.is_main:
            return []
        rows = [json.loads(ln) for ln in self.metrics_path.read_text().splitlines() if ln.strip()]
        keep = [r for r in rows if r["epoch"] <= last_epoch]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in keep))
        return keep

    # ----------------------------------------------------------------------------------- loop
    def _train_epoch(self, epoch: int) -> tuple[dict[str, float], float, int]:
        cfg = self.config
        if self.optimizer is None:  # closed-form models (popularity, item-item) have nothing to train
            return {"total": 0.0}, 0.0, 0
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # dropout etc. depend on (seed, epoch) only
        self.loss_forward.train()  # the model and, when distributed, its DDP wrapper
        self.model.on_epoch_start(epoch, _epoch_generator(cfg.seed, epoch))
        sums: dict[str, float] = {}
        steps = examples = 0
        per_epoch = len(self.batches)
        warmup = round(cfg.warmup_epochs * per_epoch)
        scheduled = cfg.lr_schedule != "constant" or warmup > 0  # the step index alone sets the lr (resumable)
        start = time.perf_counter()
        with EpochProgress(len(self.batches), epoch, enabled=cfg.progress and self.dist.is_main) as bar:
            for step, batch in enumerate(self.batches.epoch(epoch)):
                terms = self.loss_forward(batch)
                _check_finite(terms, epoch, step, self.model)
                if self.optimizer is not None:
                    if scheduled:
                        set_lr(self.optimizer, cfg.lr * lr_factor(epoch * per_epoch + step, cfg.epochs * per_epoch,
                                                                  cfg.lr_schedule, warmup, cfg.min_lr_ratio))
                    self.optimizer.zero_grad(set_to_none=True)
                    terms["total"].backward()
                    self.optimizer.step()
                    self.model.on_step_end()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                steps += 1
                examples += len(batch)
                bar.update(len(batch), float(terms["total"].detach()))
        seconds = time.perf_counter() - start
        *totals, steps, examples = self.dist.sum_values([*sums.values(), steps, examples])  # over workers
        return {k: v / max(steps, 1) for k, v in zip(sums, totals)}, seconds, int(examples)

    def _evaluate(self) -> dict[str, dict[str, float]]:
        self.model.eval()
        with torch.no_grad():
            out = {name: fn(self.model) for name, fn in self.evaluators.items()}
            if self.diagnostics is not None:
                out["diagnostics"] = self.diagnostics(self.model)
        return out

    def fit(self, resume: bool = False) -> FitResult:
        """Train until ``epochs``, early stopping or ``max_minutes``; returns the best validation metrics."""
        cfg = self.config
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        start_epoch, best, bad_evals, history = 0, {}, 0, []
        if resume and (self.ckpt_dir / "last.pt").exists():
            start_epoch, best, bad_evals, history = self._restore()  # history: the epochs before the resume
        else:
            if self.metrics_path.exists() and self.dist.is_main:
                self.metrics_path.unlink()
            if cfg.init_from:
                self._warm_start(Path(cfg.init_from))
        began = time.perf_counter()
        stopped = False
        epoch = start_epoch - 1
        for epoch in range(start_epoch, cfg.epochs):
            losses, seconds, examples = self._train_epoch(epoch)
            row: dict = {"epoch": epoch, "loss": losses, "sec": round(seconds, 3),
                         "examples_per_s": round(examples / max(seconds, 1e-9), 1)}
            stop = False
            if self.dist.is_main:  # evaluation, logging and checkpoints on rank 0 only
                best, bad_evals, stop = self._finish_epoch(epoch, row, best, bad_evals, began)
            history.append(row)
            if self.dist.decide(stop):
                stopped = True
                break
        return FitResult(best_epoch=best.get("epoch"), best_metrics=best, epochs_run=epoch + 1,
                         history=history, stopped_early=stopped)

    def _finish_epoch(self, epoch: int, row: dict, best: dict, bad_evals: int,
                      began: float) -> tuple[dict, int, bool]:
        """Evaluate (when due), log, append the metrics line, checkpoint; returns ``(best, bad_evals, stop)``."""
        cfg, select = self.config, self.config.select_metric
        improved = False
        if (epoch + 1) % cfg.eval_every == 0 or epoch == cfg.epochs - 1:
            evals = self._evaluate()
            row.update(evals)
            driver = evals.get("valid") or evals.get("test")
            if driver is not None and select not in driver:
                raise KeyError(f"select_metric {select!r} is not computed; available: {sorted(driver)}")
            score = driver[select] if driver is not None else -row["loss"]["total"]
            if not best or score > best.get("score", -math.inf):
                best = {"epoch": epoch, "score": score, **{f"{k}": v for k, v in (driver or {}).items()}}
                improved, bad_evals = True, 0
            else:
                bad_evals += 1
            self.log(self._summary(row, select))
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        state = self._state(epoch, best, bad_evals)
        if improved:
            save_checkpoint(self.ckpt_dir / "best.pt", state)
        save_checkpoint(self.ckpt_dir / "last.pt", state)
        if cfg.patience and bad_evals >= cfg.patience and epoch + 1 >= cfg.min_epochs:
            self.log(f"early stop at epoch {epoch}: no gain in {select} for {bad_evals} evaluations")
            return best, bad_evals, True
        if cfg.max_minutes is not None and (time.perf_counter() - began) / 60 > cfg.max_minutes:
            self.log(f"stopping after epoch {epoch}: max_minutes={cfg.max_minutes} reached (resume to go on)")
            return best, bad_evals, True
        return best, bad_evals, False

    @staticmethod
    def _summary(row: dict, select: str) -> str:
        parts = [f"epoch {row['epoch']:>3}", f"loss {row['loss']['total']:.4f}", f"{row['sec']:.1f}s"]
        for name in ("valid", "test"):
            if name in row and select in row[name]:
                parts.append(f"{name} {select} {row[name][select]:.4f}")
        diag = row.get("diagnostics")
        if diag:
            parts.append(" ".join(f"{k} {v:.3f}" for k, v in diag.items()))
        return " | ".join(parts)
