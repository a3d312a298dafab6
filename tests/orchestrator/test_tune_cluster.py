"""Tuning with History's database: studies in PostgreSQL when History is there, and trials run
in parallel as Ray tasks on the nodes of a cluster, all against one shared study."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from zen.errors import ConfigError
from zen.orchestrator.history import History
from zen.orchestrator.tune import tune
from zen.orchestrator.tune_distributed import SharedStorage, shared_storage

SRC = Path(__file__).resolve().parents[2] / "src"


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    return (x - 1.0) ** 2


def tune_on_cluster(
    cluster: Any, epochs: int, call: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``tune(objective, <call>)`` in the cluster's namespace on a pruned quadratic with
    ``epochs`` reports; the TuneResult as JSON."""
    done = cluster.python(
        f"""
        import json, optuna, ray
        # The nodes import this checkout's zen (the installed one may be another branch).
        ray.init(address="{cluster.address}", logging_level="ERROR",
                 runtime_env={{"env_vars": {{"PYTHONPATH": "{SRC}"}}}})
        from zen.orchestrator.tune import tune

        def objective(trial):
            x = trial.suggest_float("x", -2.0, 2.0)
            for epoch in range(1, {epochs + 1}):
                trial.report((x - 1.0) ** 2 + 1.0 / epoch, epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return (x - 1.0) ** 2

        result = tune(objective, {call})
        print(json.dumps(result.to_json()))
        """,
        env={"PYTHONPATH": str(SRC), **(env or {})},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(
        json.loads(next(line for line in reversed(done.stdout.splitlines()) if line[:1] == "{"))
    )


def test_studies_live_in_the_postgres_history_that_zen_history_names(
    fresh_postgres, monkeypatch
) -> None:
    import psycopg

    monkeypatch.setenv("ZEN_HISTORY", fresh_postgres)
    first = tune(quadratic, n_trials=3, study_name="q", seed=0)
    again = tune(quadratic, n_trials=2, study_name="q", seed=0)
    assert first.storage == again.storage == fresh_postgres
    assert (again.n_trials, again.n_new_trials) == (5, 2)
    with History() as runs:
        study = optuna.load_study(study_name="q", storage=runs.optuna_storage())
        assert len({trial.params["x"] for trial in study.trials}) == 5
        assert runs.runs() == []  # History's tables and Optuna's share the database
    with psycopg.connect(fresh_postgres) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )}  # fmt: skip
    assert {"runs", "events", "zen_schema_version", "studies", "trials"} <= tables


def test_a_cluster_shares_postgres_or_a_journal_beside_the_sqlite_history(
    fresh_postgres, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ZEN_HISTORY", str(tmp_path / "shared" / "zen.db"))
    beside = str(tmp_path / "shared" / "zen-studies.journal")
    assert shared_storage(None) == SharedStorage(journal=beside)
    assert shared_storage(f"sqlite:///{tmp_path / 'shared' / 'zen.db'}").journal == beside
    with History(fresh_postgres) as runs:
        assert shared_storage(fresh_postgres) == SharedStorage(url=fresh_postgres)
        assert shared_storage(fresh_postgres).describe() == runs.url
    monkeypatch.setenv("ZEN_HISTORY", fresh_postgres)
    assert shared_storage(None).url == fresh_postgres.replace("postgresql", "postgresql+psycopg")
    with pytest.raises(ConfigError, match=r"^storage: trials on a cluster need a storage"):
        shared_storage(optuna.storages.InMemoryStorage())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"parallel": 2}, "parallel: 2 trials at once need a cluster"),
        ({"parallel": 0, "cluster": "auto"}, "parallel: expected a positive number"),
        ({"cluster": ""}, "cluster: expected a Ray address or 'auto'"),
        ({"cluster": "local", "parallel": 3}, "parallel: 3 trials at once need a cluster"),
    ],
)
def test_distributed_settings_are_checked_naming_them(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        tune(quadratic, n_trials=2, storage=optuna.storages.InMemoryStorage(), **settings)


def test_the_local_cluster_tunes_in_this_process() -> None:
    result = tune(quadratic, n_trials=2, storage=optuna.storages.InMemoryStorage(),
                  cluster="local", parallel=1)  # fmt: skip
    assert result.n_trials == 2 and result.nodes == {}


@pytest.mark.slow  # the Ray workers import zen and torch: ~12 s here after the cluster starts
def test_trials_run_in_parallel_on_both_nodes_against_one_study(ray_two_nodes, tmp_path) -> None:
    journal = tmp_path / "studies.journal"
    result = tune_on_cluster(
        ray_two_nodes, 5,
        f'n_trials=10, storage="{journal}", study_name="spread", cluster="auto", parallel=2,'
        " pruner_startup_trials=2, warmup_epochs=0",
    )  # fmt: skip
    study = optuna.load_study(
        study_name="spread",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        ),
    )
    finished = [trial for trial in study.trials if trial.state.is_finished()]
    assert len(finished) == len(study.trials) == result["n_trials"] == 10
    assert result["n_complete"] + result["n_pruned"] == 10 and result["n_failed"] == 0
    nodes = {trial.user_attrs["node"] for trial in study.trials}
    assert len(nodes) == 2 and set(result["nodes"]) == nodes
    assert sum(result["nodes"].values()) == 10
    assert result["best_value"] == min(t.value for t in study.trials if t.value is not None)
    assert result["storage"] == f"journal:{journal}"


@pytest.mark.slow  # a cluster of its own, and Ray noticing a dead node: about a minute
def test_a_node_lost_mid_trial_fails_that_trial_and_the_study_still_finishes(tmp_path) -> None:
    from cluster_harness import NODE_MARKER, ray_cluster

    journal, started = tmp_path / "studies.journal", tmp_path / "started"
    started.mkdir()
    code = f"""
        import json, os, pathlib, time, ray
        ray.init(address="auto", logging_level="ERROR",
                 runtime_env={{"env_vars": {{"PYTHONPATH": "{SRC}"}}}})
        from zen.orchestrator.tune import tune

        def objective(trial):
            node = os.environ["{NODE_MARKER}"]
            (pathlib.Path("{started}") / node).touch()
            while node.endswith("-1"):  # the worker node's trial runs until the node dies
                time.sleep(0.1)
            return trial.suggest_float("x", -2.0, 2.0) ** 2

        result = tune(objective, n_trials=6, storage="{journal}", study_name="lost",
                      cluster="auto", parallel=2)
        print(json.dumps(result.to_json()))
    """
    with ray_cluster(workers=({},)) as cluster:
        worker = cluster.nodes[1]
        tuning = cluster.popen([sys.executable, "-c", textwrap.dedent(code)],
                               env={"PYTHONPATH": str(SRC)})  # fmt: skip
        deadline = time.monotonic() + 180
        while not (started / worker.marker).exists():
            assert tuning.poll() is None and time.monotonic() < deadline, tuning.stderr.read()
            time.sleep(0.2)
        worker.kill()
        stdout, stderr = tuning.communicate(timeout=300)
    assert tuning.returncode == 0, stderr[-3000:]
    # The driver also prints the workers' log lines (log_to_driver).
    result = json.loads(next(line for line in reversed(stdout.splitlines()) if line[:1] == "{"))
    assert (result["n_trials"], result["n_complete"], result["n_failed"]) == (6, 5, 1)
    study = optuna.load_study(
        study_name="lost",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal))
        ),
    )
    [lost] = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.FAIL]
    assert lost.user_attrs["node"] not in {
        trial.user_attrs["node"] for trial in study.trials if trial.number != lost.number
    }


@pytest.mark.slow  # the Ray workers import zen and torch
def test_with_history_on_postgres_the_nodes_tune_one_study_in_it(
    ray_two_nodes, postgres, fresh_postgres
) -> None:
    # The nodes live in a network namespace of their own: they reach the server through its
    # Unix socket (a file, visible from every namespace) rather than its TCP port.
    database = fresh_postgres.rsplit("/", 1)[1]
    socket_url = (f"postgresql://postgres@/{database}"
                  f"?host={postgres.folder / 'sock'}&port={postgres.port}")  # fmt: skip
    result = tune_on_cluster(
        ray_two_nodes, 3,
        'n_trials=6, study_name="in-postgres", cluster="auto", parallel=2,'
        " pruner_startup_trials=2, warmup_epochs=0",
        env={"ZEN_HISTORY": socket_url},
    )  # fmt: skip
    assert result["storage"] == socket_url
    with History(fresh_postgres) as runs:
        study = optuna.load_study(study_name="in-postgres", storage=runs.optuna_storage())
    assert len(study.trials) == result["n_trials"] == 6
    assert all(trial.state.is_finished() for trial in study.trials)
    assert len({trial.user_attrs["node"] for trial in study.trials}) == 2 == len(result["nodes"])
