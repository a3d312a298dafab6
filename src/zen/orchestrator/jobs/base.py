"""The skeleton every ``zen fit`` job shares, written once: :func:`run_job`.

A job routes its task to candidates, tunes the first one when asked, trains them all as
workflow steps within the budget, ranks them, records the outcome in History and writes the
run folder, every file at once. What differs between tables, time series and graphs is a
:class:`CandidateJob`: its step function, what the step gets, how to rank, what to save and
what to report (:mod:`zen.orchestrator.jobs.tabular`, ``.forecast``, ``.graph``).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zen import registry
from zen.neural.checkpoint import atomic_directory, write_json
from zen.orchestrator.orchestration import (
    Job,
    routing_report,
    start_job,
    succeeded,
    train_candidates,
)
from zen.orchestrator.router import Candidate
from zen.profile import TaskProfile
from zen.reports import HTML_FILE, MODEL_DIR, REPORT_FILE, write_html_report

if TYPE_CHECKING:
    from zen.orchestrator.tune import TuneResult

logger = logging.getLogger(__name__)


@dataclass(kw_only=True)
class RunOutcome:
    """What every ``zen fit`` run result holds, whatever the data's kind.

    Attributes:
        run_id, run_dir: the run's id and folder (``runs/<id>/`` with ``model/`` and
            ``report.json``).
        profile: the detected task and why.
        extra: the router's facts (policy, regret...) and notes of the job.
        candidates, failed: the router's candidates with reasons; those whose training raised.
        history_id: the run's id in History (``zen history show ID``).
        tuning: what ``--tune`` found, when asked.
    """

    run_id: str
    run_dir: Path
    profile: TaskProfile
    extra: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    history_id: int | None = None
    tuning: dict[str, Any] | None = None

    @property
    def model_dir(self) -> Path:
        """Where the winning model is saved."""
        return self.run_dir / MODEL_DIR


@dataclass
class Ranking:
    """How a job ranked its trained candidates.

    Attributes:
        leaderboard: the rows, best first (the job decides what a row holds).
        best: the winner's row.
        scores: what the parent run records in History (the winner's reported scores).
        regret_scores: each candidate's score for the router's regret, in ``regret_metric``.
    """

    leaderboard: list[dict[str, Any]]
    best: dict[str, Any]
    scores: Mapping[str, float]
    regret_scores: Mapping[str, float]
    regret_metric: str


@dataclass
class Trained:
    """What :func:`run_job` hands a job's :meth:`CandidateJob.conclude`.

    Attributes:
        job: the running job (ids, scratch folder, parent run, routing facts).
        candidates: the router's candidates, best first.
        outcomes: every candidate's outcome (rows, and ``error`` for the failed ones).
        ranking: the job's ranking of the successful ones.
        tuning: what ``--tune`` found, when asked.
        tuned: the tuned options by candidate.
        regret: the router's regret on this task (None when it cannot be told).
        started: ``time.perf_counter()`` when training began (tuning included).
    """

    job: Job
    candidates: list[Candidate]
    outcomes: list[dict[str, Any]]
    ranking: Ranking
    tuning: dict[str, Any] | None
    tuned: dict[str, dict[str, Any]]
    regret: float | None
    started: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [outcome for outcome in self.outcomes if "error" in outcome]


class CandidateJob(ABC):
    """One kind of ``zen fit`` job: what differs between tables, series and graphs.

    Attributes:
        kind: the registry kind of its candidates (:data:`zen.registry.KINDS`).
        profile: the task's profile, which the router reads.
        source: what the data were, for History and the report.
        settings: recorded with the parent run.
        key_parts: the data and settings that name the job's resume cache.
        floor: candidates of which at least one is always trained (baselines).
    """

    kind: str
    #: The workflow step that trains one candidate: a module-level function
    #: ``step(task, *, name, options, parent_id, model_dir) -> row`` (worker processes import it).
    step: Callable[..., dict[str, Any]]

    def __init__(
        self,
        profile: TaskProfile,
        source: str,
        settings: Mapping[str, Any],
        key_parts: Mapping[str, Any],
        floor: Sequence[str] = (),
    ) -> None:
        self.profile = profile
        self.source = source
        self.settings = dict(settings)
        self.key_parts = dict(key_parts)
        self.floor = tuple(floor)

    def tune(
        self, name: str, timeout_s: float | None, *, n_trials: int = 20, **study: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tune candidate ``name`` on data the job never scores: ``(summary, options)``.

        ``study`` goes to the family's ``tune_*`` function (``storage``, ``study_name``,
        ``parallel``, ``cluster``...); without ``cluster`` the trials run where
        :func:`~zen.orchestrator.executors.tuning_on` says.
        """
        return {"model": name, "skipped": f"{name} has no hyperparameters to tune"}, {}

    @abstractmethod
    def task(self, remaining_s: float, candidates: Sequence[Candidate]) -> dict[str, Any]:
        """What every step gets (picklable: steps may run in worker processes)."""

    @abstractmethod
    def data_bytes(self) -> int:
        """About how much data a step receives (large data train in this process)."""

    @abstractmethod
    def rank(self, good: list[dict[str, Any]]) -> Ranking:
        """Rank the successful candidates' rows (never on the data whose score is reported)."""

    @abstractmethod
    def conclude(self, trained: Trained) -> Any:
        """The job's result (its run-result dataclass), built from what was trained."""

    @abstractmethod
    def write(self, staging: Path, trained: Trained, result: Any) -> dict[str, Path]:
        """Save the model, data files and plots into ``staging``; the images by caption."""

    @abstractmethod
    def report(self, trained: Trained, result: Any) -> dict[str, Any]:
        """The job's entries of ``report.json`` (the routing entries are added to them)."""


def run_job(
    kind: CandidateJob,
    *,
    budget_s: float,
    policy: str,
    seed: int,
    runs_dir: str | Path,
    workers: int | None,
    tune: bool,
    resume: bool,
) -> Any:
    """Run ``kind`` from routing to the written run folder; returns its result.

    The training budget covers tuning (a third of it, when asked) and the candidates, which
    share what is left; the run folder appears whole or not at all.
    """
    known = registry.names_of(registry.candidates(kind.kind))
    with start_job(
        kind.profile, known, budget_s=budget_s, policy=policy, seed=seed, source=kind.source,
        runs_dir=runs_dir, settings=kind.settings, key_parts=kind.key_parts, resume=resume,
        tune=tune, floor=kind.floor,
    ) as job:  # fmt: skip
        started = time.perf_counter()
        tuning: dict[str, Any] | None = None
        tuned: dict[str, dict[str, Any]] = {}
        if tune:
            tuning, options = kind.tune(job.candidates[0].name, budget_s / 3)
            tuned = {job.candidates[0].name: options} if options else {}
        remaining_s = max(budget_s - (time.perf_counter() - started), 1.0)
        outcomes = train_candidates(
            kind.step, kind.task(remaining_s, job.candidates), job.candidates,
            parent_id=job.run.id, scratch=job.scratch, state=job.state, workers=workers,
            data_bytes=kind.data_bytes(), hyperparameters=tuned, budget_s=remaining_s,
            task_key=job.key,
        )  # fmt: skip
        good = succeeded(outcomes)
        job.record_devices(outcomes)
        ranking = kind.rank(good)
        job.run.metrics.update(ranking.scores)
        regret = job.record_regret(ranking.regret_scores, ranking.regret_metric)
        trained = Trained(job, job.candidates, outcomes, ranking, tuning, tuned, regret, started)
        result = kind.conclude(trained)
        # Everything lands in a staging directory first: a crash leaves no half-written run.
        with atomic_directory(job.run_dir) as staging:
            images = kind.write(staging, trained, result)
            report = {**routing_report(result), **kind.report(trained, result)}
            write_json(staging / REPORT_FILE, report)
            write_html_report(staging / HTML_FILE, report, images)
    logger.info("run %s saved to %s", job.run_id, job.run_dir)
    return result


def tuning_summary(
    name: str, found: TuneResult, dropped: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(summary, options)`` of a tuning: what reports show, and the model's arguments it
    found without the ``dropped`` ones (settings the job fixes itself: seeds, horizons...)."""
    chosen = {k: v for k, v in found.best_hyperparameters.items() if k not in dropped}
    summary = {
        "model": name,
        "study_name": found.study_name,
        "storage": found.storage,
        "best_value": found.best_value,
        "direction": found.direction,
        "n_trials": found.n_trials,
        "n_new_trials": found.n_new_trials,
        "n_complete": found.n_complete,
        "n_pruned": found.n_pruned,
        "n_failed": found.n_failed,
        "nodes": found.nodes,
        "time_saved_s": found.time_saved_s,
        "elapsed_s": found.elapsed_s,
        "best_hyperparameters": chosen,
    }
    return summary, chosen
