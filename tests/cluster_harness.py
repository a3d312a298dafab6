"""Real servers for the cluster tests: a loopback-only network namespace, a Ray cluster of
several nodes inside it, and a PostgreSQL server in a temporary folder.

Ray listens on every interface when started the usual way, so the tests run it inside a network
namespace of its own whose only interface is loopback (``ip netns``, which needs root; CI runs as
root). Code that talks to the cluster runs in that namespace too: :meth:`RayCluster.python` and
:meth:`RayCluster.run` start subprocesses there. Every process a node starts carries a marker in
its environment, so a test can kill one node (and only it) by PID, and the fixtures stop only what
they started. Where a part cannot start here, the fixtures skip and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Where PostgreSQL's server binaries live on Debian.
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
Resources = Mapping[str, float]
#: The environment variable that tags every process of one test node.
NODE_MARKER = "ZEN_TEST_NODE"


class Unavailable(RuntimeError):
    """A real part cannot start on this machine (the message says why); tests skip."""


def _run(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@dataclass
class NetNamespace:
    """A network namespace whose only interface is loopback."""

    name: str

    @classmethod
    def create(cls, prefix: str = "zen-test") -> NetNamespace:
        if os.geteuid() != 0:
            raise Unavailable("a loopback-only network namespace needs root (ip netns add)")
        if shutil.which("ip") is None:
            raise Unavailable("the ip command (iproute2) is not installed")
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        added = _run(["ip", "netns", "add", name])
        if added.returncode != 0:
            raise Unavailable(f"ip netns add failed: {added.stderr.strip()}")
        _run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"])
        return cls(name)

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def pids(self) -> list[int]:
        listed = _run(["ip", "netns", "pids", self.name])
        return [int(pid) for pid in listed.stdout.split()]

    def delete(self) -> None:
        """Kill every process left in the namespace, then remove it."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        _run(["ip", "netns", "del", self.name])


def _marked(marker: str) -> list[int]:
    """PIDs of the processes whose environment carries ``NODE_MARKER=marker``."""
    wanted = f"{NODE_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


@dataclass
class RayNode:
    """One ``ray start`` in the namespace; ``kill()`` stops all of its processes at once."""

    marker: str
    head: bool
    resources: Mapping[str, float]

    def pids(self) -> list[int]:
        return _marked(self.marker)

    def kill(self) -> None:
        """SIGKILL every process of this node (a machine that died, not a clean stop)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class RayCluster:
    """A Ray cluster of one head and some worker nodes, on loopback inside ``namespace``."""

    namespace: NetNamespace
    temp_dir: Path
    port: int = 6380
    nodes: list[RayNode] = field(default_factory=list)
    _next_agent_port: int = 52366

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": self.address})
        env.update(extra or {})
        return env

    def _ray(self) -> str:
        return str(Path(sys.executable).parent / "ray")

    def start_head(self, num_cpus: int = 1, resources: Resources | None = None) -> RayNode:
        return self._start(True, num_cpus, resources or {})

    def add_worker(self, num_cpus: int = 1, resources: Resources | None = None) -> RayNode:
        return self._start(False, num_cpus, resources or {})

    def _start(self, head: bool, num_cpus: int, resources: Mapping[str, float]) -> RayNode:
        marker = f"{self.namespace.name}-{len(self.nodes)}"
        argv = [self._ray(), "start", "--num-cpus", str(num_cpus), "--node-ip-address", "127.0.0.1"]
        if head:
            argv += ["--head", "--port", str(self.port), "--temp-dir", str(self.temp_dir),
                     "--object-store-memory", "300000000", "--include-dashboard=false"]  # fmt: skip
        else:
            # A second node on the same machine needs its own agent ports.
            argv += ["--address", self.address, "--object-store-memory", "200000000",
                     "--dashboard-agent-listen-port", str(self._next_agent_port),
                     "--dashboard-agent-grpc-port", str(self._next_agent_port + 1),
                     "--runtime-env-agent-port", str(self._next_agent_port + 2),
                     "--metrics-export-port", str(self._next_agent_port + 3)]  # fmt: skip
            self._next_agent_port += 10
        if resources:
            argv += ["--resources", json.dumps(dict(resources))]
        started = _run(self.namespace.argv(argv), env=self.env({NODE_MARKER: marker}), timeout=120)
        if started.returncode != 0:
            raise Unavailable(f"ray start failed: {(started.stderr or started.stdout)[-800:]}")
        node = RayNode(marker, head, dict(resources))
        self.nodes.append(node)
        return node

    def run(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the namespace (it reaches the cluster at :attr:`address`)."""
        return _run(self.namespace.argv(argv), env=self.env(env), timeout=timeout)

    def popen(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.namespace.argv(argv), env=self.env(env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def python(
        self, code: str, *, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` (dedented) in the namespace with this interpreter."""
        return self.run([sys.executable, "-c", textwrap.dedent(code)], env=env, timeout=timeout)

    def wait_for_nodes(self, count: int, timeout_s: float = 60) -> None:
        """Until ``count`` nodes are alive in the cluster."""
        code = f"""
            import time, ray
            ray.init(address="{self.address}", logging_level="ERROR")
            deadline = time.monotonic() + {timeout_s}
            while sum(n["Alive"] for n in ray.nodes()) < {count}:
                if time.monotonic() > deadline:
                    raise SystemExit("nodes did not join")
                time.sleep(0.5)
        """
        done = self.python(code, timeout=timeout_s + 30)
        if done.returncode != 0:
            raise Unavailable(f"the cluster did not reach {count} nodes: {done.stderr[-500:]}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        self.namespace.delete()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@contextlib.contextmanager
def ray_cluster(
    workers: Sequence[Mapping[str, float]] = ({"cube_graph": 1},), head_cpus: int = 1
) -> Iterator[RayCluster]:
    """A head plus one worker per entry of ``workers`` (its custom resources), all alive."""
    try:
        import ray  # noqa: F401
    except ImportError as error:
        raise Unavailable("ray is not installed (pip install 'zen-neural[cluster]')") from error
    namespace = NetNamespace.create("zen-ray")
    # A short path: Ray's socket names must fit in 107 bytes.
    cluster = RayCluster(namespace, Path(tempfile.mkdtemp(prefix="zr-", dir="/tmp")))
    try:
        cluster.start_head(head_cpus)
        for resources in workers:
            cluster.add_worker(1, resources)
        cluster.wait_for_nodes(1 + len(workers))
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Postgres:
    """A PostgreSQL server in a temporary folder, on 127.0.0.1:``port``."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return _run(["runuser", "-u", "postgres", "--", *argv], timeout=60)

    def stop(self) -> None:
        self._as_postgres([str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.folder / "data"),
                           "stop", "-m", "fast"])  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start a real PostgreSQL server (``initdb`` + ``pg_ctl`` as the postgres user)."""
    if not (POSTGRES_BIN / "initdb").exists():
        raise Unavailable(f"PostgreSQL's server is not installed ({POSTGRES_BIN}/initdb)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        raise Unavailable("initdb must run as the postgres user: needs root and runuser")
    folder = Path(tempfile.mkdtemp(prefix="zen-pg-"))
    (folder / "data").mkdir()
    (folder / "sock").mkdir()
    shutil.chown(folder, "postgres")
    for part in ("data", "sock"):
        shutil.chown(folder / part, "postgres")
    server = Postgres(folder, _free_port())
    made = server._as_postgres([str(POSTGRES_BIN / "initdb"), "-D", str(folder / "data"),
                                "-U", "postgres", "--auth=trust"])  # fmt: skip
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"initdb failed: {made.stderr[-500:]}")
    options = (f"-p {server.port} -c listen_addresses=127.0.0.1 "
               f"-c unix_socket_directories={folder / 'sock'}")  # fmt: skip
    pg_ctl = [str(POSTGRES_BIN / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log")]
    started = server._as_postgres([*pg_ctl, "-w", "-o", options, "start"])
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"pg_ctl start failed: {started.stderr[-500:]}")
    try:
        yield server
    finally:
        server.stop()
