r"""Hyperparameter tuning with Optuna: TPE sampling, median pruning, studies kept with History.

Every trial samples hyperparameters with the Tree-structured Parzen Estimator (Bergstra et al.,
"Algorithms for hyper-parameter optimization", NeurIPS 2011): past trials are split at the
:math:`\gamma`-quantile of their scores into good and bad, densities :math:`l(x)` and
:math:`g(x)` are fitted to each, and the next :math:`x` maximises :math:`l(x)/g(x)`, which is
proportional to the expected improvement. The first trials are random (seeded).

Training reports the monitored validation value after every epoch through
:class:`OptunaPruningCallback`; the median rule stops a trial whose best value so far is worse
than the median of the completed trials at the same epoch (Golovin et al., "Google Vizier",
KDD 2017), so bad configurations cost a few epochs instead of a full fit.

Studies are stored by default in the History database (``$ZEN_HOME/zen.db``, or the
PostgreSQL database of ``$ZEN_HISTORY``) next to its ``runs`` table: Optuna's tables
(``studies``, ``trials``, ...) have other names and its schema is versioned in its own
``alembic_version`` table, so both keep working in the same database (a SQLite file stays in WAL
mode). A study with the same name continues where it stopped (``load_if_exists``).

With ``cluster=`` the trials run in parallel as Ray tasks on the nodes of a cluster, all against
the same study (see :mod:`~zen.orchestrator.tune_distributed`).

>>> def objective(trial):
...     x = trial.suggest_float("x", -2.0, 2.0)
...     return (x - 1.0) ** 2
>>> result = tune(objective, n_trials=20, storage=optuna.storages.InMemoryStorage(), seed=0)
>>> abs(result.best_params["x"] - 1.0) < 0.5
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from zen import registry
from zen.errors import BackendUnavailable, ConfigError, DataError, expect_one_of
from zen.neural import Callback, TimeLimit, Trainer, private_rng
from zen.orchestrator import history, history_db
from zen.orchestrator.search_spaces import SearchSpace, canonical_model
from zen.orchestrator.tune_distributed import (
    JOURNAL_SUFFIX,
    NODE_ATTR,
    SharedStorage,
    StudySettings,
    make_pruner,
    make_sampler,
    rdb_storage,
    resolve_cluster,
    run_on_cluster,
    shared_storage,
)

try:
    import optuna
    from optuna.trial import FixedTrial, TrialState
except ImportError as error:  # pragma: no cover - optuna is a dependency of zen
    raise BackendUnavailable(
        f"zen.orchestrator.tune needs optuna ({error}); install it with pip install optuna"
    ) from None

if TYPE_CHECKING:
    import pandas as pd

    from zen.forecasting.data import SeriesData
    from zen.neural.trainer import Trainer as TrainerType

logger = logging.getLogger(__name__)

#: Trial user attribute where :class:`OptunaPruningCallback` records how long training ran.
EPOCHS_ATTR = "zen_epochs"
DIRECTIONS = ("minimize", "maximize")
FORECAST_METRICS = ("mae", "mse", "smape", "mase")

Objective = Callable[[optuna.Trial], float]
Storage = str | Path | optuna.storages.BaseStorage | None


class OptunaPruningCallback(Callback):
    """Report ``monitor`` to an Optuna trial after every epoch; prune the trial when told to.

    When the study's pruner says so, training stops and :class:`optuna.TrialPruned` propagates
    out of ``fit`` (after every callback's ``on_fit_end``), which the study records as a pruned
    trial. At the end of training the callback stores in the trial's user attribute
    :data:`EPOCHS_ATTR` the epochs run, the epochs planned and the median epoch time, from which
    :func:`tune` estimates the time pruning saved.

    Args:
        trial: the trial being evaluated (a :class:`optuna.trial.FixedTrial` never prunes).
        monitor: key of the epoch logs to report (``val_loss``, ``val_accuracy``, or a key a
            callback placed before this one adds); the study's direction says which way is
            better. Use one callback per ``fit``: Optuna keeps one value per epoch.

    Example:
        >>> study = optuna.create_study(pruner=optuna.pruners.MedianPruner())  # doctest: +SKIP
        >>> trainer = Trainer(callbacks=[OptunaPruningCallback(trial)])  # doctest: +SKIP
    """

    def __init__(self, trial: optuna.trial.BaseTrial, monitor: str = "val_loss") -> None:
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch: int | None = None
        self._epoch_times_s: list[float] = []
        self._epoch_started = 0.0
        self._epochs = 0
        self._max_epochs = 0

    def on_fit_start(self, trainer: TrainerType) -> None:
        self.pruned_epoch, self._epoch_times_s, self._epochs = None, [], 0
        self._max_epochs = trainer.config.max_epochs

    def on_epoch_start(self, trainer: TrainerType, epoch: int) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, trainer: TrainerType, epoch: int, logs: dict[str, Any]) -> None:
        # Measured here rather than read from logs["time_s"], which leaves out validation:
        # a pruned epoch saves its validation too.
        self._epoch_times_s.append(time.perf_counter() - self._epoch_started)
        self._epochs = epoch
        if self.monitor not in logs:
            # Reporting train_loss instead (as early stopping falls back to) would rank trials
            # by how well they fit the training data: a silent misconfiguration.
            raise ConfigError(
                f"monitor: {self.monitor!r} is not in the epoch logs (got"
                f" {', '.join(sorted(logs))}); give the model validation data or monitor one of"
                " those keys"
            )
        value = float(logs[self.monitor])
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            trainer.should_stop = True
            raise optuna.TrialPruned(f"pruned at epoch {epoch} with {self.monitor}={value:.6g}")

    def on_fit_end(self, trainer: TrainerType) -> None:
        if not self._epoch_times_s:
            return
        self.trial.set_user_attr(
            EPOCHS_ATTR,
            {
                "epochs": self._epochs,
                "max_epochs": self._max_epochs,
                "median_epoch_s": statistics.median(self._epoch_times_s),
            },
        )


@dataclass(frozen=True)
class TuneResult:
    """What a tuning run found; the counts cover the whole study, resumed runs included.

    Attributes:
        study_name: the study's name in ``storage`` (pass it again to continue it).
        storage: where the study is kept (a database URL, or the storage's class name).
        direction: ``"minimize"`` or ``"maximize"``.
        best_value: the best trial's objective value.
        best_params: the best trial's parameters as Optuna stores them (scalars).
        best_hyperparameters: the model's arguments they stand for (with a search space:
            decoded, fixed settings included); else equal to ``best_params``.
        n_trials: trials in the study; ``n_complete``, ``n_pruned``, ``n_failed`` by state.
        n_new_trials: trials this call ran.
        nodes: trials per cluster node (trial user attribute ``node``) in the whole study;
            empty when no trial ran on a cluster.
        time_saved_s: estimated training time pruning saved: for each pruned trial, the epochs it
            did not run times its median epoch time. An upper bound when early stopping would
            have ended a trial anyway.
        elapsed_s: wall time of this call.
    """

    study_name: str
    storage: str
    direction: str
    best_value: float
    best_params: dict[str, Any]
    best_hyperparameters: dict[str, Any]
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    n_new_trials: int
    time_saved_s: float
    elapsed_s: float
    nodes: dict[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return dataclasses.asdict(self)


def tune(
    objective: Objective,
    *,
    n_trials: int = 20,
    timeout_s: float | None = None,
    storage: Storage = None,
    study_name: str | None = None,
    seed: int = 0,
    direction: str = "minimize",
    space: SearchSpace | None = None,
    catch: tuple[type[Exception], ...] = (),
    sampler_startup_trials: int = 10,
    pruner_startup_trials: int = 5,
    warmup_epochs: int = 1,
    verbose: bool = False,
    cluster: str | None = None,
    parallel: int | None = None,
) -> TuneResult:
    """Run ``n_trials`` more trials of a study (TPE sampler, median pruner); return the best.

    Args:
        objective: ``(trial) -> float``; it samples with ``trial.suggest_*`` (or a search space
            from :mod:`zen.orchestrator.search_spaces`), trains with an
            :class:`OptunaPruningCallback`, and returns the validation score.
        n_trials: trials to run in this call (a resumed study keeps its earlier ones).
        timeout_s: stop starting trials after this many seconds; the running one finishes.
        storage: a SQLite file path, a database URL (``postgresql://...``), an Optuna journal
            file (``*.journal``), or an Optuna storage; ``None`` is the History database
            (``$ZEN_HISTORY``, else ``$ZEN_HOME/zen.db``).
        study_name: the study to create or continue; ``None`` starts a study with a fresh name.
        seed: seeds the sampler (offset by the number of earlier trials, so a resumed study
            does not replay its random start).
        direction: ``"minimize"`` (losses) or ``"maximize"`` (accuracy).
        space: the search space ``objective`` samples from; used to turn the best trial's stored
            parameters back into model arguments (``best_hyperparameters``).
        catch: exceptions that fail one trial and let the study go on (e.g. a diverged fit).
        sampler_startup_trials: random trials before TPE takes over.
        pruner_startup_trials: completed trials before any trial is pruned.
        warmup_epochs: epochs every trial trains before it may be pruned.
        verbose: keep Optuna's per-trial INFO logging.
        cluster: run the trials as Ray tasks on this cluster: a Ray address, or ``"auto"``
            (``$RAY_ADDRESS``, else a Ray running here; a ``ray.init`` of the caller is used as
            it is); ``None`` or ``"local"``: in this process. On a cluster the study lives where
            every node reaches it: the storage's PostgreSQL database, or else a journal file
            beside the SQLite file (``zen-studies.journal``), whose folder the nodes must
            share. Each trial records its node (user attribute ``node``), and a lost node's
            trial is marked failed while Ray runs the rest of its share elsewhere.
            ``objective`` must pickle (cloudpickle) with its data.
        parallel: Ray tasks at once (each runs its share of ``n_trials``); ``None``: one per
            CPU of the cluster. Needs ``cluster``.

    Raises:
        ConfigError: an invalid setting (named), or a stored study of the other direction.
        DataError: the storage file is not a usable database, or no trial completed.
    """
    check_budget(n_trials, timeout_s)
    cluster = resolve_cluster(cluster, parallel)
    if direction not in DIRECTIONS:
        raise expect_one_of("direction", direction, DIRECTIONS)
    for name, value in (("sampler_startup_trials", sampler_startup_trials),
                        ("pruner_startup_trials", pruner_startup_trials),
                        ("warmup_epochs", warmup_epochs)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")

    started = time.perf_counter()
    shared: SharedStorage | None = None
    if cluster is not None:
        shared = shared_storage(storage)
        opened, description = shared.open(), shared.describe()
    else:
        opened, description = open_storage(storage)
    first_error: list[BaseException] = []

    def recorded(trial: optuna.Trial) -> float:
        try:
            return objective(trial)
        except catch as error:
            first_error.append(error)
            raise

    try:
        with optuna_logging(verbose):
            study = optuna.create_study(
                storage=opened,
                study_name=study_name,
                direction=optuna.study.StudyDirection[direction.upper()],
                load_if_exists=True,
                pruner=make_pruner(pruner_startup_trials, warmup_epochs),
            )
            stored = study.direction.name.lower()
            if stored != direction:
                raise ConfigError(
                    f"direction: study {study.study_name!r} in {description} was created to"
                    f" {stored}; pass direction={stored!r} or another study_name"
                )
            existing = len(study.trials)
            # Seeded after loading, offset by the trials already run: otherwise a resumed
            # study would draw the same random startup points again.
            if shared is not None and cluster is not None:
                settings = StudySettings(study.study_name, seed + existing,
                                         sampler_startup_trials, pruner_startup_trials,
                                         warmup_epochs, catch, total_trials=existing + n_trials,
                                         call_id=uuid.uuid4().hex)  # fmt: skip
                deadline = time.time() + timeout_s if timeout_s is not None else None
                first_error += run_on_cluster(
                    objective, shared, settings, n_trials=n_trials, deadline=deadline,
                    cluster=cluster, parallel=parallel,
                )  # fmt: skip
            else:
                study.sampler = make_sampler(seed + existing, sampler_startup_trials)
                study.optimize(recorded, n_trials=n_trials, timeout=timeout_s, catch=catch)
            return _result(study, description, space, existing, first_error, started)
    finally:
        if isinstance(opened, optuna.storages.RDBStorage):
            # Release the file: pooled connections would keep it open for the process' life.
            opened.remove_session()
            opened.engine.dispose()


def check_budget(n_trials: int, timeout_s: float | None) -> None:
    """Raise :class:`ConfigError` unless ``n_trials`` >= 1 and ``timeout_s`` is None or > 0."""
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials: expected a positive integer, got {n_trials!r}")
    if timeout_s is not None and not (
        isinstance(timeout_s, (int, float)) and not isinstance(timeout_s, bool) and timeout_s > 0
    ):
        raise ConfigError(f"timeout_s: expected a positive number of seconds, got {timeout_s!r}")


def open_storage(storage: Storage) -> tuple[optuna.storages.BaseStorage, str]:
    """The Optuna storage for ``storage`` (see :func:`tune`) and a description for messages
    (without a password).

    A file path, and ``None``, are opened as History first: that checks the database (a
    foreign or newer one is refused with History's message, untouched), creates the ``runs``
    table and, for SQLite, turns on WAL mode, which SQLite keeps in the file, so Optuna's
    connections use it too.
    """
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage, type(storage).__name__
    if isinstance(storage, str) and history_db.is_url(storage):
        return rdb_storage(storage), history_db.hide_password(storage)
    if storage is not None and not isinstance(storage, (str, Path)):
        raise ConfigError(
            "storage: expected a file path, a database URL or an optuna storage, got"
            f" {type(storage).__name__}"
        )
    if storage is not None and Path(storage).suffix == JOURNAL_SUFFIX:
        journal = SharedStorage(journal=str(Path(storage).expanduser().absolute()))
        return journal.open(), journal.describe()
    with history.History(storage) as opened:
        url, description = opened.optuna_storage(), opened.url
    return rdb_storage(url), description


@contextlib.contextmanager
def optuna_logging(verbose: bool) -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines for the duration of a tuning run.

    Optuna logs through its own handler at INFO by default; library code must not print, so
    zen lowers it to WARNING (failed trials still show) and restores the caller's level after,
    rather than changing it for the whole process.
    """
    previous = optuna.logging.get_verbosity()
    if not verbose:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _result(
    study: optuna.Study,
    description: str,
    space: SearchSpace | None,
    existing: int,
    errors: list[BaseException],
    started: float,
) -> TuneResult:
    trials = study.get_trials(deepcopy=False)
    count = {state: sum(trial.state == state for trial in trials) for state in TrialState}
    if count[TrialState.COMPLETE] == 0:
        reason = f" (first error: {type(errors[0]).__name__}: {errors[0]})" if errors else ""
        raise DataError(
            f"tune: no trial of study {study.study_name!r} completed: {count[TrialState.PRUNED]}"
            f" pruned, {count[TrialState.FAIL]} failed{reason}; allow more trials or time"
        )
    best = study.best_trial
    params = dict(best.params)
    nodes: dict[str, int] = {}
    for trial in trials:
        node = trial.user_attrs.get(NODE_ATTR)
        if node is not None:
            nodes[node] = nodes.get(node, 0) + 1
    return TuneResult(
        study_name=study.study_name,
        storage=description,
        direction=study.direction.name.lower(),
        best_value=float(best.value) if best.value is not None else float("nan"),
        best_params=params,
        best_hyperparameters=space(FixedTrial(params)) if space is not None else dict(params),
        n_trials=len(trials),
        n_complete=count[TrialState.COMPLETE],
        n_pruned=count[TrialState.PRUNED],
        n_failed=count[TrialState.FAIL],
        n_new_trials=len(trials) - existing,
        time_saved_s=pruning_savings_s(trials),
        elapsed_s=time.perf_counter() - started,
        nodes=nodes,
    )


def pruning_savings_s(trials: Sequence[optuna.trial.FrozenTrial]) -> float:
    """Estimated seconds pruning saved: epochs not run by pruned trials times their median
    epoch time (a pruned configuration's own epochs are the best guess of its remaining ones)."""
    saved = 0.0
    for trial in trials:
        info = trial.user_attrs.get(EPOCHS_ATTR)
        if trial.state == TrialState.PRUNED and info:
            saved += max(info["max_epochs"] - info["epochs"], 0) * info["median_epoch_s"]
    return saved


def _time_limit(deadline: float | None) -> list[Callback]:
    """A TimeLimit for the rest of the budget: Optuna only checks its timeout between trials.

    ``deadline`` is wall-clock time (``time.time()``): a trial may run on another machine,
    whose monotonic clock has another origin.
    """
    if deadline is None:
        return []
    return [TimeLimit(max(deadline - time.time(), 1e-3))]


def _digest(*parts: Any) -> str:
    """A short content hash naming a default study: same data and settings, same study."""
    hasher = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().numpy()
        hasher.update(part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
    return hasher.hexdigest()[:12]


# -- forecasting ---------------------------------------------------------------------------


class _HeldOutScore(Callback):
    """Adds ``val_<metric>`` to each epoch's logs: the forecast of the held-out last window
    from the training part, in data units, so trials with different scalers compare fairly
    (the model's own ``val_loss`` is taken in each window's scale)."""

    def __init__(
        self, train: SeriesData, truth: np.ndarray, metric: str, season_length: int
    ) -> None:
        self.train, self.truth = train, truth
        self.metric, self.season_length = metric, season_length
        self.forecaster: Any = None
        self.value = float("nan")

    def on_epoch_end(self, trainer: TrainerType, epoch: int, logs: dict[str, Any]) -> None:
        from zen.forecasting import metrics

        network = self.forecaster.model_
        was_training = network.training
        network.eval()
        try:
            forecast = self.forecaster.predict(self.train)
        finally:
            network.train(was_training)
        if not np.all(np.isfinite(forecast)):
            self.value = float("nan")  # a diverged model: the median pruner prunes NaN
        elif self.metric == "mase":
            self.value = metrics.mase(self.truth, forecast, self.train, self.season_length)
        else:
            self.value = getattr(metrics, self.metric)(self.truth, forecast)
        logs[f"val_{self.metric}"] = self.value


def tune_forecaster(
    df: pd.DataFrame | SeriesData,
    model: str = "NHITS",
    *,
    h: int,
    input_size: int | None = None,
    n_trials: int = 20,
    timeout_s: float | None = None,
    max_steps: int = 500,
    val_check_steps: int = 50,
    metric: str = "mae",
    season_length: int = 1,
    freq: str | int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    storage: Storage = None,
    study_name: str | None = None,
    seed: int = 0,
    verbose: bool = False,
    cluster: str | None = None,
    parallel: int | None = None,
) -> TuneResult:
    """Tune a neural forecaster on the last ``h`` points of every series.

    Each trial trains on the series without their last ``h`` points and forecasts those
    (evaluated every ``val_check_steps`` steps, which drives pruning); its score is ``metric``
    after the last step. Build the final model with
    ``MODEL_CLASSES[model](**result.best_hyperparameters)`` and fit it on the full series.

    Args:
        df: long frame (``unique_id``, ``ds``, ``y``) or :class:`~zen.forecasting.SeriesData`.
        model: ``NHITS``, ``NBEATS``, ``TCN`` or ``DeepAR``.
        h: forecast horizon.
        input_size: input window; ``None`` tunes it as ``h`` times 1..5 (neuralforecast's
            ``input_size_multiplier``), as far as the shortest series allows.
        max_steps, val_check_steps: optimisation steps per trial, and steps per pruning check.
        metric: ``mae``, ``mse``, ``smape`` or ``mase`` (with ``season_length``) in data units.
        model_kwargs: fixed constructor arguments (e.g. ``{"loss": "mse"}``); they win over
            sampled ones.
        study_name: default: the model, horizon and a hash of data and settings, so a re-run
            on the same data continues its study and other data get their own.
        n_trials, timeout_s, storage, seed, verbose, cluster, parallel: as :func:`tune`.
    """
    from zen.forecasting.data import SeriesData, check_min_length, from_long

    name = canonical_model(model, "forecast")
    spec = registry.get(name, "forecast")
    check_budget(n_trials, timeout_s)
    if metric not in FORECAST_METRICS:
        raise expect_one_of("metric", metric, FORECAST_METRICS)
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise ConfigError(f"h: expected a positive integer, got {h!r}")
    data = df if isinstance(df, SeriesData) else from_long(df, freq)
    shortest = int(data.lengths.min())
    if shortest <= 2 * h:
        raise DataError(
            f"df: the shortest series has {shortest} values; tuning with h={h} holds out {h}"
            f" and needs an input window and a training target before them; lower h"
        )
    if input_size is None and model_kwargs and "input_size" in model_kwargs:
        input_size = model_kwargs["input_size"]  # fixed there: not to be tuned
    train = data.head(data.lengths - h)
    truth = np.stack([data.series(i)[-h:].numpy() for i in range(data.n_series)])
    if input_size is not None:
        check_min_length(train, input_size, h, name="df (without its held-out last h)")
        multipliers: list[int] = []
    else:
        multipliers = [m for m in range(1, 6) if m * h + h <= shortest - h]

    fixed: dict[str, Any] = {
        "h": h,
        "max_steps": max_steps,
        "val_check_steps": val_check_steps,
        "random_seed": seed,
        **({"input_size": input_size} if input_size is not None else {}),
        **(model_kwargs or {}),
    }
    sample, model_class = spec.search_space, spec.model_class
    if sample is None or model_class is None:  # pragma: no cover - canonical_model checked
        raise ConfigError(f"model: {name} declares no search space and class to tune")

    def space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        values = sample(trial)
        if multipliers:
            values["input_size"] = h * trial.suggest_categorical(
                "input_size_multiplier", multipliers
            )
        return {**values, **fixed}

    deadline = time.time() + timeout_s if timeout_s is not None else None

    def objective(trial: optuna.Trial) -> float:
        score = _HeldOutScore(train, truth, metric, season_length)
        forecaster = model_class(
            **space(trial),
            callbacks=[
                score,
                OptunaPruningCallback(trial, monitor=f"val_{metric}"),
                *_time_limit(deadline),
            ],
        )
        score.forecaster = forecaster
        forecaster.fit(train)
        return score.value

    if study_name is None:
        fingerprint = _digest(data.values, data.indptr, sorted(fixed.items()), metric)
        study_name = f"forecast-{name}-h{h}-{fingerprint}"
    return tune(
        objective,
        n_trials=n_trials,
        timeout_s=timeout_s,
        storage=storage,
        study_name=study_name,
        seed=seed,
        direction="minimize",
        space=space,
        # A diverged fit (DataError from the Trainer) fails its trial, not the study.
        catch=(DataError,),
        verbose=verbose,
        cluster=cluster,
        parallel=parallel,
    )


# -- graphs, sequences and tables ----------------------------------------------------------


def _classifier_trainer(
    trial: optuna.Trial,
    metric: str,
    max_epochs: int,
    patience: int,
    seed: int,
    deadline: float | None,
    **settings: Any,
) -> Trainer:
    """A classifier's trial Trainer: Adam on cross-entropy, early stopping and pruning on the
    validation ``metric`` (accuracy maximised, loss minimised), ending by the deadline."""
    return Trainer(
        loss="cross_entropy", optimizer="adam", max_epochs=max_epochs, early_stopping=patience,
        seed=seed, monitor=f"val_{metric}", monitor_mode="max" if metric == "accuracy" else "min",
        callbacks=[OptunaPruningCallback(trial, f"val_{metric}"), *_time_limit(deadline)],
        **settings,
    )  # fmt: skip


def tune_node_classifier(
    graph: Any,
    model: str = "GCN",
    *,
    n_trials: int = 20,
    timeout_s: float | None = None,
    max_epochs: int = 200,
    patience: int = 50,
    metric: str = "accuracy",
    storage: Storage = None,
    study_name: str | None = None,
    seed: int = 0,
    verbose: bool = False,
    cluster: str | None = None,
    parallel: int | None = None,
) -> TuneResult:
    """Tune a GNN for node classification on the graph's validation nodes.

    Trials train full-batch with Adam on ``train_mask`` and early stopping on the validation
    nodes; the score is the best epoch's validation ``metric``. A graph without masks gets the
    graph job's random 60/20/20 split (seeded). ``best_hyperparameters`` holds the model's
    ``hidden_channels``, ``num_layers``, ``dropout`` (and ``heads`` or ``aggr``) and the
    Trainer's ``lr`` and ``weight_decay``.

    Args:
        graph: a :class:`zen.graph.Graph` with features ``x`` and labels ``y``.
        model: ``GCN``, ``GAT`` or ``GraphSAGE``.
        max_epochs, patience: epochs per trial, and epochs without improvement before stopping.
        metric: ``accuracy`` (maximised) or ``loss`` (cross-entropy, minimised).
        n_trials, timeout_s, storage, study_name, seed, verbose, cluster, parallel: as
            :func:`tune`.
    """
    from zen.graph import NodeLoader
    from zen.graph.sampling import random_node_split
    from zen.profile import profile_graph

    name = canonical_model(model, "node classifier")
    check_budget(n_trials, timeout_s)
    if metric not in ("accuracy", "loss"):
        raise expect_one_of("metric", metric, ["accuracy", "loss"])
    n_classes = int(profile_graph(graph, "graph").n_classes or 0)
    if any(getattr(graph, mask, None) is None for mask in ("train_mask", "val_mask")):
        graph = random_node_split(graph, train=0.6, val=0.2, seed=seed)
    direction = "maximize" if metric == "accuracy" else "minimize"
    spec = registry.get(name, "node classifier")
    space = spec.search_space
    if space is None:  # pragma: no cover - canonical_model names tunable models only
        raise ConfigError(f"model: {name} declares no search space")
    deadline = time.time() + timeout_s if timeout_s is not None else None

    def objective(trial: optuna.Trial) -> float:
        settings = space(trial)
        lr, weight_decay = settings.pop("lr"), settings.pop("weight_decay")
        with private_rng(seed):  # initial weights, without reseeding the caller's torch
            network = spec.create(graph.num_features, n_classes, settings)
        trainer = _classifier_trainer(trial, metric, max_epochs, patience, seed, deadline,
                                      lr=lr, weight_decay=weight_decay)  # fmt: skip
        result = trainer.fit(network, NodeLoader(graph, "train"), NodeLoader(graph, "val"))
        return float(result.best_score) if result.best_score is not None else float("nan")

    if study_name is None:
        fingerprint = _digest(graph.x, graph.edge_index, graph.y, graph.train_mask,
                              graph.val_mask, max_epochs, patience)  # fmt: skip
        study_name = f"nodes-{name}-{metric}-{fingerprint}"
    return tune(
        objective,
        n_trials=n_trials,
        timeout_s=timeout_s,
        storage=storage,
        study_name=study_name,
        seed=seed,
        direction=direction,
        space=space,
        catch=(DataError,),
        verbose=verbose,
        cluster=cluster,
        parallel=parallel,
    )


def tune_sequence_classifier(
    X: np.ndarray,
    y: np.ndarray,
    model: str = "ResNet",
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    kind: str = "sequence classifier",
    n_trials: int = 20,
    timeout_s: float | None = None,
    max_epochs: int = 200,
    patience: int = 30,
    metric: str = "loss",
    storage: Storage = None,
    study_name: str | None = None,
    seed: int = 0,
    verbose: bool = False,
    cluster: str | None = None,
    parallel: int | None = None,
) -> TuneResult:
    """Tune a sequence (or image) classifier on validation sequences it does not train on.

    Trials train with Adam and cross-entropy, early stopping on the validation part; the score
    is the best epoch's validation ``metric``. ``best_hyperparameters`` holds the network's
    arguments plus ``lr`` and ``batch_size``, the options a ``zen fit`` candidate takes.

    Args:
        X: ``(n, channels, length)`` sequences, NaN after each one's end; or ``(n, channels,
            height, width)`` images with ``kind="image classifier"``.
        y: the class of each row (integer codes or labels).
        model: a tunable model of ``kind`` (``ResNet``, ``FCN``, ``RecurrentNet``,
            ``TransformerNet``, ``MLP``; images: ``ResNet``, ``ConvNet``, ``MLP``).
        val: ``(X_val, y_val)``; None: a stratified fifth of ``X`` (seeded) is held out.
        kind: ``"sequence classifier"`` or ``"image classifier"``.
        max_epochs, patience: epochs per trial, and epochs without improvement before stopping.
        metric: ``loss`` (cross-entropy, minimised; the default, since accuracy on a few dozen
            validation sequences ties too often to steer the sampler) or ``accuracy``.
        n_trials, timeout_s, storage, study_name, seed, verbose, cluster, parallel: as
            :func:`tune`.
    """
    from zen.neural.nets.candidates import SEQUENCE_TRAINING

    if kind not in ("sequence classifier", "image classifier"):
        raise expect_one_of("kind", kind, ["sequence classifier", "image classifier"])
    name = canonical_model(model, kind)
    check_budget(n_trials, timeout_s)
    if metric not in ("accuracy", "loss"):
        raise expect_one_of("metric", metric, ["accuracy", "loss"])
    x_fit, y_fit, x_val, y_val, n_classes = _classified_parts(X, y, val, kind, seed)
    spec = registry.get(name, kind)
    space = spec.search_space
    if space is None:  # pragma: no cover - canonical_model names tunable models only
        raise ConfigError(f"model: {name} declares no search space")
    shape = (*(int(size) for size in x_fit.shape[1:]), n_classes)
    direction = "maximize" if metric == "accuracy" else "minimize"
    deadline = time.time() + timeout_s if timeout_s is not None else None

    def objective(trial: optuna.Trial) -> float:
        options = space(trial)
        # The training settings a candidate step takes from its options (lr, batch size).
        training = {key: options.pop(key) for key in SEQUENCE_TRAINING if key in options}
        with private_rng(seed):  # initial weights, without reseeding the caller's torch
            network = spec.create(shape, options)
        trainer = _classifier_trainer(trial, metric, max_epochs, patience, seed, deadline,
                                      **training)  # fmt: skip
        result = trainer.fit(network, x_fit, y_fit, val=(x_val, y_val))
        return float(result.best_score) if result.best_score is not None else float("nan")

    if study_name is None:
        fingerprint = _digest(x_fit, y_fit, x_val, y_val, kind, max_epochs, patience)
        study_name = f"sequences-{name}-{metric}-{fingerprint}"
    return tune(
        objective,
        n_trials=n_trials,
        timeout_s=timeout_s,
        storage=storage,
        study_name=study_name,
        seed=seed,
        direction=direction,
        space=space,
        catch=(DataError,),
        verbose=verbose,
        cluster=cluster,
        parallel=parallel,
    )


def _classified_parts(
    X: Any, y: Any, val: tuple[Any, Any] | None, kind: str, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """``(x_fit, y_fit, x_val, y_val, n_classes)`` for :func:`tune_sequence_classifier`: labels
    as codes, and a stratified fifth held out when ``val`` is None."""
    from zen.tabular import train_test_split

    images = kind == "image classifier"
    x_all = np.asarray(X, dtype=np.float32)
    if x_all.ndim != (4 if images else 3):
        shape = "(n, channels, height, width)" if images else "(n, channels, length)"
        raise DataError(f"X: expected an array of shape {shape}, got shape {x_all.shape}")
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(x_all):
        raise DataError(f"y: expected {len(x_all)} labels (one per row of X), got {labels.shape}")
    if val is None:
        classes, codes = np.unique(labels, return_inverse=True)
        fit, held = train_test_split(len(codes), 0.2, seed, codes)
        return x_all[fit], codes[fit], x_all[held], codes[held], len(classes)
    x_val, val_labels = np.asarray(val[0], dtype=np.float32), np.asarray(val[1])
    if x_val.shape[1:] != x_all.shape[1:] or val_labels.shape != (len(x_val),):
        raise DataError(f"val: expected rows shaped like X's {x_all.shape[1:]} and one label"
                        f" each, got {x_val.shape} and {val_labels.shape}")  # fmt: skip
    if np.issubdtype(labels.dtype, np.number) != np.issubdtype(val_labels.dtype, np.number):
        raise DataError("val: its labels are not of the same type as y's")
    # A class only the validation part holds is still one of the outputs.
    classes, codes = np.unique(np.concatenate([labels, val_labels]), return_inverse=True)
    return x_all, codes[: len(x_all)], x_val, codes[len(x_all) :], len(classes)


def tune_tabular(
    frame: pd.DataFrame,
    target: str,
    *,
    task: str = "auto",
    n_trials: int = 20,
    timeout_s: float | None = None,
    max_epochs: int = 100,
    patience: int = 15,
    storage: Storage = None,
    study_name: str | None = None,
    seed: int = 0,
    verbose: bool = False,
    cluster: str | None = None,
    parallel: int | None = None,
) -> TuneResult:
    """Tune a :class:`~zen.tabular.TabularModel` (the ``MLP`` space) on its validation split.

    The score is the best epoch's validation loss (cross-entropy, or MSE of the standardised
    target), minimised; the split is the model's seeded ``val_split``, the same in every trial.
    ``TabularModel(task=task, **result.best_hyperparameters)`` builds the winner.

    Args:
        frame, target, task: as :meth:`TabularModel.fit` and its constructor.
        max_epochs, patience: epochs per trial, and epochs without improvement before stopping.
        n_trials, timeout_s, storage, study_name, seed, verbose, cluster, parallel: as
            :func:`tune`.
    """
    import pandas as pd

    from zen.tabular import TabularModel

    check_budget(n_trials, timeout_s)
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    if target not in frame.columns:
        raise DataError(f"target: no column {target!r} in frame (columns: {list(frame)[:10]})")
    fixed = {"max_epochs": max_epochs, "early_stopping": patience, "seed": seed}
    sample = registry.get("MLP", "table").search_space
    if sample is None:  # pragma: no cover - the MLP declares one
        raise ConfigError("model: the table MLP declares no search space")

    def space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        return {**sample(trial), **fixed}

    deadline = time.time() + timeout_s if timeout_s is not None else None

    def objective(trial: optuna.Trial) -> float:
        callbacks = [OptunaPruningCallback(trial, "val_loss"), *_time_limit(deadline)]
        fitted = TabularModel(task=task, callbacks=callbacks, **space(trial)).fit(frame, target)
        best = fitted.result_.best_score
        return float(best) if best is not None else float("nan")

    if study_name is None:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        study_name = f"tabular-{target}-{_digest(hashed, task, sorted(fixed.items()))}"
    return tune(
        objective,
        n_trials=n_trials,
        timeout_s=timeout_s,
        storage=storage,
        study_name=study_name,
        seed=seed,
        direction="minimize",
        space=space,
        catch=(DataError,),
        verbose=verbose,
        cluster=cluster,
        parallel=parallel,
    )
