"""The sequence job: labelled sequences to trained classifiers, a held-out score and a report.

The router's ``sequence classifier`` candidates (ResNet, FCN, recurrent and attention networks,
a flat MLP baseline, and any the user registered) train on the training sequences minus a
stratified validation part, are ranked on that validation part, and the winner is scored on
the test sequences: the data's own test file (``NAME_TEST.ts``, the archives' fixed split), or
a stratified share held out when there is none.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import zen
from zen import registry
from zen.errors import DataError, ZenError
from zen.neural import TimeLimit, Trainer, private_rng
from zen.neural.checkpoint import write_json
from zen.neural.datasets import SequenceSet
from zen.neural.nets.candidates import SEQUENCE_TRAINING
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
from zen.profile import TaskProfile, profile_sequences
from zen.reports import (
    ALL_CURVES_FILE,
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    SEQUENCE_FILE,
    plot_candidate_curves,
    plot_confusion_matrix,
    plot_leaderboard,
    plot_learning_curves,
)
from zen.tabular import score, train_test_split

SEQUENCE_FORMAT = "zen-sequence-inputs"
CONFUSION_FILE = "confusion_matrix.png"
#: Share of the training sequences the candidates are ranked on.
VALIDATION_SHARE = 0.2


@dataclass(kw_only=True)
class SequenceRunResult(RunOutcome):
    """What a sequence run did: held-out scores next to the baseline, the leaderboard (best
    first by validation accuracy) and where it saved things."""

    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_name: str
    n_train: int
    n_test: int
    leaderboard: list[dict[str, Any]]
    best_model: str
    split: str
    classes: list[str]


def fit_sequences(
    train: SequenceSet,
    test: SequenceSet | None = None,
    *,
    budget_s: float = 300.0,
    test_size: float = 0.2,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
    workers: int | None = None,
    tune: bool = False,
    policy: str = "learned",
    resume: bool = True,
    source: str = "<sequences>",
) -> SequenceRunResult:
    """Train the router's sequence classifiers on ``train``, score the best on ``test``.

    Args:
        train: labelled sequences (:func:`zen.neural.datasets.load_sequences`).
        test: the test sequences; None holds out ``test_size`` of ``train`` (stratified).
        budget_s: training time for all candidates together.
        Others: as :func:`~zen.orchestrator.jobs.fit`.
    """
    job = sequence_job(train, test, budget_s=budget_s, test_size=test_size, seed=seed,
                       progress=progress, tune=tune, source=source)  # fmt: skip
    result: SequenceRunResult = run_job(job, budget_s=budget_s, policy=policy, seed=seed,
                                        runs_dir=runs_dir, workers=workers, tune=tune,
                                        resume=resume)  # fmt: skip
    return result


def sequence_job(
    train: SequenceSet,
    test: SequenceSet | None = None,
    *,
    budget_s: float = 300.0,
    test_size: float = 0.2,
    seed: int = 0,
    progress: bool = False,
    tune: bool = False,
    source: str = "<sequences>",
) -> SequenceJob:
    """The job :func:`fit_sequences` runs: sequences split and profiled, nothing trained yet."""
    if train.task != "classification":
        raise DataError(f"{source}: zen fit classifies sequences; these have {train.task} targets")
    classes = [str(label) for label in train.classes]
    codes = _codes(train, classes, "train")
    if test is None:
        if not 0.0 < test_size < 1.0:
            raise zen.ConfigError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
        keep, held = train_test_split(train.n_cases, test_size, seed, codes)
        split = f"{test_size:.0%} of the sequences held out (stratified, seed {seed})"
        x_train, y_train, x_test, y_test = train.X[keep], codes[keep], train.X[held], codes[held]
    else:
        if test.n_channels != train.n_channels:
            raise DataError(
                f"{source}: the test sequences have {test.n_channels} channels, the training"
                f" ones {train.n_channels}"
            )
        split = "the data's own train and test files"
        x_train, y_train, x_test, y_test = train.X, codes, test.X, _codes(test, classes, "test")
    fit_rows, val_rows = train_test_split(len(y_train), VALIDATION_SHARE, seed, y_train)
    if len(val_rows) < 2 or len(fit_rows) < 2:
        raise DataError(f"{source}: {len(y_train)} training sequences are too few; need 10 or more")
    lengths = np.sum(~np.isnan(x_train).any(axis=1), axis=-1)
    profile = profile_sequences(lengths, np.asarray(classes)[y_train], train.n_channels,
                                train.name or source)  # fmt: skip
    return SequenceJob(
        profile, classes, split, source=source, seed=seed, progress=progress,
        arrays=(x_train[fit_rows], y_train[fit_rows], x_train[val_rows], y_train[val_rows],
                x_test, y_test),
        settings={"budget_s": budget_s, "tune": tune},
        key_parts={"train": x_train, "labels": y_train, "test": x_test, "test_labels": y_test,
                   "budget_s": budget_s, "seed": seed, "version": zen.__version__},
    )  # fmt: skip


def _codes(data: SequenceSet, classes: list[str], part: str) -> np.ndarray:
    """``data``'s labels as indices into ``classes``."""
    labels = np.asarray(data.y).astype(str)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(f"{part}: labels {unknown[:5]} are not among the classes {classes}")
    index = {label: code for code, label in enumerate(classes)}
    return np.asarray([index[label] for label in labels], dtype=np.int64)


def train_sequence_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: train one classifier, rank it on the validation part, score it on the
    test part, save its Trainer. Returns the leaderboard row with ``records`` and the test
    ``predictions`` (or ``error``)."""
    x_fit, y_fit, x_val, y_val, x_test, y_test = task["arrays"]
    try:
        with candidate_run(task, name, options, parent_id) as run:
            spec = registry.get(name, task["kind"])
            training = {**SEQUENCE_TRAINING, **spec.training}
            architecture = dict(options)
            settings = {key: architecture.pop(key, value) for key, value in training.items()}
            shape = (*(int(size) for size in x_fit.shape[1:]), len(task["classes"]))
            with private_rng(task["seed"]):  # repeatable initial weights, caller's RNG untouched
                model = spec.create(shape, architecture)
            trainer = Trainer(
                loss="cross_entropy", optimizer="adam", seed=task["seed"],
                progress=task["progress"], callbacks=[TimeLimit(task["time_s"])],
                metrics=["accuracy"], **settings,
            )  # fmt: skip
            started = time.perf_counter()
            result = trainer.fit(model, x_fit, y_fit, val=(x_val, y_val))
            fit_s = time.perf_counter() - started
            run.device = trained_device(model)
            val_scores = score("classification", y_val, _predict(trainer, x_val))
            predictions = _predict(trainer, x_test)
            test_scores = score("classification", y_test, predictions)
            row = {
                "model": name,
                "val_accuracy": val_scores["accuracy"],
                "val_loss": float(result.best_score) if result.best_score is not None else None,
                "test_metrics": test_scores,
                "epochs": result.epochs,
                "best_epoch": result.best_epoch,
                "fit_s": fit_s,
                "device": run.device,
            }
            trainer.save(model_dir)
            run.metrics.update({"val_accuracy": row["val_accuracy"], "fit_s": fit_s,
                                **{f"test_{k}": v for k, v in test_scores.items()}})  # fmt: skip
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    return {**row, "records": result.history.records, "predictions": predictions.tolist()}


def _predict(trainer: Trainer, x: np.ndarray) -> np.ndarray:
    return np.asarray(trainer.predict(None, x)).argmax(axis=1)


class SequenceJob(CandidateJob):
    """Sequence classification: candidates ranked on validation sequences, scored on test."""

    kind = "sequence classifier"
    step = staticmethod(train_sequence_candidate)

    def __init__(
        self,
        profile: TaskProfile,
        classes: list[str],
        split: str,
        *,
        source: str,
        seed: int,
        progress: bool,
        arrays: tuple[np.ndarray, ...],
        settings: dict[str, Any],
        key_parts: dict[str, Any],
        layout: str = "sequences",
        target: str | None = None,
    ) -> None:
        super().__init__(profile, source, settings, key_parts)
        # The same job classifies images (--as-image) with the image candidates.
        self.layout, self.target = layout, target
        self.kind = "image classifier" if layout == "images" else "sequence classifier"
        self.classes, self.split, self.seed, self.progress = classes, split, seed, progress
        self.arrays = arrays
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.predictions: list[int] = []

    def tune(
        self, name: str, timeout_s: float | None, *, n_trials: int = 20, **study: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tune ``name`` on the training sequences, scored on the validation part the
        candidates are ranked on (never the test sequences)."""
        from zen.orchestrator.tune import tune_sequence_classifier

        study.setdefault("cluster", tuning_cluster())
        x_fit, y_fit, x_val, y_val = self.arrays[:4]
        found = tune_sequence_classifier(
            x_fit, y_fit, name, val=(x_val, y_val), kind=self.kind, n_trials=n_trials,
            timeout_s=timeout_s, seed=self.seed, **study,
        )  # fmt: skip
        return tuning_summary(name, found)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(channels, length)`` of the training sequences, or ``(channels, height, width)``
        of the images: the model's input."""
        return tuple(int(size) for size in self.arrays[0].shape[1:])

    def task(self, remaining_s: float, candidates: Sequence[Candidate]) -> dict[str, Any]:
        return {"family": self.profile.family, "profile": self.profile.to_json(),
                "seed": self.seed, "source": self.source, "arrays": self.arrays,
                "kind": self.kind,
                "classes": self.classes, "time_s": remaining_s / len(candidates),
                "progress": self.progress}  # fmt: skip

    def data_bytes(self) -> int:
        return sum(int(array.nbytes) for array in self.arrays)

    def rank(self, good: list[dict[str, Any]]) -> Ranking:
        # By validation accuracy (then loss): choosing on the test sequences would overstate.
        def order(row: dict[str, Any]) -> tuple[float, float]:
            loss = row["val_loss"] if row["val_loss"] is not None else float("inf")
            return (-row["val_accuracy"], loss)

        rows = sorted(good, key=order)
        scores = {row["model"]: row["val_accuracy"] for row in good}
        best = rows[0]
        return Ranking(rows, best, {"val_accuracy": best["val_accuracy"]}, scores, "val_accuracy")

    def conclude(self, trained: Trained) -> SequenceRunResult:
        board = trained.ranking.leaderboard
        self.records = {row["model"]: row.pop("records") for row in board}
        predictions = {row["model"]: row.pop("predictions") for row in board}
        best = trained.ranking.best
        self.predictions = predictions[best["model"]]
        y_fit, y_test = self.arrays[1], self.arrays[5]
        majority = int(np.bincount(y_fit, minlength=len(self.classes)).argmax())
        baseline = score("classification", y_test, np.full(len(y_test), majority))
        job = trained.job
        return SequenceRunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=self.profile,
            metrics=dict(best["test_metrics"]), baseline=baseline,
            baseline_name=f"majority class ({self.classes[majority]!r})",
            n_train=len(y_fit) + len(self.arrays[3]), n_test=len(y_test), leaderboard=board,
            best_model=str(best["model"]), split=self.split, classes=self.classes,
            candidates=[c.to_json() for c in trained.candidates], failed=trained.failed,
            history_id=job.run.id, tuning=trained.tuning, extra=job.extra(trained.regret),
        )  # fmt: skip

    def write(self, staging: Path, trained: Trained, result: SequenceRunResult) -> dict[str, Path]:
        best = result.best_model
        shutil.copytree(trained.job.scratch / best, staging / MODEL_DIR)
        shape = self.shape
        write_json(staging / MODEL_DIR / SEQUENCE_FILE, {
            "format": SEQUENCE_FORMAT, "format_version": 1, "layout": self.layout,
            "classes": self.classes, "channels": shape[0], "shape": list(shape),
            "length": shape[1] if self.layout == "sequences" else None, "model": best,
            "target": self.target,
        })  # fmt: skip
        plot_learning_curves(self.records[best], staging / CURVES_FILE,
                             title=f"zen fit: {self.source} ({best})",
                             best_epoch=trained.ranking.best["best_epoch"])  # fmt: skip
        plot_leaderboard(result.leaderboard, "val_accuracy", staging / LEADERBOARD_FILE,
                         lower_is_better=False,
                         title="candidates by validation accuracy")  # fmt: skip
        names = np.asarray(self.classes, dtype=object)
        plot_confusion_matrix(names[self.arrays[5]], names[np.asarray(self.predictions)],
                              staging / CONFUSION_FILE, f"test {self.layout}")  # fmt: skip
        images = {
            "leaderboard": staging / LEADERBOARD_FILE,
            f"learning curves ({best})": staging / CURVES_FILE,
            f"confusion matrix (test {self.layout})": staging / CONFUSION_FILE,
        }
        if len(self.records) > 1:
            plot_candidate_curves(self.records, staging / ALL_CURVES_FILE)
            images["learning curves (every candidate)"] = staging / ALL_CURVES_FILE
        return images

    def report(self, trained: Trained, result: SequenceRunResult) -> dict[str, Any]:
        return {
            "data": self.source,
            "split": result.split,
            "selection": "highest validation accuracy (a stratified fifth of the training"
            f" {self.layout})",
            "test_metrics": result.metrics,
            "baseline": {"name": result.baseline_name, "test_metrics": result.baseline},
            "classes": result.classes,
            "files": {
                "model": MODEL_DIR,
                "sequence_inputs": f"{MODEL_DIR}/{SEQUENCE_FILE}",
                "learning_curves": CURVES_FILE,
                "confusion_matrix": CONFUSION_FILE,
                "html": HTML_FILE,
                "leaderboard": LEADERBOARD_FILE,
            },
        }


__all__ = [
    "SEQUENCE_FILE",
    "SequenceJob",
    "SequenceRunResult",
    "fit_sequences",
    "sequence_job",
    "train_sequence_candidate",
]
