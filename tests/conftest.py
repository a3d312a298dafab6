"""Shared fixtures: small real and synthetic datasets, and a clean zen environment."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cluster_harness import Postgres, RayCluster, Unavailable, postgres_server, ray_cluster

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _session_zen_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module- and session-scoped fixtures run before the per-test :func:`_no_zen_env`: they
    get a History of the session's own too, never the developer's ``~/.zen``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZEN_HOME", str(tmp_path_factory.mktemp("zen-home-session")))
        yield


@pytest.fixture(autouse=True)
def _no_zen_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests see the defaults, whatever the developer's shell exports, and a History of their
    own: ``ZEN_HOME`` is a fresh directory per test, so no test writes to ``~/.zen`` and the
    router never learns from another test's runs."""
    for name in ("ZEN_DEVICE", "ZEN_COMPILE", "ZEN_NUM_THREADS", "ZEN_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZEN_HOME", str(tmp_path_factory.mktemp("zen-home")))


@pytest.fixture
def regression_data() -> tuple[np.ndarray, np.ndarray]:
    """400 samples of a smooth function of 5 inputs, with a little noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] - X[:, 3]).astype(np.float32)
    return X, y + rng.normal(scale=0.05, size=y.shape).astype(np.float32)


@pytest.fixture
def classification_data() -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs in 4 dimensions, 300 samples, labels 0..2."""
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=5.0, size=(3, 4))
    labels = rng.integers(0, 3, size=300)
    X = centers[labels] + rng.normal(size=(300, 4))
    return X.astype(np.float32), labels


@pytest.fixture
def shared_data() -> Path:
    """The team's shared real datasets; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL server for the session (skips, saying why, where none can start)."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(postgres_server())
        except Unavailable as why:
            pytest.skip(str(why))
        yield server


@pytest.fixture(scope="session")
def ray_two_nodes() -> Iterator[RayCluster]:
    """A Ray head (1 CPU) and a worker node (1 CPU, custom resource ``cube_graph``) on loopback
    in a network namespace of their own, for the session; tests must not kill its nodes (the
    fault tests start clusters of their own with :func:`cluster_harness.ray_cluster`)."""
    with contextlib.ExitStack() as stack:
        try:
            cluster = stack.enter_context(ray_cluster())
        except Unavailable as why:
            pytest.skip(str(why))
        yield cluster
