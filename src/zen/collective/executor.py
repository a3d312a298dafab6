"""The Ray executor: each workflow step is a Ray task (a Drone) somewhere on the cluster.

:class:`RayExecutor` implements :class:`~zen.orchestrator.executors.Executor`, so the workflow
engine keeps its cache, retries and budget and only the place where steps run changes. A Drone
calls the same :func:`~zen.orchestrator.executors.execute_step` as the local pool. Inputs shared
by several steps (``zen fit``'s task dict) go into Ray's object store once. A step whose node is
lost is rerun by Ray (``max_retries``); the Drone counts its starts in a small actor so the
outcome (and History) says how many attempts it took.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import resource
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zen import registry
from zen.collective.cluster import CUBE_PREFIX, Cluster, control_options
from zen.collective.events import Event, RayBus
from zen.errors import ConfigError
from zen.orchestrator.executors import StepOutcome, _require_importable, execute_step

if TYPE_CHECKING:
    from zen.orchestrator.workflow import Step

logger = logging.getLogger(__name__)

#: Ray reruns a step this many times when its node (or worker process) dies.
MAX_RETRIES = 3


@dataclass(frozen=True)
class StepTiming:
    """Wall-clock times (``time.time()``) of one step, for the overhead a cluster adds.

    Attributes:
        submitted: the engine handed it to the executor.
        started, ended: the step function ran between these, on its node.
        returned: its outcome was back in the driver.
    """

    step: str
    submitted: float
    started: float
    ended: float
    returned: float

    @property
    def overhead_s(self) -> float:
        """Time not spent in the step: sending it, scheduling it, sending its result back."""
        return (self.started - self.submitted) + (self.returned - self.ended)


class _Attempts:
    """Counts the starts of each submitted step (Ray reruns are invisible otherwise)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def start(self, token: str) -> int:
        self.counts[token] = self.counts.get(token, 0) + 1
        return self.counts[token]


def _drone(
    step: Step,
    token: str,
    attempts: Any,
    bus: Any,
    modules: tuple[str, ...],
    names: tuple[str, ...],
    *values: Any,
) -> tuple[StepOutcome, float, float]:
    """The body of a Drone: declare the driver's models, run the step, say where and how often."""
    import ray

    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # a step that needs the model will say which is missing
            logger.warning("drone: could not import %s to declare its models: %s", module, error)
    node = ray.get_runtime_context().get_node_id()
    attempt = int(ray.get(attempts.start.remote(token)))
    about = {"step": step.name, "token": token, "node": node}
    if bus is not None:
        payload = {**about, "attempt": attempt, "pid": os.getpid()}
        bus.publish.remote(Event("step_started", payload).to_json())
    started = time.time()
    with _reporting(bus, about):
        outcome = execute_step(step, dict(zip(names, values, strict=True)))
    ended = time.time()
    if bus is not None:
        bus.publish.remote(Event("step_finished", {
            **about, "attempts": attempt, "seconds": round(ended - started, 3),
            "error": outcome.error,
        }).to_json())  # fmt: skip
    outcome.node = node
    outcome.attempts = attempt
    # The worker process's peak so far: an upper bound on the step's, since Ray reuses workers.
    outcome.notes["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return outcome, started, ended


def _reporting(bus: Any, about: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
    """Inside the block, every Trainer's epochs go to ``bus`` as ``step_progress`` events."""
    if bus is None:
        return contextlib.nullcontext()
    # Imported here: zen.neural imports torch, which only steps that train need.
    from zen.collective.progress import StepReporter
    from zen.neural.callbacks import watching

    return watching(StepReporter(bus, about))


class _RaySteps:
    """What both Ray executors share: checked settings, each input in the object store once,
    a step's task options, and the futures of the steps in flight."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        num_cpus: float,
        memory_mib: float | None,
        max_retries: int,
        cube: str | None,
    ) -> None:
        if cluster.is_local:
            raise ConfigError(
                f"cluster: {type(self).__name__} needs a Ray cluster, not Cluster.local()"
            )
        if not isinstance(num_cpus, int | float) or num_cpus <= 0:
            raise ConfigError(f"num_cpus: expected a positive number, got {num_cpus!r}")
        if memory_mib is not None and (not isinstance(memory_mib, int | float) or memory_mib <= 0):
            raise ConfigError(f"memory_mib: expected a positive number or None, got {memory_mib!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"max_retries: expected an integer >= 0, got {max_retries!r}")
        self.cluster = cluster
        self.num_cpus = float(num_cpus)
        self.memory_mib = memory_mib
        self.max_retries = max_retries
        self.cube = cube
        self.timings: list[StepTiming] = []
        self._ray = cluster.ray()
        control = control_options(self._ray)
        self._attempts = self._ray.remote(_Attempts).options(max_restarts=-1, **control).remote()
        # id(value) -> (value, ref): the value is kept so its id is not reused while cached.
        self._refs: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._pending: set[Any] = set()
        self._bus: RayBus | None = None
        self._tokens: dict[str, str] = {}  # token of each submitted step -> its name

    def _own(self, token: str, name: str) -> None:
        with self._lock:
            self._tokens[token] = name

    def progress(self) -> dict[str, dict[str, Any]]:
        """What the bus knows of this executor's running steps, by step name: ``node``,
        ``attempt``, ``since`` and, once a Trainer in it finished an epoch, ``epoch`` and its
        losses (``train_loss``, ``val_loss``). Empty without a bus."""
        if self._bus is None:
            return {}
        with self._lock:
            mine = dict(self._tokens)
        return {mine[entry["token"]]: entry for entry in self._bus.running()
                if entry.get("token") in mine}  # fmt: skip

    def _ref(self, value: Any) -> Any:
        with self._lock:
            held = self._refs.get(id(value))
            if held is None or held[0] is not value:
                held = (value, self._ray.put(value))
                self._refs[id(value)] = held
            return held[1]

    def _task_options(self) -> dict[str, Any]:
        """The Ray options of one step's task: its CPUs, memory, retries and cube."""
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "max_retries": self.max_retries}
        if self.memory_mib is not None:
            options["memory"] = int(self.memory_mib * 2**20)
        if self.cube is not None:
            options["resources"] = {CUBE_PREFIX + self.cube: 0.001}
        return options

    def _watch(
        self,
        ref: Any,
        name: str,
        submitted: float,
        after: Callable[[StepOutcome | None, BaseException | None], None] | None = None,
    ) -> Future[StepOutcome]:
        """The future of the task ``ref`` (resolving to ``(outcome, started, ended)``); ``after``
        sees the outcome, or the error when the step's node died for good, first."""
        with self._lock:
            self._pending.add(ref)
        result: Future[StepOutcome] = Future()
        result.set_running_or_notify_cancel()

        def deliver(done: Future[Any]) -> None:
            with self._lock:
                self._pending.discard(ref)
            try:
                outcome, started, ended = done.result()
            except BaseException as error:  # the Drone (or the Queen) died more than allowed
                if after is not None:
                    after(None, error)
                result.set_exception(error)
                return
            self.timings.append(StepTiming(name, submitted, started, ended, time.time()))
            if after is not None:
                after(outcome, None)
            result.set_result(outcome)

        ref.future().add_done_callback(deliver)
        return result

    def _forget(self) -> list[Any]:
        """Drop the cached inputs; the steps still in flight."""
        with self._lock:
            pending, self._pending = list(self._pending), set()
            self._refs.clear()
        return pending


class RayExecutor(_RaySteps):
    """Runs each step as a Ray task with declared resources.

    Args:
        cluster: a connected (non-local) :class:`~zen.collective.cluster.Cluster`.
        num_cpus: CPUs each step reserves.
        memory_mib: memory each step reserves (None: no reservation).
        max_retries: reruns of a step whose node or worker died.
        cube: run only on nodes of this cube (custom resource ``cube_<name>``).
        events: publish step events to the cluster's bus.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        num_cpus: float = 1.0,
        memory_mib: float | None = None,
        max_retries: int = MAX_RETRIES,
        cube: str | None = None,
        events: bool = True,
    ) -> None:
        super().__init__(
            cluster, num_cpus=num_cpus, memory_mib=memory_mib, max_retries=max_retries, cube=cube
        )
        self._bus = RayBus.get(cluster) if events else None
        self._remote = self._ray.remote(_drone)

    def submit(self, step: Step, inputs: Mapping[str, Any]) -> Future[StepOutcome]:
        """Send ``step`` to a Drone; its inputs go to the object store once per value."""
        _require_importable(step)
        names = tuple(inputs)
        refs = [self._ref(inputs[name]) for name in names]
        token = uuid.uuid4().hex
        submitted = time.time()
        bus_actor = None if self._bus is None else self._bus.actor
        modules = tuple(registry.declaring_modules())
        ref = self._remote.options(**self._task_options()).remote(
            step, token, self._attempts, bus_actor, modules, names, *refs
        )
        if self._bus is not None:
            self._bus.publish(Event("step_placed", {"step": step.name, "cube": self.cube}))

        def publish(outcome: StepOutcome | None, error: BaseException | None) -> None:
            if outcome is None:  # the Drone died for good; one that ran said so itself
                self._publish("step_finished", {"step": step.name, "token": token,
                                                "error": str(error)[:200]})  # fmt: skip

        self._own(token, step.name)
        return self._watch(ref, step.name, submitted, publish)

    def _publish(self, kind: str, payload: dict[str, Any]) -> None:
        if self._bus is not None:
            try:
                self._bus.publish(Event(kind, payload))
            except Exception as error:  # Ray shutting down: the outcome still counts
                logger.debug("event %s not published: %s", kind, error)

    def shutdown(self) -> None:
        """Cancel the steps still running (the engine abandoned them) and free the inputs."""
        for ref in self._forget():
            try:
                self._ray.cancel(ref, force=True)
            except Exception as error:  # already finished or its node is gone
                logger.debug("cancel: %s", error)

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"RayExecutor({self.cluster.address!r}, num_cpus={self.num_cpus:g})"
