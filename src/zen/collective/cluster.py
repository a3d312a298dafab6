"""Where zen's work runs: this machine, or a Ray cluster (:class:`Cluster`).

Ray is optional (the ``cluster`` extra): it is imported only when a cluster is asked for, and
a missing Ray is a :class:`~zen.errors.ConfigError` that says how to install it. Connecting
passes ``configure_logging=False`` so the caller's logging setup stays as it was.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from zen.errors import ConfigError
from zen.orchestrator.executors import Executor, ExecutorFactory, LocalProcessExecutor

logger = logging.getLogger(__name__)

#: Environment variable naming the cluster ``--cluster auto`` (and ``zen fit``) uses.
CLUSTER_ENV = "ZEN_CLUSTER"
#: Ray namespace of zen's named actors (the event bus, the Queen), shared by every driver.
NAMESPACE = "zen"
#: Prefix of the custom Ray resources that put a node in a cube (``cube_graph``...).
CUBE_PREFIX = "cube_"
#: Environment variables a Drone needs to see what the driver sees (History, caches).
FORWARDED_ENV = ("ZEN_HOME", "ZEN_HISTORY", "ZEN_FIT_CACHE", "ZEN_DATA_DIR", "ZEN_DEVICE")

_connect_lock = threading.Lock()


def import_ray() -> ModuleType:
    """Ray, or a ConfigError naming the extra that installs it."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError(
            "cluster: Ray is not installed; install it with pip install 'zen-neural[cluster]'"
        ) from error
    return ray


class Cluster:
    """This machine (:meth:`local`) or a running Ray cluster (:meth:`connect`).

    Nothing connects until work is sent or :meth:`status` is asked for, so building a Cluster
    from a ``--cluster`` option is cheap.

    Attributes:
        address: the Ray address (``"127.0.0.1:6379"``, ``"auto"``...); None for local.
    """

    def __init__(self, address: str | None) -> None:
        self.address = address

    @property
    def is_local(self) -> bool:
        return self.address is None

    @classmethod
    def local(cls) -> Cluster:
        """Work runs on this machine (a process pool), without Ray."""
        return cls(None)

    @classmethod
    def connect(cls, address: str) -> Cluster:
        """A Ray cluster at ``address`` (``host:port``, ``ray://host:port`` or ``"auto"``)."""
        if not isinstance(address, str) or not address.strip():
            raise ConfigError(
                f"address: expected a Ray address such as 127.0.0.1:6379 or auto, got {address!r}"
            )
        return cls(address.strip())

    @classmethod
    def resolve(cls, option: str | None) -> Cluster:
        """The cluster a ``--cluster`` option names.

        Args:
            option: None or ``"local"``: this machine; ``"auto"``: ``$ZEN_CLUSTER`` when set,
                else a running Ray (``$RAY_ADDRESS``, else Ray's own ``"auto"`` discovery);
                anything else: a Ray address.
        """
        if option is None or option == "local":
            return cls.local()
        if option == "auto":
            named = os.environ.get(CLUSTER_ENV) or ""
            if named and named != "auto":
                return cls.resolve(named)
            return cls.connect(os.environ.get("RAY_ADDRESS") or "auto")
        return cls.connect(option)

    def ray(self) -> ModuleType:
        """Ray, connected to this cluster (once per process)."""
        if self.is_local:
            raise ConfigError("cluster: a local cluster has no Ray; use Cluster.connect(address)")
        ray = import_ray()
        with _connect_lock:
            if not ray.is_initialized():
                require_reachable(self.address or "auto")
                try:
                    ray.init(
                        address=self.address,
                        namespace=NAMESPACE,
                        configure_logging=False,
                        logging_level=logging.WARNING,
                        log_to_driver=False,
                        runtime_env={"env_vars": forwarded_env()},
                    )
                except ConnectionError as error:
                    raise ConfigError(
                        f"cluster: cannot reach a Ray cluster at {self.address!r} ({error}); "
                        "start one with zen cluster start --head"
                    ) from error
        return ray

    def executor(self, *, queen: bool = True, **resources: Any) -> Executor:
        """An executor for workflow steps.

        Args:
            queen: on a cluster, place steps through a Queen by predicted cost
                (:class:`~zen.collective.queen.QueenExecutor`); False: straight Ray tasks in
                submission order (:class:`~zen.collective.executor.RayExecutor`).
            **resources: ``num_cpus``, ``memory_mib``, ``max_retries``, ``cube`` per step (and
                ``policy``, ``cubes`` for the Queen); locally, ``max_workers`` of the pool.
        """
        if self.is_local:
            return LocalProcessExecutor(max_workers=resources.get("max_workers"))
        if queen:
            from zen.collective.queen import QueenExecutor

            return QueenExecutor(self, **resources)
        from zen.collective.executor import RayExecutor

        return RayExecutor(self, **resources)

    def factory(self, **options: Any) -> ExecutorFactory | None:
        """What ``zen.orchestrator.fit(executor=...)`` takes; None for local (the default)."""
        if self.is_local:
            return None
        build: Callable[[int], Executor] = lambda n_steps: self.executor(**options)  # noqa: E731
        return build

    def nodes(self) -> list[dict[str, Any]]:
        """The alive and dead nodes: id, address, alive, cpus, memory, cubes, resources."""
        if self.is_local:
            from zen.orchestrator.executors import usable_cores

            return [{"id": "local", "address": "localhost", "alive": True,
                     "cpus": float(usable_cores()), "cubes": [], "resources": {}}]  # fmt: skip
        listed = []
        for node in self.ray().nodes():
            total = dict(node.get("Resources") or {})
            listed.append(
                {
                    "id": node["NodeID"],
                    "address": node.get("NodeManagerAddress"),
                    "alive": bool(node.get("Alive")),
                    "cpus": float(total.get("CPU", 0.0)),
                    "memory_mib": float(total.get("memory", 0.0)) / 2**20,
                    "cubes": cubes_of(total),
                    "resources": total,
                }
            )
        return listed

    def status(self, events: int = 20) -> dict[str, Any]:
        """Nodes, cubes (with their capacity and use), queues, running steps, recent events."""
        nodes = self.nodes()
        cubes: dict[str, dict[str, float]] = {}
        for node in nodes:
            for cube in node["cubes"]:
                entry = cubes.setdefault(cube, {"nodes": 0, "cpus": 0.0})
                entry["nodes"] += node["alive"]
                entry["cpus"] += node["cpus"] if node["alive"] else 0.0
        status: dict[str, Any] = {
            "address": self.address or "local",
            "nodes": nodes,
            "cubes": [{"name": name, **entry} for name, entry in sorted(cubes.items())],
            "queues": {},
            "running": [],
            "events": [],
        }
        if self.is_local:
            return status
        from zen.collective.events import RayBus

        bus = RayBus.find(self)
        if bus is not None:
            status["events"] = [event.to_json() for event in bus.recent(events)]
            status["running"] = bus.running()
            status["queues"] = bus.queues()
        ray = self.ray()
        available = ray.available_resources()
        for cube in status["cubes"]:
            cube["free"] = float(available.get(CUBE_PREFIX + cube["name"], 0.0))
        return status

    def __repr__(self) -> str:
        return "Cluster.local()" if self.is_local else f"Cluster.connect({self.address!r})"


def require_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Fail fast, naming the address, when no Ray head answers there.

    Without this, ``ray.init`` retries an address that is gone (a stale ``auto`` entry left by a
    stopped cluster, a typo) for minutes, printing warnings. ``"auto"`` is looked up where
    ``ray start --head`` records it (``<tmp>/ray/ray_current_cluster``).
    """
    if address == "auto":
        record = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        try:
            address = record.read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(
                "cluster: no running Ray cluster found on this machine; start one with"
                " `zen cluster start --head`, or pass --cluster HOST:PORT"
            ) from None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"cluster: expected HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ConfigError(
            f"cluster: no Ray head answers at {address} ({error.strerror or error}); is the"
            " cluster running? (`zen cluster start --head`)"
        ) from None


def control_options(ray: ModuleType) -> dict[str, Any]:
    """Ray options for zen's small control actors (Queen, bus, attempt counter): no CPU, pinned
    to the driver's node, so that a lost worker node does not take the run's bookkeeping with
    it (with a soft preference Ray sometimes placed them on a worker, and killing that worker
    failed every step)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    pinned = NodeAffinitySchedulingStrategy(here, soft=False)
    return {"num_cpus": 0, "scheduling_strategy": pinned}


def cubes_of(resources: dict[str, float]) -> list[str]:
    """The cube names in a node's resources (``cube_graph`` -> ``graph``)."""
    return sorted(name[len(CUBE_PREFIX) :] for name in resources if name.startswith(CUBE_PREFIX))


def forwarded_env() -> dict[str, str]:
    """The driver's zen settings that Drones must share (History, caches), absolute paths."""
    return {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}
