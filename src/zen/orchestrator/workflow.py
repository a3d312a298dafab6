"""Workflows: a DAG of steps, run in parallel, cached by content hash, retried, held to a budget.

A :class:`Workflow` is defined in Python or YAML; :func:`run_workflow` runs it through an
:class:`~zen.orchestrator.executors.Executor` (worker processes by default) and returns a
:class:`WorkflowResult` with every step's status, output, error, duration and attempts.

A step is called as ``fn(*outputs of its needs, in order, **params)``. With a ``cache_dir``, each
finished step's output is pickled there under a key that hashes the step's name, function,
params and the keys of its inputs, so a key covers everything upstream (as in a Merkle tree): a
re-run after a crash loads the finished steps and runs only the rest, and changing a param re-runs
that step and everything downstream. Changing a function's *code* does not change its key; use
another ``cache_dir`` (or a param such as ``version``) when it should.

Example::

    flow = Workflow(inputs=["path"])

    @flow.step(needs=["path"])
    def load(path): ...

    @flow.step(needs=["load"], retries=2, timeout_s=600)
    def train(table, epochs=10): ...

    result = run_workflow(flow, inputs={"path": "data.csv"}, cache_dir="runs/cache", budget_s=300)
    result.outputs["train"]
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import importlib
import json
import logging
import pickle
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zen.errors import BackendUnavailable, ConfigError
from zen.orchestrator.executors import Executor, LocalProcessExecutor, StepOutcome
from zen.orchestrator.locations import Location

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: Part of every cache key: bump it when the key's recipe or the file format changes.
CACHE_FORMAT = "zen-workflow-cache/1"


class StepStatus(enum.StrEnum):
    """Where a step is. Results only hold the final ones (done ... timed_out)."""

    RUNNING = "running"  # handed to the executor (it may still wait for a free worker)
    RETRYING = "retrying"  # an attempt failed; the next one waits for its backoff
    DONE = "done"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"


_SUCCESS = (StepStatus.DONE, StepStatus.CACHED)


@dataclass(frozen=True)
class Step:
    """One node of a workflow.

    Args:
        name: unique within the workflow; other steps name it in ``needs``.
        fn: called as ``fn(*outputs of needs, **params)``. For worker processes it must be a
            module-level function (importable by name).
        needs: steps (or workflow inputs) whose outputs ``fn`` takes, in argument order.
        params: keyword arguments for ``fn``; part of the cache key.
        retries: extra attempts after a failure (a timeout is not retried: it would most
            likely time out again and spend the budget twice).
        backoff_s: wait before the first retry; each further retry waits ``backoff_factor``
            times longer (exponential backoff).
        timeout_s: limit for one attempt; None for no limit.
        uncached_params: names of ``params`` that do not change the output (a run id to record
            under, a progress flag); they are left out of the cache key, so a re-run with new
            values still finds the cached output.
    """

    name: str
    fn: Callable[..., Any]
    needs: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0
    backoff_s: float = 1.0
    backoff_factor: float = 2.0
    timeout_s: float | None = None
    uncached_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"step name: expected a non-empty string, got {self.name!r}")
        where = f"step {self.name!r}"
        if not callable(self.fn):
            raise ConfigError(f"{where}: fn must be callable, got {type(self.fn).__name__}")
        needs = (self.needs,) if isinstance(self.needs, str) else tuple(self.needs)
        for need in needs:
            if not isinstance(need, str):
                raise ConfigError(f"{where}: needs holds {need!r}; expected step or input names")
            if needs.count(need) > 1:
                raise ConfigError(f"{where}: needs {need!r} twice; list each dependency once")
        object.__setattr__(self, "needs", needs)
        if not isinstance(self.params, Mapping) or not all(isinstance(k, str) for k in self.params):
            raise ConfigError(f"{where}: params must be a mapping with string keys")
        object.__setattr__(self, "params", dict(self.params))
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"{where}: retries must be an integer >= 0, got {self.retries!r}")
        if not _is_number(self.backoff_s) or self.backoff_s < 0:
            raise ConfigError(f"{where}: backoff_s must be a number >= 0, got {self.backoff_s!r}")
        if not _is_number(self.backoff_factor) or self.backoff_factor < 1:
            raise ConfigError(
                f"{where}: backoff_factor must be a number >= 1, got {self.backoff_factor!r}"
            )
        if self.timeout_s is not None and (not _is_number(self.timeout_s) or self.timeout_s <= 0):
            raise ConfigError(f"{where}: timeout_s must be > 0 or None, got {self.timeout_s!r}")
        uncached = (
            (self.uncached_params,)
            if isinstance(self.uncached_params, str)
            else tuple(self.uncached_params)
        )
        unknown = [name for name in uncached if name not in self.params]
        if unknown:
            raise ConfigError(
                f"{where}: uncached_params names {unknown!r}, which are not among its params"
                f" ({sorted(self.params)})"
            )
        object.__setattr__(self, "uncached_params", uncached)

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 for the first retry): ``backoff_s * factor**k``."""
        return float(self.backoff_s * self.backoff_factor ** (attempt - 2))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Workflow:
    """A DAG of :class:`Step`, checked when built: unique names, known dependencies, no cycle.

    Args:
        steps: in any order; iteration yields them in a dependency order.
        inputs: names of values given to :func:`run_workflow` (``inputs=``) that steps may need.

    Raises:
        ConfigError: a duplicate name, a dependency that is neither a step nor an input, or a
            cycle; the message names the step.
    """

    def __init__(self, steps: Iterable[Step] = (), inputs: Iterable[str] = ()) -> None:
        self.inputs: tuple[str, ...] = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        for name in self.inputs:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"workflow inputs: expected non-empty names, got {name!r}")
            if self.inputs.count(name) > 1:
                raise ConfigError(f"workflow inputs: {name!r} is listed twice")
        self._steps: dict[str, Step] = {}
        self._order: list[str] = []
        self._set_steps(list(steps))

    def add(self, step: Step) -> Step:
        """Add ``step`` (after the steps it needs) and return it; the workflow stays valid."""
        self._set_steps([*self._steps.values(), step])
        return step

    def step(
        self,
        name: str | None = None,
        *,
        needs: Iterable[str] = (),
        params: Mapping[str, Any] | None = None,
        retries: int = 0,
        backoff_s: float = 1.0,
        backoff_factor: float = 2.0,
        timeout_s: float | None = None,
    ) -> Callable[[F], F]:
        """Decorator adding the function as a step (named after it unless ``name`` is given).

        The function itself is returned unchanged, so worker processes can still import it.
        """

        def register(fn: F) -> F:
            self.add(
                Step(
                    name=name or fn.__name__,
                    fn=fn,
                    needs=tuple(needs),
                    params=dict(params or {}),
                    retries=retries,
                    backoff_s=backoff_s,
                    backoff_factor=backoff_factor,
                    timeout_s=timeout_s,
                )
            )
            return fn

        return register

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps in a dependency order (every step after the steps it needs)."""
        return tuple(self._steps[name] for name in self._order)

    def __getitem__(self, name: str) -> Step:
        if name not in self._steps:
            raise KeyError(f"workflow has no step {name!r}; steps: {', '.join(self._order)}")
        return self._steps[name]

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"Workflow(steps={self._order}, inputs={list(self.inputs)})"

    @classmethod
    def from_yaml(cls, source: str | Path) -> Workflow:
        """Read a workflow from a YAML file or YAML text.

        The format (``run`` is ``"package.module:function"``; all but ``name`` and ``run`` are
        optional)::

            inputs: [path]
            steps:
              - name: load
                run: mypackage.steps:load
                needs: [path]
                params: {sep: ","}
                retries: 2          # also: backoff_s, backoff_factor, timeout_s

        Raises:
            ConfigError: unreadable file, invalid YAML, unknown keys, an import path that does
                not resolve, or an invalid graph; the message names the file and the step.
        """
        text, origin = _read_source(source)
        try:
            import yaml  # optional dependency: only workflows written in YAML need it
        except ImportError:
            raise BackendUnavailable(
                "Workflow.from_yaml needs PyYAML; install it with `pip install pyyaml`"
            ) from None
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"{origin}: not valid YAML ({error})") from None
        return cls.from_dict(spec, origin=origin)

    @classmethod
    def from_dict(cls, spec: Any, origin: str = "workflow") -> Workflow:
        """Build a workflow from the parsed form of :meth:`from_yaml`'s format (e.g. JSON)."""
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"{origin}: expected a mapping with 'steps', got {type(spec).__name__}"
            )
        for key in spec:
            if key not in ("inputs", "steps"):
                raise ConfigError(f"{origin}: unknown key {key!r}; expected: inputs, steps")
        entries = spec.get("steps")
        if not isinstance(entries, list):
            raise ConfigError(f"{origin}: 'steps' must be a list of steps, got {entries!r}")
        steps = [_step_from_dict(entry, origin, index) for index, entry in enumerate(entries)]
        inputs = spec.get("inputs") or []
        try:
            return cls(steps, inputs=[inputs] if isinstance(inputs, str) else inputs)
        except ConfigError as error:
            raise ConfigError(f"{origin}: {error}") from None

    def _set_steps(self, steps: list[Step]) -> None:
        by_name: dict[str, Step] = {}
        for step in steps:
            if not isinstance(step, Step):
                raise ConfigError(f"workflow steps: expected Step objects, got {step!r}")
            if step.name in by_name:
                raise ConfigError(f"step {step.name!r}: the name is used twice; names are unique")
            if step.name in self.inputs:
                raise ConfigError(f"step {step.name!r}: the name is also a workflow input")
            by_name[step.name] = step
        order = _dependency_order(by_name, self.inputs)
        self._steps, self._order = by_name, order


_STEP_KEYS = (
    "name",
    "run",
    "needs",
    "params",
    "retries",
    "backoff_s",
    "backoff_factor",
    "timeout_s",
    "uncached_params",
)


def _step_from_dict(entry: Any, origin: str, index: int) -> Step:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{origin}: steps[{index}]: expected a mapping with name and run")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{origin}: steps[{index}]: 'name' must be a non-empty string")
    where = f"{origin}: step {name!r}"
    for key in entry:
        if key not in _STEP_KEYS:
            expected = ", ".join(_STEP_KEYS)
            raise ConfigError(f"{where}: unknown key {key!r}; expected one of: {expected}")
    if not isinstance(entry.get("run"), str):
        raise ConfigError(f"{where}: 'run' must be an import path 'package.module:function'")
    fn = resolve_callable(entry["run"], where)
    options = {key: entry[key] for key in _STEP_KEYS[4:] if entry.get(key) is not None}
    try:
        return Step(
            name=name,
            fn=fn,
            needs=entry.get("needs") or (),
            params=entry.get("params") or {},
            **options,
        )
    except ConfigError as error:  # Step's message names the step; add the file
        raise ConfigError(f"{origin}: {error}") from None


def resolve_callable(path: str, where: str = "run") -> Callable[..., Any]:
    """Import ``"package.module:function"`` (``function`` may be dotted: ``Class.method``).

    Raises:
        ConfigError: malformed path, a module that fails to import, a missing attribute or
            one that is not callable; the message starts with ``where``.
    """
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"{where}: run {path!r} is not an import path; expected 'package.module:function'"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} for run {path!r} ({error}); "
            "check the spelling and that its package is installed"
        ) from error
    except Exception as error:  # the module exists but raised while importing
        raise ConfigError(
            f"{where}: importing module {module_name!r} raised {type(error).__name__}: {error}"
        ) from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{where}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{where}: {path!r} is a {type(target).__name__}, not a function")
    return target


def _read_source(source: str | Path) -> tuple[str, str]:
    """``(yaml text, name for messages)``: a path when it looks like one, else the text itself."""
    if not isinstance(source, Path) and not _looks_like_path(source):
        return str(source), "workflow YAML"
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"{path}: workflow file not found")
    return path.read_text(encoding="utf-8"), str(path)


def _looks_like_path(text: str) -> bool:
    if "\n" in text:
        return False
    if text.strip().endswith((".yaml", ".yml")):
        return True
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a long line of YAML is too long for a file name
        return False


def _dependency_order(steps: Mapping[str, Step], inputs: tuple[str, ...]) -> list[str]:
    """Step names with every step after its needs, ties kept in definition order (Kahn)."""
    known = [*steps, *inputs]
    for step in steps.values():
        for need in step.needs:
            if need not in steps and need not in inputs:
                close = difflib.get_close_matches(need, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                raise ConfigError(
                    f"step {step.name!r}: needs {need!r}, which is neither a step nor a "
                    f"workflow input; {hint}"
                )
    order: list[str] = []
    placed = set(inputs)
    remaining = list(steps)
    while remaining:
        ready = [name for name in remaining if all(need in placed for need in steps[name].needs)]
        if not ready:
            raise ConfigError(_describe_cycle(steps, remaining))
        order.extend(ready)
        placed.update(ready)
        remaining = [name for name in remaining if name not in placed]
    return order


def _describe_cycle(steps: Mapping[str, Step], remaining: list[str]) -> str:
    """Name one cycle among ``remaining`` (each of which needs another remaining step)."""
    path = [remaining[0]]
    while True:
        current = steps[path[-1]]
        nxt = next(need for need in current.needs if need in remaining)
        if nxt in path:
            cycle = [*path[path.index(nxt) :], nxt]
            chain = ", which needs ".join(repr(name) for name in cycle[1:])
            return f"step {cycle[0]!r}: steps form a cycle: {cycle[0]!r} needs {chain}"
        path.append(nxt)


# --------------------------------------------------------------------------- results


@dataclass
class StepResult:
    """How one step ended.

    Attributes:
        status: done, cached, failed, skipped or timed_out.
        output: the step's return value when done or cached, else None.
        error: why it failed, timed out or was skipped.
        traceback: the last failure's traceback, for debugging.
        duration_s: time spent in the step function over all attempts (0 when cached).
        attempts: how many times it was started (the executor's own reruns included).
        cache_key: the content hash its output is cached under (None without a cache).
        node: where its last attempt ran, when the executor said (a cluster node id).
        notes: what the executor noted about its last attempt (predicted cost, peak memory).
    """

    name: str
    status: StepStatus
    output: Any = None
    error: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    attempts: int = 0
    cache_key: str | None = None
    node: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkflowResult:
    """Every step's :class:`StepResult` (in dependency order) and how the run ended.

    Attributes:
        budget_exhausted: the time budget ran out before every step finished; ``outputs`` holds
            what finished in time, and choosing the best of it is the caller's decision.
        duration_s: wall time of the whole run.
    """

    steps: dict[str, StepResult]
    budget_exhausted: bool = False
    duration_s: float = 0.0

    @property
    def outputs(self) -> dict[str, Any]:
        """Outputs of the steps that are done or cached."""
        return {name: step.output for name, step in self.steps.items() if step.status in _SUCCESS}

    @property
    def ok(self) -> bool:
        """Every step is done or cached."""
        return all(step.status in _SUCCESS for step in self.steps.values())

    def __getitem__(self, name: str) -> StepResult:
        return self.steps[name]


# --------------------------------------------------------------------------- running

EventCallback = Callable[[str, StepStatus], None]


def run_workflow(
    workflow: Workflow,
    inputs: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    cache_dir: str | Path | None = None,
    budget_s: float | None = None,
    on_event: EventCallback | None = None,
    *,
    input_keys: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkflowResult:
    """Run ``workflow``: independent steps in parallel, each as soon as its needs are done.

    A step that fails is retried ``step.retries`` times with exponential backoff; when it still
    fails, the steps that need it are skipped and the other branches go on. When ``budget_s``
    runs out, steps not started are skipped and running ones are cancelled or abandoned
    (``timed_out``); an executor created here is shut down, which stops them.

    Args:
        workflow: the steps.
        inputs: a value for each name in ``workflow.inputs``.
        executor: where steps run; default: a :class:`LocalProcessExecutor` over the usable
            cores, shut down at the end. An executor you pass is not shut down (abandoned steps
            keep running in it until you do).
        cache_dir: where finished outputs are pickled and looked up: a folder, or an fsspec
            URL (``s3://bucket/cache``...) that every node of a cluster reaches; None disables
            caching. Only point it at a place you trust: loading a pickle can run code.
        budget_s: seconds for the whole run; None for no limit.
        on_event: called in this thread as ``on_event(step_name, status)`` when a step starts,
            waits for a retry, or ends; for progress display.
        input_keys: content keys of inputs you can name more cheaply than by hashing them (a
            data file's digest and the settings derived from it, say); inputs without one are
            hashed (:func:`fingerprint`). Only used with ``cache_dir``.
        sleep: how to wait for a retry's backoff when nothing else runs (tests pass a fake).

    Returns:
        The status, output, error, duration and attempts of every step.

    Raises:
        ConfigError: missing or unknown inputs, a bad ``budget_s``, or (with ``cache_dir``) a
            param or input that cannot be hashed.
    """
    given = dict(inputs or {})
    missing = [name for name in workflow.inputs if name not in given]
    if missing:
        raise ConfigError(
            f"inputs: missing {', '.join(map(repr, missing))}; the workflow needs them"
        )
    unknown = [name for name in given if name not in workflow.inputs]
    if unknown:
        expected = ", ".join(workflow.inputs) or "none"
        raise ConfigError(f"inputs: unknown {', '.join(map(repr, unknown))}; expected: {expected}")
    if budget_s is not None and (not _is_number(budget_s) or budget_s <= 0):
        raise ConfigError(
            f"budget_s: expected a positive number of seconds or None, got {budget_s!r}"
        )
    for name, key in (input_keys or {}).items():
        if name not in workflow.inputs or not isinstance(key, str) or not key:
            raise ConfigError(
                f"input_keys: {name!r} → {key!r}; expected a non-empty string key for one of"
                f" the workflow's inputs ({', '.join(workflow.inputs) or 'none'})"
            )
    owned = executor is None
    active: Executor = LocalProcessExecutor() if executor is None else executor
    try:
        run = _Run(workflow, given, active, cache_dir, budget_s, on_event, sleep, input_keys)
        return run.execute()
    finally:
        if owned:
            active.shutdown()


class _Run:
    """The state of one :func:`run_workflow` call; the scheduling loop is :meth:`execute`."""

    def __init__(
        self,
        workflow: Workflow,
        inputs: dict[str, Any],
        executor: Executor,
        cache_dir: str | Path | None,
        budget_s: float | None,
        on_event: EventCallback | None,
        sleep: Callable[[float], None],
        input_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.workflow = workflow
        self.executor = executor
        self.cache = _Cache(Location(cache_dir, "cache_dir")) if cache_dir is not None else None
        self.budget_s = budget_s
        self.on_event = on_event
        self.sleep = sleep
        self.values: dict[str, Any] = dict(inputs)  # workflow inputs and finished outputs
        self.keys: dict[str, str] = {}
        if self.cache is not None:
            known = dict(input_keys or {})
            self.keys = {
                name: known.get(name) or fingerprint(value, f"inputs[{name!r}]")
                for name, value in inputs.items()
            }
        self.results: dict[str, StepResult] = {}
        self.waiting = [step.name for step in workflow.steps]  # not started, dependency order
        self.running: dict[Future[StepOutcome], tuple[str, float]] = {}  # -> (step, started)
        self.retry_due: dict[str, float] = {}  # step -> monotonic time of its next attempt
        self.attempts: dict[str, int] = {}
        self.reruns: dict[str, int] = {}  # attempts the executor made on its own (node loss)
        self.nodes: dict[str, str | None] = {}
        self.notes: dict[str, dict[str, Any]] = {}
        self.elapsed: dict[str, float] = {}
        self.failures: dict[str, StepOutcome] = {}  # last failed attempt, kept while retrying
        self.deadline: float | None = None
        self.budget_exhausted = False

    def execute(self) -> WorkflowResult:
        start = time.monotonic()
        if self.budget_s is not None:
            self.deadline = start + self.budget_s
        while not self._out_of_time():
            self._start_ready()
            if self.running:
                self._wait()
            elif self.retry_due:
                if not self._sleep_until_next_retry():
                    break
            elif not self.waiting:
                break
            # else: _start_ready stopped at the deadline; the loop condition ends the run
        self._stop_at_budget()
        steps = {step.name: self.results[step.name] for step in self.workflow.steps}
        return WorkflowResult(steps, self.budget_exhausted, time.monotonic() - start)

    # -- scheduling

    def _start_ready(self) -> None:
        """Decide every waiting step whose needs are settled: skip, load from cache or submit."""
        still_waiting = []
        for name in self.waiting:
            step = self.workflow[name]
            blocked = [
                need
                for need in step.needs
                if need in self.results and self.results[need].status not in _SUCCESS
            ]
            if blocked:
                reason = _BLOCKED_REASON[self.results[blocked[0]].status]
                self._settle(
                    name, StepStatus.SKIPPED, error=f"needs {blocked[0]!r}, which {reason}"
                )
            elif not all(need in self.values for need in step.needs) or self._out_of_time():
                still_waiting.append(name)
            elif not self._load_cached(step):
                self._submit(step)
        self.waiting = still_waiting
        now = time.monotonic()
        for name, due in list(self.retry_due.items()):
            if due <= now and not self._out_of_time():
                del self.retry_due[name]
                self._submit(self.workflow[name])

    def _load_cached(self, step: Step) -> bool:
        if self.cache is None:
            return False
        key = cache_key(step, [self.keys[need] for need in step.needs])
        self.keys[step.name] = key
        found, output = self.cache.load(step.name, key)
        if found:
            self.values[step.name] = output
            self._settle(step.name, StepStatus.CACHED, output=output)
        return found

    def _submit(self, step: Step) -> None:
        self.attempts[step.name] = self.attempts.get(step.name, 0) + 1
        self._emit(step.name, StepStatus.RUNNING)
        inputs = {need: self.values[need] for need in step.needs}
        try:
            future = self.executor.submit(step, inputs)
        except ConfigError as error:  # the step cannot run at all: retrying would not help
            self._settle(step.name, StepStatus.FAILED, error=str(error))
            return
        except Exception as error:  # e.g. the executor lost its workers: one failed attempt
            future = Future()
            future.set_exception(error)
        self.running[future] = (step.name, time.monotonic())

    def _wait(self) -> None:
        """Block until a step ends, a retry is due or the budget runs out."""
        wake_at = list(self.retry_due.values())
        if self.deadline is not None:
            wake_at.append(self.deadline)
        timeout = max(0.0, min(wake_at) - time.monotonic()) if wake_at else None
        done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in [future for future in self.running if future in done]:
            self._finish(future)

    def _sleep_until_next_retry(self) -> bool:
        """Nothing runs: sleep until the next retry. False when the budget ends first."""
        name = min(self.retry_due, key=self.retry_due.__getitem__)
        now = time.monotonic()
        if self.deadline is not None and self.retry_due[name] > self.deadline:
            self.sleep(max(0.0, self.deadline - now))
            return False
        self.sleep(max(0.0, self.retry_due[name] - now))
        # Due now, whatever the clock says: an injected sleep may not have waited.
        self.retry_due[name] = float("-inf")
        return True

    def _finish(self, future: Future[StepOutcome]) -> None:
        name, _ = self.running.pop(future)
        step = self.workflow[name]
        try:
            outcome = future.result()
        except (Exception, CancelledError) as error:  # the executor, not the step, failed
            outcome = StepOutcome(error=f"{type(error).__name__}: {error}")
        self.elapsed[name] = self.elapsed.get(name, 0.0) + outcome.elapsed_s
        self.reruns[name] = self.reruns.get(name, 0) + max(0, outcome.attempts - 1)
        self.nodes[name] = outcome.node
        self.notes[name] = dict(outcome.notes)
        if outcome.ok:
            self.values[name] = outcome.output
            if self.cache is not None:
                self.cache.store(name, self.keys[name], outcome.output)
            self._settle(name, StepStatus.DONE, output=outcome.output)
        elif outcome.timed_out:
            self._settle(name, StepStatus.TIMED_OUT, outcome.error, outcome.traceback)
        elif self.attempts[name] <= step.retries:
            delay = step.backoff_before(self.attempts[name] + 1)
            logger.debug(
                "step %r: attempt %d failed (%s); retry in %g s",
                *(name, self.attempts[name], outcome.error, delay),
            )
            self.failures[name] = outcome
            self.retry_due[name] = time.monotonic() + delay
            self._emit(name, StepStatus.RETRYING)
        else:
            self._settle(name, StepStatus.FAILED, outcome.error, outcome.traceback)

    # -- the budget

    def _out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _stop_at_budget(self) -> None:
        """Settle whatever the budget left unfinished (a no-op when everything finished)."""
        for future in [future for future in self.running if future.done()]:
            self._finish(future)  # finished in time; only its result was not collected yet
        if not (self.running or self.retry_due or self.waiting):
            return
        self.budget_exhausted = True
        budget = f"the run's budget of {self.budget_s:g} s ran out"
        now = time.monotonic()
        for future, (name, started) in list(self.running.items()):
            if future.cancel():  # still queued in the executor
                self.attempts[name] -= 1
                self._settle(name, StepStatus.SKIPPED, error=f"{budget} before it started")
            else:
                self.elapsed[name] = self.elapsed.get(name, 0.0) + now - started
                self._settle(name, StepStatus.TIMED_OUT, error=f"abandoned: {budget} while it ran")
        self.running.clear()
        for name in self.retry_due:
            last = self.failures[name]
            error = f"{last.error} ({budget} before the next retry)"
            self._settle(name, StepStatus.FAILED, error, last.traceback)
        self.retry_due.clear()
        for name in self.waiting:
            self._settle(name, StepStatus.SKIPPED, error=f"{budget} before it started")
        self.waiting.clear()

    # -- bookkeeping

    def _settle(
        self,
        name: str,
        status: StepStatus,
        error: str | None = None,
        traceback: str | None = None,
        output: Any = None,
    ) -> None:
        self.results[name] = StepResult(
            name=name,
            status=status,
            output=output,
            error=error,
            traceback=traceback,
            duration_s=self.elapsed.get(name, 0.0),
            attempts=self.attempts.get(name, 0) + self.reruns.get(name, 0),
            cache_key=self.keys.get(name),
            node=self.nodes.get(name),
            notes=self.notes.get(name, {}),
        )
        self._emit(name, status)

    def _emit(self, name: str, status: StepStatus) -> None:
        if self.on_event is not None:
            self.on_event(name, status)


_BLOCKED_REASON = {
    StepStatus.FAILED: "failed",
    StepStatus.SKIPPED: "was skipped",
    StepStatus.TIMED_OUT: "timed out",
}


# --------------------------------------------------------------------------- the cache


def fingerprint(value: Any, what: str = "value") -> str:
    """A SHA-256 of ``value``'s content: canonical JSON where possible, pickled bytes otherwise.

    JSON with sorted keys makes equal params hash equally whatever their order; values JSON
    cannot hold (arrays, frames, objects) contribute the hash of their pickle.

    Raises:
        ConfigError: ``value`` holds something that cannot be pickled; ``what`` names it.
    """

    def encode(item: Any) -> Any:
        if isinstance(item, (set, frozenset)):  # pickle order follows per-process string hashes
            return {"set": sorted(canonical(member) for member in item)}
        try:
            data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            raise ConfigError(
                f"{what}: cannot hash a {type(item).__name__} for the cache ({error}); "
                "pass a picklable value or run without cache_dir"
            ) from None
        return {"pickle-sha256": hashlib.sha256(data).hexdigest()}

    def canonical(item: Any) -> str:
        return json.dumps(item, sort_keys=True, separators=(",", ":"), default=encode)

    return hashlib.sha256(canonical(value).encode()).hexdigest()


def cache_key(step: Step, input_keys: list[str]) -> str:
    """The key ``step``'s output is cached under, given the keys of its needs (in order)."""
    payload = {
        "format": CACHE_FORMAT,
        "step": step.name,
        "function": _function_name(step.fn),
        "params": fingerprint(
            {k: v for k, v in step.params.items() if k not in step.uncached_params},
            f"step {step.name!r}: params",
        ),
        "inputs": input_keys,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _function_name(fn: Callable[..., Any]) -> str:
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(qualname, str):
        return f"{getattr(fn, '__module__', None)}:{qualname}"
    # A callable object (functools.partial, an instance): its state is part of what it does.
    return f"{type(fn).__module__}:{type(fn).__qualname__}#{fingerprint(fn, 'step function')}"


class _Cache:
    """Pickled step outputs in one folder (a path or an fsspec URL), one
    ``<step>-<key>.pkl`` file each."""

    def __init__(self, folder: Location) -> None:
        self.folder = folder

    @staticmethod
    def file_name(name: str, key: str) -> str:
        return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{key}.pkl"

    def load(self, name: str, key: str) -> tuple[bool, Any]:
        file_name = self.file_name(name, key)
        try:
            data = self.folder.read_bytes(file_name)
            if data is None:
                return False, None
            # Unpickling runs code a file names, so this is only for a trusted folder: zen
            # fit's resume cache is $ZEN_HOME/cache/fit/ or the user's own $ZEN_FIT_CACHE
            # (written only by zen), and run_workflow documents that cache_dir must be one the
            # caller trusts. Data files and model directories from others never come here.
            return True, pickle.loads(data)
        except Exception as error:  # writes are atomic, so this is damage from outside
            logger.info("step %r: cache file %s in %s is unreadable (%s); running it again",
                        name, file_name, self.folder.url, error)  # fmt: skip
            return False, None

    def store(self, name: str, key: str, output: Any) -> None:
        try:
            data = pickle.dumps(output, protocol=pickle.HIGHEST_PROTOCOL)
            self.folder.write_bytes(self.file_name(name, key), data)
        except Exception as error:  # an output that cannot be pickled is still a result
            logger.info("step %r: output not cached (%s: %s)", name, type(error).__name__, error)
