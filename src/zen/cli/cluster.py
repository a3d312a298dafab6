"""``zen cluster start|status|stop``: run a Ray cluster for zen and see what it does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import app, console, print_json, reports_errors
from zen.errors import ConfigError

cluster_app = typer.Typer(
    help="A Ray cluster for zen: start a node (head or worker), show its status, stop it.",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")

#: The head's port when --port is not given (Ray's own default).
DEFAULT_PORT = 6379


def _ray_command() -> str:
    """The ``ray`` script of this environment (a ConfigError saying how to install it)."""
    from zen.collective.cluster import import_ray

    import_ray()
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else "ray"


def free_port() -> int:
    """A TCP port nobody listens on now (for a second node's agents on the same machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_argv(
    *, head: bool, address: str | None, port: int, num_cpus: int | None, cube: str | None,
    ip: str | None,
) -> list[str]:  # fmt: skip
    """The ``ray start`` command line for a zen node."""
    argv = [_ray_command(), "start"]
    if head:
        argv += ["--head", "--port", str(port), "--include-dashboard=false"]
    else:
        if not address:
            raise ConfigError("address: a worker node joins a head; pass --address HOST:PORT")
        # A second node on the same machine cannot take the default agent ports again.
        argv += ["--address", address,
                 "--dashboard-agent-listen-port", str(free_port()),
                 "--dashboard-agent-grpc-port", str(free_port()),
                 "--runtime-env-agent-port", str(free_port()),
                 "--metrics-export-port", str(free_port())]  # fmt: skip
    if num_cpus is not None:
        if num_cpus < 1:
            raise ConfigError(f"num_cpus: expected a positive integer, got {num_cpus!r}")
        argv += ["--num-cpus", str(num_cpus)]
    if ip:
        argv += ["--node-ip-address", ip]
    if cube:
        if not cube.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"cube: expected a name of letters, digits, - or _, got {cube!r}")
        slots = num_cpus or os.cpu_count() or 1
        argv += ["--resources", json.dumps({f"cube_{cube}": slots})]
    return argv


@cluster_app.command("start")
@reports_errors
def start(
    head: Annotated[bool, typer.Option("--head", help="Start the head node.")] = False,
    address: Annotated[
        str | None, typer.Option(help="The head's address HOST:PORT (worker nodes).")
    ] = None,
    port: Annotated[int, typer.Option(help="The head's port.")] = DEFAULT_PORT,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs this node offers.")] = None,
    cube: Annotated[
        str | None, typer.Option(help="Put this node in a cube (custom resource cube_NAME).")
    ] = None,
    node_ip_address: Annotated[
        str | None, typer.Option(help="The address this node is reached at (e.g. 127.0.0.1).")
    ] = None,
) -> None:
    """Start a Ray node for zen (wraps `ray start`); the head prints the address to join."""
    argv = start_argv(head=head, address=address, port=port, num_cpus=num_cpus, cube=cube,
                      ip=node_ip_address)  # fmt: skip
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": os.environ.get("RAY_USAGE_STATS_ENABLED", "0")}
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise ConfigError(f"ray start failed: {(done.stderr or done.stdout).strip()[-600:]}")
    if head:
        joined = f"{node_ip_address or _own_address()}:{port}"
        console.print(f"head started; join it with: zen cluster start --address {joined}")
        console.print(f"use it with: zen fit DATA --cluster {joined}  (or ZEN_CLUSTER={joined})")
    else:
        console.print(f"node joined {address}" + (f" in cube {cube}" if cube else ""))


def _own_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


@cluster_app.command("status")
@reports_errors
def status(
    cluster: Annotated[
        str, typer.Option(envvar="ZEN_CLUSTER", help="The cluster: an address or auto.")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Nodes, cubes, queues, running steps and recent events of the cluster."""
    from zen.collective import Cluster

    found = Cluster.resolve(cluster).status()
    if as_json:
        print_json(found)
        return
    _show_status(found)


def _show_status(found: dict[str, Any]) -> None:
    nodes = Table(title=f"cluster {escape(str(found['address']))}")
    for column in ("node", "address", "alive", "cpus", "cubes"):
        nodes.add_column(column)
    for node in found["nodes"]:
        nodes.add_row(str(node["id"])[:12], escape(str(node["address"])),
                      "yes" if node["alive"] else "[red]lost[/red]", f"{node['cpus']:g}",
                      ", ".join(node["cubes"]) or "–")  # fmt: skip
    console.print(nodes)
    for cube in found["cubes"]:
        queued = found["queues"].get(cube["name"], 0)
        console.print(f"cube {escape(cube['name'])}: {cube['nodes']} node(s), {cube['cpus']:g} "
                      f"CPU, {cube.get('free', 0):g} free, {queued} queued")  # fmt: skip
    if found["running"]:
        from zen.orchestrator.orchestration import progress_text

    for step in found["running"]:
        console.print(f"running: {escape(str(step.get('step')))} ({progress_text(step)})")
    for event in found["events"][-10:]:
        payload = escape(json.dumps(event["payload"]))
        console.print(f"{event['at'][11:19]} {event['kind']} {payload}")


@cluster_app.command("stop")
@reports_errors
def stop() -> None:
    """Stop the Ray node(s) started on this machine (wraps `ray stop`)."""
    done = subprocess.run([_ray_command(), "stop"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"ray stop failed: {(done.stderr or done.stdout).strip()[-600:]}")
    console.print("stopped the Ray processes of this machine")
