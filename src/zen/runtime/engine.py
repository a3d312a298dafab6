"""The inference engine: saved models behind one interface, fast backends, batching, deadlines.

>>> from zen.runtime import InferenceEngine
>>> engine = InferenceEngine()                                    # doctest: +SKIP
>>> engine.add_model("runs/20240601-abc", name="churn")           # doctest: +SKIP
>>> engine.start(wait=True)                                       # doctest: +SKIP
>>> engine.predict("churn", {"records": [{"age": 41, "plan": "pro"}]}).outputs  # doctest: +SKIP
{'outputs': ['stays'], 'probabilities': [[0.83, 0.17]]}

What happens to a model, in order:

1. **Prefetch** (:meth:`InferenceEngine.start`): a background thread loads every registered
   model (:func:`zen.runtime.servables.load_model`), exports it to ONNX (cached, see
   :mod:`zen.runtime.backends`), checks and times each backend and keeps them ranked. The
   model is ``ready`` after that; :attr:`InferenceEngine.ready` once all are.
2. **A request** (:meth:`InferenceEngine.submit`) is validated and turned into arrays by the
   model's servable, looked up in the LRU result cache (:mod:`zen.runtime.cache`), and queued
   on the model's micro-batcher (:mod:`zen.runtime.batcher`), which rejects it at once if its
   deadline cannot be met.
3. **A batch** runs on the fastest backend; if that backend raises where the next one succeeds,
   it is dropped for good (logged once) and the next one serves from then on. When a batch of
   several requests fails on every backend, each request runs alone, so one bad request does
   not fail the others.
4. With a :class:`~zen.runtime.Scheduler` attached, batches run as jobs of its ``inference``
   tier with the batch's earliest deadline, so model work yields to real-time work sharing the
   process and its deadline misses show in the scheduler's stats.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from zen.errors import ConfigError, DataError, ZenError, expect_one_of
from zen.runtime.backends import (
    BACKENDS,
    Backend,
    BackendChoice,
    BuildSettings,
    choose_backends,
    forced_backend,
)
from zen.runtime.batcher import LatencyModel, MicroBatcher, Pending
from zen.runtime.cache import CacheStats, ResultCache
from zen.runtime.errors import DeadlineExceeded, ModelNotFound, ModelNotReady, Overloaded
from zen.runtime.servables import Servable, load_model

if TYPE_CHECKING:
    from zen.runtime.scheduler import Scheduler

logger = logging.getLogger(__name__)

__all__ = [
    "DeadlineExceeded",
    "EngineConfig",
    "InferenceEngine",
    "ModelInfo",
    "ModelNotFound",
    "ModelNotReady",
    "ModelSpec",
    "ModelStats",
    "Overloaded",
    "Prediction",
]

#: Model states, in the order they happen.
STATUSES = ("registered", "loading", "ready", "failed")
BatchListener = Callable[[str, str, int, float], object]


@dataclass(frozen=True)
class ModelSpec:
    """One model to serve.

    Args:
        path: a model directory, or a ``zen fit`` run directory (its ``model/`` is used).
        name: what clients call it; default: the directory's name.
        backend: ``"auto"`` (fastest measured, or ``$ZEN_ENGINE_BACKEND``) or a backend name
            to put first (see :mod:`zen.runtime.backends`).
        max_batch_size, max_wait_ms: override the engine's batching settings for this model.
    """

    path: Path
    name: str | None = None
    backend: str = "auto"
    max_batch_size: int | None = None
    max_wait_ms: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).expanduser())
        if self.name is not None and (not isinstance(self.name, str) or not _valid_name(self.name)):
            raise ConfigError(
                f"name: {self.name!r} is not a usable model name; use letters, digits, '.', '_'"
                " and '-'"
            )
        if self.backend != "auto" and self.backend not in BACKENDS:
            raise expect_one_of("backend", self.backend, ("auto", *BACKENDS))

    @property
    def resolved_name(self) -> str:
        """``name``, or the directory's name."""
        return self.name or self.path.resolve().name

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """``"PATH"`` or ``"NAME=PATH"`` (as ``zen serve`` takes them)."""
        name, separator, path = text.partition("=")
        if separator and name and "/" not in name:
            return cls(Path(path), name=name)
        return cls(Path(text))

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any] | str, base: Path | None = None) -> ModelSpec:
        """A spec from a config entry (a path string, or a mapping with ``path`` and options);
        relative paths are taken from ``base``."""
        if isinstance(entry, (str, Path)):
            entry = {"path": str(entry)}
        if not isinstance(entry, Mapping) or "path" not in entry:
            raise ConfigError(f"models: expected a path or a mapping with 'path', got {entry!r}")
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ConfigError(f"models: unknown key(s) {unknown}; expected {sorted(known)}")
        path = Path(str(entry["path"])).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        return cls(**{**entry, "path": path})


@dataclass(frozen=True)
class EngineConfig:
    """Settings of an :class:`InferenceEngine` (defaults suit small models on a few cores).

    Args:
        models: the models to load at start-up (prefetch).
        backends: candidate backends; each model uses those it supports, fastest first.
        backend: force one backend for every model (``"auto"``: measure, or
            ``$ZEN_ENGINE_BACKEND``).
        max_batch_size: rows (samples, windows, nodes) per batch; 1 turns batching off.
        max_wait_ms: how long a batch's first request waits for others.
        max_queue: requests waiting per model before new ones are turned away.
        cache_entries, cache_bytes: bounds of the result cache; 0 entries turns it off.
        int8_tolerance: largest relative output difference accepted from INT8.
        onnx_threads: onnxruntime intra-op threads per model (``None``: all cores).
        cache_dir: where ONNX exports are kept (default ``$ZEN_HOME/cache/engine``).
        timing_runs: timed calls per backend and batch size when choosing.
    """

    models: tuple[ModelSpec, ...] = ()
    backends: tuple[str, ...] = BACKENDS
    backend: str = "auto"
    max_batch_size: int = 32
    max_wait_ms: float = 2.0
    max_queue: int = 1024
    cache_entries: int = 1024
    cache_bytes: int = 64 << 20
    int8_tolerance: float = 0.05
    onnx_threads: int | None = 1
    cache_dir: Path | None = None
    timing_runs: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "backends", tuple(self.backends))
        for spec in self.models:
            if not isinstance(spec, ModelSpec):
                raise ConfigError(f"models: expected ModelSpec entries, got {spec!r}")
        for name in self.backends:
            if name not in BACKENDS:
                raise expect_one_of("backends", name, BACKENDS)
        if not self.backends:
            raise ConfigError(f"backends: expected at least one of {', '.join(BACKENDS)}")
        if self.backend != "auto" and self.backend not in BACKENDS:
            raise expect_one_of("backend", self.backend, ("auto", *BACKENDS))
        _positive_int("max_batch_size", self.max_batch_size)
        _positive_int("max_queue", self.max_queue)
        _positive_int("timing_runs", self.timing_runs)
        for name in ("cache_entries", "cache_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
        if isinstance(self.max_wait_ms, bool) or not 0 <= self.max_wait_ms <= 60_000:
            raise ConfigError(f"max_wait_ms: expected 0 to 60000 ms, got {self.max_wait_ms!r}")
        if not 0 < self.int8_tolerance < 1:
            raise ConfigError(
                f"int8_tolerance: expected a fraction in (0, 1), got {self.int8_tolerance!r}"
            )
        if self.onnx_threads is not None:
            _positive_int("onnx_threads", self.onnx_threads)
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())

    @classmethod
    def from_file(cls, path: str | Path) -> EngineConfig:
        """Read a YAML (or JSON) file: ``models:`` (paths or mappings) and engine settings
        at the top level or under ``engine:``; relative model paths are from the file's folder.

        Example::

            max_batch_size: 16
            backends: [torch, onnx]
            models:
              - runs/20240601-abc
              - {path: models/nhits, name: load-forecast, max_wait_ms: 5}
        """
        import yaml

        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"{path}: config file not found")
        try:
            payload = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise DataError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(payload, Mapping):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        return cls.from_mapping(payload, base=path.parent)

    @classmethod
    def from_mapping(cls, payload: Mapping[str, Any], base: Path | None = None) -> EngineConfig:
        """A config from plain data (see :meth:`from_file`)."""
        settings = dict(payload.get("engine") or {})
        settings.update({key: value for key, value in payload.items() if key != "engine"})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigError(f"config: unknown key(s) {unknown}; expected {sorted(known)}")
        models = settings.pop("models", None) or ()
        if isinstance(models, (str, Mapping)):
            models = [models]
        specs = tuple(ModelSpec.from_mapping(entry, base) for entry in models)
        for key in ("backends",):
            if key in settings and isinstance(settings[key], str):
                settings[key] = [settings[key]]
        return cls(models=specs, **settings)

    def with_models(self, *specs: ModelSpec) -> EngineConfig:
        """A copy with ``specs`` added to the models."""
        return replace(self, models=(*self.models, *specs))

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(os.environ.get("ZEN_HOME") or "~/.zen").expanduser() / "cache" / "engine"


@dataclass
class ModelStats:
    """Counters of one model since the engine started (see :meth:`InferenceEngine.stats`).

    ``deadline_rejections`` were turned away before running; ``deadline_misses`` ran and
    finished late (the server may have answered 504 meanwhile).
    """

    requests: int = 0
    completed: int = 0
    failed: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    batches: int = 0
    batch_rows: int = 0
    deadline_rejections: int = 0
    deadline_misses: int = 0
    overloaded: int = 0
    fallbacks: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """What :meth:`InferenceEngine.models` tells about one model."""

    name: str
    path: str
    status: str
    family: str | None = None
    error: str | None = None
    backend: str | None = None
    backends: tuple[str, ...] = ()
    latency_ms: dict[str, dict[int, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    signature: dict[str, Any] = field(default_factory=dict)
    max_batch_size: int = 0
    max_wait_ms: float = 0.0
    queue_depth: int = 0

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["backends"] = list(self.backends)
        payload["latency_ms"] = {
            name: {str(rows): ms for rows, ms in by_rows.items()}
            for name, by_rows in self.latency_ms.items()
        }
        return payload


@dataclass(frozen=True)
class Prediction:
    """The result of one request.

    Attributes:
        outputs: the response body, ``{"outputs": [...], ...}`` (JSON-able).
        backend: the backend that computed it (for a cache hit: the cache).
        cached: whether it came from the result cache.
        batch_rows: rows of the batch it ran in (0 for a cache hit).
        latency_s: from :meth:`~InferenceEngine.submit` to the result.
    """

    model: str
    outputs: dict[str, Any]
    backend: str
    cached: bool
    batch_rows: int
    latency_s: float


class _Model:
    """An engine's state of one model (guarded by ``lock`` where threads meet)."""

    def __init__(self, spec: ModelSpec, name: str, max_batch_size: int, max_wait_ms: float) -> None:
        self.spec = spec
        self.name = name
        self.status = "registered"
        self.error: str | None = None
        self.servable: Servable | None = None
        self.choice: BackendChoice | None = None
        self.active: list[Backend] = []
        self.latency: LatencyModel | None = None
        self.batcher: MicroBatcher | None = None
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.stats = ModelStats()
        self.lock = threading.Lock()

    def count(self, counter: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + amount)


class InferenceEngine:
    """Serves saved models: load, choose backends, cache, micro-batch, keep deadlines.

    Args:
        config: an :class:`EngineConfig`; its ``models`` are registered now and loaded by
            :meth:`start`.
        scheduler: run batches on this scheduler's ``inference`` tier (started by
            :meth:`start` if it is not running, and then stopped by :meth:`close`).

    Thread-safety: every public method may be called from any thread.
    """

    def __init__(
        self, config: EngineConfig | None = None, *, scheduler: Scheduler | None = None
    ) -> None:
        self.config = config or EngineConfig()
        if not isinstance(self.config, EngineConfig):
            raise ConfigError(f"config: expected an EngineConfig, got {type(config).__name__}")
        self.scheduler = scheduler
        self.cache = ResultCache(self.config.cache_entries, self.config.cache_bytes)
        self._settings = BuildSettings(
            self.config.resolved_cache_dir(), self.config.onnx_threads, self.config.int8_tolerance
        )
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()
        self._listeners: list[BatchListener] = []
        self._loads: queue.SimpleQueue[_Model | None] = queue.SimpleQueue()
        self._loader: threading.Thread | None = None
        self._prefetched = threading.Event()
        self._started_scheduler = False
        self._closed = False
        for spec in self.config.models:
            self._register(spec)

    # ------------------------------------------------------------------ models
    def add_model(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        backend: str = "auto",
        max_batch_size: int | None = None,
        max_wait_ms: float | None = None,
    ) -> str:
        """Register a saved model (loaded by :meth:`start`, or now in the background if the
        engine runs already); returns its name. See :class:`ModelSpec` for the arguments."""
        spec = ModelSpec(Path(path), name, backend, max_batch_size, max_wait_ms)
        model = self._register(spec)
        if self._loader is not None:
            self._loads.put(model)
        return model.name

    def _register(self, spec: ModelSpec) -> _Model:
        name = spec.resolved_name
        if not _valid_name(name):
            raise ConfigError(
                f"{spec.path}: {name!r} is not a usable model name; give one with NAME=PATH"
            )
        max_batch = spec.max_batch_size or self.config.max_batch_size
        _positive_int("max_batch_size", max_batch)
        wait_ms = self.config.max_wait_ms if spec.max_wait_ms is None else spec.max_wait_ms
        with self._lock:
            if self._closed:
                raise ModelNotReady("the engine is closed")
            if name in self._models:
                raise ConfigError(
                    f"models: two models are called {name!r} ({self._models[name].spec.path} and"
                    f" {spec.path}); name them with NAME=PATH"
                )
            model = _Model(spec, name, max_batch, wait_ms)
            self._models[name] = model
        return model

    def models(self) -> list[ModelInfo]:
        """Every registered model, in registration order."""
        return [self._info(model) for model in list(self._models.values())]

    def model_info(self, name: str) -> ModelInfo:
        """One model (:class:`ModelNotFound` if there is no such model)."""
        return self._info(self._get(name))

    def _info(self, model: _Model) -> ModelInfo:
        choice, servable, batcher = model.choice, model.servable, model.batcher
        return ModelInfo(
            name=model.name,
            path=str(model.spec.path),
            status=model.status,
            family=servable.family if servable else None,
            error=model.error,
            backend=model.active[0].name if model.active else None,
            backends=tuple(backend.name for backend in model.active),
            latency_ms={
                name: {rows: round(seconds * 1e3, 4) for rows, seconds in by_rows.items()}
                for name, by_rows in (choice.latency_s.items() if choice else ())
            },
            skipped=dict(choice.skipped) if choice else {},
            signature=servable.signature() if servable else {},
            max_batch_size=model.max_batch_size,
            max_wait_ms=model.max_wait_ms,
            queue_depth=batcher.queue_depth if batcher else 0,
        )

    def prepares_inline(self, name: str) -> bool:
        """Whether requests to ``name`` are cheap to validate on the caller's thread (no
        pandas); an async server runs the others' :meth:`submit` in a thread pool."""
        servable = self._get(name).servable
        return servable is not None and servable.inline_prepare

    def _get(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise ModelNotFound(name, list(self._models))
        return model

    # ------------------------------------------------------------------ life cycle
    def start(self, wait: bool = False, timeout_s: float | None = None) -> None:
        """Load and warm up every registered model in a background thread (prefetch).

        Args:
            wait: block until the prefetch is done (see :meth:`wait_ready`).
        """
        with self._lock:
            if self._closed:
                raise ModelNotReady("the engine is closed; make a new one")
            if self._loader is None:
                if self.scheduler is not None and not self.scheduler.running:
                    self.scheduler.start()
                    self._started_scheduler = True
                for model in self._models.values():
                    if model.status == "registered":
                        self._loads.put(model)
                self._loads.put(None)  # marks the end of the prefetch
                self._loader = threading.Thread(
                    target=self._load_loop, name="zen-engine-prefetch", daemon=True
                )
                self._loader.start()
        if wait:
            self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Wait for the prefetch to end; True when every model is ready."""
        self._prefetched.wait(timeout_s)
        return self.ready

    @property
    def prefetched(self) -> bool:
        """Whether the start-up prefetch has ended (each model ready or failed)."""
        return self._prefetched.is_set()

    @property
    def ready(self) -> bool:
        """True once the prefetch ended and every registered model is ready."""
        return self.prefetched and all(model.status == "ready" for model in self._models.values())

    def _load_loop(self) -> None:
        while True:
            model = self._loads.get()
            if model is None:
                self._prefetched.set()
                continue
            if model is _STOP:
                return
            if model.status == "registered":
                self._load(model)

    def _load(self, model: _Model) -> None:
        model.status = "loading"
        started = time.perf_counter()
        try:
            servable = load_model(model.spec.path, model.name)
            forced = forced_backend(
                model.spec.backend if model.spec.backend != "auto" else self.config.backend
            )
            choice = choose_backends(
                servable,
                self.config.backends,
                self._settings,
                forced=forced,
                batch_sizes=sorted({1, model.max_batch_size}),
                runs=self.config.timing_runs,
            )
            latency = LatencyModel(choice.latency_s[choice.chosen.name])
            batcher = MicroBatcher(
                model.name,
                lambda batch: self._run_batch(model, batch),
                latency,
                max_batch_size=model.max_batch_size,
                max_wait_s=model.max_wait_ms / 1e3,
                max_queue=self.config.max_queue,
            )
        except Exception as error:
            model.error = (
                f"{type(error).__name__}: {error}"
                if not isinstance(error, ZenError)
                else str(error)
            )
            model.status = "failed"
            logger.error("model %s failed to load: %s", model.name, model.error)
            logger.debug("model %s load failure", model.name, exc_info=error)
            return
        model.servable, model.choice, model.latency = servable, choice, latency
        model.active = list(choice.ranked)
        model.batcher = batcher
        model.status = "ready"
        if self._closed:  # closed while it loaded
            batcher.close(drain=False)
        logger.info(
            "model %s ready (%s, %s) in %.1f s",
            model.name,
            servable.family,
            model.active[0].name,
            time.perf_counter() - started,
        )

    def close(self, drain: bool = True, timeout_s: float | None = 30.0) -> None:
        """Stop taking requests, finish the queued ones (``drain``) or fail them, stop the
        threads (and the scheduler if :meth:`start` started it). Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for model in list(self._models.values()):
            if model.batcher is not None:
                model.batcher.close(drain=drain, timeout_s=timeout_s)
        if self._loader is not None:
            self._loads.put(_STOP)
            self._loader.join(0 if not drain else timeout_s)
        if self._started_scheduler and self.scheduler is not None:
            self.scheduler.stop(timeout_s)
            self._started_scheduler = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> InferenceEngine:
        self.start(wait=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def submit(
        self, name: str, request: Mapping[str, Any], *, deadline_s: float | None = None
    ) -> Future[Prediction]:
        """Queue one request; returns a future of its :class:`Prediction`.

        Args:
            name: the model.
            request: the request body, e.g. ``{"inputs": [[...]]}`` (see the model's
                ``signature``; arrays are accepted where lists are).
            deadline_s: seconds from now by which it must finish; a request that cannot is
                rejected (:class:`DeadlineExceeded`, at once or when its batch forms).

        Raises (at once): :class:`ModelNotFound`, :class:`ModelNotReady`, ``DataError`` for a
        request the model cannot take, :class:`Overloaded`, :class:`DeadlineExceeded`. The
        future raises what running it raised.
        """
        started = time.monotonic()
        model = self._get(name)
        if model.status != "ready" or model.servable is None or model.batcher is None:
            raise ModelNotReady(_not_ready_message(model, self._loader is not None))
        if self._closed:
            raise ModelNotReady(f"model {name!r}: the engine is shutting down")
        if deadline_s is not None and (isinstance(deadline_s, bool) or not deadline_s > 0):
            raise ConfigError(
                f"deadline_s: expected a positive number of seconds, got {deadline_s!r}"
            )
        if not isinstance(request, Mapping):
            raise DataError(
                "request: expected a mapping like {'inputs': [...]}, got"
                f" {type(request).__name__}"
            )
        model.count("requests")
        servable = model.servable
        try:
            prepared = servable.prepare(request)
        except DataError:
            model.count("failed")
            raise
        key = None
        if self.cache.enabled:
            key = self._cache_key(model, servable, prepared)
            hit = self.cache.get(key)
            if hit is not None:
                model.count("cache_hits")
                future: Future[Prediction] = Future()
                body = servable.respond(prepared, hit)
                model.count("completed")
                future.set_result(
                    Prediction(name, body, "cache", True, 0, time.monotonic() - started)
                )
                return future
            model.count("cache_misses")
        deadline = None if deadline_s is None else started + deadline_s
        pending = Pending(prepared, Future(), deadline, started, key)
        try:
            model.batcher.submit(pending)
        except DeadlineExceeded:
            model.count("deadline_rejections")
            raise
        except Overloaded:
            model.count("overloaded")
            raise
        return pending.future

    def predict(
        self,
        name: str,
        request: Mapping[str, Any],
        *,
        deadline_s: float | None = None,
    ) -> Prediction:
        """:meth:`submit` and wait for the result (at most until the deadline)."""
        future = self.submit(name, request, deadline_s=deadline_s)
        try:
            return future.result(timeout=deadline_s)
        except TimeoutError as error:
            if isinstance(error, DeadlineExceeded):
                raise
            future.cancel()
            waited_ms = (deadline_s or 0.0) * 1e3
            raise DeadlineExceeded(
                f"model {name!r}: no result within the deadline of {waited_ms:.1f} ms", early=False
            ) from None

    @staticmethod
    def _cache_key(model: _Model, servable: Servable, prepared: Any) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        digest.update(model.name.encode())
        digest.update(servable.digest.encode())
        digest.update(servable.cache_key(prepared))
        return digest.digest()

    # ------------------------------------------------------------------ batches (worker thread)
    def _run_batch(self, model: _Model, batch: list[Pending]) -> None:
        servable = model.servable
        assert servable is not None and model.latency is not None
        rows = sum(pending.rows for pending in batch)
        started = time.monotonic()
        try:
            feeds = servable.combine([pending.prepared for pending in batch])
            outputs, backend = self._dispatch(model, feeds, batch)
            parts = servable.split(outputs, [pending.prepared for pending in batch])
        except Exception as error:
            if len(batch) > 1 and not isinstance(error, Overloaded):
                logger.info(
                    "model %s: a batch of %d requests failed (%s); running them one by one",
                    model.name,
                    len(batch),
                    error,
                )
                for pending in batch:
                    self._run_batch(model, [pending])
                return
            for pending in batch:
                model.count("failed")
                pending.future.set_exception(error)
            return
        finished = time.monotonic()
        seconds = finished - started
        model.latency.observe(rows, seconds)
        model.count("batches")
        model.count("batch_rows", rows)
        for pending, part in zip(batch, parts, strict=True):
            try:
                body = servable.respond(pending.prepared, part)
            except Exception as error:
                model.count("failed")
                pending.future.set_exception(error)
                continue
            if pending.key is not None:
                self.cache.put(pending.key, part)
            if pending.deadline is not None and finished > pending.deadline:
                model.count("deadline_misses")
            model.count("completed")
            pending.future.set_result(
                Prediction(model.name, body, backend, False, rows, finished - pending.enqueued)
            )
        for listener in list(self._listeners):
            try:
                listener(model.name, backend, rows, seconds)
            except Exception:
                logger.exception("batch listener %r failed", listener)

    def _dispatch(
        self, model: _Model, feeds: dict[str, Any], batch: list[Pending]
    ) -> tuple[list[Any], str]:
        """Run ``feeds`` on the model's backends, through the scheduler when there is one."""
        if self.scheduler is None or not self.scheduler.running:
            return self._run_backends(model, feeds)
        from zen.runtime.tasks import TaskSkipped

        deadlines = [pending.deadline for pending in batch if pending.deadline is not None]
        deadline_s = max(min(deadlines) - time.monotonic(), 1e-6) if deadlines else None
        job = self.scheduler.submit(
            self._run_backends, model, feeds, tier="inference", name=f"infer:{model.name}",
            deadline_s=deadline_s,
        )  # fmt: skip
        try:
            return job.result()
        except TaskSkipped as error:
            model.count("overloaded", len(batch))
            raise Overloaded(
                f"model {model.name!r}: the scheduler shed the batch ({error})"
            ) from None

    def _run_backends(self, model: _Model, feeds: dict[str, Any]) -> tuple[list[Any], str]:
        failures: list[tuple[Backend, BaseException]] = []
        for backend in list(model.active):
            try:
                outputs = backend.run(feeds)
            except Exception as error:
                failures.append((backend, error))
                continue
            if failures:
                self._drop_backends(model, failures, backend)
            return outputs, backend.name
        raise failures[0][1]

    def _drop_backends(
        self, model: _Model, failures: list[tuple[Backend, BaseException]], working: Backend
    ) -> None:
        """Backends that failed where ``working`` succeeded are broken here: drop them."""
        with model.lock:
            for backend, error in failures:
                if backend in model.active:
                    model.active.remove(backend)
                    model.stats.fallbacks += 1
                    logger.warning(
                        "model %s: backend %s failed (%s: %s); falling back to %s for good",
                        model.name,
                        backend.name,
                        type(error).__name__,
                        str(error).splitlines()[0][:300] if str(error) else "",
                        working.name,
                    )

    # ------------------------------------------------------------------ observing
    def add_batch_listener(self, listener: BatchListener) -> Callable[[], None]:
        """Call ``listener(model, backend, rows, seconds)`` after every batch (on the batch's
        worker thread; keep it short). Returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def stats(self) -> dict[str, ModelStats]:
        """A snapshot of every model's counters."""
        snapshot = {}
        for name, model in list(self._models.items()):
            with model.lock:
                counters = replace(model.stats)
            if model.batcher is not None:
                counters.deadline_rejections += model.batcher.late_rejections
            snapshot[name] = counters
        return snapshot

    def cache_stats(self) -> CacheStats:
        return self.cache.stats()

    def queue_depths(self) -> dict[str, int]:
        return {
            name: model.batcher.queue_depth if model.batcher else 0
            for name, model in list(self._models.items())
        }

    def __repr__(self) -> str:
        states = ", ".join(f"{name}={model.status}" for name, model in self._models.items())
        return f"InferenceEngine({states or 'no models'})"


_STOP: Any = object()


def _not_ready_message(model: _Model, started: bool) -> str:
    if model.status == "failed":
        return f"model {model.name!r} failed to load: {model.error}"
    if model.status == "ready":
        return f"model {model.name!r}: the engine is shutting down"
    if not started:
        return f"model {model.name!r} is not loaded; start() the engine first"
    return f"model {model.name!r} is {model.status} (prefetch in progress); retry shortly"


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")


def _valid_name(name: str) -> bool:
    return bool(name) and len(name) <= 128 and all(c.isalnum() or c in "._-" for c in name)
