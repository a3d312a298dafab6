"""Cluster: which cluster a --cluster option names, and what status says about a real one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster_harness import RayCluster
from zen.collective import Cluster
from zen.errors import ConfigError
from zen.orchestrator.executors import LocalProcessExecutor


@pytest.mark.parametrize("option", [None, "local"])
def test_no_option_or_local_is_this_machine(option: str | None) -> None:
    cluster = Cluster.resolve(option)
    assert cluster.is_local and cluster.address is None
    assert cluster.factory() is None  # zen fit keeps its own choice of executor
    assert isinstance(cluster.executor(max_workers=2), LocalProcessExecutor)
    status = cluster.status()
    assert status["address"] == "local" and status["nodes"][0]["alive"]


def test_auto_prefers_zen_cluster_then_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEN_CLUSTER", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert Cluster.resolve("auto").address == "auto"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.2:6379")
    assert Cluster.resolve("auto").address == "10.0.0.2:6379"
    monkeypatch.setenv("ZEN_CLUSTER", "10.0.0.1:6379")
    assert Cluster.resolve("auto").address == "10.0.0.1:6379"
    monkeypatch.setenv("ZEN_CLUSTER", "local")
    assert Cluster.resolve("auto").is_local
    assert Cluster.resolve("ray://head:10001").address == "ray://head:10001"


def test_a_blank_address_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="address: expected a Ray address"):
        Cluster.connect("  ")
    with pytest.raises(ConfigError, match="cluster: a local cluster has no Ray"):
        Cluster.local().ray()


@pytest.mark.slow
def test_status_lists_the_nodes_and_cubes_of_a_real_cluster(ray_two_nodes: RayCluster) -> None:
    done = ray_two_nodes.python(
        f"""
        import json
        from zen.collective import Cluster
        print(json.dumps(Cluster.connect("{ray_two_nodes.address}").status()))
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(status["nodes"]) == 2 and all(node["alive"] for node in status["nodes"])
    assert [cube["name"] for cube in status["cubes"]] == ["graph"]
    assert status["cubes"][0]["cpus"] == 1.0 and status["cubes"][0]["free"] == 1.0
    assert set(status) >= {"address", "nodes", "cubes", "queues", "running", "events"}


def test_an_unreachable_cluster_is_a_clear_error_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket
    import time

    from zen.collective.cluster import require_reachable

    # A port nobody listens on: bind one, then close it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ConfigError, match=rf"no Ray head answers at 127.0.0.1:{port}"):
        require_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        require_reachable("nonsense")
    # "auto" reads where `ray start --head` records the address; none recorded here.
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    with pytest.raises(ConfigError, match="no running Ray cluster found"):
        require_reachable("auto")
