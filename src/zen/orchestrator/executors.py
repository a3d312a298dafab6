"""Where workflow steps run: the :class:`Executor` seam, in this thread or in local processes.

The engine (:func:`zen.orchestrator.workflow.run_workflow`) only ever calls ``submit(step, inputs)``
and ``shutdown()``; a cluster executor (Ray) implements the same two methods by running
:func:`execute_step` remotely. :func:`execute_step` is the one place that knows how a step is
called, how its time limit is enforced and how its errors are reported, so every executor behaves
the same.

This module imports nothing heavy (no torch, no pandas): spawned workers import it before every
step, and a worker's start-up time is paid once per worker.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from zen import registry
from zen.errors import ConfigError

if TYPE_CHECKING:
    from zen.orchestrator.workflow import Step

logger = logging.getLogger(__name__)

#: Environment variables read by the numeric libraries a step may import (torch, NumPy's BLAS);
#: each worker gets its share of the cores so that N workers do not start N x cores threads.
THREAD_ENV_VARS = ("ZEN_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class StepOutcome:
    """What one attempt of a step produced; executors' futures resolve to this.

    Errors travel as text rather than as exception objects: an exception raised in a worker
    may not pickle, and the engine only reports it.

    Attributes:
        output: the step function's return value (None when it failed).
        error: ``"TypeName: message"`` when the attempt failed or timed out, else None.
        traceback: the formatted traceback of the failure, for debugging.
        elapsed_s: wall time spent in the step function, excluding queueing.
        timed_out: the attempt was stopped by the step's ``timeout_s``.
        node: where it ran, when the executor knows (a cluster node id); None: this machine.
        attempts: how many times the executor itself started it (a cluster reruns a step whose
            node was lost before the engine sees an outcome); the engine adds them to its own.
        notes: what the executor learnt about the attempt for History (``predicted_s``,
            ``predicted_peak_mib``, ``peak_mib``: the fields of ``History.annotate_run``).
    """

    output: Any = None
    error: str | None = None
    traceback: str | None = None
    elapsed_s: float = 0.0
    timed_out: bool = False
    node: str | None = None
    attempts: int = 1
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class StepTimeout(BaseException):
    """Raised inside a step when its ``timeout_s`` runs out.

    A ``BaseException`` so that a step's own ``except Exception`` cannot swallow it.
    """


class Executor(Protocol):
    """Runs workflow steps; the seam between the engine and the machines that do the work.

    ``submit`` must not block for long (the engine keeps scheduling while steps run) and returns
    a future that resolves to :class:`StepOutcome`, normally by calling :func:`execute_step`
    wherever the step runs. A future that raises instead (a lost worker, a step that could not be
    sent) counts as a failed attempt. ``shutdown`` releases the workers; it may stop steps that
    are still running, because the engine only leaves steps running when it has abandoned them.
    """

    def submit(self, step: Step, inputs: Mapping[str, Any]) -> Future[StepOutcome]: ...

    def shutdown(self) -> None: ...


#: Builds the executor for a batch of ``n_steps`` steps (a cluster's, for example).
ExecutorFactory = Callable[[int], Executor]

_factory: ContextVar[ExecutorFactory | None] = ContextVar("zen_executor_factory", default=None)


@contextlib.contextmanager
def executor_factory(factory: ExecutorFactory | None) -> Iterator[None]:
    """Within the block, jobs train their candidates with ``factory(n_steps)``'s executor.

    This is the seam that lets a higher layer (``zen.collective``, the CLI's ``--cluster``)
    hand the orchestrator a cluster executor without the orchestrator importing it. ``None``
    keeps the default choice (:func:`zen.orchestrator.orchestration.choose_executor`).
    """
    token = _factory.set(factory)
    try:
        yield
    finally:
        _factory.reset(token)


_tuning_cluster: ContextVar[str | None] = ContextVar("zen_tuning_cluster", default=None)


@contextlib.contextmanager
def tuning_on(cluster: str | None) -> Iterator[None]:
    """Within the block, ``--tune`` runs its trials on ``cluster`` (a Ray address or
    ``"auto"``; None: in this process), passed as ``cluster=`` to :mod:`zen.orchestrator.tune`."""
    token = _tuning_cluster.set(cluster)
    try:
        yield
    finally:
        _tuning_cluster.reset(token)


def tuning_cluster() -> str | None:
    """The cluster set by :func:`tuning_on` in this context, if any."""
    return _tuning_cluster.get()


def current_executor_factory() -> ExecutorFactory | None:
    """The factory set by :func:`executor_factory` in this context, if any."""
    return _factory.get()


def execute_step(step: Step, inputs: Mapping[str, Any]) -> StepOutcome:
    """Call ``step.fn(*inputs in step.needs order, **step.params)`` within ``step.timeout_s``.

    Args:
        step: the step to run.
        inputs: the outputs of the steps (or workflow inputs) named in ``step.needs``.

    Returns:
        The outcome; exceptions raised by the step are caught and reported in it. Only
        ``KeyboardInterrupt`` propagates, so that Ctrl-C still stops an inline run.
    """
    arguments = [inputs[name] for name in step.needs]
    start = time.perf_counter()
    try:
        with _time_limit(step.timeout_s):
            output = step.fn(*arguments, **step.params)
    except StepTimeout:
        return StepOutcome(
            error=f"StepTimeout: step {step.name!r} took longer than timeout_s={step.timeout_s:g}",
            elapsed_s=time.perf_counter() - start,
            timed_out=True,
        )
    except (Exception, SystemExit) as error:  # a step calling sys.exit() failed, it did not end zen
        return StepOutcome(
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            elapsed_s=time.perf_counter() - start,
        )
    return StepOutcome(output=output, elapsed_s=time.perf_counter() - start)


_unenforced_logged = False


@contextlib.contextmanager
def _time_limit(timeout_s: float | None) -> Iterator[None]:
    """Raise :class:`StepTimeout` in the block after ``timeout_s`` seconds, using ``SIGALRM``.

    A signal is the one way to interrupt arbitrary Python code (including ``time.sleep``) without
    the step's cooperation. Signals only reach the main thread, which is where process-pool
    workers and the usual inline runs execute steps; elsewhere the limit is not enforced (logged
    once). Code that holds the GIL in C for long is interrupted when it returns to Python.
    """
    global _unenforced_logged
    if timeout_s is None:
        yield
        return
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        if not _unenforced_logged:
            logger.info("step timeouts are not enforced: steps do not run in a main thread here")
            _unenforced_logged = True
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise StepTimeout

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class InlineExecutor:
    """Runs each step in the calling thread, at submission; for tests, debugging and tiny steps.

    Steps run one after the other, so there is no parallelism, and a run's time budget can only
    stop a run between steps. Any callable works, lambdas included, and a debugger's breakpoints
    inside steps are hit.
    """

    def submit(self, step: Step, inputs: Mapping[str, Any]) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        future.set_running_or_notify_cancel()
        future.set_result(execute_step(step, inputs))
        return future

    def shutdown(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return "InlineExecutor()"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one).

    Same rule as :func:`zen.compute.thread_count.available_cores`, which imports torch; workers must
    not pay for that import.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class LocalProcessExecutor:
    """Runs steps in a pool of worker processes on this machine.

    Workers are started with ``"spawn"`` by default: a fresh interpreter that imports only what a
    step needs. The parent usually has torch loaded, whose OpenMP/MKL thread pools (and our own
    threads) may hold locks at the moment of a ``fork``; a forked child inherits those locks but
    not the threads that would release them, and can deadlock at its first parallel operation.
    Spawn costs about a second per worker, paid once since workers are reused. ``"forkserver"``
    is also safe (children fork from a clean server process) and starts workers faster on Linux.

    Step functions must be importable by the workers: defined at module level (not lambdas or
    nested functions), and in a script, under ``if __name__ == "__main__":`` guard.

    Args:
        max_workers: worker processes; default: the cores this process may run on. A larger
            number is honoured (steps that wait on I/O or sleep).
        start_method: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"`` (see above).
        threads_per_worker: sets ``ZEN_NUM_THREADS``/``OMP_NUM_THREADS``/... in each worker,
            unless already set; default: the usable cores divided among the workers.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        start_method: str = "spawn",
        threads_per_worker: int | None = None,
    ) -> None:
        cores = usable_cores()
        self.max_workers = cores if max_workers is None else max_workers
        if isinstance(self.max_workers, bool) or not isinstance(self.max_workers, int):
            raise ConfigError(f"max_workers: expected a positive integer, got {max_workers!r}")
        if self.max_workers < 1:
            raise ConfigError(f"max_workers: expected a positive integer, got {max_workers!r}")
        if start_method not in multiprocessing.get_all_start_methods():
            raise ConfigError(
                f"start_method: unknown value {start_method!r}; expected one of: "
                f"{', '.join(multiprocessing.get_all_start_methods())}"
            )
        if threads_per_worker is not None and (
            isinstance(threads_per_worker, bool)
            or not isinstance(threads_per_worker, int)
            or threads_per_worker < 1
        ):
            raise ConfigError(
                f"threads_per_worker: expected a positive integer, got {threads_per_worker!r}"
            )
        self.start_method = start_method
        self.threads_per_worker = threads_per_worker or max(1, cores // self.max_workers)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._unfinished: set[Future[StepOutcome]] = set()

    def submit(self, step: Step, inputs: Mapping[str, Any]) -> Future[StepOutcome]:
        """Queue ``step`` on a worker; a pool broken by a dead worker is replaced once."""
        _require_importable(step)
        try:
            future = self._get_pool().submit(execute_step, step, dict(inputs))
        except BrokenProcessPool:
            # A worker died (OOM killer, segfault); its steps already failed with this error.
            # A new pool lets retries and the other branches go on.
            logger.info("replacing the process pool: a worker died; step %r resubmitted", step.name)
            with self._lock:
                broken, self._pool = self._pool, None
            if broken is not None:
                broken.shutdown(wait=False)
            future = self._get_pool().submit(execute_step, step, dict(inputs))
        with self._lock:
            self._unfinished.add(future)
        future.add_done_callback(self._forget)
        return future

    def shutdown(self) -> None:
        """Stop the workers: wait for them when idle, terminate them when steps still run."""
        with self._lock:
            pool, self._pool = self._pool, None
            still_running = any(not future.done() for future in self._unfinished)
        if pool is None:
            return
        if not still_running:
            pool.shutdown(wait=True)
            return
        _terminate(pool)

    def __enter__(self) -> LocalProcessExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return (
            f"LocalProcessExecutor(max_workers={self.max_workers}, "
            f"start_method={self.start_method!r})"
        )

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.max_workers,
                    mp_context=multiprocessing.get_context(self.start_method),
                    initializer=_start_worker,
                    initargs=(self.threads_per_worker, tuple(registry.declaring_modules())),
                )
            return self._pool

    def _forget(self, future: Future[StepOutcome]) -> None:
        with self._lock:
            self._unfinished.discard(future)


def _start_worker(threads: int, model_modules: tuple[str, ...]) -> None:
    """Worker initializer: share the threads, then declare the parent's models.

    The thread variables are set before anything imports torch or NumPy, which read them once.
    The modules that declared models in the parent (a user's own among them, registered from
    their code rather than an entry point) are imported so that steps find the same models in
    :mod:`zen.registry`.
    """
    for name in THREAD_ENV_VARS:
        os.environ.setdefault(name, str(threads))
    for module in model_modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # a step that needs the model will say which is missing
            logger.warning("worker: could not import %s to declare its models: %s", module, error)


def _require_importable(step: Step) -> None:
    qualname = getattr(step.fn, "__qualname__", "")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ConfigError(
            f"step {step.name!r}: function {qualname!r} cannot be sent to a worker process; "
            "define it at module level, or run with InlineExecutor"
        )


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Shut ``pool`` down without waiting for the steps it still runs."""
    terminate_workers = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate_workers is not None:
        terminate_workers()
        return
    # Before 3.14 there is no public way to stop a busy worker; the pool's process table is
    # the only handle on them. Read it before shutdown() clears it.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
