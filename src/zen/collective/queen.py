"""The Queen: one restartable Ray actor that places a run's steps on cubes by predicted cost.

Ray on its own starts tasks in submission order wherever there is room (FIFO). The Queen
instead predicts every step's run time and peak memory (:class:`~zen.collective.cost.CostModel`,
learnt from History), queues steps per cube (:class:`~zen.collective.cubes.Matron`) and starts
the longest predicted first on the node of the right cube with room
(:class:`~zen.collective.placement.Placer`, the same code the simulator replays). A step that
fits no node is refused up front. Each step still runs as a Drone (a Ray task pinned, softly, to
the node the Queen chose, so that Ray reruns it elsewhere when that node dies).

:class:`QueenExecutor` is the workflow engine's side: it implements the ``Executor`` protocol,
asks the Queen to admit each step (synchronously: a refusal fails the step at once) and then
waits on the Queen's ``run`` for its outcome. The Queen is created with ``max_restarts``: when it
dies its running steps fail once, the engine retries them, and the restarted Queen places them
again (the finished ones are in the engine's results and the run's cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from zen import registry
from zen.collective.cluster import Cluster, control_options, cubes_of
from zen.collective.cost import CostModel
from zen.collective.cubes import Cube
from zen.collective.events import Event, RayBus
from zen.collective.executor import MAX_RETRIES, _drone, _RaySteps
from zen.collective.placement import NodeCapacity, PlacementError, Placer, StepDemand
from zen.errors import ConfigError
from zen.orchestrator.executors import StepOutcome, _require_importable

if TYPE_CHECKING:
    from zen.orchestrator.workflow import Step

logger = logging.getLogger(__name__)

#: How often the Queen looks for nodes that joined or died (seconds).
WATCH_S = 1.0


def describe(step: Step, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The model family and task profile a step's cost is predicted from.

    ``zen fit``'s candidate steps name their model in ``params["name"]`` and carry the task
    (with its profile) as input; other steps fall back to their own name and no profile.
    """
    model = str(step.params.get("name", step.name))
    profile: dict[str, Any] = {}
    for value in inputs.values():
        found = value.get("profile") if isinstance(value, Mapping) else None
        if found is not None:
            profile = found.to_json() if hasattr(found, "to_json") else dict(found)
            break
    return model, profile


class _Queen:
    """The body of the Queen actor (an asyncio actor: many steps wait on it at once)."""

    def __init__(self, policy: str, cubes: list[tuple[str, str, float | None]], bus: Any) -> None:
        import ray

        self._ray = ray
        self.placer = Placer([], policy=policy, cubes=[Cube(*cube) for cube in cubes])
        try:
            from zen.orchestrator.history import History

            with History() as history:
                self.cost = CostModel.from_history(history)
        except Exception as error:  # no History here: every step gets the global prior
            logger.warning("queen: cost model without History (%s)", error)
            self.cost = CostModel()
        self.bus = RayBus(bus)
        self.drone = ray.remote(_drone)
        self.ready: dict[str, asyncio.Event] = {}
        self.where: dict[str, str] = {}
        self.demands: dict[str, StepDemand] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._sync_nodes()

    # -- the cluster
    def _sync_nodes(self) -> None:
        alive = {}
        for node in self._ray.nodes():
            if node.get("Alive"):
                total = dict(node.get("Resources") or {})
                alive[node["NodeID"]] = NodeCapacity(
                    node["NodeID"], float(total.get("CPU", 0.0)),
                    float(total.get("memory", 0.0)) / 2**20, frozenset(cubes_of(total)),
                )  # fmt: skip
        known = {capacity.name for capacity in self.placer.nodes}
        for name in known - alive.keys():
            lost = self.placer.remove_node(name)
            # Ray reruns their Drones elsewhere (max_retries, soft node affinity).
            self._publish("node_lost", {"node": name, "steps": [s.key for s in lost]})
        for name in alive.keys() - known:
            if alive[name].cpus > 0:
                self.placer.add_node(alive[name])
                self._publish("node_joined", {"node": name, "cpus": alive[name].cpus,
                                              "cubes": sorted(alive[name].cubes)})  # fmt: skip

    def _publish(self, kind: str, payload: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # the bus restarting must not stop placement
            self.bus.publish(Event(kind, payload))

    def _dispatch(self) -> None:
        for kind, payload in self.placer.drain_events():
            self._publish(kind, payload)
        for step, node in self.placer.next_for():
            self.where[step.key] = node
            load = self.placer.load().get(step.cube or "default", {})
            self._publish("step_placed", {"step": step.key, "model": step.model, "node": node,
                                          "cube": step.cube or "default",
                                          "queued": load.get("queued", 0),
                                          "predicted_s": round(step.predicted_s, 3)})  # fmt: skip
            self.ready[step.key].set()
        for kind, payload in self.placer.drain_events():
            self._publish(kind, payload)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                self._sync_nodes()
                self._dispatch()
            except Exception as error:  # keep watching; the next tick may succeed
                logger.warning("queen: %s", error)

    # -- steps
    async def admit(
        self, key: str, model: str, profile: dict[str, Any], cpus: float,
        memory_mib: float | None, cube: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        """Queue a step; raises PlacementError when it fits no node."""
        self._sync_nodes()
        cost = self.cost.predict(model, profile)
        demand = StepDemand(key, model, cpus, memory_mib or 0.0, cube, cost.seconds)
        self.placer.submit([demand])
        self.demands[key] = demand
        self.ready[key] = asyncio.Event()
        load = self.placer.load().get(cube or "default", {})
        self._publish("step_placed", {"step": key, "model": model, "cube": cube or "default",
                                      "state": "queued", "queued": load.get("queued", 0),
                                      "predicted_s": round(cost.seconds, 3)})  # fmt: skip
        return {"predicted_s": cost.seconds, "predicted_peak_mib": cost.peak_mib,
                "known": cost.known}  # fmt: skip

    async def run(
        self, key: str, step: Step, attempts: Any, names: tuple[str, ...], refs: list[Any],
        options: dict[str, Any],
    ) -> tuple[StepOutcome, float, float]:  # fmt: skip
        """Start the step when the Placer says so, on its node; its outcome, start and end."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        self._dispatch()
        await self.ready[key].wait()
        node = self.where[key]
        modules = tuple(registry.declaring_modules())
        strategy = NodeAffinitySchedulingStrategy(node, soft=True)
        drone = self.drone.options(scheduling_strategy=strategy, **options)
        try:
            outcome, started, ended = await drone.remote(
                step, key, attempts, self.bus.actor, modules, names, *refs
            )
        except BaseException as error:  # the Drone died for good; one that ran said so itself
            self._publish("step_finished", {"step": step.name, "token": key,
                                            "error": str(error)[:200]})  # fmt: skip
            raise
        finally:
            with contextlib.suppress(ConfigError):  # its node was lost and forgotten
                self.placer.done(key)
            demand = self.demands.pop(key, None)
            self.ready.pop(key, None)
            self.where.pop(key, None)
            self._dispatch()
        if demand is not None:
            outcome.notes["predicted_s"] = demand.predicted_s
        return outcome, started, ended

    async def load(self) -> dict[str, Any]:
        """Each cube's queue and running steps."""
        return {"cubes": self.placer.load(), "nodes": [n.name for n in self.placer.nodes]}


class QueenExecutor(_RaySteps):
    """Runs workflow steps through a Queen actor (cost-predicted placement on cubes).

    Args:
        cluster: a Ray cluster (not local).
        num_cpus, memory_mib, max_retries, cube: what each step needs (see
            :class:`~zen.collective.executor.RayExecutor`).
        policy: ``"cost"`` (longest predicted first) or ``"fifo"``.
        cubes: cubes with a speciality or a CPU quota.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        num_cpus: float = 1.0,
        memory_mib: float | None = None,
        max_retries: int = MAX_RETRIES,
        cube: str | None = None,
        policy: str = "cost",
        cubes: tuple[Cube, ...] = (),
    ) -> None:
        super().__init__(
            cluster, num_cpus=num_cpus, memory_mib=memory_mib, max_retries=max_retries, cube=cube
        )
        ray = self._ray
        bus = self._bus = RayBus.get(cluster)  # the Queen and the Drones publish to it
        control = control_options(ray)
        self.queen = (
            ray.remote(_Queen)
            .options(max_restarts=-1, max_task_retries=0, max_concurrency=1000, **control)
            .remote(policy, [(c.name, c.speciality, c.quota_cpus) for c in cubes], bus.actor)
        )

    def submit(self, step: Step, inputs: Mapping[str, Any]) -> Future[StepOutcome]:
        """Ask the Queen to admit ``step`` (a ConfigError when it fits no node), then run it."""
        _require_importable(step)
        key = f"{step.name}-{uuid.uuid4().hex[:8]}"
        model, profile = describe(step, inputs)
        try:
            admitted = self.queen.admit.remote(
                key, model, profile, self.num_cpus, self.memory_mib, self.cube
            )
            predicted = self._ray.get(admitted)
        except Exception as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, PlacementError):
                raise ConfigError(str(cause)) from error
            raise
        names = tuple(inputs)
        refs = [self._ref(inputs[name]) for name in names]
        submitted = time.time()
        ref = self.queen.run.remote(key, step, self._attempts, names, refs, self._task_options())
        self._own(key, step.name)

        def note(outcome: StepOutcome | None, error: BaseException | None) -> None:
            if outcome is not None:
                outcome.notes["predicted_peak_mib"] = predicted["predicted_peak_mib"]

        return self._watch(ref, step.name, submitted, note)

    def load(self) -> dict[str, Any]:
        """The Queen's view: each cube's queue and the nodes it places on."""
        return dict(self._ray.get(self.queen.load.remote()))

    def shutdown(self) -> None:
        """Stop the Queen (its Drones with it) and free the inputs."""
        self._forget()
        with contextlib.suppress(Exception):
            self._ray.kill(self.queen, no_restart=True)

    def __enter__(self) -> QueenExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"QueenExecutor({self.cluster.address!r}, num_cpus={self.num_cpus:g})"
