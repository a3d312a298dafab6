"""The trials of one Optuna study, in parallel on the nodes of a Ray cluster.

Each of ``parallel`` Ray tasks runs ``study.optimize(objective, n_trials=k)`` against the same
study in a storage every node reaches, so the TPE sampler of each task sees the trials of all
the others and the median pruner compares a trial with every trial's intermediate values, as in
one process (Optuna's documented way to distribute a study: many workers, one storage). The
storage is the History database when that is PostgreSQL; otherwise an Optuna journal file next
to the SQLite History, since SQLite is unsafe for many writers on several machines: its folder
must then be shared by the nodes (or run History on PostgreSQL). Every trial records the node
it ran on in its user attributes ``node`` (the Ray node id) and ``node_ip``.

A node lost mid-run does not lose the study: Ray runs the task again elsewhere (a system
failure, ``max_retries``), the study-wide cap stops the retry at the number of trials asked
for, and the trial the node was running is marked failed once every task has ended.

Ray is imported inside the functions that use it: it is the optional ``cluster`` extra.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from zen.errors import ConfigError, DataError
from zen.orchestrator import history, history_db

logger = logging.getLogger(__name__)

#: Trial user attributes naming where a trial ran.
NODE_ATTR = "node"
NODE_IP_ATTR = "node_ip"
#: Trial user attribute tying a trial to one tuning call, to find the trials a lost node left.
CALL_ATTR = "zen_tune_call"
#: Times Ray starts a task again after its node or worker died.
TASK_RETRIES = 2
JOURNAL_SUFFIX = ".journal"

Objective = Callable[[optuna.Trial], float]


@dataclass(frozen=True)
class SharedStorage:
    """A study storage that every node can open by itself (storages do not pickle).

    Attributes:
        url: a SQLAlchemy database URL (PostgreSQL); or
        journal: the path of an Optuna journal file.
    """

    url: str | None = None
    journal: str | None = None

    def open(self) -> optuna.storages.BaseStorage:
        """The Optuna storage; a :class:`~zen.errors.DataError` names it when it cannot open."""
        if self.journal is not None:
            from optuna.storages.journal import JournalFileBackend

            Path(self.journal).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(self.journal))
        assert self.url is not None
        return rdb_storage(self.url)

    def describe(self) -> str:
        """Where the study is, for results and messages (no password)."""
        if self.journal is not None:
            return f"journal:{self.journal}"
        assert self.url is not None
        # As History names it: the driver is a detail of how Optuna connects.
        url = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
        return history_db.hide_password(url)


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg 3 driver for PostgreSQL (SQLAlchemy's default is psycopg2)."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def rdb_storage(url: str) -> optuna.storages.RDBStorage:
    """Optuna's SQLAlchemy storage at ``url``; a :class:`~zen.errors.DataError` if it fails."""
    import sqlalchemy.exc

    url = sqlalchemy_url(url)
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Wait for History's (and other processes') write transactions like History does,
        # instead of failing with "database is locked" after pysqlite's default 5 s.
        options["connect_args"] = {"timeout": history_db.BUSY_TIMEOUT_S}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=options)
    except (sqlalchemy.exc.SQLAlchemyError, RuntimeError, ImportError) as error:
        # RuntimeError: Optuna's schema check (a study database written by a newer Optuna).
        where = history_db.hide_password(url)
        raise DataError(f"storage: cannot keep studies in {where}: {error}") from None


def shared_storage(storage: str | Path | optuna.storages.BaseStorage | None) -> SharedStorage:
    """The storage the nodes of a cluster share for ``storage`` (as ``tune`` takes it): a server
    database as it is, a SQLite one replaced by a journal file beside it.

    Raises:
        ConfigError: an Optuna storage object that the nodes cannot reopen (pass its URL).
    """
    if isinstance(storage, optuna.storages.BaseStorage):
        if isinstance(storage, optuna.storages.RDBStorage) and not storage.url.startswith("sqlite"):
            return SharedStorage(url=storage.url)
        raise ConfigError(
            "storage: trials on a cluster need a storage every node can open: a database URL"
            " (postgresql://...) or a file path on a shared disk; got an optuna"
            f" {type(storage).__name__} object"
        )
    if storage is not None and history_db.is_url(storage):
        url = str(storage)
        if not url.startswith("sqlite"):
            return SharedStorage(url=url)
        return SharedStorage(journal=str(_journal_beside(Path(url.split("://", 1)[1][1:]))))
    if storage is not None and Path(storage).suffix == JOURNAL_SUFFIX:
        return SharedStorage(journal=str(Path(storage).expanduser().absolute()))
    with history.History(storage) as opened:
        if isinstance(opened.path, Path):
            return SharedStorage(journal=str(_journal_beside(opened.path)))
        return SharedStorage(url=opened.optuna_storage())


def _journal_beside(database: Path) -> Path:
    """``zen.db`` -> ``zen-studies.journal`` in the same folder."""
    database = database.expanduser().absolute()
    return database.with_name(f"{database.stem}-studies{JOURNAL_SUFFIX}")


@dataclass(frozen=True)
class StudySettings:
    """What every task needs to load the study with the same sampler and pruner.

    Attributes:
        study_name: the study, created by the caller before the tasks start.
        seed: the sampler seed of the first task (task ``i`` uses ``seed + i``, so the tasks'
            random start-up points differ).
        sampler_startup_trials, pruner_startup_trials, warmup_epochs: as
            :func:`~zen.orchestrator.tune.tune`.
        catch: exceptions that fail one trial and let the study go on.
        total_trials: trials the study may hold when the call ends (those it had plus the
            new ones): a task that Ray runs again after a lost node stops there.
        call_id: tags this call's trials (user attribute ``zen_tune_call``).
    """

    study_name: str
    seed: int
    sampler_startup_trials: int
    pruner_startup_trials: int
    warmup_epochs: int
    catch: tuple[type[Exception], ...] = ()
    total_trials: int | None = None
    call_id: str = ""


def make_sampler(seed: int, startup_trials: int) -> optuna.samplers.TPESampler:
    """The TPE sampler zen tunes with."""
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)


def make_pruner(startup_trials: int, warmup_epochs: int) -> optuna.pruners.MedianPruner:
    """The median pruner zen tunes with; ``n_warmup_steps`` counts reported steps, which start
    at epoch 1."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs + 1
    )


def resolve_cluster(cluster: str | None, parallel: int | None) -> str | None:
    """The Ray address to run trials on, ``None`` for this process (``cluster`` ``None`` or
    ``"local"``, as ``zen.collective.Cluster.resolve`` reads it); a :class:`ConfigError` names
    ``cluster`` or ``parallel`` when either is invalid."""
    if cluster is not None and (not isinstance(cluster, str) or not cluster.strip()):
        raise ConfigError(f"cluster: expected a Ray address or 'auto', got {cluster!r}")
    if parallel is not None and (
        isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1
    ):
        raise ConfigError(f"parallel: expected a positive number of tasks, got {parallel!r}")
    if cluster == "local":
        cluster = None
    if cluster is None and parallel not in (None, 1):
        raise ConfigError(
            f"parallel: {parallel} trials at once need a cluster; pass cluster='auto' (a running"
            " Ray, or $RAY_ADDRESS) or a Ray address"
        )
    return cluster


def run_on_cluster(
    objective: Objective,
    storage: SharedStorage,
    settings: StudySettings,
    *,
    n_trials: int,
    deadline: float | None,
    cluster: str,
    parallel: int | None,
) -> list[BaseException]:
    """Run ``n_trials`` trials of the study as ``parallel`` Ray tasks; wait for all of them.

    Args:
        objective: the trial function; it is shipped to the nodes (cloudpickle), with its data.
        storage, settings: where the study is and how the tasks load it.
        n_trials: trials in all, split evenly between the tasks.
        deadline: wall-clock time (``time.time()``) after which no task starts a trial.
        cluster: a Ray address, or ``"auto"`` ($RAY_ADDRESS, else a Ray running on this
            machine); an already connected Ray (``ray.init`` by the caller) is used as it is.
        parallel: tasks at once; ``None``: one per CPU of the cluster.

    Returns:
        The exceptions of ``settings.catch`` that failed trials, in no particular order.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"cluster: tuning on a cluster needs Ray; install it with {history_db.INSTALL_HINT}"
        ) from None
    connected_here = not ray.is_initialized()
    if connected_here:
        try:
            ray.init(address=cluster, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ConfigError(f"cluster: cannot connect to Ray at {cluster!r}: {error}") from None
    try:
        tasks = parallel or max(1, int(ray.cluster_resources().get("CPU", 1)))
        tasks = min(tasks, n_trials)
        shares = [n_trials // tasks + (index < n_trials % tasks) for index in range(tasks)]
        # SPREAD: parallel trials go to different machines first, not to one node's cores.
        remote = ray.remote(num_cpus=1, scheduling_strategy="SPREAD", max_retries=TASK_RETRIES)(
            run_trials
        )
        shipped = ray.put(objective)  # once, not once per task: it carries the data
        logger.info("tune: %d trials as %d Ray tasks %s", n_trials, tasks, shares)
        pending = [
            remote.remote(shipped, storage, settings, index, share, deadline)
            for index, share in enumerate(shares)
        ]
        caught = [error for errors in ray.get(pending) for error in errors]
    finally:
        if connected_here:
            ray.shutdown()
    fail_orphans(storage, settings)
    return caught


def fail_orphans(storage: SharedStorage, settings: StudySettings) -> list[int]:
    """Mark failed the trials of this call still running after all its tasks ended: their
    node died under them. Returns their numbers."""
    opened = storage.open()
    try:
        study = optuna.load_study(study_name=settings.study_name, storage=opened)
        orphans = [
            trial
            for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if trial.user_attrs.get(CALL_ATTR) == settings.call_id
        ]
        for trial in orphans:
            opened.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            logger.warning(
                "tune: trial %d was lost with node %s",
                trial.number,
                trial.user_attrs.get(NODE_ATTR),
            )
    finally:
        if isinstance(opened, optuna.storages.RDBStorage):
            opened.remove_session()
            opened.engine.dispose()
    return [trial.number for trial in orphans]


def run_trials(
    objective: Objective,
    storage: SharedStorage,
    settings: StudySettings,
    index: int,
    n_trials: int,
    deadline: float | None,
) -> list[BaseException]:
    """One task's share of the trials (runs on a node; see :func:`run_on_cluster`)."""
    import ray

    node, node_ip = ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()
    caught: list[BaseException] = []

    def on_node(trial: optuna.Trial) -> float:
        trial.set_user_attr(NODE_ATTR, node)
        trial.set_user_attr(NODE_IP_ATTR, node_ip)
        trial.set_user_attr(CALL_ATTR, settings.call_id)
        try:
            return objective(trial)
        except settings.catch as error:
            caught.append(error)
            raise

    timeout_s = None if deadline is None else deadline - time.time()
    if timeout_s is not None and timeout_s <= 0:
        return caught  # queued behind other work past the budget: start nothing
    opened = storage.open()
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(
            study_name=settings.study_name,
            storage=opened,
            sampler=make_sampler(settings.seed + index, settings.sampler_startup_trials),
            pruner=make_pruner(settings.pruner_startup_trials, settings.warmup_epochs),
        )
        callbacks = []
        if settings.total_trials is not None:
            if len(study.get_trials(deepcopy=False)) >= settings.total_trials:
                return caught  # a retry after a lost node, with nothing left to do
            # Every state counts: the trial a lost node left running is not run twice.
            callbacks.append(MaxTrialsCallback(settings.total_trials, states=None))
        study.optimize(
            on_node, n_trials=n_trials, timeout=timeout_s, catch=settings.catch,
            callbacks=callbacks,
        )  # fmt: skip
    finally:
        optuna.logging.set_verbosity(previous)
        if isinstance(opened, optuna.storages.RDBStorage):
            opened.remove_session()
            opened.engine.dispose()
    return caught
