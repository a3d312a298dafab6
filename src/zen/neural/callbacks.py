"""Hooks into the training loop: early stopping, checkpoints, progress bars, your own.

A callback overrides any of the ``on_*`` methods below; the Trainer calls them in list order.
``on_epoch_end`` receives the epoch's ``logs`` dict (``train_loss``, ``val_loss``, metrics, ``lr``)
and may add keys to it or set ``trainer.should_stop = True``. Hyperparameter search (Optuna
pruning) and monitoring plug in here.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zen.errors import ConfigError

if TYPE_CHECKING:
    from zen.neural.trainer import Trainer

logger = logging.getLogger(__name__)


class Callback:
    """Base class: every hook does nothing, so subclasses override only what they need."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first epoch (after a resume: before the first new epoch)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called at the start of every epoch; ``epoch`` counts from 1."""

    def on_batch_end(self, trainer: Trainer, batch_size: int) -> None:
        """Called after each optimisation batch with the number of samples in it."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Called after validation; ``logs`` holds this epoch's numbers."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once after the last epoch, also when training stopped early."""


#: Callbacks that every Trainer fitting in this context runs after its own (:func:`watching`).
_AMBIENT: contextvars.ContextVar[tuple[Callback, ...]] = contextvars.ContextVar(
    "zen_ambient_callbacks", default=()
)


@contextlib.contextmanager
def watching(*callbacks: Callback) -> Iterator[None]:
    """Add ``callbacks`` to every :class:`~zen.neural.Trainer` that fits inside the block, in
    this thread (or task), after the Trainer's own.

    For code that runs other people's training without reaching their Trainers: a cluster's
    Drone reports the epochs of whatever step it runs. Observers only: they should not stop or
    change the fit.
    """
    token = _AMBIENT.set((*_AMBIENT.get(), *callbacks))
    try:
        yield
    finally:
        _AMBIENT.reset(token)


def ambient_callbacks() -> tuple[Callback, ...]:
    """The callbacks :func:`watching` added in this context (usually none)."""
    return _AMBIENT.get()


def is_improvement(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    if best is None or math.isnan(best):
        return not math.isnan(value)
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def _check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise ConfigError(f"mode: expected 'min' or 'max', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` stalls for ``patience`` epochs, then restore the best weights.

    Args:
        patience: epochs without improvement before stopping (>= 1).
        monitor: key of the epoch logs to watch (``val_loss`` by default; ``train_loss`` is used
            when there is no validation data).
        mode: ``"min"`` for losses, ``"max"`` for scores such as accuracy.
        min_delta: the smallest change that counts as an improvement.
        restore_best: load the best epoch's weights back into the model at the end.
    """

    def __init__(
        self,
        patience: int = 10,
        monitor: str = "val_loss",
        mode: str = "min",
        min_delta: float = 0.0,
        restore_best: bool = True,
    ) -> None:
        if int(patience) < 1:
            raise ConfigError(f"early_stopping: expected a patience of at least 1, got {patience}")
        self.patience = int(patience)
        self.monitor = monitor
        self.mode = _check_mode(mode)
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._waited = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.best_score, self.best_epoch, self.stopped_epoch = None, None, None
        self._best_state, self._waited = None, 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        key = self.monitor if self.monitor in logs else "train_loss"
        value = float(logs[key])
        if is_improvement(value, self.best_score, self.mode, self.min_delta):
            self.best_score, self.best_epoch, self._waited = value, epoch, 0
            if self.restore_best and trainer.model is not None:
                # Copies on the model's device; a CPU copy would sync a GPU every improvement.
                self._best_state = copy.deepcopy(trainer.model.state_dict())
            return
        self._waited += 1
        if self._waited >= self.patience:
            self.stopped_epoch = epoch
            trainer.should_stop = True

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best and self._best_state is not None and trainer.model is not None:
            trainer.model.load_state_dict(self._best_state)
            logger.info(
                "restored weights of epoch %s (%s=%.6g)",
                self.best_epoch,
                self.monitor,
                self.best_score,
            )


class ModelCheckpoint(Callback):
    """Save the trainer (weights, optimizer state, config) after epochs that improve ``monitor``.

    Each save is atomic (:func:`zen.neural.checkpoint.atomic_directory`): a crash mid-write
    leaves the previous checkpoint intact.

    Args:
        path: directory that receives the checkpoint (overwritten on each save).
        monitor: key of the epoch logs to compare; ``save_best_only=False`` saves every epoch.
        mode: ``"min"`` or ``"max"``.
    """

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        mode: str = "min",
        save_best_only: bool = True,
    ) -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.mode = _check_mode(mode)
        self.save_best_only = save_best_only
        self.best_score: float | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        self.best_score = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        key = self.monitor if self.monitor in logs else "train_loss"
        value = float(logs[key])
        improved = is_improvement(value, self.best_score, self.mode, 0.0)
        if improved:
            self.best_score = value
        if improved or not self.save_best_only:
            trainer.save(self.path)


class TimeLimit(Callback):
    """Stop training at the first batch that ends after ``max_time_s`` seconds.

    The epoch in progress is cut short and still validated. Used for time budgets
    (``zen fit --budget``): the run keeps its best weights so far when combined with early
    stopping, and its last weights otherwise.
    """

    def __init__(self, max_time_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not max_time_s > 0:
            raise ConfigError(
                f"max_time_s: expected a positive number of seconds, got {max_time_s!r}"
            )
        self.max_time_s = float(max_time_s)
        self.clock = clock
        self._started = 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self._started = self.clock()

    def on_batch_end(self, trainer: Trainer, batch_size: int) -> None:
        if self.clock() - self._started >= self.max_time_s:
            trainer.should_stop = True


class ProgressBar(Callback):
    """A rich progress bar over epochs showing the latest losses (on stderr)."""

    def __init__(self, description: str = "training") -> None:
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[losses]}"),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self.description,
            total=trainer.config.max_epochs,
            completed=trainer.epoch_,
            losses="",
        )

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        shown = [
            f"{key.replace('_loss', ' loss').replace('val_', 'val ')} {value:.3g}"
            for key, value in logs.items()
            if key.startswith(("train_", "val_")) and isinstance(value, float)
        ]
        self._progress.update(self._task, completed=epoch, losses="  ".join(shown))

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
