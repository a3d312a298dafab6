"""History: every run zen trains, recorded in a database so that routing can learn from it.

By default one SQLite file, ``$ZEN_HOME/zen.db`` (``ZEN_HOME`` defaults to ``~/.zen``); a
cluster shares one PostgreSQL database instead (``ZEN_HISTORY=postgresql://user@host/db``, or
``History(url)``), so that the router learns from the runs of every node. A ``runs`` table
holds what was trained (kind, model, hyperparameters, task profile), how it went (status,
metrics, error, duration), where (hardware, node, seed, zen version, data) and what the
placement predicted of it; an ``events`` table holds what happened in the cluster. A workflow
run is the parent of its candidate runs.

Several processes may record at once (two ``zen fit`` in two shells, workflow steps in worker
processes, the nodes of a cluster): every write is one short transaction that other writers
wait for instead of failing, and readers never wait (see :mod:`~zen.orchestrator.history_db`).
A run whose process died is marked failed the next time History is opened on the same host, so
no crashed run is left ``running``.

The schema is versioned and grows by appending to :data:`MIGRATIONS`. A database from a newer
zen, or a file that is not SQLite, is refused with a :class:`~zen.errors.DataError` and never
modified.

>>> import tempfile, pathlib
>>> with History(pathlib.Path(tempfile.mkdtemp()) / "zen.db") as history:
...     with history.record("tabular regression", "mlp", {"lr": 1e-3}, seed=0) as run:
...         run.metrics["r2"] = 0.91
...     [(r.model, r.status, r.metrics) for r in history.runs()]
[('mlp', 'done', {'r2': 0.91})]
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import numbers
import os
import platform
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import zen
from zen.errors import ConfigError, expect_one_of
from zen.orchestrator.history_db import (
    Migration,
    SQLiteDatabase,
    Transaction,
    open_database,
)

logger = logging.getLogger(__name__)

ENV_VAR = "ZEN_HOME"
DEFAULT_HOME = "~/.zen"
DATABASE_FILE = "zen.db"
STATUSES = ("running", "done", "failed", "interrupted")
#: A path or URL of the History database, overriding ``$ZEN_HOME/zen.db``.
HISTORY_ENV_VAR = "ZEN_HISTORY"

#: Schema changes in order: migration ``i`` takes the database from schema version ``i`` to
#: ``i + 1``. Written in SQLite's dialect (:mod:`~zen.orchestrator.history_db` translates
#: them for PostgreSQL). A released migration is never edited, only followed by a new one.
MIGRATIONS: list[Migration] = [
    # 1: what a run is. JSON columns hold what differs between model families and would
    # otherwise need one table each; the indexes serve the filters of History.runs().
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER REFERENCES runs (id),
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
        hyperparameters TEXT NOT NULL DEFAULT '{}',
        profile TEXT NOT NULL DEFAULT '{}',
        metrics TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL,
        hardware TEXT NOT NULL DEFAULT '{}',
        seed INTEGER,
        zen_version TEXT NOT NULL,
        data TEXT,
        error TEXT
    );
    CREATE INDEX runs_kind ON runs (kind);
    CREATE INDEX runs_model ON runs (model);
    CREATE INDEX runs_status ON runs (status);
    CREATE INDEX runs_started_at ON runs (started_at);
    """,
    # 2: which process owns a running run, so that a run whose process died can be marked failed.
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN hostname TEXT;
    """,
    # 3: where a run ran in a cluster and how the placement guessed, so that the cost model
    # learns from its own errors; and the events of the cluster (its dashboard's history).
    # events.run_id has no foreign key: an event may name a run of another database (a node
    # that records locally), and an event log must never refuse an event.
    """
    ALTER TABLE runs ADD COLUMN node TEXT;
    ALTER TABLE runs ADD COLUMN attempts INTEGER;
    ALTER TABLE runs ADD COLUMN predicted_s REAL;
    ALTER TABLE runs ADD COLUMN predicted_peak_mib REAL;
    ALTER TABLE runs ADD COLUMN peak_mib REAL;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        run_id INTEGER,
        payload TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_kind ON events (kind);
    CREATE INDEX events_run_id ON events (run_id);
    """,
]


@runtime_checkable
class SupportsToJson(Protocol):
    """Anything with a ``to_json()`` dict, such as :class:`~zen.orchestrator.TaskProfile`."""

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunRecord:
    """One row of the ``runs`` table.

    Attributes:
        id: the run's number in this database.
        kind: the task, e.g. ``"tabular regression"``, ``"forecasting"``, ``"node classification"``.
        model: the model family, e.g. ``"nhits"``.
        status: ``"running"``, ``"done"``, ``"failed"`` or ``"interrupted"``.
        metrics: scores of a finished run (empty until then).
        started_at, finished_at: ISO 8601 times in UTC.
        duration_s: wall time from start to finish (``None`` while running or after a crash).
        hardware: ``cpu``, ``cores``, ``torch`` version and ``device`` of the run: the device
            its model trained on (``"cpu"``, ``"cuda:0"``...) as the run reported it when it
            ended, ``None`` when it never said (it failed first, or it was recorded before zen
            recorded devices and said ``"cpu"`` whatever it used).
        parent_id: the workflow run this candidate belongs to.
        pid, hostname: the process that records the run (used to detect crashes).
        node: the cluster node the run ran on (``None`` outside a cluster).
        attempts: how many times the run was started (retries after a lost node count).
        predicted_s, predicted_peak_mib: what the cost model expected of its time and memory.
        peak_mib: the peak memory the run measured.
    """

    id: int
    kind: str
    model: str
    status: str
    hyperparameters: dict[str, Any]
    profile: dict[str, Any]
    metrics: dict[str, Any]
    started_at: str
    finished_at: str | None
    duration_s: float | None
    hardware: dict[str, Any]
    seed: int | None
    zen_version: str
    data: str | None
    error: str | None
    parent_id: int | None
    pid: int | None
    hostname: str | None
    node: str | None = None
    attempts: int | None = None
    predicted_s: float | None = None
    predicted_peak_mib: float | None = None
    peak_mib: float | None = None

    def to_json(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict (what ``zen history --json`` prints)."""
        return asdict(self)


@dataclass(frozen=True)
class EventRecord:
    """One row of the ``events`` table: something that happened in a cluster.

    Attributes:
        id: the event's number; events are ordered by it.
        at: ISO 8601 time in UTC.
        kind: what happened, e.g. ``"step_started"`` or ``"node_lost"``.
        run_id: the run it concerns, if any.
        payload: the details (JSON).
    """

    id: int
    at: str
    kind: str
    run_id: int | None
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict."""
        return asdict(self)


@dataclass
class ActiveRun:
    """The run inside :meth:`History.record`: fill ``metrics``, and set ``device`` to the
    device the model trained on once it is known, ``node`` to the cluster node it ran on and
    ``attempts`` to how many times it was started; all are saved when the run ends."""

    id: int
    metrics: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    node: str | None = None
    attempts: int | None = None


def zen_home() -> Path:
    """``$ZEN_HOME``, defaulting to ``~/.zen``: where zen keeps its database and caches."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_HOME).expanduser()


def default_path() -> Path:
    """``$ZEN_HOME/zen.db``, with ``ZEN_HOME`` defaulting to ``~/.zen``."""
    return zen_home() / DATABASE_FILE


class History:
    """The run history: one SQLite file, or a PostgreSQL database shared by a cluster; open one
    per process (and close it, or use ``with``).

    Args:
        path: where the history is: a SQLite file path, or a URL
            ``postgresql://user@host:port/db`` (``postgresql+psycopg://`` too; needs
            ``pip install 'zen-neural[cluster]'``). ``None``: ``$ZEN_HISTORY`` when set (a path
            or a URL), else :func:`default_path` (``$ZEN_HOME/zen.db``). A SQLite file's folder
            is created if needed; keep it on a local disk: WAL mode needs shared memory that
            network file systems do not provide (a cluster shares PostgreSQL instead).

    Attributes:
        path: the SQLite file, or for PostgreSQL its URL with the password hidden (for display).

    Raises:
        DataError: the database cannot be opened, is not a History database, or was written by a
            newer zen.
        ConfigError: a URL of another kind, or psycopg missing for a PostgreSQL URL.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is not None:
            location: str | Path = path
            hint = "open another database"
        elif os.environ.get(HISTORY_ENV_VAR):
            location = os.environ[HISTORY_ENV_VAR]
            hint = f"point {HISTORY_ENV_VAR} elsewhere"
        else:
            location = default_path()
            hint = f"point {ENV_VAR} elsewhere"
        self._owner_pid = os.getpid()
        # Monotonic start times of the runs this object started: immune to clock changes.
        self._started_monotonic: dict[int, float] = {}
        self._db = open_database(location, hint)
        self.path: Path | str = (
            self._db.path if isinstance(self._db, SQLiteDatabase) else self._db.url
        )
        try:
            self._db.migrate(MIGRATIONS)
            self.recover_crashed_runs()
        except BaseException:
            self._db.close()
            raise

    @property
    def url(self) -> str:
        """Where the history is, as a URL: ``sqlite:////abs/zen.db`` or the PostgreSQL URL with
        its password hidden."""
        return self._db.url

    def optuna_storage(self) -> str:
        """The storage URL for Optuna studies in this same database (SQLAlchemy form; it
        carries the password of a PostgreSQL URL, so do not print it)."""
        return self._db.optuna_url()

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"History({str(self.path)!r})"

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Transaction]:
        """One write transaction; other processes' writes wait for it, never interleave."""
        self._check_process()
        with self._db.write() as transaction:
            yield transaction

    @staticmethod
    def _exists(transaction: Transaction, run_id: int) -> bool:
        found = transaction.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        return found is not None

    def _check_process(self) -> None:
        # A connection copied into a forked child shares locks and file offsets (or a server
        # session) with the parent's; using it from both can corrupt the database.
        if os.getpid() != self._owner_pid:
            raise ConfigError(
                "history: this History was opened in another process (before a fork);"
                " open a new History in each process"
            )

    def start_run(
        self,
        kind: str,
        model: str,
        hyperparameters: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | SupportsToJson | None = None,
        seed: int | None = None,
        data: str | Path | None = None,
        parent: int | None = None,
        *,
        device: str | None = None,
    ) -> int:
        """Record that a run starts now, owned by this process; returns its id.

        Args:
            kind: the task, e.g. ``"tabular classification"`` or ``"forecasting"``.
            model: the model family.
            hyperparameters: the settings that define the model (JSON-serialisable).
            profile: the task profile, as a dict or a :class:`~zen.orchestrator.TaskProfile`.
            seed: the seed of the run.
            data: where the data came from (a path or a short description).
            parent: id of the workflow run this run is a candidate of.
            device: the device it trains on, when already known (recorded with the hardware);
                ``None`` until :meth:`finish_run` reports it: the device a model ends up on is
                decided when it trains (``ZEN_DEVICE``, fallbacks), not when the run starts.
        """
        for argument, value in (("kind", kind), ("model", model)):
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{argument}: expected a non-empty string, got {value!r}")
        profile_json = profile.to_json() if isinstance(profile, SupportsToJson) else profile
        row = {
            "parent_id": parent,
            "kind": kind,
            "model": model,
            "status": "running",
            "hyperparameters": _to_json("hyperparameters", hyperparameters or {}),
            "profile": _to_json("profile", profile_json or {}),
            "started_at": _now(),
            "hardware": _to_json("hardware", {**_machine(), "device": device}),
            "seed": seed,
            "zen_version": zen.__version__,
            "data": None if data is None else str(data),
            "pid": os.getpid(),
            "hostname": _hostname(),
        }
        columns = ", ".join(row)
        placeholders = ", ".join(f":{name}" for name in row)
        with self._write() as connection:
            # Checked here for a clear message; the foreign key is the backstop.
            if parent is not None and not self._exists(connection, parent):
                raise ConfigError(f"parent: no run {parent!r} in {self._db}")
            run_id = connection.insert(f"INSERT INTO runs ({columns}) VALUES ({placeholders})", row)
        self._started_monotonic[run_id] = time.monotonic()
        return run_id

    def finish_run(
        self,
        run_id: int,
        metrics: Mapping[str, Any] | None = None,
        *,
        device: str | None = None,
        node: str | None = None,
        attempts: int | None = None,
    ) -> None:
        """Mark a run done, with its metrics (JSON-serialisable, e.g. ``{"r2": 0.91}``) and,
        when given, the device it trained on (replaces the one recorded at the start), the
        cluster node it ran on and how many times it was started."""
        self._end_run(
            run_id, "done", device, _placement(node, attempts),
            metrics=_to_json("metrics", metrics or {}),
        )  # fmt: skip

    def fail_run(
        self,
        run_id: int,
        error: str,
        status: str = "failed",
        *,
        device: str | None = None,
        node: str | None = None,
        attempts: int | None = None,
    ) -> None:
        """Mark a run ``"failed"`` (or ``"interrupted"``) with the error that ended it."""
        if status not in ("failed", "interrupted"):
            raise expect_one_of("status", status, ["failed", "interrupted"])
        self._end_run(run_id, status, device, _placement(node, attempts), error=str(error))

    def _end_run(
        self,
        run_id: int,
        status: str,
        device: str | None,
        placement: Mapping[str, Any],
        **values: Any,
    ) -> None:
        if device is not None and (not isinstance(device, str) or not device.strip()):
            raise ConfigError(f"device: expected a device name such as 'cuda:0', got {device!r}")
        finished_at = _now()
        with self._write() as connection:
            found = connection.execute(
                "SELECT status, started_at, hardware FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if found is None:
                raise ConfigError(f"run_id: no run {run_id!r} in {self._db}")
            previous, started_at, hardware = found
            if device is not None:
                # Read and rewritten inside this write transaction: no other writer interleaves.
                values["hardware"] = _to_json(
                    "hardware", {**json.loads(hardware), "device": device}
                )
            if previous != "running":
                # E.g. mark_stale_running() gave up on a slow run that did finish after all:
                # its real outcome is worth more than the guess.
                logger.warning(
                    "history: run %d was %s; recording it as %s", run_id, previous, status
                )
            started = self._started_monotonic.pop(run_id, None)
            if started is not None:
                duration_s = time.monotonic() - started
            else:
                duration_s = (
                    datetime.fromisoformat(finished_at) - datetime.fromisoformat(started_at)
                ).total_seconds()
            values.update(placement)
            assignments = "".join(f", {name} = :{name}" for name in values)
            connection.execute(
                "UPDATE runs SET status = :status, finished_at = :finished_at,"
                f" duration_s = :duration_s{assignments} WHERE id = :id",
                {"status": status, "finished_at": finished_at, "duration_s": duration_s,
                 "id": run_id, **values},
            )  # fmt: skip

    @contextmanager
    def record(
        self,
        kind: str,
        model: str,
        hyperparameters: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | SupportsToJson | None = None,
        seed: int | None = None,
        data: str | Path | None = None,
        parent: int | None = None,
        *,
        device: str | None = None,
    ) -> Iterator[ActiveRun]:
        """Record the run of a ``with`` block: done on success, failed or interrupted otherwise.

        The block fills ``run.metrics`` and sets ``run.device`` to where the model trained
        (e.g. ``str(next(model.parameters()).device)`` after training). An exception marks the
        run ``failed`` and Ctrl-C
        (``KeyboardInterrupt``) ``interrupted``; either is re-raised. Arguments as
        :meth:`start_run`.

        >>> with history.record("forecasting", "nhits", {"h": 24}) as run:  # doctest: +SKIP
        ...     run.metrics.update(train_and_score())
        """
        run = ActiveRun(
            self.start_run(kind, model, hyperparameters, profile, seed, data, parent, device=device)
        )
        try:
            yield run
        except KeyboardInterrupt:
            self._record_failure(run, "interrupted (KeyboardInterrupt)", "interrupted")
            raise
        except BaseException as error:
            self._record_failure(run, f"{type(error).__name__}: {error}", "failed")
            raise
        self.finish_run(
            run.id, run.metrics, device=run.device, node=run.node, attempts=run.attempts
        )

    def _record_failure(self, run: ActiveRun, error: str, status: str) -> None:
        # The run's own exception is what the caller must see; a history problem is secondary.
        try:
            self.fail_run(
                run.id, error, status, device=run.device, node=run.node, attempts=run.attempts
            )
        except Exception as history_error:
            logger.warning(
                "history: could not record run %d as %s: %s", run.id, status, history_error
            )

    def annotate_run(
        self,
        run_id: int,
        *,
        node: str | None = None,
        attempts: int | None = None,
        predicted_s: float | None = None,
        predicted_peak_mib: float | None = None,
        peak_mib: float | None = None,
    ) -> None:
        """Record where a run ran and what was predicted and measured of it; only the fields
        given (not ``None``) change, whatever the run's status.

        Args:
            run_id: the run.
            node: the cluster node it ran on.
            attempts: how many times it was started (>= 1).
            predicted_s: the run time the cost model predicted, in seconds.
            predicted_peak_mib: the peak memory it predicted, in MiB.
            peak_mib: the peak memory the run measured, in MiB.
        """
        values = dict(_placement(node, attempts))
        for argument, amount in (("predicted_s", predicted_s),
                                 ("predicted_peak_mib", predicted_peak_mib),
                                 ("peak_mib", peak_mib)):  # fmt: skip
            if amount is not None:
                values[argument] = _non_negative(argument, amount)
        with self._write() as connection:
            if not self._exists(connection, run_id):
                raise ConfigError(f"run_id: no run {run_id!r} in {self._db}")
            if values:
                assignments = ", ".join(f"{name} = :{name}" for name in values)
                connection.execute(
                    f"UPDATE runs SET {assignments} WHERE id = :id", {**values, "id": run_id}
                )

    # -- events ----------------------------------------------------------------------------

    def record_event(
        self, kind: str, payload: Mapping[str, Any] | None = None, *, run_id: int | None = None
    ) -> int:
        """Append an event (something that happened in a cluster) and return its id.

        Args:
            kind: what happened, e.g. ``"step_started"`` (see ``zen.collective.events``).
            payload: the details, JSON-serialisable.
            run_id: the run it concerns, if any.
        """
        if not isinstance(kind, str) or not kind.strip():
            raise ConfigError(f"kind: expected a non-empty string, got {kind!r}")
        if run_id is not None and (isinstance(run_id, bool) or not isinstance(run_id, int)):
            raise ConfigError(f"run_id: expected a run id (int) or None, got {run_id!r}")
        row = {"at": _now(), "kind": kind, "run_id": run_id,
               "payload": _to_json("payload", dict(payload or {}))}  # fmt: skip
        with self._write() as connection:
            return connection.insert(
                "INSERT INTO events (at, kind, run_id, payload)"
                " VALUES (:at, :kind, :run_id, :payload)",
                row,
            )

    def events(
        self,
        *,
        since_id: int | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 200,
    ) -> list[EventRecord]:
        """Recorded events, oldest first: the newest ``limit`` of those after ``since_id``.

        Args:
            since_id: only events with a larger id (what a poller saw last).
            kinds: only events of these kinds.
            limit: at most this many (the newest ones).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit: expected a positive number of events, got {limit!r}")
        if isinstance(kinds, str):
            raise ConfigError(f"kinds: expected a list of event kinds, got the string {kinds!r}")
        where: list[str] = []
        parameters: list[Any] = []
        if since_id is not None:
            where.append("id > ?")
            parameters.append(since_id)
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            parameters.extend(kinds)
        sql = "SELECT id, at, kind, run_id, payload FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._read(sql + " ORDER BY id DESC LIMIT ?", [*parameters, limit])
        return [
            EventRecord(
                row["id"], row["at"], row["kind"], row["run_id"], json.loads(row["payload"])
            )
            for row in reversed(rows)
        ]

    # -- crashed runs ----------------------------------------------------------------------

    def recover_crashed_runs(self) -> list[int]:
        """Mark failed the runs left ``running`` by processes of this host that no longer exist.

        Called on opening. Runs of other hosts cannot be checked from here; see
        :meth:`mark_stale_running`. Returns the ids it marked.
        """
        host = _hostname()
        # Looked up without the write lock, so that opening History (as `zen history` does)
        # never waits for other writers unless there is something to mark.
        running = self._read(
            "SELECT id, pid FROM runs WHERE status = 'running' AND hostname = ?", [host]
        )
        dead = [(row["id"], row["pid"]) for row in running if not _process_alive(row["pid"])]
        if dead:
            with self._write() as connection:
                connection.executemany(
                    # status = 'running' again: another process may have marked it meanwhile.
                    "UPDATE runs SET status = 'failed', error = ?"
                    " WHERE id = ? AND status = 'running'",
                    [(f"process {pid} on {host} exited without finishing the run (crashed, was"
                      " killed or never called finish_run)", run_id) for run_id, pid in dead],
                )  # fmt: skip
        for run_id, pid in dead:
            logger.info("history: run %d marked failed: its process %d is gone", run_id, pid)
        return [run_id for run_id, _ in dead]

    def mark_stale_running(self, older_than_s: float) -> list[int]:
        """Mark failed the runs still ``running`` that started more than ``older_than_s`` ago.

        For runs of other hosts (whose processes cannot be checked) and processes whose id was
        reused. A run of a live process on this host is left alone. Returns the ids it marked.
        """
        if not older_than_s >= 0:
            raise ConfigError(f"older_than_s: expected seconds >= 0, got {older_than_s!r}")
        cutoff = _iso(time.time() - older_than_s)
        host = _hostname()
        with self._write() as connection:
            candidates = connection.execute(
                "SELECT id, pid, hostname FROM runs WHERE status = 'running' AND started_at < ?",
                (cutoff,),
            ).fetchall()
            stale = [
                run_id
                for run_id, pid, hostname in candidates
                if not (hostname == host and _process_alive(pid))
            ]
            connection.executemany(
                # status = 'running' again: on PostgreSQL the owner may finish it meanwhile
                # (SQLite's write lock already excludes that).
                "UPDATE runs SET status = 'failed', error = ? WHERE id = ? AND status = 'running'",
                [(f"still running after {older_than_s:g} s; presumed lost", run_id)
                 for run_id in stale],
            )  # fmt: skip
        return stale

    # -- reading ---------------------------------------------------------------------------

    def runs(
        self,
        kind: str | None = None,
        model: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        since: datetime | str | None = None,
    ) -> list[RunRecord]:
        """Recorded runs, newest first, filtered by what is given.

        Args:
            kind, model: exact matches.
            status: one of :data:`STATUSES`.
            limit: at most this many runs.
            since: only runs started at or after this time (a datetime, naive meaning local
                time, or an ISO 8601 string).
        """
        where: list[str] = []
        parameters: list[Any] = []
        if status is not None and status not in STATUSES:
            raise expect_one_of("status", status, STATUSES)
        for column, value in (("kind", kind), ("model", model), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                parameters.append(value)
        if since is not None:
            where.append("started_at >= ?")
            parameters.append(_since(since))
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, id DESC"
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigError(f"limit: expected a positive number of runs, got {limit!r}")
            sql += " LIMIT ?"
            parameters.append(limit)
        return [_record(row) for row in self._read(sql, parameters)]

    def get(self, run_id: int) -> RunRecord:
        """The run with this id; a :class:`~zen.errors.ConfigError` if there is none."""
        rows = self._read("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise ConfigError(f"run_id: no run {run_id!r} in {self._db}")
        return _record(rows[0])

    def _read(self, sql: str, parameters: list[Any]) -> list[Any]:
        self._check_process()
        return self._db.read(sql, parameters)


# -- helpers -------------------------------------------------------------------------------


def _record(row: Mapping[str, Any]) -> RunRecord:
    values = dict(row)
    for column in ("hyperparameters", "profile", "metrics", "hardware"):
        values[column] = json.loads(values[column])
    return RunRecord(**values)


def _placement(node: str | None, attempts: int | None) -> dict[str, Any]:
    """The given ones of ``node`` and ``attempts``, checked, as column values."""
    values: dict[str, Any] = {}
    if node is not None:
        if not isinstance(node, str) or not node.strip():
            raise ConfigError(f"node: expected a node name, got {node!r}")
        values["node"] = node
    if attempts is not None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError(f"attempts: expected a count >= 1, got {attempts!r}")
        values["attempts"] = attempts
    return values


def _non_negative(argument: str, amount: float) -> float:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not amount >= 0:
        raise ConfigError(f"{argument}: expected a number >= 0, got {amount!r}")
    return float(amount)


def _to_json(argument: str, value: Any) -> str:
    try:
        return json.dumps(value, default=_plain, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{argument}: cannot be stored as JSON ({error})") from None


def _plain(value: Any) -> Any:
    """JSON for the values runs produce that ``json`` does not know: numpy scalars, paths."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _iso(timestamp: float) -> str:
    # Always with microseconds: stored times are compared as strings, and isoformat() drops
    # the fraction when it is zero, which would break the ordering.
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def _now() -> str:
    return _iso(time.time())


def _since(since: datetime | str) -> str:
    if isinstance(since, str):
        try:
            since = datetime.fromisoformat(since)
        except ValueError:
            raise ConfigError(
                f"since: expected an ISO 8601 time like 2024-05-01T12:00, got {since!r}"
            ) from None
    return _iso(since.astimezone(UTC).timestamp())


def _process_alive(pid: int | None) -> bool:
    """Whether process ``pid`` of this host exists (unknown counts as alive: never guess dead)."""
    if pid is None or os.name == "nt":
        # os.kill(pid, 0) terminates the process on Windows instead of probing it.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to another user
        return True
    return True


@functools.cache
def _hostname() -> str:
    return socket.gethostname()


@functools.cache
def _machine() -> dict[str, Any]:
    """CPU, cores, torch and Python versions, read without importing torch (it takes seconds)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    try:
        torch_version: str | None = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": cores,
        "torch": torch_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
