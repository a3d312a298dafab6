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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zen.errors import ConfigError, DataError
from zen.orchestrator.executors import (
    Executor,
    InlineExecutor,
    LocalProcessExecutor,
    usable_cores,
)
from zen.orchestrator.history import ActiveRun, History
from zen.orchestrator.profile import TaskProfile
from zen.orchestrator.router import POLICY_KEY, Candidate, route
from zen.orchestrator.workflow import Step, Workflow, run_workflow

logger = logging.getLogger(__name__)

#: Candidates a job trains at most (the router's best ones that the job can build).
MAX_CANDIDATES = 3
#: Data larger than this is trained in this process: sending it to each worker would cost
#: more than the parallelism saves.
MAX_PICKLED_BYTES = 64 * 2**20
#: Name of the parent run of a ``zen fit`` job in History.
PARENT_MODEL = "zen fit"


def routed_candidates(
    profile: TaskProfile,
    budget_s: float,
    known: Collection[str],
    *,
    policy: str = "learned",
    limit: int = MAX_CANDIDATES,
    seed: int = 0,
) -> list[Candidate]:
    """The router's ranked candidates for ``profile`` that the job can train (``known``).

    The router learns from every finished run in History (``$ZEN_HOME/zen.db``).

    Raises:
        DataError: the router proposes none of ``known`` (a router and a job out of step).
    """
    with History() as history:
        ranked = route(profile, budget_s, history, policy=policy, seed=seed)
    chosen = [candidate for candidate in ranked if candidate.name in known][:limit]
    if not chosen:
        raise DataError(
            f"profile: the router proposed {[c.name for c in ranked]} for a {profile.family}"
            f" task, and this job trains only {sorted(known)}"
        )
    return chosen


def choose_executor(workers: int | None, n_steps: int, data_bytes: int) -> Executor:
    """Worker processes when more than one core helps and the data pickles cheaply, else inline.

    Args:
        workers: processes to use; None: the usable cores, at most one per step.
        n_steps: candidate steps to run.
        data_bytes: approximate size of what each step receives.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"workers: expected a positive integer, got {workers!r}")
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
) -> list[dict[str, Any]]:
    """Train every candidate as an independent workflow step; their outcomes in ``candidates``
    order.

    Each step calls ``fn(task, name=..., options=..., parent_id=..., model_dir=...)``; ``fn``
    must be a module-level function (worker processes import it) that returns a dict with at
    least ``model`` and either its scores or ``error``.
    """
    flow = Workflow(inputs=["task"])
    for candidate in candidates:
        options = dict(candidate.options)
        options.update((hyperparameters or {}).get(candidate.name, {}))
        flow.add(
            Step(
                name=candidate.name,
                fn=fn,
                needs=("task",),
                params={
                    "name": candidate.name,
                    "options": options,
                    "parent_id": parent_id,
                    "model_dir": str(scratch / candidate.name),
                },
            )
        )
    executor = choose_executor(workers, len(candidates), data_bytes)
    logger.info("training %d candidate(s) with %r", len(candidates), executor)
    try:
        result = run_workflow(flow, inputs={"task": dict(task)}, executor=executor)
    finally:
        executor.shutdown()
    outcomes = []
    for candidate in candidates:
        step = result[candidate.name]
        output = step.output
        if output is None:  # the step itself failed (e.g. a worker died)
            output = {"model": candidate.name, "error": step.error or str(step.status)}
        outcomes.append({**output, "reason": candidate.reason})
    return outcomes


@contextmanager
def parent_run(
    profile: TaskProfile, *, seed: int, data: str, policy: str, settings: Mapping[str, Any]
) -> Iterator[ActiveRun]:
    """The History run of a whole ``zen fit`` job: done, failed or interrupted with it."""
    with (
        History() as history,
        history.record(
            profile.family,
            PARENT_MODEL,
            {POLICY_KEY: policy, **settings},
            profile=profile,
            seed=seed,
            data=data,
        ) as run,
    ):
        yield run


@contextmanager
def candidate_run(
    task: Mapping[str, Any], name: str, hyperparameters: Mapping[str, Any], parent_id: int
) -> Iterator[ActiveRun]:
    """The History run of one candidate (a child of ``parent_id``); use inside a step."""
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
