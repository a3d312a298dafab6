"""History: runs recorded in SQLite or PostgreSQL, safe across processes, crashes and schema
versions; the generic tests run on both backends (``history_location``)."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from typer.testing import CliRunner

from zen import ConfigError, DataError
from zen.cli import app
from zen.orchestrator import TaskProfile, history, history_db
from zen.orchestrator.history import History

runner = CliRunner()

#: The schema of version 1 as released, written out by hand: what an old zen left on disk.
VERSION_1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES runs (id), kind TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    hyperparameters TEXT NOT NULL DEFAULT '{}', profile TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}', started_at TEXT NOT NULL, finished_at TEXT,
    duration_s REAL, hardware TEXT NOT NULL DEFAULT '{}', seed INTEGER,
    zen_version TEXT NOT NULL, data TEXT, error TEXT
);
INSERT INTO runs (kind, model, status, metrics, started_at, zen_version)
VALUES ('forecasting', 'nhits', 'done', '{"smape": 12.5}', '2024-05-01T12:00:00.000000+00:00',
        '0.0.9');
PRAGMA user_version = 1;
"""


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A fresh ZEN_HOME; returns the path History uses by default."""
    monkeypatch.setenv("ZEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "zen.db"


@pytest.fixture
def recorded(history_location):
    """A History with three finished runs and one failed, oldest first."""
    with History() as runs:
        for kind, model, metrics in [
            ("tabular regression", "mlp", {"r2": 0.8}),
            ("tabular regression", "linear", {"r2": 0.6}),
            ("forecasting", "nhits", {"smape": 12.0}),
        ]:
            with runs.record(kind, model, {"lr": 1e-3}, seed=0) as run:
                run.metrics.update(metrics)
        failed = runs.start_run("forecasting", "nbeats")
        runs.fail_run(failed, "DataError: too short")
        yield runs


def _record_runs(path: str, worker: int, barrier, count: int) -> None:
    """A process that records ``count`` runs (at module level so that spawn can import it)."""
    with History(path) as runs:
        barrier.wait()
        for index in range(count):
            with runs.record("tabular regression", f"worker-{worker}", {"index": index}) as run:
                run.metrics["loss"] = float(index)


def test_a_run_round_trips_with_everything_recorded(history_location) -> None:
    profile = TaskProfile(kind="regression", reason="fractional target", target="y", n_rows=150)
    with History() as runs:
        parent = runs.start_run("workflow", "fit", data="table.csv")
        run_id = runs.start_run(
            "tabular regression", "mlp", {"hidden": [64, 64], "lr": 1e-3}, profile, seed=7,
            data="table.csv", parent=parent,
        )  # fmt: skip
        runs.finish_run(run_id, {"r2": np.float32(0.5), "rmse": 0.25})
        run = runs.get(run_id)
    assert (run.kind, run.model, run.status, run.seed, run.data) == (
        "tabular regression", "mlp", "done", 7, "table.csv"
    )  # fmt: skip
    assert run.parent_id == parent
    assert run.hyperparameters == {"hidden": [64, 64], "lr": 1e-3}
    assert run.profile["target"] == "y" and run.profile["n_features"] == 0
    assert run.metrics == {"r2": 0.5, "rmse": 0.25}
    assert run.duration_s is not None and run.duration_s >= 0
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert {"cpu", "cores", "torch", "device"} <= set(run.hardware)
    assert run.error is None
    assert {"id", "kind", "model", "metrics", "status", "started_at", "duration_s"} <= set(
        json.loads(json.dumps(run.to_json()))
    )


def test_the_device_is_what_the_run_reports_not_a_guess_at_the_start(history_location) -> None:
    with History() as runs:
        with runs.record("forecasting", "nhits") as trained:
            assert runs.get(trained.id).hardware["device"] is None  # not trained anywhere yet
            trained.device = "cuda:1"
        with pytest.raises(RuntimeError), runs.record("forecasting", "nbeats"):
            raise RuntimeError("failed before training")
        with pytest.raises(RuntimeError), runs.record("forecasting", "tcn") as late:
            late.device = "mps:0"
            raise RuntimeError("failed while saving")
        given = runs.start_run("forecasting", "naive", device="cpu")
        runs.finish_run(given)
        devices = {run.model: run.hardware["device"] for run in runs.runs()}
        kept = runs.get(trained.id).hardware  # the rest of the hardware survives the update
        with pytest.raises(ConfigError, match="device:"):
            runs.finish_run(given, device="")
    assert devices == {"nhits": "cuda:1", "nbeats": None, "tcn": "mps:0", "naive": "cpu"}
    assert {"cpu", "cores", "torch", "python"} <= set(kept)


@pytest.mark.parametrize(
    ("filters", "models"),
    [
        ({}, ["nbeats", "nhits", "linear", "mlp"]),
        ({"kind": "tabular regression"}, ["linear", "mlp"]),
        ({"model": "nhits"}, ["nhits"]),
        ({"status": "failed"}, ["nbeats"]),
        ({"kind": "forecasting", "status": "done"}, ["nhits"]),
        ({"limit": 2}, ["nbeats", "nhits"]),
        ({"since": datetime.now(UTC) - timedelta(hours=1)}, ["nbeats", "nhits", "linear", "mlp"]),
        ({"since": "2999-01-01T00:00:00+00:00"}, []),
    ],
)
def test_runs_are_listed_newest_first_and_filtered(recorded, filters, models) -> None:
    assert [run.model for run in recorded.runs(**filters)] == models


@pytest.mark.parametrize(
    ("filters", "argument"),
    [({"status": "crashed"}, "status"), ({"limit": 0}, "limit"), ({"since": "May"}, "since")],
)
def test_runs_rejects_bad_filters_naming_them(recorded, filters, argument) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        recorded.runs(**filters)


@pytest.mark.parametrize(
    ("raised", "status", "error"),
    [
        (ValueError("loss is nan"), "failed", "ValueError: loss is nan"),
        (KeyboardInterrupt(), "interrupted", "interrupted (KeyboardInterrupt)"),
    ],
)
def test_record_marks_a_run_that_raises_and_reraises(
    history_location, raised, status, error
) -> None:
    with History() as runs:
        with pytest.raises(type(raised)), runs.record("forecasting", "nhits"):
            raise raised
        [run] = runs.runs()
    assert (run.status, run.error) == (status, error)
    assert run.duration_s is not None


def test_unknown_run_ids_are_clear_errors(recorded) -> None:
    where = re.escape(str(recorded.path))
    with pytest.raises(ConfigError, match=rf"^run_id: no run 99 in {where}$"):
        recorded.get(99)
    with pytest.raises(ConfigError, match=r"^run_id: no run 99"):
        recorded.finish_run(99, {})
    with pytest.raises(ConfigError, match=r"^parent: no run 99"):
        recorded.start_run("forecasting", "nhits", parent=99)


def test_values_that_are_not_json_are_rejected_naming_the_argument(history_location) -> None:
    with History() as runs, pytest.raises(ConfigError, match=r"^hyperparameters: cannot be stored"):
        runs.start_run("forecasting", "nhits", {"activation": object()})


def test_the_default_is_a_sqlite_file_in_zen_home_in_wal_mode(database) -> None:
    with History() as runs:
        runs.start_run("forecasting", "nhits")
        connection = runs._db.connection
        assert (runs.path, runs.url) == (database, f"sqlite:///{database}")
        assert runs.optuna_storage() == f"sqlite:///{database.resolve()}"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(history.MIGRATIONS)
    assert database.is_file()


def test_a_version_1_database_is_migrated_keeping_its_runs(database) -> None:
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.executescript(VERSION_1)
    connection.close()
    with History() as runs:
        [old] = runs.runs()
        new = runs.start_run("forecasting", "nhits")
        assert runs.get(new).pid is not None
    assert (old.model, old.metrics, old.zen_version, old.pid) == (
        "nhits", {"smape": 12.5}, "0.0.9", None
    )  # fmt: skip
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == len(history.MIGRATIONS)
    connection.close()


def test_a_failing_migration_leaves_the_database_at_its_version(database, monkeypatch) -> None:
    History().close()
    version = len(history.MIGRATIONS)
    broken = "ALTER TABLE runs ADD COLUMN note TEXT; ALTER TABLE nowhere ADD COLUMN x TEXT;"
    monkeypatch.setattr(history, "MIGRATIONS", [*history.MIGRATIONS, broken])
    with pytest.raises(
        DataError, match=f"version {version + 1} failed .*left at version {version}"
    ):
        History()
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == version
        columns = [row[1] for row in connection.execute("PRAGMA table_info(runs)")]
    connection.close()
    assert "note" not in columns  # the half-applied migration was rolled back


def test_a_database_from_a_newer_zen_is_refused_untouched(database) -> None:
    database.parent.mkdir()
    with sqlite3.connect(database) as connection:
        connection.execute(f"PRAGMA user_version = {len(history.MIGRATIONS) + 1}")
    connection.close()
    before = database.read_bytes()
    with pytest.raises(DataError, match="created by a newer zen; upgrade zen or point ZEN_HOME"):
        History()
    assert database.read_bytes() == before
    assert sorted(path.name for path in database.parent.iterdir()) == ["zen.db"]


def test_a_file_that_is_not_sqlite_is_refused_untouched(database) -> None:
    database.parent.mkdir()
    database.write_bytes(b"runs.csv: id,model\n1,mlp\n" * 200)
    before = database.read_bytes()
    with pytest.raises(DataError, match=f"{database} is not a readable SQLite database"):
        History()
    assert database.read_bytes() == before


def test_a_run_whose_process_crashed_is_marked_failed_on_opening(history_location) -> None:
    script = (
        "import os, sys\n"
        "from zen.orchestrator.history import History\n"
        "print(History(sys.argv[1]).start_run('forecasting', 'nhits'), flush=True)\n"
        "os._exit(3)\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", script, history_location],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 3, crashed.stderr
    with History() as runs:
        run = runs.get(int(crashed.stdout))
    assert run.status == "failed"
    assert f"process {run.pid} " in (run.error or "") and "crashed" in (run.error or "")


def test_stale_runs_of_other_hosts_are_marked_failed_but_live_ones_kept(history_location) -> None:
    with History() as runs:
        mine = runs.start_run("forecasting", "nhits")
        elsewhere = runs.start_run("forecasting", "nbeats")
        with runs._write() as transaction:
            transaction.execute(
                "UPDATE runs SET hostname = 'other-host' WHERE id = ?", (elsewhere,)
            )
        assert runs.mark_stale_running(older_than_s=3600) == []
        assert runs.mark_stale_running(older_than_s=0) == [elsewhere]
        assert runs.get(mine).status == "running"
        assert runs.get(elsewhere).status == "failed"


def test_two_processes_record_at_once(history_location) -> None:
    History().close()  # create it first, so the workers race on writes rather than on creation
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(target=_record_runs, args=(history_location, worker, barrier, 50))
        for worker in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with History() as runs:
        recorded = runs.runs(status="done")
        assert len(recorded) == 100
        assert {run.model for run in recorded} == {"worker-0", "worker-1"}
        assert len({run.id for run in recorded}) == 100
        if history_location.endswith(".db"):
            assert runs._db.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _open_and_record(location: str, barrier) -> None:
    """A node that opens a History nobody created yet, at the same moment as the others."""
    barrier.wait()
    with History(location) as runs:
        runs.record_event("node_joined", {"pid": os.getpid()})


def test_nodes_opening_a_new_database_together_migrate_it_once(history_location) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    nodes = [
        context.Process(target=_open_and_record, args=(history_location, barrier)) for _ in range(3)
    ]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(timeout=90)
    assert [node.exitcode for node in nodes] == [0, 0, 0]
    with History() as runs:
        assert len(runs.events(kinds=["node_joined"])) == 3
        assert runs._db.version() == len(history.MIGRATIONS)


def test_cli_history_json_lists_runs(recorded) -> None:
    result = runner.invoke(app, ["history", "--kind", "tabular regression", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [run["model"] for run in listed] == ["linear", "mlp"]
    assert {"id", "kind", "model", "metrics", "status", "started_at", "duration_s"} <= set(
        listed[0]
    )
    assert listed[0]["metrics"] == {"r2": 0.6}


def test_cli_history_shows_a_table_and_one_run(recorded) -> None:
    listing = runner.invoke(app, ["history", "--status", "failed"])
    assert listing.exit_code == 0, listing.output
    assert "nbeats" in listing.output and "mlp" not in listing.output
    run_id = recorded.runs(model="nbeats")[0].id
    shown = runner.invoke(app, ["history", "show", str(run_id)])
    assert shown.exit_code == 0, shown.output
    assert "DataError: too short" in shown.output
    as_json = runner.invoke(app, ["history", "show", str(run_id), "--json"])
    assert json.loads(as_json.stdout)["error"] == "DataError: too short"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["history", "show", "99"], "run_id: no run 99"), (["history", "--status", "x"], "status:")],
)
def test_cli_history_errors_are_one_line(recorded, arguments, message) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_cluster_fields_are_saved_when_the_run_ends_and_annotated_later(history_location) -> None:
    with History() as runs:
        with runs.record("forecasting", "nhits") as placed:
            placed.node, placed.attempts = "node-b", 2
        with pytest.raises(RuntimeError), runs.record("forecasting", "tcn") as lost:
            lost.node = "node-a"
            raise RuntimeError("node lost")
        runs.annotate_run(placed.id, predicted_s=12.5, predicted_peak_mib=300)
        runs.annotate_run(placed.id, peak_mib=np.float32(280.0))  # the others are kept
        plain = runs.start_run("forecasting", "naive")
        records = {run.model: run for run in runs.runs()}
        as_json = runs.get(placed.id).to_json()
    nhits = records["nhits"]
    assert (nhits.node, nhits.attempts) == ("node-b", 2)
    assert (nhits.predicted_s, nhits.predicted_peak_mib, nhits.peak_mib) == (12.5, 300.0, 280.0)
    assert (records["tcn"].status, records["tcn"].node, records["tcn"].attempts) == (
        "failed", "node-a", None
    )  # fmt: skip
    naive = records["naive"]
    assert naive.id == plain and naive.node is None and naive.predicted_s is None
    assert {"node", "attempts", "predicted_s", "predicted_peak_mib", "peak_mib"} <= set(as_json)


@pytest.mark.parametrize(
    ("fields", "argument"),
    [({"node": ""}, "node"), ({"attempts": 0}, "attempts"), ({"attempts": 1.5}, "attempts"),
     ({"predicted_s": -1.0}, "predicted_s"), ({"peak_mib": float("nan")}, "peak_mib"),
     ({"predicted_peak_mib": "big"}, "predicted_peak_mib")],
)  # fmt: skip
def test_annotate_run_rejects_bad_values_naming_them(history_location, fields, argument) -> None:
    with History() as runs:
        run_id = runs.start_run("forecasting", "nhits")
        with pytest.raises(ConfigError, match=f"^{argument}:"):
            runs.annotate_run(run_id, **fields)
        with pytest.raises(ConfigError, match=r"^run_id: no run 99"):
            runs.annotate_run(99, node="node-a")


def test_events_are_read_oldest_first_filtered_and_limited(history_location) -> None:
    with History() as runs:
        run_id = runs.start_run("forecasting", "nhits")
        first = runs.record_event("node_joined", {"node": "a", "cpus": 2})
        ids = [runs.record_event("step_progress", {"epoch": epoch}, run_id=run_id)
               for epoch in range(5)]  # fmt: skip
        last = runs.record_event("node_lost", {"node": "a"})
        everything = runs.events()
        assert [event.id for event in everything] == [first, *ids, last]
        assert everything[0].payload == {"node": "a", "cpus": 2} and everything[0].run_id is None
        assert everything[1].run_id == run_id and everything[1].at >= everything[0].at
        assert [event.payload["epoch"] for event in runs.events(limit=3, kinds=["step_progress"])
                ] == [2, 3, 4]  # fmt: skip
        assert [event.id for event in runs.events(since_id=ids[-1])] == [last]
        assert [event.kind for event in runs.events(kinds=["node_joined", "node_lost"])] == [
            "node_joined", "node_lost"
        ]  # fmt: skip
        assert runs.events(kinds=[]) == []
        assert json.loads(json.dumps(everything[0].to_json()))["kind"] == "node_joined"
        for bad, argument in (({"limit": 0}, "limit"), ({"kinds": "node_lost"}, "kinds")):
            with pytest.raises(ConfigError, match=f"^{argument}:"):
                runs.events(**bad)
        with pytest.raises(ConfigError, match=r"^kind:"):
            runs.record_event("")
        with pytest.raises(ConfigError, match=r"^payload: cannot be stored"):
            runs.record_event("step_progress", {"model": object()})


# -- PostgreSQL ----------------------------------------------------------------------------------


def test_zen_history_names_the_database_and_overrides_zen_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ZEN_HISTORY", str(tmp_path / "shared" / "cluster.db"))
    with History() as runs:
        runs.start_run("forecasting", "nhits")
        assert runs.path == tmp_path / "shared" / "cluster.db"
    with History(f"sqlite:///{tmp_path / 'shared' / 'cluster.db'}") as same:
        assert [run.model for run in same.runs()] == ["nhits"]
    with pytest.raises(ConfigError, match="expected a SQLite file path or a postgresql:// URL"):
        History("mysql://root:secret@db/zen")


def test_a_postgres_history_hides_its_password_and_serves_optuna(fresh_postgres) -> None:
    url = fresh_postgres
    with History(url.replace("postgresql://postgres@", "postgresql+psycopg://postgres:s3cret@")):
        pass  # trust authentication: the password is accepted and ignored
    with_password = url.replace("postgresql://postgres@", "postgresql://postgres:s3cret@")
    with History(with_password) as runs:
        assert runs.url == url.replace("postgres@", "postgres:***@") and "s3cret" not in repr(runs)
        assert runs.optuna_storage() == with_password.replace("postgresql", "postgresql+psycopg")
        assert runs._db.version() == len(history.MIGRATIONS)


def test_a_postgres_server_that_does_not_answer_is_a_clear_error(postgres) -> None:
    closed = postgres.url.replace(str(postgres.port), str(_closed_port()))
    closed = closed.replace("postgres@", "postgres:s3cret@")
    hidden = re.escape("cannot connect to postgresql://postgres:***@")
    with pytest.raises(DataError, match=hidden) as error:
        History(closed)
    assert "s3cret" not in str(error.value)


def test_a_postgres_database_from_a_newer_zen_is_refused_untouched(fresh_postgres) -> None:
    import psycopg

    url = fresh_postgres
    History(url).close()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE zen_schema_version SET version = version + 1")
    with pytest.raises(DataError, match="created by a newer zen; upgrade zen or open another"):
        History(url)
    with psycopg.connect(url, autocommit=True) as connection:
        [(version,)] = connection.execute("SELECT version FROM zen_schema_version").fetchall()
    assert version == len(history.MIGRATIONS) + 1


def test_a_failing_postgres_migration_is_rolled_back(fresh_postgres, monkeypatch) -> None:
    import psycopg

    url = fresh_postgres
    History(url).close()
    version = len(history.MIGRATIONS)
    broken = "ALTER TABLE runs ADD COLUMN note TEXT; ALTER TABLE nowhere ADD COLUMN x TEXT;"
    monkeypatch.setattr(history, "MIGRATIONS", [*history.MIGRATIONS, broken])
    failed = f"version {version + 1} failed .*left at version {version}"
    with pytest.raises(DataError, match=failed):
        History(url)
    with psycopg.connect(url, autocommit=True) as connection:
        columns = [row[0] for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'"
        )]  # fmt: skip
        [(stored,)] = connection.execute("SELECT version FROM zen_schema_version").fetchall()
    assert stored == version and "note" not in columns and "peak_mib" in columns


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_postgres_history_reconnects_after_its_connection_was_cut(fresh_postgres) -> None:
    import psycopg

    with History(fresh_postgres) as runs:
        before = runs.start_run("forecasting", "nhits")
        backend = runs._db.connection.info.backend_pid
        with psycopg.connect(fresh_postgres, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        with pytest.raises(DataError, match=r"^history: postgresql://"):
            runs.runs()  # the statement that meets the cut fails, naming the database
        runs.finish_run(before, {"mae": 1.0})
        assert runs.get(before).status == "done"
        assert runs._db.connection.info.backend_pid != backend


def test_a_postgres_url_without_psycopg_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what a missing package looks like
    with pytest.raises(
        ConfigError, match=r"needs psycopg; install it with pip install 'zen-neural\[cluster\]'"
    ) as error:
        History("postgresql://zen:s3cret@db.example:5432/zen")
    assert "s3cret" not in str(error.value) and "zen:***@db.example" in str(error.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://zen:s3cret@db:5432/zen", "postgresql://zen:***@db:5432/zen"),
        ("postgresql://zen@db/zen?password=s3cret&sslmode=require",
         "postgresql://zen@db/zen?password=***&sslmode=require"),
        ("postgresql://zen@/zen?host=/run/postgresql&port=5433",
         "postgresql://zen@/zen?host=/run/postgresql&port=5433"),  # left as written
    ],
)  # fmt: skip
def test_urls_are_shown_without_their_password(url, shown) -> None:
    assert history_db.hide_password(url) == shown
