"""The table job: from a table to trained MLP candidates, a held-out score and a report.

Tables are learned by the router's :class:`~zen.tabular.TabularModel` candidates, trained as
workflow steps by the skeleton every job shares (:func:`~zen.orchestrator.jobs.base.run_job`);
the run and each candidate are recorded in History.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen import registry
from zen.errors import DataError, ZenError
from zen.orchestrator.executors import tuning_cluster
from zen.orchestrator.jobs.base import (
    CandidateJob,
    Ranking,
    RunOutcome,
    Trained,
    run_job,
    tuning_summary,
)
from zen.orchestrator.orchestration import candidate_run, failed, trained_device
from zen.orchestrator.router import Candidate
from zen.profile import TaskProfile, profile_table
from zen.reports import (
    ALL_CURVES_FILE,
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    plot_candidate_curves,
    plot_confusion_matrix,
    plot_leaderboard,
    plot_learning_curves,
)
from zen.tabular import score, train_test_split

logger = logging.getLogger(__name__)

CONFUSION_FILE = "confusion_matrix.png"


@dataclass(kw_only=True)
class RunResult(RunOutcome):
    """What :func:`fit` did and where it put it.

    Attributes:
        metrics: the model's scores on the held-out rows.
        baseline: the same scores for ``baseline_name`` (majority class or training mean).
        leaderboard: every trained candidate, best (lowest validation loss) first.
        The others: as :class:`~zen.orchestrator.jobs.base.RunOutcome`.
    """

    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_name: str
    n_train: int
    n_test: int
    epochs: int
    best_epoch: int | None
    train_time_s: float
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    best_model: str = "MLP"


def learn_table(
    frame: pd.DataFrame,
    target: str,
    *,
    budget_s: float = 300.0,
    task: str = "auto",
    test_size: float = 0.2,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
    workers: int | None = None,
    tune: bool = False,
    policy: str = "learned",
    resume: bool = True,
    source: str = "<DataFrame>",
    **model_options: Any,
) -> RunResult:
    """The table job: profile ``frame`` for ``target``, hold out ``test_size`` of its rows,
    train the router's MLP candidates on the rest (each chooses its epochs on its own
    validation rows), rank them by validation loss and score the winner on the held-out rows
    next to a baseline (majority class or training mean). Arguments as :func:`~zen.
    orchestrator.jobs.fit`; ``model_options`` go to every :class:`~zen.tabular.TabularModel`.
    """
    job = table_job(frame, target, budget_s=budget_s, task=task, test_size=test_size,
                    seed=seed, progress=progress, tune=tune, source=source,
                    **model_options)  # fmt: skip
    result: RunResult = run_job(
        job, budget_s=budget_s, policy=policy, seed=seed, runs_dir=runs_dir, workers=workers,
        tune=tune, resume=resume,
    )  # fmt: skip
    return result


def table_job(
    frame: pd.DataFrame,
    target: str,
    *,
    budget_s: float = 300.0,
    task: str = "auto",
    test_size: float = 0.2,
    seed: int = 0,
    progress: bool = False,
    tune: bool = False,
    source: str = "<DataFrame>",
    **model_options: Any,
) -> TableJob:
    """The job :func:`learn_table` runs: ``frame`` profiled and split, nothing trained yet."""
    if not 0.0 < test_size < 1.0:
        raise zen.ConfigError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    profile = profile_table(frame, target, task)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    labels = frame[target].to_numpy()
    stratify = labels if profile.kind == "classification" else None
    train_rows, test_rows = train_test_split(len(frame), test_size, seed, stratify)
    if len(train_rows) < 10 or len(test_rows) < 1:
        raise DataError(
            f"data: {len(frame)} usable rows are too few to train and evaluate; need at least 13"
        )
    return TableJob(
        profile, frame, frame.iloc[train_rows], frame.iloc[test_rows], target, seed=seed,
        progress=progress, source=source, model_options=model_options,
        settings={"budget_s": budget_s, "tune": tune, **model_options},
        key_parts={"data": frame, "target": target, "kind": profile.kind,
                   "test_size": test_size, "seed": seed, "budget_s": budget_s,
                   "options": model_options, "version": zen.__version__},
    )  # fmt: skip


def tabular_candidates() -> list[str]:
    """The table models zen fit may train: every registered candidate (the
    :class:`~zen.tabular.TabularModel` MLPs whose options make the difference, and any the user
    registered)."""
    return registry.names_of(registry.candidates("table"))


def train_tabular_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: fit one MLP, score it on the held-out rows, save it to ``model_dir``.

    Returns its scores, settings, learning-curve ``records`` and held-out ``predictions``
    (or ``error``). The user's settings (``--epochs``...) win over the router's options.
    """
    from zen.neural import TimeLimit

    settings = {**options, **task["model_options"]}
    try:
        with candidate_run(task, name, settings, parent_id) as run:
            job = {"task": task["kind"], "seed": task["seed"], "progress": task["progress"],
                   "callbacks": [TimeLimit(task["time_s"])], **task["model_options"]}  # fmt: skip
            model = registry.get(name, "table").create(job, options)
            started = time.perf_counter()
            model.fit(task["train"], task["target"])
            fit_s = time.perf_counter() - started
            run.device = trained_device(model.network_)
            test = task["test"]
            predictions = model.predict(test)
            metrics = score(task["kind"], test[task["target"]].to_numpy(), predictions)
            val_loss = model.result_.best_score
            model.save(model_dir)
            run.metrics.update({**metrics, "val_loss": val_loss, "fit_s": fit_s})
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    return {
        "model": name,
        "test_metrics": metrics,
        "val_loss": float("inf") if val_loss is None else float(val_loss),
        "epochs": model.result_.epochs,
        "best_epoch": model.result_.best_epoch,
        "fit_s": fit_s,
        "network": model.network_.config(),
        "settings": settings,
        "records": model.history_.records,
        "predictions": list(predictions),
        "device": run.device,
    }


def _row(outcome: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard row: the scores and the router's reason, without the bulky parts."""
    keep = ("model", "val_loss", "test_metrics", "epochs", "best_epoch", "fit_s", "resumed",
            "reason")  # fmt: skip
    return {key: outcome[key] for key in keep if key in outcome}


def _baseline(profile: TaskProfile, train_target: pd.Series, n: int) -> tuple[str, np.ndarray]:
    if profile.kind == "classification":
        majority = train_target.value_counts().index[0]
        shown = majority.item() if hasattr(majority, "item") else majority
        return f"majority class ({shown!r})", np.full(n, majority, dtype=object)
    mean = float(pd.to_numeric(train_target).mean())
    return f"training mean ({mean:.4g})", np.full(n, mean)


class TableJob(CandidateJob):
    """Tables: MLP candidates on the training rows, scored on the held-out rows."""

    kind = "table"
    step = staticmethod(train_tabular_candidate)

    def __init__(
        self,
        profile: TaskProfile,
        frame: pd.DataFrame,
        train: pd.DataFrame,
        test: pd.DataFrame,
        target: str,
        *,
        seed: int,
        progress: bool,
        source: str,
        model_options: Mapping[str, Any],
        settings: Mapping[str, Any],
        key_parts: Mapping[str, Any],
    ) -> None:
        super().__init__(profile, source, settings, key_parts)
        self.frame, self.train, self.test, self.target = frame, train, test, target
        self.seed, self.progress = seed, progress
        self.model_options = dict(model_options)

    def tune(
        self, name: str, timeout_s: float | None, *, n_trials: int = 20, **study: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tune the MLP on the training rows (its own validation split scores the trials)."""
        from zen.orchestrator.tune import tune_tabular

        study.setdefault("cluster", tuning_cluster())
        found = tune_tabular(self.train, self.target, task=self.profile.kind, n_trials=n_trials,
                             timeout_s=timeout_s, seed=self.seed, **study)  # fmt: skip
        return tuning_summary(name, found, dropped=("seed",))

    def task(self, remaining_s: float, candidates: Sequence[Candidate]) -> dict[str, Any]:
        return {
            "family": self.profile.family, "profile": self.profile.to_json(),
            "seed": self.seed, "source": self.source, "train": self.train, "test": self.test,
            "target": self.target, "kind": self.profile.kind, "progress": self.progress,
            "model_options": self.model_options, "time_s": remaining_s / len(candidates),
        }  # fmt: skip

    def data_bytes(self) -> int:
        return int(self.frame.memory_usage(deep=True).sum())

    def rank(self, good: list[dict[str, Any]]) -> Ranking:
        # Chosen on each model's own validation rows: the held-out rows only score.
        leaderboard = sorted(good, key=lambda row: row["val_loss"])
        scores = {row["model"]: row["val_loss"] for row in good}
        return Ranking(leaderboard, leaderboard[0], leaderboard[0]["test_metrics"], scores,
                       "val_loss")  # fmt: skip

    def conclude(self, trained: Trained) -> RunResult:
        best = trained.ranking.best
        truth = self.test[self.target].to_numpy()
        baseline_name, prediction = _baseline(self.profile, self.train[self.target],
                                              len(self.test))  # fmt: skip
        job = trained.job
        return RunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=self.profile,
            metrics=best["test_metrics"], baseline=score(self.profile.kind, truth, prediction),
            baseline_name=baseline_name, n_train=len(self.train), n_test=len(self.test),
            epochs=best["epochs"], best_epoch=best["best_epoch"], train_time_s=best["fit_s"],
            extra=job.extra(trained.regret),
            leaderboard=[_row(outcome) for outcome in trained.ranking.leaderboard],
            best_model=best["model"], candidates=[c.to_json() for c in trained.candidates],
            failed=trained.failed, history_id=job.run.id, tuning=trained.tuning,
        )  # fmt: skip

    def write(self, staging: Path, trained: Trained, result: RunResult) -> dict[str, Path]:
        best, profile = trained.ranking.best, self.profile
        shutil.copytree(trained.job.scratch / best["model"], staging / MODEL_DIR)
        plot_learning_curves(best["records"], staging / CURVES_FILE,
                             title=f"zen fit: {self.target} ({profile.kind}, {best['model']})",
                             best_epoch=result.best_epoch)  # fmt: skip
        plot_leaderboard(result.leaderboard, "val_loss", staging / LEADERBOARD_FILE,
                         title="candidates by validation loss")  # fmt: skip
        images = {
            "leaderboard": staging / LEADERBOARD_FILE,
            f"learning curves ({best['model']})": staging / CURVES_FILE,
        }
        good = trained.ranking.leaderboard
        if len(good) > 1:
            plot_candidate_curves({row["model"]: row["records"] for row in good},
                                  staging / ALL_CURVES_FILE)  # fmt: skip
            images["learning curves (every candidate)"] = staging / ALL_CURVES_FILE
        if profile.kind == "classification":
            truth = self.test[self.target].to_numpy()
            plot_confusion_matrix(truth, best["predictions"], staging / CONFUSION_FILE)
            images["confusion matrix (held-out rows)"] = staging / CONFUSION_FILE
        return images

    def report(self, trained: Trained, result: RunResult) -> dict[str, Any]:
        best = trained.ranking.best
        files = {"model": MODEL_DIR, "learning_curves": CURVES_FILE, "html": HTML_FILE,
                 "leaderboard": LEADERBOARD_FILE}  # fmt: skip
        if result.profile.kind == "classification":
            files["confusion_matrix"] = CONFUSION_FILE
        return {
            "data": self.source,
            "split": {"train_rows": result.n_train, "test_rows": result.n_test},
            "selection": "lowest validation loss (each model's own validation rows)",
            "model": {
                "network": best["network"],
                "settings": best["settings"],
                "epochs": result.epochs,
                "best_epoch": result.best_epoch,
                "train_time_s": result.train_time_s,
            },
            "test_metrics": result.metrics,
            "baseline": {"name": result.baseline_name, "test_metrics": result.baseline},
            "files": files,
            "history": best["records"],
        }
