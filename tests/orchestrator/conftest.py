"""History on each of its backends: a SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cluster_harness import Postgres


@pytest.fixture
def fresh_postgres(postgres: Postgres) -> Iterator[str]:
    """The URL of a new, empty database on the session's PostgreSQL server (dropped after the
    test: the server's shutdown checkpoint would otherwise flush every test's database)."""
    import psycopg

    name = f"zen_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield postgres.url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def history_location(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> str:
    """``ZEN_HISTORY`` set to a fresh History database of each kind; returns it."""
    if request.param == "sqlite":
        location = str(tmp_path / "history" / "runs.db")
    else:
        location = request.getfixturevalue("fresh_postgres")
    monkeypatch.setenv("ZEN_HISTORY", location)
    return location
