"""A progress bar for one epoch: batches done, loss and examples per second."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


class EpochProgress:
    """Context manager wrapping a rich progress bar (silent when not a terminal or disabled)."""

    def __init__(self, total: int, epoch: int, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.epoch = total, epoch
        self.examples = 0
        self.start = time.perf_counter()
        self._progress: Progress | None = None

    def __enter__(self) -> "EpochProgress":
        if self.enabled:
            self._progress = Progress(TextColumn(f"epoch {self.epoch}"), BarColumn(),
                                      TextColumn("{task.completed}/{task.total}"),
                                      TextColumn("loss {task.fields[loss]:.4f}"),
                                      TextColumn("{task.fields[rate]:.0f} ex/s"), TimeRemainingColumn(),
                                      transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, loss=float("nan"), rate=0.0)
        return self

    def update(self, examples: int, loss: float) -> None:
        """Advance one batch."""
        self.examples += examples
        if self._progress is not None:
            rate = self.examples / max(time.perf_counter() - self.start, 1e-9)
            self._progress.update(self._task, advance=1, loss=loss, rate=rate)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
