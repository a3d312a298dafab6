"""`zen fit` as the orchestrated main job: routed candidates, History rows, HTML report, CLI."""

from __future__ import annotations

import dataclasses
import json
import uuid

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen import ConfigError, registry
from zen.cli import app
from zen.orchestrator import fit, orchestration
from zen.orchestrator.executors import InlineExecutor, LocalProcessExecutor
from zen.orchestrator.history import History
from zen.orchestrator.jobs import tabular as jobs
from zen.orchestrator.locations import Location
from zen.orchestrator.orchestration import (
    MAX_PICKLED_BYTES,
    choose_executor,
    choose_policy,
    router_regret,
    train_candidates,
)
from zen.orchestrator.router import ARMS_KEY, POLICY_KEY, RANDOMISED_KEY, Candidate
from zen.tabular import TabularModel

runner = CliRunner()


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=160), "b": rng.normal(size=160)})
    data["kind"] = np.where(data["a"] - data["b"] > 0, "up", "down")
    return data


def test_a_run_is_a_parent_with_one_child_per_candidate(frame, tmp_path) -> None:
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=5, workers=1)
    with History() as history:
        parent = history.get(result.history_id)
        children = [run for run in history.runs() if run.parent_id == parent.id]
    assert (parent.model, parent.kind, parent.status) == (
        "zen fit",
        "tabular classification",
        "done",
    )
    assert parent.profile["family"] == "tabular classification"
    assert {k: v for k, v in parent.metrics.items() if k != "regret"} == result.metrics
    assert parent.metrics["regret"] == pytest.approx(result.extra["regret"])
    assert parent.hyperparameters[POLICY_KEY] == "learned"
    assert parent.hyperparameters["ab_test"] is False
    assert sorted(run.model for run in children) == sorted(r["model"] for r in result.leaderboard)
    assert len(children) == 3
    for child in children:
        assert child.status == "done" and "accuracy" in child.metrics
        assert child.duration_s is not None and child.duration_s > 0
        assert child.hardware["device"] == "cpu"  # where the network's parameters ended up
    assert parent.hardware["device"] == "cpu"


def use_table_class(monkeypatch: pytest.MonkeyPatch, model_class: type) -> None:
    """Make every table candidate a ``model_class`` (a TabularModel subclass) for this test."""

    def build(settings: dict, options: dict, model_class: type = model_class) -> object:
        return model_class(**{**options, **settings})

    for spec in registry.candidates("table"):
        key = (spec.kind, spec.name)
        monkeypatch.setitem(registry._specs, key, dataclasses.replace(spec, build=build))


def test_a_failing_candidate_is_recorded_failed_and_the_others_finish(
    frame, tmp_path, monkeypatch
) -> None:
    class BrokenRegularised(TabularModel):
        def fit(self, *args, **kwargs):
            if self.dropout == 0.3:  # the router's MLP-regularised
                raise RuntimeError("out of memory in candidate")
            return super().fit(*args, **kwargs)

    use_table_class(monkeypatch, BrokenRegularised)
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=5, workers=1)
    assert [failure["model"] for failure in result.failed] == ["MLP-regularised"]
    assert "MLP-regularised" not in {row["model"] for row in result.leaderboard}
    with History() as history:
        statuses = {run.model: (run.status, run.error) for run in history.runs()}
    assert statuses["zen fit"][0] == "done"
    assert statuses["MLP-regularised"] == ("failed", "RuntimeError: out of memory in candidate")
    assert statuses["MLP"][0] == statuses["MLP-wide"][0] == "done"
    with History() as history:
        attempts = [run for run in history.runs() if run.model == "MLP-regularised"]
    assert len(attempts) == 2  # an unexpected error is retried once, each attempt recorded
    assert "after 2 attempts" in result.failed[0]["error"]
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["failed_candidates"][0]["model"] == "MLP-regularised"


def test_a_candidate_that_fails_once_is_retried_and_succeeds(frame, tmp_path, monkeypatch) -> None:
    marker = tmp_path / "failed-once"

    class FlakyWide(TabularModel):
        def fit(self, *args, **kwargs):
            if self.hidden_layers == [256, 256] and not marker.exists():  # MLP-wide
                marker.touch()
                raise OSError("disk briefly unavailable")
            return super().fit(*args, **kwargs)

    use_table_class(monkeypatch, FlakyWide)
    monkeypatch.setattr(orchestration, "RETRY_BACKOFF_S", 0.01)
    result = fit(frame, "kind", runs_dir=tmp_path / "runs", max_epochs=3, workers=1)
    assert result.failed == [] and "MLP-wide" in {row["model"] for row in result.leaderboard}
    with History() as history:
        wide = [run.status for run in history.runs() if run.model == "MLP-wide"]
    assert sorted(wide) == ["done", "failed"]


def test_a_config_error_is_not_retried(frame, tmp_path) -> None:
    with pytest.raises(ConfigError):
        fit(frame, "kind", runs_dir=tmp_path, max_epochs=0, workers=1)
    with History() as history:
        children = [run for run in history.runs() if run.parent_id is not None]
    assert len(children) == 3  # one attempt per candidate
    # They failed before training: no device to report, rather than a guessed "cpu".
    assert [child.hardware["device"] for child in children] == [None, None, None]


def test_when_every_candidate_fails_the_parent_run_fails(frame, tmp_path) -> None:
    with pytest.raises(ConfigError, match="max_epochs"):
        fit(frame, "kind", runs_dir=tmp_path, max_epochs=0, workers=1)
    with History() as history:
        assert {run.status for run in history.runs()} == {"failed"}
    assert list(tmp_path.iterdir()) == []


def test_report_html_shows_profile_candidates_reasons_and_history_id(frame, tmp_path) -> None:
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=5, workers=1)
    page = (result.run_dir / "report.html").read_text()
    report = json.loads((result.run_dir / "report.json").read_text())
    for row in result.leaderboard:
        assert row["model"] in page and row["reason"]
    assert all(candidate["reason"] for candidate in report["candidates"])
    assert [row["reason"] for row in report["leaderboard"]] == [
        row["reason"] for row in result.leaderboard
    ]
    assert "class_balance" in page and "data:image/png;base64," in page
    assert f"zen history show {result.history_id}" in page
    assert report["history_run_id"] == result.history_id


def test_explain_prints_profile_and_candidates_and_trains_nothing(frame, tmp_path) -> None:
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    runs = tmp_path / "runs"
    result = runner.invoke(
        app, ["fit", str(path), "--target", "kind", "--explain", "--runs-dir", str(runs)]
    )
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "task profile" in output and "class_balance" in output
    for name in ("MLP", "MLP-regularised", "MLP-wide"):
        assert name in output
    assert "small table" in output  # a rule's reason, from the router
    assert "nothing trained" in output
    assert not runs.exists()
    with History() as history:
        assert history.runs() == []


def test_cli_prints_reasons_and_the_history_id(frame, tmp_path) -> None:
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    arguments = ["fit", str(path), "--target", "kind", "--epochs", "5", "--workers", "1",
                 "--runs-dir", str(tmp_path / "runs"), "--no-progress"]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "why these candidates" in output and "1. MLP" in output and "rules" in output
    assert "report.html" in output and "zen history show 1" in output


def test_executor_is_processes_only_when_cores_and_small_data_allow(monkeypatch) -> None:
    from zen.orchestrator import orchestration

    monkeypatch.setattr(orchestration, "usable_cores", lambda: 4)
    assert isinstance(choose_executor(1, 3, 100), InlineExecutor)
    assert isinstance(choose_executor(None, 1, 100), InlineExecutor)
    assert isinstance(choose_executor(None, 3, MAX_PICKLED_BYTES + 1), InlineExecutor)
    executor = choose_executor(None, 3, 100)
    assert isinstance(executor, LocalProcessExecutor) and executor.max_workers == 3
    assert executor.threads_per_worker == 1  # 4 cores // 3 workers: no oversubscription
    with pytest.raises(ConfigError, match="workers"):
        choose_executor(0, 3, 100)


def record_policy_runs(per_policy: int, randomised: bool = True) -> None:
    """``per_policy`` finished ``zen fit`` runs under rules (regret ~0.3) and learned (~0.1)."""
    rng = np.random.default_rng(0)
    with History() as history:
        for policy, centre in (("rules", 0.3), ("learned", 0.1)):
            for _ in range(per_policy):
                routing = {POLICY_KEY: policy, RANDOMISED_KEY: randomised}
                if randomised:
                    routing[ARMS_KEY] = ["rules", "learned"]
                with history.record("time series", "zen fit", routing) as run:
                    run.metrics["regret"] = float(centre + rng.normal(0, 0.02))


def test_router_compare_reports_the_difference_of_two_policies() -> None:
    record_policy_runs(12)
    record_policy_runs(30, randomised=False)  # ordinary runs: left out, counted
    result = runner.invoke(app, ["router", "compare", "--metric", "regret", "--json"])
    assert result.exit_code == 0, result.output
    comparison = json.loads(result.output)
    assert comparison["n"] == [12, 12] and comparison["better"] == "learned"
    assert comparison["enough_runs"] is True and comparison["left_out"] == 60
    text = runner.invoke(
        app, ["router", "compare", "--metric", "regret", "--policies", "rules", "learned"]
    )
    assert text.exit_code == 0, text.output
    assert "better: learned" in text.output and "interval" in text.output
    assert "left out: 60 run(s)" in " ".join(text.output.split())


def test_router_compare_below_the_minimum_shows_the_numbers_and_no_conclusion() -> None:
    record_policy_runs(6)
    arguments = ["router", "compare", "--metric", "regret", "--policies", "rules", "learned"]
    text = runner.invoke(app, arguments)
    assert text.exit_code == 0, text.output  # a report, not an error: --json says enough_runs
    output = " ".join(text.output.split())
    assert "interval" in output and "better:" not in output
    assert "not enough randomised runs to conclude: 6 and 6, at least 10 per policy" in output
    lowered = runner.invoke(app, [*arguments, "--min-runs", "5", "--json"])
    assert json.loads(lowered.output)["better"] == "learned"


def test_router_compare_without_runs_is_one_line_error() -> None:
    result = runner.invoke(app, ["router", "compare", "--metric", "regret"])
    assert result.exit_code == 2
    assert "policies:" in result.output and "Traceback" not in result.output


def test_tune_trains_the_first_candidate_with_the_study_found(frame, tmp_path) -> None:
    result = fit(frame, "kind", runs_dir=tmp_path, budget_s=6, max_epochs=5, workers=1, tune=True)
    report = json.loads((result.run_dir / "report.json").read_text())
    tuning = report["tuning"]
    assert tuning["study_name"].startswith("tabular-kind-") and tuning["n_trials"] >= 1
    first = report["candidates"][0]["name"]
    with History() as history:
        child = next(run for run in history.runs() if run.model == first)
    for name, value in tuning["best_hyperparameters"].items():
        if name != "max_epochs":  # the user's --epochs wins
            assert child.hyperparameters[name] == value


def hourly(n_series: int = 2, length: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    return pd.concat(
        [
            pd.DataFrame({
                "unique_id": f"s{i}",
                "ds": pd.date_range("2024-01-01", periods=length, freq="h"),
                "y": 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, length) + i,
            })
            for i in range(n_series)
        ],
        ignore_index=True,
    )  # fmt: skip


def test_forecasting_in_worker_processes_records_children_and_scores_the_ensemble(
    tmp_path,
) -> None:
    result = fit(hourly(), horizon=12, runs_dir=tmp_path, budget_s=10, workers=2)
    models = {row["model"] for row in result.leaderboard}
    assert models == {"NHITS", "NBEATS", "SeasonalNaive", "ensemble"}
    assert all(row["reason"] for row in result.leaderboard)
    assert result.ensemble is not None and len(result.ensemble["members"]) == 3
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["ensemble"]["helps"] == result.ensemble["helps"]
    with History() as history:
        children = [run for run in history.runs() if run.parent_id == result.history_id]
    assert {run.status for run in children} == {"done"} and len(children) == 3
    assert "forecasts on the test window" in (result.run_dir / "report.html").read_text()


def test_policy_ab_draws_rules_or_learned_per_run_and_records_regret(frame, tmp_path) -> None:
    drawn = {choose_policy("ab", f"run-{i}") for i in range(40)}
    assert drawn == {"rules", "learned"}
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=2, workers=1, policy="ab")
    with History() as history:
        parent = history.get(result.history_id)
    assert parent.hyperparameters["ab_test"] is True
    assert parent.hyperparameters[POLICY_KEY] in ("rules", "learned")
    assert parent.hyperparameters[POLICY_KEY] == result.extra["policy"]
    assert "regret" in parent.metrics
    with pytest.raises(ConfigError, match="policy: unknown value 'a/b'"):
        choose_policy("a/b", "run-1")


def test_router_regret_is_the_first_choices_relative_score_minus_one() -> None:
    ranked = [Candidate("A", "graph", 1.0, ""), Candidate("B", "graph", 1.1, "")]
    assert router_regret(ranked, {"A": 0.2, "B": 0.1}, "mase") == pytest.approx(1.0)
    assert router_regret(ranked, {"A": 0.9, "B": 0.8}, "val_accuracy") == 0.0
    assert router_regret(ranked, {"A": 0.8, "B": 0.9}, "val_accuracy") == pytest.approx(1.0)
    assert router_regret(ranked, {"B": 0.1}, "mase") is None  # the first choice failed


@pytest.mark.parametrize("cache", ["zen-home", "memory-url", "file-url"])
def test_a_rerun_after_a_crash_resumes_the_finished_candidates(frame, tmp_path, monkeypatch, cache):
    # With $ZEN_FIT_CACHE at a URL, the models are not kept on this machine between the runs:
    # the resumed run finds them in the cached outcomes, as a run on another node would.
    url = {"memory-url": f"memory://zen-fit-{uuid.uuid4().hex}",
           "file-url": (tmp_path / "shared").as_uri()}.get(cache)  # fmt: skip
    if url is not None:
        monkeypatch.setenv("ZEN_FIT_CACHE", url)
    tmp_path = tmp_path / "runs"
    tmp_path.mkdir()
    real_copytree = jobs.shutil.copytree

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after every candidate finished, before the run is saved

    monkeypatch.setattr(jobs.shutil, "copytree", crash)
    with pytest.raises(KeyboardInterrupt):
        fit(frame, "kind", runs_dir=tmp_path, max_epochs=3, workers=1)
    with History() as history:
        first = {run.model: run.status for run in history.runs()}
    assert first["zen fit"] == "interrupted"
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    if url is not None:
        assert Location(url).exists()  # the finished candidates wait there

    monkeypatch.setattr(jobs.shutil, "copytree", real_copytree)
    calls = []

    class Counting(TabularModel):
        def fit(self, *args, **kwargs):
            calls.append(self)
            return super().fit(*args, **kwargs)

    use_table_class(monkeypatch, Counting)
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=3, workers=1)
    assert calls == []  # every candidate came from the interrupted run
    assert all(row.get("resumed") for row in result.leaderboard)
    assert (result.model_dir / "config.json").is_file() or any(result.model_dir.iterdir())
    # Once the job succeeded its cache is gone: the next run trains afresh.
    if url is not None:
        assert not Location(url).exists() or not any(Location(url).fs.ls(Location(url).root))
    fit(frame, "kind", runs_dir=tmp_path, max_epochs=3, workers=1)
    assert len(calls) == 3


def test_no_resume_trains_everything_again(frame, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(jobs.shutil, "copytree", lambda *a, **k: (_ for _ in ()).throw(OSError))
    with pytest.raises(OSError):
        fit(frame, "kind", runs_dir=tmp_path, max_epochs=2, workers=1)
    monkeypatch.undo()
    result = fit(frame, "kind", runs_dir=tmp_path, max_epochs=2, workers=1, resume=False)
    assert not any(row.get("resumed") for row in result.leaderboard)


def slow_candidate(task, *, name, options, parent_id, model_dir):
    import time

    time.sleep(task["sleep_s"])
    return {"model": name, "score": 1.0}


def test_candidates_not_started_when_the_budget_runs_out_are_skipped(monkeypatch, tmp_path):
    monkeypatch.setattr(orchestration, "MIN_GRACE_S", 0.0)
    monkeypatch.setattr(orchestration, "BUDGET_GRACE", 0.0)
    ranked = [Candidate(name, "graph", 1.0, f"reason {name}") for name in ("A", "B", "C")]
    outcomes = train_candidates(
        slow_candidate, {"sleep_s": 0.3}, ranked, parent_id=1, scratch=tmp_path, workers=1,
        data_bytes=0, budget_s=0.2,
    )  # fmt: skip
    assert outcomes[0] == {"model": "A", "score": 1.0, "reason": "reason A"}
    for outcome in outcomes[1:]:
        assert "budget" in outcome["error"] and outcome["reason"]


def test_candidate_progress_shows_each_candidates_status() -> None:
    from zen.orchestrator.orchestration import CandidateProgress
    from zen.orchestrator.workflow import StepStatus

    with CandidateProgress(["A", "B"]) as board:
        board("A", StepStatus.RUNNING)
        board("B", StepStatus.RUNNING)
        board("B", StepStatus.RETRYING)
        board("A", StepStatus.DONE)
        board("unknown step", StepStatus.DONE)  # not a candidate: ignored
    tasks = {task.description: task for task in board._progress.tasks}
    assert "done" in tasks["A"].fields["status"] and tasks["A"].finished
    assert "retrying" in tasks["B"].fields["status"] and not tasks["B"].finished


def test_candidate_progress_shows_what_the_bus_says_of_running_candidates() -> None:
    from zen.orchestrator.orchestration import CandidateProgress
    from zen.orchestrator.workflow import StepStatus

    reports = {"A": {"epoch": 4, "val_loss": 0.25, "node": "ab" * 28}, "B": {"epoch": 9}}
    with CandidateProgress(["A", "B"], poll=lambda: reports, every_s=60) as board:
        board("A", StepStatus.RUNNING)
        board("B", StepStatus.RUNNING)
        board("B", StepStatus.DONE)
        board.refresh()
    tasks = {task.description: task for task in board._progress.tasks}
    assert "epoch 4 · val_loss 0.25 · node abababab" in tasks["A"].fields["status"]
    assert "epoch" not in tasks["B"].fields["status"]  # finished: its last report is stale
