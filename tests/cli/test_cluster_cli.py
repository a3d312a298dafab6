"""``zen cluster start|status|stop``: a real head and a second node on one machine, started by
the CLI inside a loopback-only namespace; and the errors a user sees."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cluster_harness import NetNamespace, Unavailable
from zen.cli import app
from zen.cli.cluster import start_argv

runner = CliRunner()


def test_a_second_node_gets_free_agent_ports_and_its_cube() -> None:
    argv = start_argv(head=False, address="127.0.0.1:6390", port=6379, num_cpus=2, cube="graph",
                      ip="127.0.0.1")  # fmt: skip
    ports = [argv[argv.index(flag) + 1] for flag in (
        "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port", "--metrics-export-port")]  # fmt: skip
    assert len(set(ports)) == 4
    assert json.loads(argv[argv.index("--resources") + 1]) == {"cube_graph": 2}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["cluster", "start"], "address: a worker node joins a head"),
        (["cluster", "start", "--head", "--cube", "a b"], "cube: expected a name"),
        (["fit", "x.csv", "--cluster", " "], "address: expected a Ray address"),
    ],
)
def test_bad_options_get_one_line_and_exit_2(arguments: list[str], message: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_start_a_head_and_a_worker_then_status_and_stop() -> None:
    try:
        namespace = NetNamespace.create("zen-cli")
    except Unavailable as why:
        pytest.skip(str(why))
    temp = Path(tempfile.mkdtemp(prefix="zc-", dir="/tmp"))
    zen = [sys.executable, "-m", "zen.cli", "cluster"]
    env = {"RAY_TMPDIR": str(temp)}

    def run(*arguments: str) -> str:
        import os
        import subprocess

        done = subprocess.run(namespace.argv([*zen, *arguments]), capture_output=True,
                              text=True, timeout=180, env={**os.environ, **env})  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
        return done.stdout

    try:
        head = run("start", "--head", "--port", "6391", "--num-cpus", "1",
                   "--node-ip-address", "127.0.0.1")  # fmt: skip
        assert "zen cluster start --address 127.0.0.1:6391" in " ".join(head.split())
        run("start", "--address", "127.0.0.1:6391", "--num-cpus", "1", "--cube", "graph",
            "--node-ip-address", "127.0.0.1")  # fmt: skip
        status = json.loads(run("status", "--cluster", "127.0.0.1:6391", "--json"))
        assert len([node for node in status["nodes"] if node["alive"]]) == 2
        assert [cube["name"] for cube in status["cubes"]] == ["graph"]
        assert "stopped" in run("stop")
    finally:
        namespace.delete()
        shutil.rmtree(temp, ignore_errors=True)
