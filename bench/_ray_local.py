"""A Ray cluster of several nodes on this machine, for benchmarks: started with ``zen cluster
start`` inside a loopback-only network namespace (Ray listens on every interface otherwise).

Every process of a node carries ``ZEN_BENCH_NODE=<marker>`` in its environment, so one node can
be killed (all its processes at once, like a machine that died) without touching the others.
Needs root (``ip netns``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "ZEN_BENCH_NODE"
PORT = 6395


@dataclass
class LocalCluster:
    """Nodes started by ``zen cluster start`` in namespace ``namespace``."""

    namespace: str
    temp: Path
    markers: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{PORT}"

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]

    def env(self, marker: str | None = None) -> dict[str, str]:
        env = {**os.environ, "RAY_TMPDIR": str(self.temp), "RAY_USAGE_STATS_ENABLED": "0",
               "RAY_ADDRESS": self.address}  # fmt: skip
        if marker:
            env[MARKER] = marker
        return env

    def zen(self, *arguments: str, marker: str | None = None) -> None:
        argv = self.argv([sys.executable, "-m", "zen.cli", *arguments])
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env(marker))
        if done.returncode != 0:
            raise RuntimeError(f"zen {' '.join(arguments)}: {done.stdout}{done.stderr[-1500:]}")

    def add_node(self, cpus: int = 1, cube: str | None = None) -> str:
        marker = f"{self.namespace}-{len(self.markers)}"
        arguments = ["cluster", "start", "--num-cpus", str(cpus), "--node-ip-address", "127.0.0.1"]
        if self.markers:
            arguments += ["--address", self.address]
        else:
            arguments += ["--head", "--port", str(PORT)]
        if cube:
            arguments += ["--cube", cube]
        self.zen(*arguments, marker=marker)
        self.markers.append(marker)
        return marker

    def kill(self, marker: str) -> None:
        """SIGKILL every process of one node."""
        wanted = f"{MARKER}={marker}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
        self.markers.remove(marker)

    def run(self, argv: Sequence[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(argv), capture_output=True, text=True, env=self.env(),
                              timeout=timeout)  # fmt: skip

    def popen(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env())  # fmt: skip


@contextlib.contextmanager
def local_cluster(nodes: int = 2) -> Iterator[LocalCluster]:
    """A head and ``nodes - 1`` workers of one CPU each; everything is removed afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise SystemExit("a loopback-only Ray cluster needs root and iproute2 (ip netns)")
    name = f"zen-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    cluster = LocalCluster(name, Path(tempfile.mkdtemp(prefix="zb-", dir="/tmp")))
    try:
        for _ in range(nodes):
            cluster.add_node()
        yield cluster
    finally:
        for marker in list(cluster.markers):
            cluster.kill(marker)
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(cluster.temp, ignore_errors=True)
