"""Where a servable's batches run: PyTorch eager or compiled, onnxruntime FP32 or INT8.

:func:`choose_backends` builds every candidate a servable supports, checks its outputs against
PyTorch eager on example inputs, times it at batch 1 and at the largest batch, and ranks the
usable ones fastest first (the engine runs the first and falls back along the list). The ONNX
files are exported once per model content and kept in a cache directory
(``$ZEN_HOME/cache/engine/onnx/<family>-<digest>/``), so a restart reuses them.

=================  ========================================================================
backend            what runs
=================  ========================================================================
``torch``          the servable's module, eager, under ``torch.no_grad``
``torch-compiled`` ``torch.compile(module, dynamic=True)`` with eager fallback
                   (:class:`zen.compute.CompiledModule`)
``onnx``           :func:`zen.export.export_onnx`'s file in onnxruntime (CPU or CUDA)
``onnx-int8``      :func:`zen.export.quantize_int8`'s file, used only when its outputs stay
                   within ``int8_tolerance`` of PyTorch's (relative to their largest magnitude)
=================  ========================================================================

``ZEN_ENGINE_BACKEND`` (or a model's ``backend`` setting) forces one backend: only it and
PyTorch eager (the reference and fallback) are built; when it cannot be used here, PyTorch
eager serves and the reason is logged.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zen.errors import BackendUnavailable, ConfigError, ZenError, expect_one_of
from zen.runtime.servables import Feeds, Servable

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "torch-compiled", "onnx", "onnx-int8")
ENV_VAR = "ZEN_ENGINE_BACKEND"
#: Largest relative difference from PyTorch eager accepted from an FP32 backend.
FP32_TOLERANCE = 1e-3

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "Backend",
    "BackendChoice",
    "OnnxBackend",
    "PythonBackend",
    "TorchBackend",
    "build_backend",
    "choose_backends",
    "forced_backend",
    "relative_difference",
]


class Backend(ABC):
    """Runs a servable's feeds: ``run(feeds) -> outputs`` (numpy in, numpy out)."""

    name: str = ""

    @abstractmethod
    def run(self, feeds: Feeds) -> list[np.ndarray]:
        """The model's outputs for ``feeds`` (arrays by input name, batch-first)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class TorchBackend(Backend):
    """A module called on the feeds as tensors (``no_grad``: some zen layers keep caches keyed
    on tensor versions, which ``inference_mode`` tensors do not have)."""

    def __init__(self, module: nn.Module, input_names: Sequence[str], name: str = "torch") -> None:
        self.module = module
        self.input_names = tuple(input_names)
        self.name = name

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        tensors = [torch.from_numpy(feeds[name]) for name in self.input_names]
        with torch.no_grad():
            result = self.module(*tensors)
        outputs = [result] if isinstance(result, torch.Tensor) else list(result)
        return [output.detach().cpu().numpy() for output in outputs]


class PythonBackend(Backend):
    """A servable's own function (models that are not one torch module); runs on PyTorch."""

    def __init__(self, function: Callable[[Feeds], list[np.ndarray]], name: str = "torch") -> None:
        self.function = function
        self.name = name

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        return self.function(feeds)


class OnnxBackend(Backend):
    """An exported model in onnxruntime.

    Args:
        path: the ``.onnx`` file (its zen sidecar next to it).
        input_names: the feeds the servable makes; they must be the graph's inputs.
        threads: intra-op threads (``None``: onnxruntime's default, all cores). Spinning is
            off: an idle pool that spins takes a core from the server and the other models.
    """

    def __init__(
        self, path: Path, input_names: Sequence[str], name: str, threads: int | None = 1
    ) -> None:
        import onnxruntime

        from zen.export.onnx import read_sidecar

        self.path = path
        self.name = name
        sidecar = read_sidecar(path)
        graph_inputs = tuple(spec["name"] for spec in sidecar["inputs"])
        if set(graph_inputs) != set(input_names):
            raise BackendUnavailable(
                f"{path}: the graph takes {graph_inputs}, the servable makes {tuple(input_names)}"
            )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        available = onnxruntime.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.input_names = graph_inputs

    def run(self, feeds: Feeds) -> list[np.ndarray]:
        return list(self.session.run(None, {name: feeds[name] for name in self.input_names}))


# ---------------------------------------------------------------------------------- building
@dataclass(frozen=True)
class BuildSettings:
    """How :func:`build_backend` makes backends (from the engine's configuration)."""

    cache_dir: Path
    threads: int | None = 1
    int8_tolerance: float = 0.05


def build_backend(name: str, servable: Servable, settings: BuildSettings) -> Backend:
    """Make backend ``name`` for ``servable``; :class:`BackendUnavailable` when it cannot."""
    if name not in BACKENDS:
        raise expect_one_of("backend", name, BACKENDS)
    module = servable.torch_module()
    if module is None:
        runner = servable.python_runner()
        if name != "torch" or runner is None:
            raise BackendUnavailable(
                f"{servable.family} model {servable.name!r} runs its own Python code; only the"
                " 'torch' backend applies"
            )
        return PythonBackend(runner)
    if name == "torch":
        return TorchBackend(module, servable.input_names)
    if name == "torch-compiled":
        return _compiled(module, servable)
    if servable.export_target() is None:
        raise BackendUnavailable(
            f"a {servable.family} model like {servable.name!r} has no ONNX form"
        )
    _require_onnxruntime()
    path = _onnx_file(servable, settings.cache_dir)
    if name == "onnx-int8":
        path = _int8_file(path, servable)
    return OnnxBackend(path, servable.input_names, name, settings.threads)


def _compiled(module: nn.Module, servable: Servable) -> Backend:
    from zen.compute.compile import CompiledModule, compile_status

    status = compile_status()
    if not status.startswith("available"):
        raise BackendUnavailable(f"torch.compile is {status}")
    # dynamic=True: batches of every size share one compiled graph instead of recompiling
    # (for seconds, mid-traffic) on the first batch of each new size.
    compiled = torch.compile(module, dynamic=True)
    return TorchBackend(CompiledModule(module, compiled), servable.input_names, "torch-compiled")


def _require_onnxruntime() -> None:
    from zen.export.onnx import require_onnx

    require_onnx()


def _onnx_file(servable: Servable, cache_dir: Path) -> Path:
    """The FP32 export of ``servable`` in the cache, exported now when missing or stale."""
    import zen
    from zen.export.onnx import export_onnx, read_sidecar

    key = f"{servable.digest[:24]}-zen{zen.__version__}-torch{torch.__version__.split('+')[0]}"
    path = cache_dir / "onnx" / f"{servable.family}-{key}" / "model.onnx"
    if path.is_file():
        try:
            read_sidecar(path)
            logger.debug("model %s: reusing %s", servable.name, path)
            return path
        except ZenError as error:
            logger.info(
                "model %s: exporting again, the cached file is unusable: %s", servable.name, error
            )
    started = time.perf_counter()
    export_onnx(servable.export_target(), path)
    logger.info(
        "model %s: exported to ONNX in %.1f s (%s)",
        servable.name,
        time.perf_counter() - started,
        path,
    )
    return path


def _int8_file(source: Path, servable: Servable) -> Path:
    """The INT8 file next to the FP32 one, quantised now when missing."""
    from zen.export.onnx import read_sidecar
    from zen.export.quantize import quantize_int8

    path = source.with_name("model.int8.onnx")
    if path.is_file():
        try:
            read_sidecar(path)
            return path
        except ZenError:
            pass
    calibration = servable.example_feeds(256, np.random.default_rng(0))
    report = quantize_int8(source, calibration, path=path, latency_runs=3)
    logger.info(
        "model %s: quantised to INT8 (%s, %d -> %d bytes)",
        servable.name,
        report.method,
        report.size_before_bytes,
        report.size_after_bytes,
    )
    return path


# ---------------------------------------------------------------------------------- choosing
@dataclass
class BackendChoice:
    """The usable backends of one model, in the order the engine tries them.

    Attributes:
        ranked: fastest first (a forced backend first of all).
        latency_s: median seconds per call by backend name and batch rows.
        skipped: why each unusable candidate was left out.
        reason: one line on how the first was picked.
    """

    ranked: list[Backend]
    latency_s: dict[str, dict[int, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def chosen(self) -> Backend:
        return self.ranked[0]


def forced_backend(setting: str | None) -> str | None:
    """The backend a model setting or ``ZEN_ENGINE_BACKEND`` forces, None for ``auto``."""
    value = (setting or "auto").strip().lower()
    if value == "auto":
        value = os.environ.get(ENV_VAR, "").strip().lower() or "auto"
        if value != "auto" and value not in BACKENDS:
            raise ConfigError(
                f"{ENV_VAR}: unknown value {value!r}; expected auto or one of {', '.join(BACKENDS)}"
            )
    if value == "auto":
        return None
    if value not in BACKENDS:
        raise expect_one_of("backend", value, ("auto", *BACKENDS))
    return value


def choose_backends(
    servable: Servable,
    candidates: Sequence[str],
    settings: BuildSettings,
    *,
    forced: str | None = None,
    batch_sizes: Sequence[int] = (1, 32),
    runs: int = 20,
    seed: int = 0,
) -> BackendChoice:
    """Build, check and time every candidate backend; rank the usable ones.

    Args:
        candidates: backend names to consider.
        forced: consider only this backend (and ``torch``) and put it first when usable.
        batch_sizes: batch rows the timing runs at; the score is the sum of their medians.
        runs: timed calls per batch size (after two warm-up calls, which compile).

    Raises:
        BackendUnavailable: not even PyTorch eager can run the model.
    """
    rng = np.random.default_rng(seed)
    # Forced: only that backend, and eager PyTorch as the reference and the fallback; the
    # start-up time the others would take (exports, compilation) is not spent.
    names = [forced] if forced else list(dict.fromkeys(candidates))
    if "torch" not in names:
        names.insert(0, "torch")  # the reference every other backend is checked against
    check_feeds = servable.example_feeds(max(1, min(8, max(batch_sizes))), rng)
    timing_feeds = {rows: servable.example_feeds(rows, rng) for rows in sorted(set(batch_sizes))}
    choice = BackendChoice([])
    reference: list[np.ndarray] | None = None
    usable: dict[str, tuple[Backend, float]] = {}
    for name in names:
        try:
            backend = build_backend(name, servable, settings)
            outputs = backend.run(check_feeds)
            if reference is None:
                reference = outputs
            else:
                _check_agreement(name, outputs, reference, settings.int8_tolerance)
            latency = {
                rows: _median_call_s(backend, feeds, runs) for rows, feeds in timing_feeds.items()
            }
            if isinstance(backend, TorchBackend) and _fell_back(backend):
                raise BackendUnavailable(f"torch.compile failed: {backend.module.fallback_reason}")
        except Exception as error:  # any failure only means: not this backend
            reason = _short(error)
            choice.skipped[name] = reason
            logger.info("model %s: backend %s unusable: %s", servable.name, name, reason)
            if name == "torch":
                raise BackendUnavailable(
                    f"model {servable.name!r}: PyTorch eager cannot run it: {reason}"
                ) from error
            continue
        choice.latency_s[name] = latency
        usable[name] = (backend, sum(latency.values()))
    order = sorted(usable, key=lambda each: usable[each][1])
    if forced is not None:
        if forced in usable:
            order.remove(forced)
            order.insert(0, forced)
            choice.reason = f"forced ({forced})"
        else:
            choice.reason = f"{forced} was asked for but is unusable ({choice.skipped.get(forced)})"
            logger.info("model %s: %s; using %s", servable.name, choice.reason, order[0])
    if not choice.reason:
        choice.reason = "fastest measured"
    choice.ranked = [usable[name][0] for name in order]
    logger.info(
        "model %s: backend %s (%s); median ms at batch %s: %s",
        servable.name,
        order[0],
        choice.reason,
        "/".join(str(rows) for rows in timing_feeds),
        ", ".join(
            f"{name} "
            + "/".join(f"{seconds * 1e3:.3f}" for seconds in choice.latency_s[name].values())
            for name in order
        ),
    )
    return choice


def relative_difference(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """Largest ``|a - b|`` over all outputs, divided by the largest ``|b|`` of the same output."""
    worst = 0.0
    for got, wanted in zip(outputs, reference, strict=True):
        if got.shape != wanted.shape:
            return float("inf")
        if wanted.size == 0:
            continue
        wanted64 = wanted.astype(np.float64)
        scale = max(float(np.max(np.abs(wanted64))), 1e-6)
        worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - wanted64))) / scale)
    return worst


def _check_agreement(
    name: str, outputs: list[np.ndarray], reference: list[np.ndarray], int8_tolerance: float
) -> None:
    tolerance = int8_tolerance if name == "onnx-int8" else FP32_TOLERANCE
    if len(outputs) != len(reference):
        raise BackendUnavailable(f"{len(outputs)} outputs where PyTorch gives {len(reference)}")
    difference = relative_difference(outputs, reference)
    if not difference <= tolerance:
        raise BackendUnavailable(
            f"outputs differ from PyTorch eager by {difference:.3g} (relative), more than the"
            f" tolerance {tolerance:g}"
        )


def _median_call_s(backend: Backend, feeds: Feeds, runs: int) -> float:
    for _ in range(2):
        backend.run(feeds)
    times = []
    for _ in range(max(runs, 1)):
        started = time.perf_counter()
        backend.run(feeds)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _fell_back(backend: TorchBackend) -> bool:
    return getattr(backend.module, "fallback_reason", None) is not None


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0][:300] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
