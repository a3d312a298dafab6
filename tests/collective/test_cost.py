"""CostModel: learns run time and peak memory per model family from History rows."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from zen import ConfigError, DataError
from zen.collective.cost import PRIOR_PEAK_MIB, PRIOR_SECONDS, Cost, CostModel
from zen.orchestrator.history import History, RunRecord
from zen.profile.task import TaskProfile


def run_record(
    model: str,
    profile: dict[str, Any],
    duration_s: float | None,
    *,
    hyperparameters: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    status: str = "done",
) -> RunRecord:
    """A real RunRecord; fields History adds later (node, peak_mib, ...) are None."""
    values: dict[str, Any] = {
        "id": 1, "kind": profile.get("family", ""), "model": model, "status": status,
        "hyperparameters": hyperparameters or {}, "profile": profile, "metrics": metrics or {},
        "started_at": "2026-01-01T00:00:00+00:00", "finished_at": None, "duration_s": duration_s,
        "hardware": {}, "seed": None, "zen_version": "0", "data": None, "error": None,
        "parent_id": None, "pid": None, "hostname": None,
    }  # fmt: skip
    return RunRecord(**{f.name: values.get(f.name) for f in dataclasses.fields(RunRecord)})


def law_s(rows: float, epochs: float) -> float:
    """The synthetic truth: time linear in rows, square root in epochs."""
    return 2e-4 * rows * epochs**0.5


def law_mib(rows: float) -> float:
    return 40.0 * rows**0.3


def synthetic_runs(model: str = "MLP", count: int = 40, seed: int = 0) -> list[RunRecord]:
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(count):
        rows = float(np.exp(rng.uniform(np.log(100), np.log(100_000))))
        epochs = float(rng.choice([5, 10, 20, 50, 100]))
        noise = float(np.exp(rng.normal(0, 0.05)))
        profile = {"family": "tabular regression", "n_rows": int(rows), "n_features": 8}
        runs.append(
            run_record(
                model,
                profile,
                law_s(int(rows), epochs) * noise,
                hyperparameters={"max_epochs": int(epochs)},
                metrics={"peak_mib": law_mib(int(rows)) * noise},
            )
        )
    return runs


@pytest.mark.parametrize(("rows", "epochs"), [(500, 10), (5_000, 50), (50_000, 20)])
def test_predictions_follow_a_known_power_law_within_15_percent(rows: int, epochs: int) -> None:
    model = CostModel().fit(synthetic_runs())
    cost = model.predict("MLP", {"n_rows": rows, "n_features": 8, "max_epochs": epochs})
    assert cost.known
    assert cost.seconds == pytest.approx(law_s(rows, epochs), rel=0.15)
    assert cost.peak_mib == pytest.approx(law_mib(rows), rel=0.15)


def test_an_outlying_run_does_not_bend_the_law() -> None:
    runs = synthetic_runs()
    slow = run_record("MLP", {"n_rows": 50_000, "n_features": 8}, 50 * law_s(50_000, 20),
                      hyperparameters={"max_epochs": 20})  # fmt: skip
    model = CostModel().fit([*runs, slow])
    cost = model.predict("MLP", {"n_rows": 50_000, "n_features": 8, "max_epochs": 20})
    assert cost.seconds == pytest.approx(law_s(50_000, 20), rel=0.15)


def test_a_model_with_few_runs_borrows_the_slopes_of_its_task() -> None:
    # GCN has many runs on graphs of every size; GAT only two small ones, 3x slower than GCN.
    runs = []
    for nodes in (50, 100, 300, 1000, 3000, 10000):
        runs.append(run_record("GCN", {"family": "graph", "num_nodes": nodes}, 1e-3 * nodes))
    runs += [run_record("GAT", {"family": "graph", "num_nodes": n}, 3e-3 * n) for n in (60, 80)]
    model = CostModel().fit(runs)
    predicted = model.predict("GAT", {"family": "graph", "num_nodes": 10000}).seconds
    # A median would say ~0.2 s; the pooled slope with GAT's (shrunk) offset gets the scale.
    assert 10.0 < predicted < 3e-3 * 10000 * 1.3


def test_unknown_family_falls_back_to_its_task_then_everything_then_the_prior() -> None:
    runs = [run_record("MLP", {"family": "tabular regression", "n_rows": 100}, s) for s in (1, 3)]
    runs += [run_record("GCN", {"family": "graph", "num_nodes": 10}, 10.0)]
    model = CostModel().fit(runs)
    same_task = model.predict("TabNet", {"family": "tabular regression", "n_rows": 100})
    assert same_task == Cost(seconds=2.0, peak_mib=PRIOR_PEAK_MIB, known=False)
    elsewhere = model.predict("TabNet", {"family": "audio"})
    assert elsewhere.seconds == 3.0 and not elsewhere.known  # median of all three runs
    empty = CostModel().fit([])
    assert empty.predict("MLP", {}) == Cost(PRIOR_SECONDS, PRIOR_PEAK_MIB, known=False)


def test_failed_runs_and_runs_without_a_duration_are_not_learned() -> None:
    runs = [
        run_record("MLP", {"n_rows": 10}, 5.0),
        run_record("MLP", {"n_rows": 10}, 500.0, status="failed"),
        run_record("MLP", {"n_rows": 10}, None),
    ]
    model = CostModel().fit(runs)
    assert model.n_runs_ == 1
    assert model.predict("MLP", {"n_rows": 10}).seconds == 5.0


@pytest.mark.parametrize(
    ("model", "profile", "error", "names"),
    [
        ("", {}, ConfigError, "model"),
        ("MLP", [("n_rows", 3)], ConfigError, "profile"),
        ("MLP", {"n_rows": -5}, DataError, "n_rows"),
        ("MLP", {"num_edges": "many"}, DataError, "num_edges"),
        ("MLP", {"horizon": math.nan}, DataError, "horizon"),
    ],
)
def test_bad_input_is_named(model: Any, profile: Any, error: type, names: str) -> None:
    with pytest.raises(error, match=names):
        CostModel().fit([]).predict(model, profile)


def test_from_history_learns_the_runs_history_recorded(tmp_path: Any) -> None:
    with History(tmp_path / "zen.db") as history:
        for rows in (100, 200, 400):
            with history.record("tabular regression", "MLP", {}, {"n_rows": rows}) as run:
                run.metrics["fit_s"] = 0.0
        model = CostModel.from_history(history)
        recorded = [r.duration_s for r in history.runs()]
    assert model.n_runs_ == 3
    cost = model.predict("MLP", {"n_rows": 200})
    assert cost.known
    assert min(recorded) / 10 <= cost.seconds <= max(recorded) * 10


def test_predict_accepts_a_task_profile() -> None:
    profile = TaskProfile(
        kind="regression", reason="", target="y", n_rows=5_000, family="tabular regression"
    )
    model = CostModel().fit(synthetic_runs())
    from_object = model.predict("MLP", profile)
    assert from_object == model.predict("MLP", profile.to_json())
    assert from_object.known
