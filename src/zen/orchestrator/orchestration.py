"""What every ``zen fit`` job shares: routed candidates, a workflow to train them, History rows.

A job (tables, time series, graphs) profiles its data, asks the router for candidates
(:func:`routed_candidates`), trains the ones it knows how to build as independent steps of a
:class:`~zen.orchestrator.workflow.Workflow` (:func:`train_candidates`), then ranks, ensembles
and reports in the calling process. The whole job is one *parent* run in History
(:func:`parent_run`) and each candidate a *child* run, recorded by the step itself
(:func:`candidate_run`) so that its duration is its own training time, wherever it runs.

Candidate steps save their fitted model to a scratch directory and return plain data (scores,
forecasts, learning-curve records and that directory) instead of the model object: a
:class:`~zen.neural.Trainer` may hold callbacks and progress bars that do not pickle, and a
saved model is what the run directory keeps anyway. A candidate that fails is caught in its
step and comes back as ``{"model": name, "error": ...}`` (its child run is marked failed), so
the other candidates and the rest of the job still finish.

Three workflow features carry over to every job:

* **Retries:** a candidate that raises anything but a :class:`~zen.errors.ZenError` (a worker
  killed for memory, a full disk, a flaky file system) is tried once more after a backoff; a
  ``ZenError`` (bad settings or data) would fail again the same way, so its step returns the
  failure at once.
* **Resume:** the candidates' models and the workflow's cache live in a scratch directory
  named by the job's content key (:func:`job_key`: the data's digest and every setting) under
  ``$ZEN_HOME/cache/fit/``. It is removed when the job succeeds and kept when it fails or is
  interrupted, so running the same command again loads the candidates that had finished.
* **Budget:** the whole training gets the job's budget (plus a grace period for the last
  epoch): candidates not started when it runs out are skipped, and the job goes on with the
  best of what finished.

With ``policy="ab"`` the routing policy is drawn per run between :data:`AB_POLICIES`
(:func:`~zen.orchestrator.ab_test.assignment`, recorded as drawn), and every job records its
router's ``regret`` (relative score of its first choice among the trained candidates, minus 1)
so that ``zen router compare --metric regret`` can tell the policies apart.

Everything random about routing is seeded by the run, not by the training seed: the A/B draw and
Thompson sampling's posterior draw (:func:`exploration_seed`) hash the run's *key*, which is
the run id of the job's first attempt, kept in its resume directory (:func:`run_key`). So two
runs with the same ``--seed`` explore differently, and a run resumed after a crash keeps its
policy and its draw. Each run records the device its models trained on (:func:`trained_device`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError, expect_one_of
from zen.orchestrator.ab_test import (
    ARMS_KEY,
    POLICY_KEY,
    RANDOMISED_KEY,
    assign_policy,
    assignment,
)
from zen.orchestrator.executors import (
    Executor,
    InlineExecutor,
    LocalProcessExecutor,
    current_executor_factory,
    usable_cores,
)
from zen.orchestrator.history import ActiveRun, History, zen_home
from zen.orchestrator.locations import Location, is_url
from zen.orchestrator.meta_learning import relative_scores
from zen.orchestrator.router import POLICIES, Candidate, route
from zen.orchestrator.shipping import shipped_step, step_reference, unpack_model
from zen.orchestrator.workflow import (
    Step,
    StepResult,
    StepStatus,
    Workflow,
    fingerprint,
    run_workflow,
)
from zen.profile import TaskProfile

logger = logging.getLogger(__name__)

#: Candidates a job trains at most (the router's best ones that the job can build).
MAX_CANDIDATES = 3
#: Data larger than this is trained in this process: sending it to each worker would cost
#: more than the parallelism saves.
MAX_PICKLED_BYTES = 64 * 2**20
#: Name of the parent run of a ``zen fit`` job in History.
PARENT_MODEL = "zen fit"
#: The policies ``policy="ab"`` draws between, one per run.
AB_POLICIES = ("rules", "learned")
#: Extra attempts for a candidate that failed with an unexpected error, and the first backoff.
CANDIDATE_RETRIES = 1
RETRY_BACKOFF_S = 2.0
#: The workflow's hard stop is the job's budget plus this share of it (at least
#: :data:`MIN_GRACE_S`): candidates stop themselves at the budget (TimeLimit) and need a moment
#: to finish their last epoch, score and save.
BUDGET_GRACE = 0.25
MIN_GRACE_S = 30.0
#: Resume caches of jobs that were never re-run are removed after this long.
STALE_CACHE_S = 7 * 24 * 3600.0
#: Where unfinished jobs keep their candidates, under ``$ZEN_HOME``.
RESUME_DIR = Path("cache") / "fit"
#: Environment variable naming another folder for resume caches (shared by a cluster's nodes).
FIT_CACHE_ENV = "ZEN_FIT_CACHE"
#: What an executor may note about a candidate's attempt that History keeps with its run.
RUN_NOTES = ("predicted_s", "predicted_peak_mib", "peak_mib")
#: The file in a job's scratch directory that keeps the run key of its first attempt.
RUN_KEY_FILE = "run-key"
#: What a run key looks like (a run id such as ``20261125-013501-3fa2``); anything else in
#: :data:`RUN_KEY_FILE` is ignored.
_RUN_KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,63}")


def choose_policy(policy: str, run_key: str, seed: int = 0) -> str:
    """The routing policy of one run: ``policy`` itself, or for ``"ab"`` a random draw between
    :data:`AB_POLICIES` (repeatable for the same ``run_key`` and ``seed``)."""
    if policy == "ab":
        return assign_policy(run_key, AB_POLICIES, seed)
    if policy not in POLICIES:
        raise expect_one_of("policy", policy, (*POLICIES, "ab"))
    return policy


def routing_record(policy: str, run_key: str, seed: int = 0) -> dict[str, Any]:
    """What a run records about its routing: the policy it is routed by (:data:`POLICY_KEY`)
    and whether that policy was drawn at random (:data:`RANDOMISED_KEY`, with the arms under
    :data:`ARMS_KEY` for ``"ab"``), for :func:`~zen.orchestrator.ab_test.compare_policies`.

    >>> routing_record("rules", "run-1")
    {'router_policy': 'rules', 'ab_test': False}
    """
    if policy == "ab":
        return assignment(run_key, AB_POLICIES, seed)
    return {POLICY_KEY: choose_policy(policy, run_key, seed), RANDOMISED_KEY: False}


def exploration_seed(run_key: str) -> int:
    """The seed of a run's exploration (Thompson sampling's posterior draw), from its key.

    Seeding from the training seed would give every run with the same ``--seed`` the same draw
    (the same candidates would be "explored" on every task); hashing the run key gives each run
    its own, and the same one again when a crashed run is resumed. Below 2**32, so that it also
    suits scikit-learn's ``random_state``.

    >>> exploration_seed("20261125-013501-3fa2") == exploration_seed("20261125-013501-3fa2")
    True
    """
    digest = hashlib.sha256(f"explore\x00{run_key}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def run_key(state: Path | Location, run_id: str) -> str:
    """The key that seeds a run's random routing: the run id of the job's first attempt.

    The first attempt writes its ``run_id`` to ``state`` (the job's resume folder,
    :attr:`Scratch.state`); a resumed attempt finds it there and reuses it, so it keeps its
    A/B policy and its exploration draw. A fresh folder means a fresh key.
    """
    folder = state if isinstance(state, Location) else Location(state)
    try:
        found = (folder.read_bytes(RUN_KEY_FILE) or b"").decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        found = ""
    if _RUN_KEY.fullmatch(found):
        return found
    folder.write_bytes(RUN_KEY_FILE, run_id.encode("utf-8"))
    return run_id


def trained_device(network: Any) -> str:
    """The device a trained network's parameters are on (``"cpu"``, ``"cuda:0"``, ``"mps:0"``):
    the device it really trained on, since the Trainer moves the model there in place.

    ``network`` is a ``torch.nn.Module``; ``None`` or a module without parameters or buffers
    (a statistical baseline) computed on the CPU.

    >>> import torch
    >>> trained_device(torch.nn.Linear(2, 1, device="meta"))
    'meta'
    """
    tensors = (
        itertools.chain(network.parameters(), network.buffers())
        if callable(getattr(network, "parameters", None))
        else iter(())
    )
    first = next(tensors, None)
    return "cpu" if first is None else str(first.device)


def combined_device(devices: Iterable[str | None]) -> str | None:
    """One device for a job from its candidates' devices: the device when they share one,
    else the distinct ones joined by ``", "`` (``"cpu, cuda:0"``: baselines on the CPU next to
    networks on a GPU); ``None`` when none is known."""
    distinct = sorted({device for device in devices if device})
    return ", ".join(distinct) or None


def router_regret(
    candidates: list[Candidate], scores: Mapping[str, float], metric: str
) -> float | None:
    """Relative score of the router's first choice among the trained candidates, minus 1.

    ``scores`` holds each trained candidate's ``metric`` (a name known to
    :data:`~zen.orchestrator.meta_learning.METRIC_LOWER_IS_BETTER`). None when the first
    choice has no score (it failed) or fewer than two candidates were scored.
    """
    usable = {name: value for name, value in scores.items() if np.isfinite(value)}
    first = candidates[0].name if candidates else None
    if first not in usable or len(usable) < 2:
        return None
    return relative_scores(usable, metric)[first] - 1.0


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes and values (pandas' row hashes, index included)."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def job_key(**parts: Any) -> str:
    """The content key of a job: equal for the same data and settings, whatever the run id.

    DataFrames count by :func:`frame_digest`, everything else by
    :func:`~zen.orchestrator.workflow.fingerprint`.
    """
    encoded = {
        name: frame_digest(value) if isinstance(value, pd.DataFrame) else fingerprint(value, name)
        for name, value in parts.items()
    }
    return fingerprint(encoded, "job")


def resume_root() -> str | Path:
    """Where unfinished jobs keep their candidates: ``$ZEN_FIT_CACHE`` when set (a folder or
    an fsspec URL), else ``$ZEN_HOME/cache/fit``.

    On a cluster, point ``ZEN_FIT_CACHE`` at a folder every node mounts (NFS, a shared disk) or
    at a URL every node reaches (``s3://bucket/zen-fit``, with ``s3fs`` installed): candidates'
    outcomes and models are cached there, and a job resumed from another machine finds the
    finished ones.
    """
    shared = os.environ.get(FIT_CACHE_ENV)
    if shared and is_url(shared):
        return shared.rstrip("/")
    return Path(shared).expanduser() if shared else zen_home() / RESUME_DIR


@dataclass(frozen=True)
class Scratch:
    """A job's working folders (see :func:`scratch_directory`).

    Attributes:
        models: a local folder where the candidates' models are unpacked.
        state: where the workflow caches the candidates' outcomes (models included) and the
            run key is kept: ``models`` itself, or a folder at ``$ZEN_FIT_CACHE``'s URL.
    """

    models: Path
    state: Location


@contextmanager
def scratch_directory(key: str | None, *, resume: bool = True) -> Iterator[Scratch]:
    """Where a job's candidates save their models and the workflow caches their outcomes.

    With a ``key`` and ``resume``, the folder is ``<resume_root()>/<key>``: kept when the block
    fails or is interrupted, so that the same job run again finds the finished candidates;
    removed when it succeeds. ``resume=False`` starts such a folder afresh. Without a key, a
    temporary folder, always removed. When the resume root is a URL, the models go to a local
    temporary folder and only the cached outcomes (which hold them) to the URL; runs of the same
    job at the same time are then not kept apart (no lock on a URL), which is harmless: their
    cached outcomes are the same.
    """
    root = resume_root()
    if key is None or not resume:
        if key is not None:
            Location(root, FIT_CACHE_ENV).child(key[:32]).remove()
        folder = Path(tempfile.mkdtemp(prefix="zen-candidates-"))
        try:
            yield Scratch(folder, Location(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if isinstance(root, str):  # a URL
        state = Location(root, FIT_CACHE_ENV).child(key[:32])
        if state.exists():
            logger.info("resuming from %s (an earlier run of this job did not finish)", state.url)
        with scratch_directory(None) as local:
            yield Scratch(local.models, state)
        state.remove()
        return
    _remove_stale(root)
    folder = root / key[:32]
    resuming = folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder / ".lock") as locked:
        if not locked:  # the same job runs in another process: do not share its models
            logger.info("%s is in use by another run of this job; not resuming", folder)
            with scratch_directory(None) as temporary:
                yield temporary
            return
        if resuming:
            logger.info("resuming from %s (an earlier run of this job did not finish)", folder)
        yield Scratch(folder, Location(folder))  # an exception leaves the folder for next time
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """An advisory lock on ``path`` for the block: True when this process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, as before resuming existed
        yield True
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_stale(root: Path) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - STALE_CACHE_S
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # another process removed it first
            continue


def routed_candidates(
    profile: TaskProfile,
    budget_s: float,
    known: Collection[str],
    *,
    policy: str = "learned",
    limit: int | None = None,
    seed: int = 0,
    floor: Collection[str] = (),
) -> list[Candidate]:
    """The router's ranked candidates for ``profile`` that the job can train (``known``).

    The router learns from every finished run in History (``$ZEN_HOME/zen.db``).

    Args:
        limit: how many to keep; None: :data:`MAX_CANDIDATES` (read at the call, so that a
            benchmark can train more).
        seed: the router's seed: a run's :func:`exploration_seed`, not its training seed.
        floor: cheap reference models (statistical baselines): when none of the kept ones is
            among them, the best-ranked of them replaces the last kept one, so that every
            leaderboard shows what a learned model has to beat.

    Raises:
        DataError: the router proposes none of ``known`` (a router and a job out of step).
    """
    with History() as history:
        ranked = route(profile, budget_s, history, policy=policy, seed=seed)
    usable = [candidate for candidate in ranked if candidate.name in known]
    if limit is None:
        limit = MAX_CANDIDATES
    chosen = usable[:limit]
    if not chosen:
        raise DataError(
            f"profile: the router proposed {[c.name for c in ranked]} for a {profile.family}"
            f" task, and this job trains only {sorted(known)}"
        )
    references = [candidate for candidate in usable if candidate.name in floor]
    if references and limit > 1 and not any(c.name in floor for c in chosen):
        chosen = chosen[: limit - 1] + references[:1]
    return chosen


def choose_executor(workers: int | None, n_steps: int, data_bytes: int) -> Executor:
    """Worker processes when more than one core helps and the data pickles cheaply, else inline.

    Args:
        workers: processes to use; None: the usable cores, at most one per step.
        n_steps: candidate steps to run.
        data_bytes: approximate size of what each step receives.

    Inside :func:`~zen.orchestrator.executors.executor_factory` (a cluster), that factory's
    executor is used whatever the size of the data: the cluster's object store carries it.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
    factory = current_executor_factory()
    if factory is not None:
        return factory(n_steps)
    wanted = min(usable_cores(), n_steps) if workers is None else min(workers, n_steps)
    if wanted <= 1:
        return InlineExecutor()
    if data_bytes > MAX_PICKLED_BYTES:
        logger.info(
            "training candidates in this process: %.0f MB of data is too large to send to workers",
            data_bytes / 2**20,
        )
        return InlineExecutor()
    # Each worker gets cores // workers threads (LocalProcessExecutor), so they do not
    # oversubscribe the machine.
    return LocalProcessExecutor(max_workers=wanted)


def train_candidates(
    fn: Callable[..., dict[str, Any]],
    task: Mapping[str, Any],
    candidates: list[Candidate],
    *,
    parent_id: int,
    scratch: Path,
    workers: int | None,
    data_bytes: int,
    hyperparameters: Mapping[str, Mapping[str, Any]] | None = None,
    budget_s: float | None = None,
    task_key: str | None = None,
    state: Location | None = None,
) -> list[dict[str, Any]]:
    """Train every candidate as an independent workflow step; their outcomes in ``candidates``
    order.

    Each step calls ``fn(task, name=..., options=..., parent_id=..., model_dir=...)``; ``fn``
    must be a module-level function (worker processes import it) that returns a dict with at
    least ``model`` and either its scores or ``error``. It should catch :class:`ZenError` itself
    (returning :func:`failed`) and let other exceptions through, which are retried.

    Args:
        budget_s: the job's training budget; the workflow stops at it plus a grace period and
            skips the candidates it could not start (their outcome says so).
        task_key: the task's content key (:func:`job_key`); with it, outcomes are cached in
            ``state`` (default: ``scratch``) and a re-run with the same key loads the finished
            ones (their outcome has ``"resumed": True``).
        state: where outcomes are cached (:attr:`Scratch.state`); the models themselves are
            unpacked into ``scratch/<candidate>``.
    """
    flow = Workflow(inputs=["task"])
    reference = step_reference(fn)
    for candidate in candidates:
        options = dict(candidate.options)
        options.update((hyperparameters or {}).get(candidate.name, {}))
        flow.add(
            Step(
                name=candidate.name,
                # Wherever the step runs, its model comes back inside its outcome (and so
                # inside the cache), then is unpacked into scratch below.
                fn=shipped_step,
                needs=("task",),
                params={
                    "step": reference,
                    "name": candidate.name,
                    "options": options,
                    "parent_id": parent_id,
                },
                retries=CANDIDATE_RETRIES,
                backoff_s=RETRY_BACKOFF_S,
                # A resumed job records its new candidates under a new parent run.
                uncached_params=("parent_id",),
            )
        )
    executor = choose_executor(workers, len(candidates), data_bytes)
    logger.info("training %d candidate(s) with %r", len(candidates), executor)
    steps = (state or Location(scratch)).child("steps")
    hard_stop = None if budget_s is None else budget_s + max(MIN_GRACE_S, BUDGET_GRACE * budget_s)
    shown = dict(task)
    board: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if task.get("progress") and not isinstance(executor, InlineExecutor):
        # Progress bars from several worker processes would interleave on one terminal: the
        # workers train quietly and this process shows one line per candidate instead.
        shown["progress"] = False
        names = [candidate.name for candidate in candidates]
        board = CandidateProgress(names, poll=getattr(executor, "progress", None))
    try:
        with board as on_event:
            result = run_workflow(
                flow,
                inputs={"task": shown},
                executor=executor,
                cache_dir=None if task_key is None else steps.url,
                budget_s=hard_stop,
                on_event=on_event,
                input_keys=None if task_key is None else {"task": task_key},
            )
    finally:
        executor.shutdown()
    record_placement(parent_id, [result[candidate.name] for candidate in candidates])
    outcomes = []
    for candidate in candidates:
        step = result[candidate.name]
        output = step.output
        if output is None:  # the step failed after its retries, or the budget stopped it
            error = step.error or str(step.status)
            if step.attempts > 1:
                error = f"{error} (after {step.attempts} attempts)"
            logger.warning("candidate %s: %s", candidate.name, error)
            output = {"model": candidate.name, "error": error}
        else:
            output = unpack_model(output, scratch / candidate.name)
            if step.status is StepStatus.CACHED:
                output = {**output, "resumed": True}
        outcomes.append({**output, "reason": candidate.reason})
    return outcomes


def record_placement(parent_id: int, steps: Iterable[StepResult]) -> None:
    """Note in History where each candidate that ran trained (``node``) and in how many
    attempts: a cluster's node id, else this machine's name; resumed candidates keep theirs."""
    ran = {
        step.name: step for step in steps if step.status is not StepStatus.CACHED and step.attempts
    }
    if not ran:
        return
    here = socket.gethostname()
    with History() as history:
        for name, step in ran.items():
            children = [
                run for run in history.runs(model=name, limit=20) if run.parent_id == parent_id
            ]
            if children:
                notes = {key: step.notes[key] for key in RUN_NOTES if key in step.notes}
                history.annotate_run(
                    children[0].id, node=step.node or here, attempts=step.attempts, **notes
                )


class CandidateProgress:
    """One line per candidate (waiting, running, retrying, done, failed...) with its elapsed
    time, on stderr; the ``on_event`` of :func:`~zen.orchestrator.workflow.run_workflow`.

    Args:
        names: the candidates, in the order shown.
        poll: ``() -> {name: progress}`` for the running ones (a cluster executor's
            ``progress``, read from the event bus); polled every ``every_s`` seconds in a
            thread, and shown next to their status (:func:`progress_text`).
    """

    def __init__(
        self,
        names: list[str],
        poll: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        every_s: float = 1.0,
    ) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._rows = {
            name: self._progress.add_task(name, total=1, status="waiting", start=False)
            for name in names
        }
        self._running: set[str] = set()
        self._poll, self._every_s = poll, every_s
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    def __enter__(self) -> CandidateProgress:
        self._progress.start()
        if self._poll is not None:
            self._follower = threading.Thread(target=self._follow, daemon=True,
                                              name="zen-candidate-progress")  # fmt: skip
            self._follower.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=5)
        self._progress.stop()

    def __call__(self, name: str, status: StepStatus) -> None:
        row = self._rows.get(name)
        if row is None:
            return
        if status is StepStatus.RUNNING:
            self._progress.start_task(row)
            self._running.add(name)
        else:
            self._running.discard(name)
        finished = status not in (StepStatus.RUNNING, StepStatus.RETRYING)
        colour = {StepStatus.DONE: "green", StepStatus.CACHED: "green",
                  StepStatus.FAILED: "red"}.get(status, "yellow")  # fmt: skip
        self._progress.update(row, status=f"[{colour}]{status}[/]",
                              completed=1 if finished else 0)  # fmt: skip
        if finished:
            self._progress.stop_task(row)

    def refresh(self) -> None:
        """Show the newest progress of the running candidates (what the thread does)."""
        if self._poll is None:
            return
        try:
            seen = self._poll()
        except Exception as error:  # a bus restarting: the next poll may work
            logger.debug("candidate progress: %s", error)
            return
        for name, entry in seen.items():
            if name in self._running and name in self._rows:
                text = progress_text(entry)
                self._progress.update(self._rows[name], status=f"[yellow]running[/] {text}")

    def _follow(self) -> None:
        while not self._stop.wait(self._every_s):
            self.refresh()


def progress_text(entry: Mapping[str, Any]) -> str:
    """A running step's progress in a few words.

    >>> progress_text({"epoch": 12, "val_loss": 0.31234, "node": "8d1f0c2e" * 7})
    'epoch 12 · val_loss 0.3123 · node 8d1f0c2e'
    """
    parts = []
    if "epoch" in entry:
        parts.append(f"epoch {entry['epoch']}")
    for key in ("val_loss", "train_loss"):
        if key in entry:
            parts.append(f"{key} {entry[key]:.4g}")
            break
    if entry.get("node"):
        parts.append(f"node {str(entry['node'])[:8]}")
    return " · ".join(parts)


@dataclass
class Job:
    """What a running ``zen fit`` job knows besides its data (see :func:`start_job`).

    Attributes:
        run_id, run_dir: the run's id and the directory its results go to (not created yet).
        run_key: the key that seeded the run's A/B draw and exploration (:func:`run_key`):
            ``run_id``, or the first attempt's when the job resumes.
        policy: the routing policy this run used (drawn at random under ``"ab"``).
        ab_test: whether ``policy`` was drawn for an A/B test.
        candidates: the router's candidates the job trains, best first.
        key: the job's content key (data and settings, not the router's choice).
        scratch: the local folder where the candidates' models are (one folder each).
        state: where the workflow caches the candidates' outcomes (:class:`Scratch`).
        run: the parent run in History.
    """

    run_id: str
    run_dir: Path
    policy: str
    ab_test: bool
    candidates: list[Candidate]
    key: str
    scratch: Path
    state: Location
    run: ActiveRun
    run_key: str = ""

    def record_devices(self, outcomes: Iterable[Mapping[str, Any]]) -> str | None:
        """Store the devices the candidates trained on in the parent run (:func:`combined_device`
        of the outcomes' ``device``)."""
        self.run.device = combined_device(outcome.get("device") for outcome in outcomes)
        return self.run.device

    def record_regret(self, scores: Mapping[str, float], metric: str) -> float | None:
        """Store the router's regret on this task in the parent run (see :func:`router_regret`)."""
        regret = router_regret(self.candidates, scores, metric)
        if regret is not None:
            self.run.metrics["regret"] = regret
        return regret

    def extra(self, regret: float | None) -> dict[str, Any]:
        """The routing facts every run result and report carries."""
        return {"policy": self.policy, "ab_test": self.ab_test, "regret": regret}


@contextmanager
def start_job(
    profile: TaskProfile,
    known: Collection[str],
    *,
    budget_s: float,
    policy: str,
    seed: int,
    source: str,
    runs_dir: str | Path,
    settings: Mapping[str, Any],
    key_parts: Mapping[str, Any],
    resume: bool,
    tune: bool,
    floor: Collection[str] = (),
) -> Iterator[Job]:
    """Route ``profile``, open the scratch directory and the parent run: the start every job shares.

    Args:
        known: the candidates the job can build.
        settings: recorded with the parent run (the chosen candidates are added).
        key_parts: the data and settings that make the job's content key (:func:`job_key`);
            the router's choice is not part of it: the router learns from a crashed run's
            finished candidates and may reorder them, and each candidate step is cached on its
            own anyway.
        resume: reuse an unfinished earlier run's candidates, and its run key (:func:`run_key`),
            so that its A/B policy and exploration draw stay the same; off with ``tune``
            (tuning draws new hyperparameters, so the steps would not match).
        floor: see :func:`routed_candidates`.
    """
    from zen.reports import new_run_id

    run_id = new_run_id()
    key = job_key(**key_parts)
    with scratch_directory(key, resume=resume and not tune) as scratch:
        drawn_by = run_key(scratch.state, run_id)
        routing = routing_record(policy, drawn_by, seed)
        chosen_policy = routing[POLICY_KEY]
        explore_seed = exploration_seed(drawn_by)
        candidates = routed_candidates(
            profile, budget_s, known, policy=chosen_policy, seed=explore_seed, floor=floor
        )
        recorded = {**settings, "candidates": [candidate.name for candidate in candidates]}
        if chosen_policy == "thompson":  # what reproduces the draw
            recorded["explore_seed"] = explore_seed
        with parent_run(
            profile,
            seed=seed,
            data=source,
            policy=chosen_policy,
            settings=recorded,
            ab_test=routing[RANDOMISED_KEY],
            arms=routing.get(ARMS_KEY),
        ) as run:
            yield Job(
                run_id=run_id,
                run_dir=Path(runs_dir) / run_id,
                policy=chosen_policy,
                ab_test=routing[RANDOMISED_KEY],
                candidates=candidates,
                key=key,
                scratch=scratch.models,
                state=scratch.state,
                run=run,
                run_key=drawn_by,
            )


@contextmanager
def parent_run(
    profile: TaskProfile,
    *,
    seed: int,
    data: str,
    policy: str,
    settings: Mapping[str, Any],
    ab_test: bool = False,
    arms: Sequence[str] | None = None,
) -> Iterator[ActiveRun]:
    """The History run of a whole ``zen fit`` job: done, failed or interrupted with it.

    ``policy`` is the routing policy the run used; ``ab_test`` marks it as drawn at random,
    between ``arms``. Set ``run.device`` (:meth:`Job.record_devices`) once candidates trained.
    """
    routing = {POLICY_KEY: policy, RANDOMISED_KEY: ab_test}
    if ab_test and arms is not None:
        routing[ARMS_KEY] = list(arms)
    with (
        History() as history,
        history.record(
            profile.family,
            PARENT_MODEL,
            {**routing, **settings},
            profile=profile,
            seed=seed,
            data=data,
        ) as run,
    ):
        # The run's life on the event log too (zen cluster status, the collective's bus read
        # it): History has the run itself; these say when it started and how it ended.
        history.record_event(
            "run_started", {"family": profile.family, "data": data, "policy": policy}, run_id=run.id
        )
        try:
            yield run
        except BaseException as error:
            history.record_event(
                "run_failed", {"error": f"{type(error).__name__}: {error}"}, run_id=run.id
            )
            raise
        history.record_event("run_finished", {"metrics": dict(run.metrics)}, run_id=run.id)


@contextmanager
def candidate_run(
    task: Mapping[str, Any], name: str, hyperparameters: Mapping[str, Any], parent_id: int
) -> Iterator[ActiveRun]:
    """The History run of one candidate (a child of ``parent_id``); use inside a step, and set
    ``run.device`` to :func:`trained_device` of the network once it trained."""
    with (
        History() as history,
        history.record(
            task["family"],
            name,
            hyperparameters,
            profile=task["profile"],
            seed=task["seed"],
            data=task["source"],
            parent=parent_id,
        ) as run,
    ):
        yield run


def failed(name: str, error: BaseException) -> dict[str, Any]:
    """A candidate step's outcome when training it raised."""
    logger.warning("candidate %s failed: %s: %s", name, type(error).__name__, error)
    return {"model": name, "error": f"{type(error).__name__}: {error}"}


def succeeded(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outcomes without an error; a DataError when every candidate failed."""
    good = [outcome for outcome in outcomes if "error" not in outcome]
    if not good:
        errors = [str(outcome["error"]) for outcome in outcomes]
        if all(error.startswith("ConfigError: ") for error in errors):
            # The user's settings, the same for every candidate: say it once, as it was said.
            raise ConfigError(errors[0].removeprefix("ConfigError: "))
        joined = "; ".join(f"{o['model']}: {o['error']}" for o in outcomes)
        raise DataError(f"data: every candidate failed to train ({joined})")
    return good


def routing_report(result: Any) -> dict[str, Any]:
    """The report entries every job writes: how the task was read, routed and decided.

    ``result`` is a job's run result (it has ``profile``, ``extra``, ``candidates``,
    ``leaderboard``, ``failed``, ``best_model``, ``tuning`` and ``history_id``).
    """
    import zen

    return {
        "run_id": result.run_id,
        "zen_version": zen.__version__,
        "task": result.profile.to_json(),
        "profile_explain": [list(line) for line in result.profile.explain()],
        "router_policy": result.extra.get("policy"),
        "ab_test": result.extra.get("ab_test", False),
        "router_regret": result.extra.get("regret"),
        "candidates": result.candidates,
        "leaderboard": result.leaderboard,
        "failed_candidates": result.failed,
        "best_model": result.best_model,
        "tuning": result.tuning,
        "history_run_id": result.history_id,
    }
