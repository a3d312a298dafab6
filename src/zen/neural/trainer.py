"""Trainer: the one training loop every zen model family uses.

It fits any ``nn.Module`` on in-memory arrays (``fit(model, X, y)``) or on iterables of batches
(``fit(model, train_loader, val_loader)``). A batch is ``(inputs, targets)``; a model with its own
notion of a batch (forecasting windows, graph masks) defines ``training_loss(batch, loss_fn)``
returning a :class:`StepOutput`, and the loop stays the same. Such a model may also train on
``X`` alone (``fit(vae, X)``: its batches are ``(x,)``), and it may define any callback hook
(``on_epoch_start(trainer, epoch)``...), which the Trainer calls before the other callbacks: a
VAE's KL warm-up follows the epoch that way. A model with an ``auxiliary_loss()`` method has
it added to the task loss of every standard step (a mixture of experts' load balancing).

Example:
    >>> import numpy as np
    >>> from zen.neural import MLP, Trainer
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    >>> y = X.sum(axis=1)
    >>> result = Trainer(max_epochs=3, loss="mse", seed=0).fit(MLP([3, 8, 1]), X, y)
    >>> len(result.history)
    3
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import zen
from zen import compute
from zen.errors import ConfigError, DataError, NotFittedError
from zen.neural import activations, checkpoint
from zen.neural.callbacks import (
    Callback,
    EarlyStopping,
    ProgressBar,
    ambient_callbacks,
    is_improvement,
)
from zen.neural.data import (
    TensorBatches,
    check_features,
    check_lengths,
    class_targets,
    split_indices,
    to_tensor,
)
from zen.neural.losses import (
    CLASSIFICATION_LOSSES,
    check_targets,
    default_metrics,
    get_loss,
    get_metric,
    loss_name,
    target_bounds,
)
from zen.neural.optim import (
    FULL_BATCH_OPTIMIZERS,
    OPTIMIZERS,
    build_optimizer,
    build_scheduler,
)
from zen.neural.seeding import draw_seed, private_rng

# Re-exported: it lived here before zen.neural.seeding; the Trainer itself no longer calls it.
from zen.neural.seeding import seed_everything as seed_everything
from zen.neural.strategy import check_strategy

logger = logging.getLogger(__name__)

_ARRAY_TYPES = (np.ndarray, pd.DataFrame, pd.Series, torch.Tensor, list)
# A callable loss cannot go into JSON; its checkpoint entry records that one must be supplied.
_CUSTOM_LOSS_PREFIX = "custom:"


def _is_batch(item: Any) -> bool:
    """Whether ``item`` looks like one batch: a dict, or a tuple/list of tensors."""
    if isinstance(item, Mapping):
        return True
    return (
        isinstance(item, (tuple, list))
        and bool(item)
        and all(isinstance(part, torch.Tensor) for part in item)
    )


@dataclass
class TrainerConfig:
    """Every setting of a :class:`Trainer`; the defaults train a small MLP well on a CPU.

    Attributes:
        max_epochs: passes over the training data (an upper bound with early stopping).
        batch_size: samples per optimisation step (Rprop accumulates a full pass per step).
        optimizer: ``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``rprop`` or ``quickprop``
            (FANN's; like ``rprop``, one step per full pass).
        lr: learning rate (Rprop: initial step size).
        loss: ``mse``, ``mae``, ``huber``, ``cross_entropy``, ``bce``, or a callable.
        val_split: fraction of ``X, y`` held out for validation when no validation set is given.
        early_stopping: patience in epochs, or ``None`` to train all epochs.
        seed: makes splits, shuffles and dropout repeatable, from generators private to the
            fit: the process's random state (Python, NumPy, torch) is the same after ``fit``
            as before. ``None`` draws from torch's global generator instead.
        progress: show a rich progress bar on stderr.
        weight_decay, momentum, nesterov: optimizer settings (see :mod:`zen.neural.optim`).
        optimizer_options: extra keyword arguments for the torch optimizer.
        scheduler: ``None``, ``step``, ``cosine`` or ``plateau``; ``scheduler_options`` tune it.
        grad_clip: clip the global gradient norm to this value (``None``: no clipping).
        metrics: names from :data:`zen.neural.losses.METRICS` computed on validation data;
            ``None`` picks accuracy for classification losses.
        monitor: the epoch log early stopping and "best epoch" follow (falls back to
            ``train_loss`` without validation data); ``monitor_mode`` is ``min`` or ``max``.
        min_delta: smallest change of ``monitor`` that counts as improvement.
        max_steps: stop after this many optimisation steps, whatever the epoch.
        steps_per_epoch: batches per epoch for loaders that are endless or very long.
        device: ``None`` (auto, honours ``ZEN_DEVICE``), ``cpu``, ``cuda``, ``mps``...
        mixed_precision: ``"auto"`` uses autocast on GPUs only; ``True``/``False`` force it.
        compile: run the model through :func:`zen.compute.compile` for training.
        shuffle: reshuffle the training data every epoch.
        strategy: ``local`` (this process) or ``ddp`` (data-parallel on ``num_workers`` Ray Train
            workers, see :mod:`zen.neural.distributed`; needs the ``cluster`` extra).
        num_workers: workers for ``ddp``; ``batch_size`` is per worker, as in PyTorch DDP.
        max_failures: ``ddp`` only: restarts from the last checkpoint after a lost worker
            before the fit fails.
        checkpoint_every_s: ``ddp`` only: checkpoint at the end of an epoch once this many
            seconds passed since the last checkpoint (0: every epoch). Each one costs a
            synchronisation of the workers through Ray Train (0.1-2 s on a small machine).
    """

    max_epochs: int = 100
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    loss: Any = "mse"
    val_split: float = 0.0
    early_stopping: int | None = None
    seed: int | None = 0
    progress: bool = False
    weight_decay: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    grad_clip: float | None = None
    metrics: list[str] | None = None
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    min_delta: float = 0.0
    max_steps: int | None = None
    steps_per_epoch: int | None = None
    device: str | None = None
    mixed_precision: bool | str = "auto"
    compile: bool = False
    shuffle: bool = True
    strategy: str = "local"
    num_workers: int = 1
    max_failures: int = 2
    checkpoint_every_s: float = 0.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for settings that cannot work, naming the setting."""
        _positive_int("max_epochs", self.max_epochs)
        _positive_int("batch_size", self.batch_size)
        if self.optimizer.lower() not in OPTIMIZERS:
            raise zen.errors.expect_one_of("optimizer", self.optimizer, OPTIMIZERS)
        get_loss(self.loss)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr: expected a positive finite number, got {self.lr!r}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"val_split: expected a fraction in [0, 1), got {self.val_split!r}")
        if self.early_stopping is not None:
            _positive_int("early_stopping", self.early_stopping)
        for name in self.metrics or []:
            get_metric(name)
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip: expected a positive norm, got {self.grad_clip!r}")
        for name in ("max_steps", "steps_per_epoch"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if self.monitor_mode not in ("min", "max"):
            raise ConfigError(f"monitor_mode: expected 'min' or 'max', got {self.monitor_mode!r}")
        if self.mixed_precision not in ("auto", True, False):
            raise ConfigError(
                f"mixed_precision: expected 'auto', True or False, got {self.mixed_precision!r}"
            )
        check_strategy(self.strategy, self.num_workers, self.max_failures)
        if not (isinstance(self.checkpoint_every_s, (int, float)) and self.checkpoint_every_s >= 0):
            raise ConfigError(
                f"checkpoint_every_s: expected seconds >= 0, got {self.checkpoint_every_s!r}"
            )

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON; a callable loss is stored by name only."""
        settings = dataclasses.asdict(self)
        if callable(self.loss):
            name = getattr(self.loss, "__name__", type(self.loss).__name__)
            settings["loss"] = f"{_CUSTOM_LOSS_PREFIX}{name}"
        return settings


def accepts_nan(model: nn.Module) -> bool:
    """Whether ``model`` takes NaN in its inputs: sequence networks read NaN after a sequence's
    end as padding (their ``nan_padding`` attribute is True)."""
    return bool(getattr(model, "nan_padding", False))


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")


@dataclass
class StepOutput:
    """What one batch contributes: the loss to minimise, and predictions/targets for metrics."""

    loss: torch.Tensor
    predictions: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    size: int = 1


class History:
    """Per-epoch logs of a fit: ``history["val_loss"]`` is a list, ``to_frame()`` a DataFrame."""

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self.records: list[dict[str, Any]] = [dict(record) for record in records]

    def append(self, record: dict[str, Any]) -> None:
        """Add an epoch's logs (kept by reference, so later additions to them show)."""
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, key: object) -> bool:
        return any(key in record for record in self.records)

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self:
            known = sorted({name for record in self.records for name in record})
            raise KeyError(f"{key!r} is not in the history; recorded: {known}")
        return [record.get(key) for record in self.records]

    def keys(self) -> list[str]:
        """Every key recorded in at least one epoch."""
        return sorted({name for record in self.records for name in record})

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch."""
        return pd.DataFrame.from_records(self.records)

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, keys={self.keys()})"


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        history: per-epoch train/validation losses, metrics, learning rate, throughput.
        best_epoch: the epoch with the best monitored value (its weights are in the model when
            early stopping restored them).
        best_score: that value; ``monitor`` says which log it was.
        stopped_early: whether early stopping ended the run before ``max_epochs``.
        epochs: epochs run in total (including any before a resume).
        steps: optimisation steps in total.
        train_time_s: wall time of this ``fit`` call.
    """

    history: History
    best_epoch: int | None
    best_score: float | None
    monitor: str
    stopped_early: bool
    epochs: int
    steps: int
    train_time_s: float

    @property
    def samples_per_s(self) -> float:
        """Median training throughput over the epochs of this fit."""
        rates = [rate for rate in self.history["samples_per_s"] if rate]
        return float(np.median(rates)) if rates else float("nan")


class Trainer:
    """Trains a model with mini-batch gradient descent, validation and early stopping.

    Construct it with the settings of :class:`TrainerConfig` as keyword arguments; they are
    checked immediately. ``fit`` learns, ``predict``/``evaluate`` apply the model, ``save`` and
    :meth:`load` keep everything needed to resume (weights, optimizer state, progress).

    Example:
        >>> trainer = Trainer(max_epochs=100, batch_size=128, optimizer="adam", lr=1e-3,
        ...                   loss="cross_entropy", val_split=0.1, early_stopping=10, seed=0)
        >>> trainer.config.optimizer
        'adam'
    """

    def __init__(self, *, callbacks: Sequence[Any] = (), **settings: Any) -> None:
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(TrainerConfig)})
        if unknown:
            valid = ", ".join(f.name for f in dataclasses.fields(TrainerConfig))
            raise ConfigError(f"Trainer: unknown setting(s) {unknown}; valid settings: {valid}")
        self.config = TrainerConfig(**settings)
        self.config.validate()
        self.callbacks = list(callbacks)
        self.loss_fn = get_loss(self.config.loss)
        self.model: nn.Module | None = None
        self.optimizer_: torch.optim.Optimizer | None = None
        self.scheduler_: Any = None
        self.history_ = History()
        self.epoch_ = 0
        self.step_ = 0
        self.best_score_: float | None = None
        self.best_epoch_: int | None = None
        self.should_stop = False
        self._pending_optimizer_state: dict[str, Any] | None = None
        self._pending_scheduler_state: dict[str, Any] | None = None
        # The first batch of every pass has its targets checked against the loss, values too
        # (label range); `bounds` are those of the whole array data, when fit got arrays.
        self._check_batch = False
        self._target_bounds: tuple[float, float] | None = None

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        model: nn.Module,
        train: Any,
        y: Any = None,
        val: Any = None,
        *,
        resume: bool = False,
    ) -> FitResult:
        """Train ``model`` in place and return its :class:`FitResult`.

        Args:
            model: any ``nn.Module``.
            train: features ``X`` (numpy, pandas, torch; ``(n_samples, n_features)``) together
                with ``y``, or an iterable of ``(inputs, targets)`` batches such as a DataLoader.
            y: targets for ``X``: class indices for ``cross_entropy``, values otherwise.
                ``None`` with arrays ``X`` for a model with its own ``training_loss``: it then
                gets ``(x,)`` batches (autoencoders learn from the inputs alone).
            val: validation data: ``(X_val, y_val)`` with arrays (``X_val`` alone when ``y`` is
                ``None``), an iterable of batches with a loader. Without it, ``val_split`` of the
                arrays is held out.
            resume: continue from the state of :meth:`load` (or of a previous fit) instead of
                starting afresh: optimizer state, epoch count and history carry over and
                training runs until ``max_epochs`` epochs in total.
        """
        config = self.config
        if y is None and _is_array_data(train, y) and not hasattr(model, "training_loss"):
            raise DataError(
                "y: targets are required when training on arrays X; only a model with its own"
                " training_loss(batch, loss_fn) (an autoencoder) trains on X alone"
            )
        if config.strategy == "ddp":
            from zen.neural import distributed  # Ray is imported only when ddp is asked for

            return distributed.fit_ddp(self, model, train, y, val, resume=resume)
        for module in model.modules():
            if not activations.is_trainable(module):
                raise ConfigError(
                    f"activation {activations.name_of(module)!r} has no gradient and is for"
                    " inference only; train with a differentiable activation (e.g. sigmoid)"
                )
        if resume and self.optimizer_ is None and self._pending_optimizer_state is None:
            raise NotFittedError("resume=True needs a trainer from Trainer.load() or a prior fit")
        if resume and self.optimizer_ is not None and model is not self.model:
            # The optimizer holds the previous model's parameters; stepping it would silently
            # train nothing.
            raise ConfigError("resume=True continues training the same model: pass trainer.model")
        compute.configure_threads()
        device = compute.device(config.device)
        # The Trainer's own generator: the seed of its private torch stream (dropout, and any
        # other draw the model makes without a generator), then splits and shuffles.
        generator = torch.Generator()
        if config.seed is not None:
            generator.manual_seed(config.seed)
        else:  # no seed: follow torch's global generator, as torch code without a seed does
            generator.manual_seed(draw_seed())
        stream_seed = draw_seed(generator)
        train_batches, val_batches, n_train = self._prepare_data(
            train, y, val, generator, device, allow_nan=accepts_nan(model)
        )

        self.model = model.to(device)
        forward_model = self._forward_model(model)
        if not resume:
            self._reset_state()
        if self.optimizer_ is None:
            self._build_optimizer(model)
        started = time.perf_counter()
        if config.seed is None:
            stopped_early = self._run(forward_model, train_batches, val_batches, n_train, device)
        else:
            # A seeded fit draws from a private copy of torch's global generator, so the
            # caller's random state is the same after fit as before it.
            with private_rng(stream_seed, device):
                stopped_early = self._run(
                    forward_model, train_batches, val_batches, n_train, device
                )
        return FitResult(
            history=self.history_,
            best_epoch=self.best_epoch_,
            best_score=self.best_score_,
            monitor=self._monitor_key(val_batches is not None),
            stopped_early=stopped_early,
            epochs=self.epoch_,
            steps=self.step_,
            train_time_s=time.perf_counter() - started,
        )

    def _forward_model(self, model: nn.Module) -> nn.Module:
        """The module the loop calls: ``model`` itself, compiled, or (ddp) wrapped for DDP."""
        return compute.compile(model) if self.config.compile else model

    def _run(
        self,
        model: nn.Module,
        train_batches: Iterable,
        val_batches: Iterable | None,
        n_train: int | None,
        device: torch.device,
    ) -> bool:
        """The epoch loop with its callbacks; returns whether early stopping ended it."""
        config = self.config
        autocast, scaler = self._mixed_precision(device)
        metric_names = (
            config.metrics if config.metrics is not None else default_metrics(config.loss)
        )
        # The model's own hooks run first, on every ddp worker (a schedule inside the model,
        # such as a VAE's KL warm-up, must agree across workers), then the callbacks.
        callbacks = [*_model_hooks(self.model), *self._callbacks()]
        self.should_stop = False
        full_batch = config.optimizer.lower() in FULL_BATCH_OPTIMIZERS
        _emit(callbacks, "on_fit_start", self)
        try:
            while self.epoch_ < config.max_epochs and not self.should_stop:
                if config.max_steps is not None and self.step_ >= config.max_steps:
                    break
                self.epoch_ += 1
                _emit(callbacks, "on_epoch_start", self, self.epoch_)
                epoch_started = time.perf_counter()
                train_loss, seen = self._train_epoch(
                    model, train_batches, n_train, device, autocast, scaler, full_batch, callbacks
                )
                elapsed = time.perf_counter() - epoch_started
                logs: dict[str, Any] = {"epoch": self.epoch_, "train_loss": train_loss}
                if val_batches is not None:
                    logs.update(self._validate(model, val_batches, device, autocast, metric_names))
                logs["lr"] = float(self._optimizer.param_groups[0]["lr"])
                logs["time_s"] = elapsed
                logs["samples_per_s"] = seen / elapsed if elapsed > 0 else float("nan")
                self._step_scheduler(logs)
                self._track_best(logs)
                # Recorded before the callbacks run: a checkpoint saved by one of them then
                # includes this epoch, and keys they add to `logs` still land in the history.
                self.history_.append(logs)
                _emit(callbacks, "on_epoch_end", self, self.epoch_, logs)
                if not math.isfinite(train_loss):
                    raise DataError(
                        f"training diverged at epoch {self.epoch_} (train_loss={train_loss});"
                        " lower lr, scale the inputs, or set grad_clip"
                    )
            return self.should_stop
        finally:
            _emit(callbacks, "on_fit_end", self)

    @property
    def _optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer_ is None:  # fit() builds it before any epoch runs
            raise NotFittedError("the optimizer is built by fit()")
        return self.optimizer_

    def _reset_state(self) -> None:
        self.optimizer_ = None
        self.scheduler_ = None
        self._pending_optimizer_state = None
        self._pending_scheduler_state = None
        self.history_ = History()
        self.epoch_ = 0
        self.step_ = 0
        self.best_score_ = None
        self.best_epoch_ = None

    def _build_optimizer(self, model: nn.Module) -> None:
        config = self.config
        self.optimizer_ = build_optimizer(
            config.optimizer,
            model.parameters(),
            lr=config.lr,
            weight_decay=config.weight_decay,
            momentum=config.momentum,
            nesterov=config.nesterov,
            options=config.optimizer_options,
        )
        self.scheduler_ = build_scheduler(
            config.scheduler,
            self.optimizer_,
            max_epochs=config.max_epochs,
            options=config.scheduler_options,
        )
        if self._pending_optimizer_state is not None:
            self.optimizer_.load_state_dict(self._pending_optimizer_state)
            self._pending_optimizer_state = None
        if self._pending_scheduler_state is not None and self.scheduler_ is not None:
            self.scheduler_.load_state_dict(self._pending_scheduler_state)
            self._pending_scheduler_state = None

    def _callbacks(self) -> list[Callback]:
        built: list[Callback] = []
        if self.config.early_stopping is not None:
            built.append(
                EarlyStopping(
                    patience=self.config.early_stopping,
                    monitor=self.config.monitor,
                    mode=self.config.monitor_mode,
                    min_delta=self.config.min_delta,
                )
            )
        built.extend(self.callbacks)
        built.extend(ambient_callbacks())
        if self.config.progress:
            built.append(ProgressBar())
        return built

    def _mixed_precision(self, device: torch.device) -> tuple[Any, Any]:
        wanted = self.config.mixed_precision
        if wanted is False or (wanted == "auto" and not compute.supports_mixed_precision(device)):
            return contextlib.nullcontext, None
        if not compute.supports_mixed_precision(device):
            logger.info("mixed precision needs a GPU; training in float32 on %s", device)
            return contextlib.nullcontext, None
        dtype = compute.autocast_dtype(device)
        logger.info("mixed precision on %s with %s", device, dtype)
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        return (lambda: torch.autocast(device.type, dtype=dtype)), scaler

    # ------------------------------------------------------------------ data
    def _prepare_data(
        self,
        train: Any,
        y: Any,
        val: Any,
        generator: torch.Generator,
        device: torch.device,
        *,
        allow_nan: bool = False,
    ) -> tuple[Iterable, Iterable | None, int | None]:
        config = self.config
        self._target_bounds = None
        if not _is_array_data(train, y):
            if y is not None:
                # fit(model, train_loader, val_loader): the second iterable is validation.
                if val is not None:
                    raise DataError("y: must be None when train and val are both batch iterables")
                val = y
            if not isinstance(train, Iterable):
                raise DataError(
                    f"train: expected arrays X, y or an iterable of batches,"
                    f" got {type(train).__name__}"
                )
            return train, val, None

        x_all = to_tensor(train, "X", min_dim=2, allow_nan=allow_nan)
        # y=None: the model has its own loss (fit checked) and learns from X alone.
        y_all = None if y is None else self._targets(y, "y")
        if y_all is not None:
            check_lengths(x_all, y_all)
        x_val: torch.Tensor | None
        y_val: torch.Tensor | None
        if val is not None:
            x_train, y_train = x_all, y_all
            x_val, y_val = self._validation_arrays(val, x_train, y_train, allow_nan)
        else:
            split = split_indices(x_all.shape[0], config.val_split, generator)
            x_train = x_all[split.train]
            y_train = None if y_all is None else y_all[split.train]
            x_val = x_all[split.val] if split.val is not None else None
            y_val = y_all[split.val] if split.val is not None and y_all is not None else None

        if y_train is not None:
            self._target_bounds = self._bounds(
                y_train if y_val is None else torch.cat([y_train, y_val])
            )
        train_batches = TensorBatches(
            _on_device(x_train, y_train, device),
            config.batch_size,
            shuffle=config.shuffle,
            generator=generator,
        )
        val_batches = None
        if x_val is not None:
            # Validation needs no gradients, so bigger batches cost only memory.
            val_batches = TensorBatches(
                _on_device(x_val, y_val, device), max(config.batch_size, 4096), shuffle=False
            )
        return train_batches, val_batches, x_train.shape[0]

    def _validation_arrays(
        self, val: Any, x_train: torch.Tensor, y_train: torch.Tensor | None, allow_nan: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``val`` as checked tensors: ``(X_val, y_val)``, or ``X_val`` alone without targets."""
        if y_train is None:
            x_val = to_tensor(val, "X_val", min_dim=2, allow_nan=allow_nan)
            y_val = None
        else:
            if not (isinstance(val, (tuple, list)) and len(val) == 2):
                raise DataError("val: expected a pair (X_val, y_val) when training on arrays")
            x_val = to_tensor(val[0], "X_val", min_dim=2, allow_nan=allow_nan)
            y_val = self._targets(val[1], "y_val")
            check_lengths(x_val, y_val)
        if x_val.dim() != x_train.dim() or x_val.shape[1] != x_train.shape[1]:
            # Sequences of train and val may differ in length; channels must agree.
            raise DataError(
                f"X_val: expected shape (n, {x_train.shape[1]}, ...) like X with"
                f" {x_train.dim()} axes, got {tuple(x_val.shape)}"
            )
        return x_val, y_val

    def _bounds(self, targets: torch.Tensor) -> tuple[float, float] | None:
        """The targets' value range, for the losses whose targets have one (labels, 0/1)."""
        if loss_name(self.config.loss) in CLASSIFICATION_LOSSES:
            return target_bounds(targets)
        return None

    def _targets(self, y: Any, name: str) -> torch.Tensor:
        targets = to_tensor(y, name, dtype=None)
        if loss_name(self.config.loss) == "cross_entropy":
            return class_targets(targets, name)
        # Integer targets keep their dtype until each batch is cast (align_targets), so that
        # the check against the loss can tell class labels from values.
        return targets.float() if targets.is_floating_point() else targets

    # ------------------------------------------------------------------ loops
    def _batch_loss(self, model: nn.Module, batch: Any, device: torch.device) -> StepOutput:
        custom = getattr(model, "training_loss", None)
        if custom is not None:
            return custom(batch, self.loss_fn)
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise DataError(
                "batch: expected (inputs, targets) pairs; models with other batches must define"
                " training_loss(batch, loss_fn)"
            )
        inputs, targets = batch[0], batch[1]
        if inputs.device != device:
            inputs, targets = inputs.to(device), targets.to(device)
        predictions = model(inputs)
        if self._check_batch:
            # Before torch sees them: a mismatch would fail deep inside the loss, or broadcast.
            check_targets(self.config.loss, predictions, targets, bounds=self._target_bounds)
            self._check_batch = False
        targets = align_targets(predictions, targets, self.config.loss)
        loss = self.loss_fn(predictions, targets)
        auxiliary = getattr(model, "auxiliary_loss", None)
        if auxiliary is not None:  # e.g. mixture-of-experts load balancing (0 in eval)
            loss = loss + auxiliary().to(loss.device)
        return StepOutput(loss, predictions, targets, len(inputs))

    def _train_epoch(
        self,
        model: nn.Module,
        batches: Iterable,
        n_train: int | None,
        device: torch.device,
        autocast: Any,
        scaler: Any,
        full_batch: bool,
        callbacks: list[Callback],
    ) -> tuple[float, int]:
        config = self.config
        optimizer = self._optimizer
        model.train()
        # Losses are summed on the device and read once per epoch: a .item() per batch would
        # force a synchronisation on GPUs for nothing.
        loss_sum = torch.zeros((), device=device)
        seen = 0
        if full_batch:
            optimizer.zero_grad(set_to_none=True)
        self._check_batch = True
        for batch in self._epoch_batches(batches):
            with autocast():
                output = self._batch_loss(model, batch, device)
            loss = output.loss
            if full_batch and n_train:
                loss = loss * (output.size / n_train)
            elif not full_batch:
                optimizer.zero_grad(set_to_none=True)
            self._backward(loss, scaler)
            if not full_batch:
                self._optimizer_step(model, scaler)
            loss_sum += output.loss.detach() * output.size
            seen += output.size
            _emit(callbacks, "on_batch_end", self, output.size)
            if self.should_stop or (
                not full_batch and config.max_steps is not None and self.step_ >= config.max_steps
            ):
                break
        if full_batch and seen:
            self._optimizer_step(model, scaler)
        if seen == 0:
            raise DataError("train: the training data produced no batches")
        return float(loss_sum) / seen, seen

    def _epoch_batches(self, batches: Iterable) -> Iterable:
        limit = self.config.steps_per_epoch
        if limit is None:
            return batches
        return _take_cycling(batches, limit)

    def _backward(self, loss: torch.Tensor, scaler: Any) -> None:
        if scaler is not None:
            scaler.scale(loss).backward()
        else:
            loss.backward()

    def _optimizer_step(self, model: nn.Module, scaler: Any) -> None:
        optimizer = self._optimizer
        if self.config.grad_clip is not None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.config.grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        self.step_ += 1

    @torch.no_grad()
    def _validate(
        self,
        model: nn.Module,
        batches: Iterable,
        device: torch.device,
        autocast: Any,
        metric_names: Sequence[str],
    ) -> dict[str, float]:
        model.eval()
        self._check_batch = True
        loss_sum, seen = 0.0, 0
        predictions: list[torch.Tensor] = []
        targets: list[torch.Tensor] = []
        for batch in batches:
            with autocast():
                output = self._batch_loss(model, batch, device)
            loss_sum += float(output.loss) * output.size
            seen += output.size
            if metric_names and output.predictions is not None and output.targets is not None:
                predictions.append(output.predictions.float())
                targets.append(output.targets)
        if seen == 0:
            raise DataError("val: the validation data produced no batches")
        logs = {"val_loss": loss_sum / seen}
        if predictions:
            all_predictions, all_targets = torch.cat(predictions), torch.cat(targets)
            for name in metric_names:
                logs[f"val_{name}"] = get_metric(name)(all_predictions, all_targets)
        return logs

    def _monitor_key(self, has_validation: bool) -> str:
        monitor = self.config.monitor
        if monitor.startswith("val_") and not has_validation:
            return "train_loss"
        return monitor

    def _step_scheduler(self, logs: Mapping[str, Any]) -> None:
        if self.scheduler_ is None:
            return
        if isinstance(self.scheduler_, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler_.step(logs.get(self.config.monitor, logs["train_loss"]))
        else:
            self.scheduler_.step()

    def _track_best(self, logs: Mapping[str, Any]) -> None:
        key = self.config.monitor if self.config.monitor in logs else "train_loss"
        value = float(logs[key])
        if is_improvement(value, self.best_score_, self.config.monitor_mode, 0.0):
            self.best_score_, self.best_epoch_ = value, self.epoch_

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, model: nn.Module | None, X: Any, batch_size: int = 8192) -> np.ndarray:
        """Apply ``model`` (default: the last one fitted) to features ``X``; returns numpy.

        Raises :class:`DataError` when ``X`` has the wrong number of features.
        """
        model = self._model_or_fitted(model)
        inputs = to_tensor(X, "X", min_dim=2, allow_nan=accepts_nan(model))
        check_features(inputs, getattr(model, "in_features", None))
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            outputs = [
                model(inputs[start : start + batch_size].to(device)).float().cpu()
                for start in range(0, inputs.shape[0], batch_size)
            ]
        finally:
            model.train(was_training)
        return torch.cat(outputs).numpy()

    def evaluate(self, model: nn.Module | None, X: Any, y: Any = None) -> dict[str, float]:
        """Loss and metrics of ``model`` on ``X, y`` (keys ``loss`` and the metric names).

        ``y`` may be ``None`` for a model with its own ``training_loss`` (an autoencoder's
        loss on ``X`` alone).
        """
        model = self._model_or_fitted(model)
        if y is None and not hasattr(model, "training_loss"):
            raise DataError("y: targets are required to evaluate a model without training_loss")
        inputs = to_tensor(X, "X", min_dim=2, allow_nan=accepts_nan(model))
        check_features(inputs, getattr(model, "in_features", None))
        targets = None
        self._target_bounds = None
        if y is not None:
            targets = self._targets(y, "y")
            check_lengths(inputs, targets)
            self._target_bounds = self._bounds(targets)
        device = next(model.parameters()).device
        names = (
            self.config.metrics
            if self.config.metrics is not None
            else default_metrics(self.config.loss)
        )
        batches = TensorBatches(_on_device(inputs, targets, device), 8192, shuffle=False)
        was_training = model.training
        try:
            logs = self._validate(model, batches, device, contextlib.nullcontext, names)
        finally:
            model.train(was_training)
        return {key.removeprefix("val_"): value for key, value in logs.items()}

    def _model_or_fitted(self, model: nn.Module | None) -> nn.Module:
        if model is not None:
            return model
        if self.model is None:
            raise NotFittedError("no model: pass one or call fit() first")
        return self.model

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save weights (safetensors), optimizer state and settings (JSON) to directory ``path``.

        The write is atomic: ``path`` holds either the old or the new checkpoint, never a mix.
        """
        if self.model is None:
            raise NotFittedError("save(): nothing to save; call fit() first")
        payload: dict[str, Any] = {
            "format": "zen.trainer",
            "format_version": checkpoint.FORMAT_VERSION,
            "zen_version": zen.__version__,
            "model": checkpoint.describe_model(self.model),
            "trainer": self.config.to_json(),
            "progress": {
                "epoch": self.epoch_,
                "step": self.step_,
                "best_score": self.best_score_,
                "best_epoch": self.best_epoch_,
            },
            "history": self.history_.records,
        }
        with checkpoint.atomic_directory(path) as staging:
            checkpoint.save_tensors(staging / checkpoint.MODEL_FILE, self.model.state_dict())
            if self.optimizer_ is not None:
                tensors, rest = checkpoint.split_optimizer_state(self.optimizer_.state_dict())
                checkpoint.save_tensors(staging / checkpoint.OPTIMIZER_FILE, tensors)
                payload["optimizer"] = rest
            if self.scheduler_ is not None:
                payload["scheduler"] = self.scheduler_.state_dict()
            checkpoint.write_json(staging / checkpoint.CONFIG_FILE, payload)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, model: nn.Module | None = None, **overrides: Any) -> Trainer:
        """Restore a trainer saved with :meth:`save`; its model is ``trainer.model``.

        Args:
            path: the checkpoint directory.
            model: a module to load the weights into; needed when the saved model's class is
                not registered with :func:`zen.neural.checkpoint.register_model` (MLP is).
            **overrides: settings to change, e.g. ``max_epochs=200`` to train longer on resume.

        Continue training with ``trainer.fit(trainer.model, X, y, resume=True)``.
        """
        path = Path(path)
        payload = checkpoint.read_json(path / checkpoint.CONFIG_FILE)
        if payload.get("format") != "zen.trainer":
            raise ConfigError(f"{path}: not a zen Trainer checkpoint")
        settings = {**payload["trainer"], **overrides}
        if str(settings.get("loss", "")).startswith(_CUSTOM_LOSS_PREFIX):
            raise ConfigError(
                f"{path}: the checkpoint was trained with a custom loss"
                f" ({settings['loss'].removeprefix(_CUSTOM_LOSS_PREFIX)}); pass loss=<callable>"
                " to load()"
            )
        trainer = cls(**settings)
        if model is None:
            if payload.get("model") is None:
                raise ConfigError(
                    f"{path}: the saved model class is not registered; pass model= to load()"
                )
            model = checkpoint.build_model(payload["model"])
        state = checkpoint.load_tensors(path / checkpoint.MODEL_FILE)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise ConfigError(f"{path}: weights do not fit the given model: {error}") from None
        trainer.model = model
        progress = payload.get("progress", {})
        trainer.epoch_ = int(progress.get("epoch", 0))
        trainer.step_ = int(progress.get("step", 0))
        trainer.best_score_ = progress.get("best_score")
        trainer.best_epoch_ = progress.get("best_epoch")
        trainer.history_ = History(payload.get("history", []))
        if "optimizer" in payload:
            tensors = checkpoint.load_tensors(path / checkpoint.OPTIMIZER_FILE)
            trainer._pending_optimizer_state = checkpoint.join_optimizer_state(
                tensors, payload["optimizer"]
            )
        trainer._pending_scheduler_state = payload.get("scheduler")
        return trainer


def align_targets(predictions: torch.Tensor, targets: torch.Tensor, loss: Any) -> torch.Tensor:
    """Shape targets like the predictions for element-wise losses (``(n,)`` vs ``(n, 1)``).

    ``loss`` is a loss name (or the Trainer's ``loss_fn``, which knows its name). A model's own
    ``training_loss`` calls it to treat targets exactly as the Trainer's default step does.
    """
    loss = getattr(loss, "name", loss)
    name = loss_name(loss)
    if name == "cross_entropy":
        return targets
    if name in CLASSIFICATION_LOSSES or targets.shape != predictions.shape:
        if targets.numel() == predictions.numel():
            targets = targets.reshape(predictions.shape)
        if not targets.is_floating_point():
            targets = targets.to(predictions.dtype)
    return targets


def _emit(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    """Call ``hook`` on every callback that has it: any object with ``on_*`` methods works,
    not only subclasses of :class:`~zen.neural.callbacks.Callback`."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


#: The hooks a callback (or a model, see :func:`_model_hooks`) may define.
_HOOKS = ("on_fit_start", "on_epoch_start", "on_batch_end", "on_epoch_end", "on_fit_end")


def _model_hooks(model: nn.Module | None) -> list[Any]:
    """``[model]`` when the model defines callback hooks of its own, else ``[]``."""
    if model is not None and any(callable(getattr(model, hook, None)) for hook in _HOOKS):
        return [model]
    return []


def _is_array_data(train: Any, y: Any) -> bool:
    """Whether ``fit(model, train, y)`` got arrays ``X`` (not an iterable of batches).

    A list is a list of batches when it has no y or holds batches (a dict, or a tuple of
    tensors); otherwise it is a nested-list X.
    """
    batch_list = isinstance(train, list) and (y is None or (bool(train) and _is_batch(train[0])))
    return isinstance(train, _ARRAY_TYPES) and not batch_list


def _on_device(
    x: torch.Tensor, y: torch.Tensor | None, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """The tensors of a batch source on ``device``: ``(x, y)``, or ``(x,)`` without targets."""
    return (x.to(device),) if y is None else (x.to(device), y.to(device))


def _take_cycling(batches: Iterable, count: int) -> Iterable:
    """Yield ``count`` batches, restarting ``batches`` whenever it runs out."""
    produced = 0
    while produced < count:
        empty = True
        for batch in batches:
            empty = False
            yield batch
            produced += 1
            if produced >= count:
                return
        if empty:
            return
