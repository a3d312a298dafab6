"""Data-parallel training of one model on Ray Train workers (``Trainer(strategy="ddp")``).

Each of ``num_workers`` Ray Train workers runs the ordinary :class:`~zen.neural.Trainer` loop on
its own shard of the training data, with the model wrapped in PyTorch's
``DistributedDataParallel`` (Li et al., "PyTorch Distributed", VLDB 2020) by Ray's
``prepare_model``: gradients are averaged across workers after every backward pass (gloo on CPUs,
NCCL on GPUs), so every worker holds the same weights after every step.

- **Sharding**, as ``torch.utils.data.DistributedSampler`` does: every worker draws the same
  permutation of the training rows from the Trainer's own seeded generator each epoch and keeps
  every ``num_workers``-th row of it, so the shards are disjoint, equally long (the last
  ``n % num_workers`` rows of each permutation wait for the next epoch) and reshuffled each
  epoch. ``batch_size`` is per worker. Loaders shard through a ``shard(rank, num_replicas,
  model)`` method (forecasting's window sampler, graph neighbour loaders).
- **Epoch logs** are the same as local training: the train loss is averaged over all workers'
  samples, every worker validates the full validation set (so learning-rate schedules agree),
  and early stopping and the user's callbacks run on rank 0, whose stop decision all follow at
  the end of the epoch. Callbacks run on the rank-0 worker: on copies, not the caller's objects.
- **Checkpoints**: after every epoch rank 0 saves a Trainer checkpoint
  (:meth:`~zen.neural.Trainer.save`) through Ray Train; when a worker is lost, Ray restarts the
  group (``max_failures`` times) and training resumes from the last epoch saved.
- **Result**: the final weights are loaded into the caller's model, and the caller's Trainer gets
  the history, progress and optimizer state, exactly as after a local fit.

Ray is an optional dependency: it is imported inside the functions here, and this module is
imported only when a fit asks for ``ddp``. The cluster is the running Ray of this process, else
``$ZEN_CLUSTER`` or ``$RAY_ADDRESS``, else a local Ray started for the fit (and stopped after).
Checkpoints go to ``$ZEN_DDP_STORAGE`` (a path every node can read, on a real cluster), by
default a temporary folder, which is enough when all workers share one machine.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

import zen.errors
from zen.errors import ConfigError, NotFittedError, ZenError
from zen.neural.callbacks import Callback
from zen.neural.data import TensorBatches
from zen.neural.trainer import FitResult, StepOutput, Trainer, TrainerConfig

logger = logging.getLogger(__name__)

#: Folder of the Trainer checkpoint inside each Ray Train checkpoint.
_STATE_DIR = "trainer"
#: A zen error raised on the workers, reported in place of the final checkpoint.
_ERROR_FILE = "error.json"


@dataclass(frozen=True)
class Backend:
    """The collective backend of a ddp fit and whether workers get a GPU each."""

    name: str
    use_gpu: bool


def cluster_gpus() -> float:
    """GPUs in the connected Ray cluster (0 without any)."""
    import ray

    return float(ray.cluster_resources().get("GPU", 0.0))


def choose_backend(num_workers: int) -> Backend:
    """NCCL with one GPU per worker when the cluster has enough GPUs, else gloo on CPUs."""
    gpus = cluster_gpus()
    if gpus >= num_workers:
        return Backend("nccl", use_gpu=True)
    reason = "no GPU in the cluster" if gpus == 0 else f"{gpus:g} GPUs for {num_workers} workers"
    logger.info("ddp on CPUs with gloo: %s", reason)
    return Backend("gloo", use_gpu=False)


# ---------------------------------------------------------------------------- sharding
class ShardedBatches:
    """One worker's disjoint share of in-memory tensors (``DistributedSampler`` semantics).

    Every worker holds the same ``generator`` state, so all draw the same permutation each
    epoch; worker ``rank`` keeps positions ``rank, rank + num_replicas, ...`` of it.
    """

    def __init__(self, batches: TensorBatches, rank: int, num_replicas: int) -> None:
        if not 0 <= rank < num_replicas:
            raise ConfigError(f"rank: expected 0 <= rank < {num_replicas}, got {rank}")
        usable = batches.num_samples - batches.num_samples % num_replicas
        if usable == 0:
            raise ConfigError(
                f"num_workers: {num_replicas} workers but only {batches.num_samples} training"
                " samples; use fewer workers"
            )
        self.batches, self.rank, self.num_replicas, self.usable = (
            batches,
            rank,
            num_replicas,
            usable,
        )

    @property
    def num_samples(self) -> int:
        """Samples this worker sees per epoch."""
        return self.usable // self.num_replicas

    def __len__(self) -> int:
        return -(-self.num_samples // self.batches.batch_size)

    def indices(self) -> torch.Tensor:
        """This worker's rows for the next epoch (advances the shared generator)."""
        n = self.batches.num_samples
        if self.batches.shuffle:
            order = torch.randperm(n, generator=self.batches.generator)
        else:
            order = torch.arange(n)
        return order[self.rank : self.usable : self.num_replicas]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        index = self.indices()
        size = self.batches.batch_size
        shard = tuple(tensor[index.to(tensor.device)] for tensor in self.batches.tensors)
        for start in range(0, index.numel(), size):
            yield tuple(tensor[start : start + size] for tensor in shard)


def shard(batches: Iterable, rank: int, num_replicas: int, model: nn.Module) -> Iterable:
    """This worker's share of the training batches.

    Args:
        batches: a :class:`~zen.neural.data.TensorBatches` (``fit(model, X, y)``) or a loader
            with ``shard(rank, num_replicas, model)``.
        rank: this worker's rank, ``0 <= rank < num_replicas``.
        num_replicas: number of workers.
        model: the model being trained (a loader may size its sampling to it).

    Raises:
        ConfigError: the loader cannot be sharded.
    """
    if isinstance(batches, TensorBatches):
        return ShardedBatches(batches, rank, num_replicas)
    method = getattr(batches, "shard", None)
    if method is None:
        raise ConfigError(
            f"train: strategy='ddp' needs data it can shard; a {type(batches).__name__} has no"
            " shard(rank, num_replicas, model) method: pass arrays X, y or a zen loader"
        )
    return method(rank, num_replicas, model)


# ---------------------------------------------------------------------------- on a worker
class _LossForward(nn.Module):
    """Routes ``training_loss`` through ``forward``, so DDP sees (and syncs) that pass too."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any, loss_fn: Any = None, training_loss: bool = False) -> Any:
        if training_loss:
            return self.module.training_loss(*args, loss_fn)  # type: ignore[operator]
        return self.module(*args)


class _DistributedModel(nn.Module):
    """What the loop calls on a worker: the DDP-wrapped model, with ``training_loss`` when the
    model has one (calling the inner module's method directly would skip DDP's gradient sync)."""

    def __init__(self, wrapped: nn.Module, has_training_loss: bool) -> None:
        super().__init__()
        self.wrapped = wrapped
        if has_training_loss:
            self.training_loss = self._training_loss

    def forward(self, *args: Any) -> Any:
        return self.wrapped(*args)

    def _training_loss(self, batch: Any, loss_fn: Any) -> StepOutput:
        return self.wrapped(batch, loss_fn=loss_fn, training_loss=True)


class _WorkerTrainer(Trainer):
    """The Trainer loop of one ddp worker: sharded data, DDP model, rank-0 decisions."""

    rank = 0
    world_size = 1
    # The model being fitted, for loaders that size their sampling to it (set before fit).
    _fitting_model: nn.Module | None = None

    @property
    def should_stop(self) -> bool:
        # Stop requests (early stopping, a time limit mid-epoch) take effect only at the end of
        # an epoch, once rank 0's decision is broadcast: a worker that left an epoch early would
        # leave the others waiting in a collective forever.
        return self._stop_agreed

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        self._stop_requested = bool(value)
        if not value:
            self._stop_agreed = False

    def _forward_model(self, model: nn.Module) -> nn.Module:
        from ray.train.torch import prepare_model

        wrapped = prepare_model(_LossForward(model), move_to_device=False)
        return _DistributedModel(wrapped, hasattr(model, "training_loss"))

    def _prepare_data(
        self, train: Any, y: Any, val: Any, generator: Any, device: Any, *, allow_nan: bool = False
    ) -> Any:
        train_batches, val_batches, n_train = super()._prepare_data(
            train, y, val, generator, device, allow_nan=allow_nan
        )
        model = self._fitting_model if self._fitting_model is not None else nn.Module()
        sharded = shard(train_batches, self.rank, self.world_size, model)
        n_shard = getattr(sharded, "num_samples", None) if n_train is not None else None
        return sharded, val_batches, n_shard

    def _train_epoch(self, *args: Any, **kwargs: Any) -> tuple[float, int]:
        import torch.distributed as dist

        loss, seen = super()._train_epoch(*args, **kwargs)
        if dist.is_available() and dist.is_initialized():
            # The epoch's train loss over every worker's samples, as local training logs it.
            totals = torch.tensor([loss * seen, float(seen)], dtype=torch.float64)
            dist.all_reduce(totals)
            loss, seen = float(totals[0] / totals[1]), int(totals[1])
        return loss, seen

    def _callbacks(self) -> list[Callback]:
        built = super()._callbacks() if self.rank == 0 else []
        built.append(_EpochSync())
        return built


class _EpochSync(Callback):
    """End of every epoch: agree on stopping and on checkpointing (rank 0 decides both)."""

    def __init__(self) -> None:
        self._last_checkpoint = time.monotonic()

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        import torch.distributed as dist

        config = trainer.config
        last_epoch = epoch >= config.max_epochs or (
            config.max_steps is not None and trainer.step_ >= config.max_steps
        )
        due = time.monotonic() - self._last_checkpoint >= config.checkpoint_every_s
        decision = torch.tensor([int(trainer._stop_requested), int(due and not last_epoch)])
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(decision, src=0)
        stop, checkpoint_now = (bool(flag) for flag in decision.tolist())
        trainer._stop_agreed = trainer._stop_requested = stop
        # The fit's final report follows a last epoch, so that one is not saved twice.
        if checkpoint_now and not stop:
            _report(trainer, {"epoch": epoch, "final": False})
            self._last_checkpoint = time.monotonic()


def _report(trainer: _WorkerTrainer, metrics: dict[str, Any]) -> None:
    """Report ``metrics`` from every worker; rank 0 attaches the Trainer's checkpoint."""
    import ray.train

    if trainer.rank != 0:
        ray.train.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="zen-ddp-") as folder:
        trainer.save(Path(folder) / _STATE_DIR)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _report_error(rank: int, error: ZenError) -> None:
    import ray.train

    if rank != 0:
        ray.train.report({"final": True, "error": True})
        return
    with tempfile.TemporaryDirectory(prefix="zen-ddp-") as folder:
        payload = {"type": type(error).__name__, "message": str(error)}
        (Path(folder) / _ERROR_FILE).write_text(json.dumps(payload), encoding="utf-8")
        checkpoint = ray.train.Checkpoint.from_directory(folder)
        ray.train.report({"final": True, "error": True}, checkpoint=checkpoint)


def _raise_reported_error(folder: Path) -> None:
    """Raise the zen error a worker reported in checkpoint ``folder``, if any."""
    path = folder / _ERROR_FILE
    if not path.exists():
        return
    payload = json.loads(path.read_text(encoding="utf-8"))
    kind = getattr(zen.errors, payload["type"], ZenError)
    if not (isinstance(kind, type) and issubclass(kind, ZenError)):
        kind = ZenError
    raise kind(payload["message"])


def _worker_settings(config: TrainerConfig, device: torch.device, rank: int) -> dict[str, Any]:
    settings = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    settings.update(
        strategy="local",
        num_workers=1,
        device=str(device),
        progress=config.progress and rank == 0,
        compile=False,
    )
    return settings


def _train_worker(loop_config: dict[str, Any]) -> None:
    """The function every Ray Train worker runs."""
    import ray
    import ray.train
    import ray.train.torch

    job = ray.get(loop_config["job"])
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    settings = _worker_settings(job["config"], device, rank)
    model: nn.Module = job["model"]
    restored = ray.train.get_checkpoint()
    resume = restored is not None
    if restored is not None:
        with restored.as_directory() as folder:
            loaded = _WorkerTrainer.load(Path(folder) / _STATE_DIR, model=model, **settings)
            trainer = cast(_WorkerTrainer, loaded)
    else:
        trainer = _WorkerTrainer(**settings)
    trainer.rank, trainer.world_size = rank, world_size
    trainer.callbacks = list(job["callbacks"]) if rank == 0 else []
    trainer._fitting_model = model
    if resume:
        logger.info("ddp worker %d resumes after epoch %d", rank, trainer.epoch_)
    started = time.perf_counter()
    try:
        result = trainer.fit(model, job["train"], job["y"], job["val"], resume=resume)
    except ZenError as error:
        # A zen error (bad data, a diverged fit) would recur on every restart: hand it to the
        # caller instead of failing the worker, which Ray would retry.
        _report_error(rank, error)
        return
    # The final state (early stopping may have restored the best epoch's weights).
    _report(
        trainer,
        {
            "epoch": result.epochs,
            "final": True,
            "stopped_early": result.stopped_early,
            "monitor": result.monitor,
            "train_time_s": time.perf_counter() - started,
        },
    )


# ---------------------------------------------------------------------------- on the caller
@contextlib.contextmanager
def connected() -> Iterator[None]:
    """Use this process's Ray, else ``$ZEN_CLUSTER`` / ``$RAY_ADDRESS``, else a local Ray
    started here and stopped on exit."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = os.environ.get("ZEN_CLUSTER") or os.environ.get("RAY_ADDRESS")
    if address == "local":
        address = None
    logger.info("ddp: %s", f"connecting to Ray at {address}" if address else "starting Ray")
    ray.init(address=address, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def fit_ddp(
    trainer: Trainer, model: nn.Module, train: Any, y: Any, val: Any, *, resume: bool
) -> FitResult:
    """Run ``trainer.fit(model, train, y, val)`` data-parallel on Ray Train (see module doc).

    The fitted weights end in ``model``; ``trainer`` gets history, progress and optimizer state.

    Raises:
        ConfigError: bad settings or data that cannot be sharded.
        ZenError: the training failed on the workers more than ``max_failures`` times.
    """
    import ray
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    config = trainer.config
    if resume and trainer.optimizer_ is None and trainer._pending_optimizer_state is None:
        raise NotFittedError("resume=True needs a trainer from Trainer.load() or a prior fit")
    if resume and trainer.model is not None and model is not trainer.model:
        raise ConfigError("resume=True continues training the same model: pass trainer.model")
    # Bad data fails here, at once, rather than on every worker and again on every restart.
    batches, _, _ = trainer._prepare_data(
        train, y, val, torch.Generator().manual_seed(0), torch.device("cpu")
    )
    shard(batches, 0, config.num_workers, model)
    if resume and trainer.optimizer_ is None:
        trainer._build_optimizer(model)  # takes the state of Trainer.load() along
    storage = Path(
        tempfile.mkdtemp(prefix="zen-ddp-", dir=os.environ.get("ZEN_DDP_STORAGE") or None)
    )
    started = time.perf_counter()
    try:
        with connected():
            backend = choose_backend(config.num_workers)
            start_from = None
            if resume:
                trainer.model = model
                trainer.save(storage / "resume" / _STATE_DIR)
                start_from = ray.train.Checkpoint.from_directory(str(storage / "resume"))
            # Sent once through the object store (one copy per node, not one per worker).
            job = ray.put(
                {
                    "config": config,
                    "callbacks": trainer.callbacks,
                    "model": copy.deepcopy(model).cpu(),
                    "train": train,
                    "y": y,
                    "val": val,
                }
            )
            ray_trainer = TorchTrainer(
                _train_worker,
                train_loop_config={"job": job},
                torch_config=TorchConfig(backend=backend.name),
                scaling_config=ray.train.ScalingConfig(
                    num_workers=config.num_workers, use_gpu=backend.use_gpu
                ),
                run_config=ray.train.RunConfig(
                    name="zen-ddp",
                    storage_path=str(storage),
                    failure_config=ray.train.FailureConfig(max_failures=config.max_failures),
                    checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
                ),
                resume_from_checkpoint=start_from,
            )
            try:
                result = ray_trainer.fit()
            except Exception as error:  # Ray wraps worker errors in its own types
                raise _unwrap(error) from error
        if result.checkpoint is None:
            raise ZenError("ddp: the workers reported no checkpoint; the fit did not run")
        with result.checkpoint.as_directory() as folder:
            _raise_reported_error(Path(folder))
            _adopt(trainer, model, Path(folder) / _STATE_DIR)
        metrics = result.metrics or {}
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return FitResult(
        history=trainer.history_,
        best_epoch=trainer.best_epoch_,
        best_score=trainer.best_score_,
        monitor=str(metrics.get("monitor", config.monitor)),
        stopped_early=bool(metrics.get("stopped_early", False)),
        epochs=trainer.epoch_,
        steps=trainer.step_,
        train_time_s=time.perf_counter() - started,
    )


def _adopt(trainer: Trainer, model: nn.Module, folder: Path) -> None:
    """Load the workers' final checkpoint into the caller's ``trainer`` and ``model``."""
    config = trainer.config
    fitted = Trainer.load(folder, model=model, loss=config.loss)
    device = next(model.parameters(), torch.empty(0)).device
    model.to(device)
    trainer.model = model
    trainer.history_ = fitted.history_
    trainer.epoch_, trainer.step_ = fitted.epoch_, fitted.step_
    trainer.best_score_, trainer.best_epoch_ = fitted.best_score_, fitted.best_epoch_
    trainer._pending_optimizer_state = fitted._pending_optimizer_state
    trainer._pending_scheduler_state = fitted._pending_scheduler_state
    trainer.optimizer_ = None
    trainer._build_optimizer(model)


def _unwrap(error: BaseException) -> BaseException:
    """The zen error a worker raised, when Ray's wrapper carries one; else a ZenError."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ZenError):
            return current
        pending.extend([current.__cause__, current.__context__])
        pending.extend(getattr(current, "worker_failures", {}).values())
        args = getattr(current, "args", ())
        pending.extend(arg for arg in args if isinstance(arg, BaseException))
    return ZenError(f"ddp: training failed on the Ray workers: {error}")


__all__ = ["Backend", "ShardedBatches", "choose_backend", "cluster_gpus", "fit_ddp", "shard"]
