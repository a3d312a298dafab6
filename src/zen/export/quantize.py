"""Compress exported models: INT8 quantisation (dynamic or calibrated static) and FP16.

Which INT8 method (``method="auto"``):

* **dynamic** (``onnxruntime.quantization.quantize_dynamic``): weights are stored as INT8 and
  activations are quantised on the fly per call. Right for linear and recurrent layers (MLP,
  tabular, N-BEATS, N-HiTS, DeepAR's LSTM, graph layers), whose cost is matrix products;
  needs no data.
* **static** (``quantize_static``, QDQ format, per-channel weights, MinMax calibration):
  activation ranges are fixed beforehand from ``calibration_data``. Convolutions (TCN, or
  anything with a ``Conv`` node) only run as integer kernels with fixed activation scales, so
  they get this; it needs representative inputs.

Why not ``torch.ao``: its quantised modules run in PyTorch only and do not export to ONNX, the
format zen serves from; its dynamic INT8 ``Linear`` does what onnxruntime's dynamic path does;
and in torch 2.13 its eager and FX quantisation APIs are deprecated in favour of the separate
``torchao`` package. ``bench/bench_export.py`` measures it next to onnxruntime on the MLP.

FP16 (:func:`convert_fp16`) halves the file and is for GPUs (CUDA execution provider). On CPU
onnxruntime has few FP16 kernels and inserts casts, so it is not faster there, usually slower:
the report measures and says so.

Each call writes the compressed ``.onnx`` with its sidecar (``quantization`` filled in) and
returns a :class:`QuantizeReport`: size, median latency and, given held-out data, a metric
before and after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zen.errors import ConfigError, DataError, expect_one_of
from zen.export.onnx import (
    export_onnx,
    file_sha256,
    read_sidecar,
    require_onnx,
    sidecar_path,
    write_sidecar,
)

logger = logging.getLogger(__name__)

METHODS = ("auto", "dynamic", "static")
#: Above this output difference (relative to the largest FP32 output) a report warns; the
#: inference engine's default agreement tolerance for an INT8 backend is the same 5 %.
DRIFT_WARNING = 0.05
METRICS = ("accuracy", "mae", "rmse")
_CONVOLUTIONS = {"Conv", "ConvTranspose"}
_CALIBRATION_BATCH = 32
_EVALUATION_CHUNK = 4096
_LATENCY_GRAPH = {"num_nodes": 1000, "num_edges": 5000}

__all__ = ["METHODS", "METRICS", "QuantizeReport", "convert_fp16", "quantize_int8"]


@dataclass(frozen=True)
class QuantizeReport:
    """Before/after numbers of one compression.

    Attributes:
        method: ``"dynamic-int8"``, ``"static-int8"`` or ``"fp16"``.
        path, sidecar_path: what was written.
        source_path: the FP32 ``.onnx`` compressed (None when exported to a temporary file).
        size_before_bytes, size_after_bytes: file sizes.
        latency_before_ms, latency_after_ms: median onnxruntime latency on this machine
            (CPU unless a GPU provider is available), on the inputs ``latency_sizes``.
        output_max_abs_diff, output_max_rel_diff: largest difference of the compressed
            model's outputs from the FP32 model's (relative: to the largest FP32 magnitude).
        metric, accuracy_before, accuracy_after: the held-out metric (``accuracy``: higher is
            better; ``mae``/``rmse``: lower is better), None without ``evaluation``.
        evaluated_samples, calibration_samples: how much data each step saw.
        notes: caveats for humans (e.g. FP16 on CPU).
    """

    method: str
    family: str
    path: Path
    sidecar_path: Path
    source_path: Path | None
    size_before_bytes: int
    size_after_bytes: int
    latency_before_ms: float
    latency_after_ms: float
    latency_sizes: dict[str, int]
    output_max_abs_diff: float
    output_max_rel_diff: float
    metric: str | None = None
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    evaluated_samples: int | None = None
    calibration_samples: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def size_ratio(self) -> float:
        """``size_after / size_before`` (0.25 means four times smaller)."""
        return self.size_after_bytes / max(self.size_before_bytes, 1)

    @property
    def speedup(self) -> float:
        """``latency_before / latency_after`` (above 1: the compressed model is faster)."""
        return self.latency_before_ms / max(self.latency_after_ms, 1e-9)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "source_file": None if self.source_path is None else self.source_path.name,
            "size_before_bytes": self.size_before_bytes,
            "size_after_bytes": self.size_after_bytes,
            "latency_before_ms": self.latency_before_ms,
            "latency_after_ms": self.latency_after_ms,
            "latency_sizes": self.latency_sizes,
            "output_max_abs_diff": self.output_max_abs_diff,
            "output_max_rel_diff": self.output_max_rel_diff,
            "metric": self.metric,
            "accuracy_before": self.accuracy_before,
            "accuracy_after": self.accuracy_after,
            "evaluated_samples": self.evaluated_samples,
            "calibration_samples": self.calibration_samples,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------- INT8
def quantize_int8(
    model_or_onnx: Any,
    calibration_data: Any = None,
    *,
    path: str | Path | None = None,
    method: str = "auto",
    evaluation: tuple[Any, Any] | None = None,
    metric: str | None = None,
    model_name: str | None = None,
    latency_runs: int = 30,
    latency_batch_size: int = 64,
) -> QuantizeReport:
    """INT8-quantise an exported model (or a zen model, exported first) with onnxruntime.

    Args:
        model_or_onnx: an ``.onnx`` file written by :func:`~zen.export.onnx.export_onnx`
            (with its sidecar), or any model ``export_onnx`` takes.
        calibration_data: representative inputs for static quantisation: an array (models
            with one input), a mapping ``{input name: array}`` (batch-first, cut into batches
            of 32; graph models: one graph), or an iterable of such mappings. Ignored by
            dynamic quantisation.
        path: the INT8 ``.onnx`` to write; default ``<source>.int8.onnx`` next to the source
            file (required when a model object is given).
        method: ``"auto"`` (static when the graph has convolutions, else dynamic),
            ``"dynamic"`` or ``"static"``.
        evaluation: held-out ``(inputs, targets)``; inputs as for ``calibration_data`` (one
            mapping or array), targets: class labels (``accuracy``; labels < 0 are skipped,
            e.g. nodes outside the test split) or values (``mae``/``rmse``; forecasts are
            compared by their point forecast).
        metric: ``"accuracy"``, ``"mae"`` or ``"rmse"``; default: accuracy for integer
            targets, mae otherwise.
        model_name: a Forecaster's model to export (see ``export_onnx``).
        latency_runs: timed runs per model (median reported, after two warm-up runs).
        latency_batch_size: batch of the latency inputs when no data is given.

    Raises:
        ConfigError: unknown method/metric, static without calibration data, no ``path`` for a
            model object.
        DataError: inputs whose names or shapes do not fit the model.
    """
    require_onnx()
    if method not in METHODS:
        raise expect_one_of("method", method, METHODS)
    with _source(model_or_onnx, path, ".int8.onnx", model_name) as (source, staging, target):
        sidecar = read_sidecar(source)
        has_convolutions = _op_types(source) & _CONVOLUTIONS
        chosen = method if method != "auto" else "static" if has_convolutions else "dynamic"
        calibration_samples = None
        if chosen == "static":
            if calibration_data is None:
                why = "it has convolutions" if has_convolutions else "method='static'"
                raise ConfigError(
                    f"calibration_data: static INT8 of this {sidecar['model_class']} ({why})"
                    " needs representative inputs to fix activation ranges; pass a few"
                    " hundred real samples (e.g. training windows), or method='dynamic'"
                )
            feeds = list(_feeds(calibration_data, sidecar, "calibration_data", split=True))
            calibration_samples = sum(_batch_of(feed, sidecar) for feed in feeds)
            _quantize_static(source, staging, feeds)
            label = "static-int8"
        else:
            if calibration_data is not None:
                logger.info("calibration_data ignored: dynamic INT8 needs none")
            _quantize_dynamic(source, staging)
            label = "dynamic-int8"
        return _finish(
            label, source, staging, target, sidecar, evaluation, metric, calibration_samples,
            latency_runs, latency_batch_size, model_or_onnx, notes=(),
        )  # fmt: skip


def _quantize_dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _preprocessed(source) as prepared, _quiet_quantizer():
        quantize_dynamic(str(prepared), str(target), weight_type=QuantType.QInt8)


def _quantize_static(source: Path, target: Path, feeds: list[dict[str, np.ndarray]]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.remaining = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.remaining, None)

    with _preprocessed(source) as prepared, _quiet_quantizer():
        quantize_static(
            str(prepared),
            str(target),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )


@contextlib.contextmanager
def _preprocessed(source: Path) -> Iterator[Path]:
    """``source`` after onnxruntime's recommended pre-processing (shape inference and graph
    optimisation), or ``source`` itself when that fails (logged)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="zen-quantize-") as folder:
        prepared = Path(folder) / "prepared.onnx"
        try:
            with _quiet_quantizer(), _no_droppings():
                quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
        except Exception as error:
            logger.info("quantisation pre-processing skipped for %s: %s", source.name, error)
            prepared = source
        yield prepared


#: onnxruntime's symbolic shape inference saves the model it could not finish here, in the
#: current directory, with its weights in a UUID-named ``.data`` file, and then raises.
_ORT_DROPPING = "sym_shape_infer_temp.onnx"
_UUID_DATA = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.data$")


@contextlib.contextmanager
def _no_droppings() -> Iterator[None]:
    """Remove the files onnxruntime's shape inference leaves in the working directory.

    Only files that appear during the block are removed: the dropping by its fixed name and
    UUID-named ``.data`` files (its external weights). Changing directory instead would move
    every other thread of the process too.
    """
    here = Path.cwd()
    before = {entry.name for entry in here.iterdir()} if here.is_dir() else set()
    try:
        yield
    finally:
        for entry in here.iterdir() if here.is_dir() else ():
            new = entry.name not in before
            if new and (entry.name == _ORT_DROPPING or _UUID_DATA.match(entry.name)):
                entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime's quantisation tools log and warn per node; keep errors only."""
    import warnings

    root = logging.getLogger()
    level = root.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root.setLevel(max(level, logging.ERROR))
        try:
            yield
        finally:
            root.setLevel(level)


# ---------------------------------------------------------------------------------- FP16
def convert_fp16(
    model_or_onnx: Any,
    *,
    path: str | Path | None = None,
    evaluation: tuple[Any, Any] | None = None,
    metric: str | None = None,
    model_name: str | None = None,
    latency_runs: int = 30,
    latency_batch_size: int = 64,
) -> QuantizeReport:
    """Convert weights and activations to FP16 (inputs and outputs stay FP32), for GPUs.

    Arguments as in :func:`quantize_int8`; default output ``<source>.fp16.onnx``. On CPU the
    FP16 model is not faster (see the module docstring); the report's latency says by how much.
    """
    require_onnx()
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _source(model_or_onnx, path, ".fp16.onnx", model_name) as (source, staging, target):
        sidecar = read_sidecar(source)
        with _quiet_quantizer():
            converted = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
        onnx.save_model(converted, str(staging))
        notes = []
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            notes.append(
                "measured on CPU, where onnxruntime has few FP16 kernels: FP16 is for GPUs"
                " and is not faster here"
            )
        return _finish(
            "fp16", source, staging, target, sidecar, evaluation, metric, None, latency_runs,
            latency_batch_size, model_or_onnx, notes=tuple(notes),
        )  # fmt: skip


# ---------------------------------------------------------------------------------- shared
@contextlib.contextmanager
def _source(
    model_or_onnx: Any, path: str | Path | None, suffix: str, model_name: str | None
) -> Iterator[tuple[Path, Path, Path]]:
    """``(fp32 source, staging file, target)``; a model object is exported to a temporary
    file first. The staging file is renamed onto the target by :func:`_finish`."""
    if isinstance(model_or_onnx, (str, Path)):
        source = Path(model_or_onnx)
        if source.suffix != ".onnx" or not source.is_file():
            raise DataError(
                f"model_or_onnx: {source} is not an .onnx file; pass a file written by"
                " export_onnx or a zen model"
            )
        if model_name is not None:
            raise ConfigError("model_name: only used when a Forecaster is given, not a file")
        target = Path(path) if path is not None else source.with_name(source.stem + suffix)
        _check_target(target, source)
        with _staged(target) as staging:
            yield source, staging, target
        return
    if path is None:
        raise ConfigError(
            f"path: where should the {suffix.strip('.').split('.')[0].upper()} model go? Pass"
            f" path='model{suffix}' (or export_onnx first and pass the .onnx file)"
        )
    target = Path(path)
    _check_target(target, None)
    with tempfile.TemporaryDirectory(prefix="zen-export-") as folder, _staged(target) as staging:
        source = Path(folder) / "model.onnx"
        export_onnx(model_or_onnx, source, model_name=model_name)
        yield source, staging, target


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temporary ``.onnx`` next to ``target``; the caller's :func:`_finish` renames it onto
    ``target``. Removed if anything fails, so no half-written model is left behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".onnx", dir=target.parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
    finally:
        staging.unlink(missing_ok=True)


def _check_target(target: Path, source: Path | None) -> None:
    if target.suffix != ".onnx":
        raise ConfigError(f"path: expected a file name ending in .onnx, got {str(target)!r}")
    if source is not None and target.resolve() == source.resolve():
        raise ConfigError(f"path: {target} is the source model; choose another file")


def _finish(
    method: str,
    source: Path,
    staged: Path,
    target: Path,
    sidecar: dict[str, Any],
    evaluation: tuple[Any, Any] | None,
    metric: str | None,
    calibration_samples: int | None,
    latency_runs: int,
    latency_batch_size: int,
    original: Any,
    notes: tuple[str, ...],
) -> QuantizeReport:
    """Measure both models, move the staged file onto its target with its sidecar, report."""
    from zen.export.onnx import _session

    before, after = _session(source), _session(staged)
    targets = None
    if evaluation is not None:
        if not isinstance(evaluation, tuple) or len(evaluation) != 2:
            raise ConfigError("evaluation: expected a pair (inputs, targets)")
        inputs, targets = evaluation
        feed = _single_feed(inputs, sidecar, "evaluation")
    else:
        feed = _random_feed(sidecar, latency_batch_size)
    outputs_before = _run_chunked(before, feed, sidecar)
    outputs_after = _run_chunked(after, feed, sidecar)
    largest_abs, largest_rel = _difference(outputs_before, outputs_after)
    if largest_rel > DRIFT_WARNING:
        drift = (
            f"INT8 outputs differ from FP32 by up to {largest_rel:.1%} of the largest output;"
            " check held-out accuracy before using it (deep residual stacks such as N-BEATS"
            " and TCN can lose much of theirs)"
        )
        logger.warning("%s: %s", target.name, drift)
        notes = (*notes, drift)
    score_name = score_before = score_after = None
    evaluated = None
    if targets is not None:
        targets = np.asarray(targets)
        score_name = _metric_for(metric, targets)
        score_before = _score(score_name, outputs_before[0], targets, sidecar)
        score_after = _score(score_name, outputs_after[0], targets, sidecar)
        evaluated = int(np.sum(targets >= 0)) if score_name == "accuracy" else len(targets)
    latency_feed = _latency_feed(feed, sidecar, latency_batch_size)
    latency_sizes = _sizes_of(latency_feed, sidecar)
    latency_before = _median_latency_ms(before, latency_feed, latency_runs)
    latency_after = _median_latency_ms(after, latency_feed, latency_runs)
    report = QuantizeReport(
        method=method,
        family=str(sidecar.get("family")),
        path=target,
        sidecar_path=sidecar_path(target),
        source_path=source if isinstance(original, (str, Path)) else None,
        size_before_bytes=source.stat().st_size,
        size_after_bytes=staged.stat().st_size,
        latency_before_ms=latency_before,
        latency_after_ms=latency_after,
        latency_sizes=latency_sizes,
        output_max_abs_diff=largest_abs,
        output_max_rel_diff=largest_rel,
        metric=score_name,
        accuracy_before=score_before,
        accuracy_after=score_after,
        evaluated_samples=evaluated,
        calibration_samples=calibration_samples,
        notes=notes,
    )
    payload = dict(sidecar)
    payload.update(
        onnx_file=target.name,
        onnx_sha256=file_sha256(staged),
        quantization=report.to_json(),
    )
    os.replace(staged, target)
    write_sidecar(target, payload)
    return report


def _op_types(path: Path) -> set[str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    found = {node.op_type for node in model.graph.node}
    for function in model.functions:
        found |= {node.op_type for node in function.node}
    return found


# ---------------------------------------------------------------------------------- data
def _input_specs(sidecar: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(sidecar["inputs"])


def _as_array(value: Any, name: str, dtype: str) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensors
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    wanted = np.int64 if dtype == "int64" else np.float32
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected numbers, got an array of {array.dtype}")
    return np.ascontiguousarray(array.astype(wanted, copy=False))


def _check_feed(feed: dict[str, np.ndarray], sidecar: Mapping[str, Any], argument: str) -> None:
    specs = {spec["name"]: spec for spec in _input_specs(sidecar)}
    if set(feed) != set(specs):
        raise DataError(f"{argument}: the model's inputs are {sorted(specs)}, got {sorted(feed)}")
    sizes: dict[str, int] = {}
    for name, array in feed.items():
        shape = specs[name]["shape"]
        if array.ndim != len(shape):
            raise DataError(
                f"{argument}: input {name!r} expects shape {tuple(shape)}, got {array.shape}"
            )
        for axis, size in zip(shape, array.shape, strict=True):
            if isinstance(axis, str):
                if sizes.setdefault(axis, size) != size:
                    raise DataError(
                        f"{argument}: axis {axis!r} is {sizes[axis]} in one input and {size}"
                        f" in {name!r}"
                    )
            elif axis != size:
                raise DataError(
                    f"{argument}: input {name!r} expects shape {tuple(shape)}, got {array.shape}"
                )


def _single_feed(data: Any, sidecar: Mapping[str, Any], argument: str) -> dict[str, np.ndarray]:
    specs = _input_specs(sidecar)
    if isinstance(data, Mapping):
        feed = {
            str(name): _as_array(value, f"{argument}[{name!r}]", _dtype(specs, str(name)))
            for name, value in data.items()
        }
    else:
        if len(specs) != 1:
            raise DataError(
                f"{argument}: the model has {len(specs)} inputs"
                f" ({', '.join(spec['name'] for spec in specs)}); pass a mapping name -> array"
            )
        feed = {specs[0]["name"]: _as_array(data, argument, specs[0]["dtype"])}
    _check_feed(feed, sidecar, argument)
    return feed


def _dtype(specs: list[dict[str, Any]], name: str) -> str:
    return next((spec["dtype"] for spec in specs if spec["name"] == name), "float32")


def _feeds(
    data: Any, sidecar: Mapping[str, Any], argument: str, split: bool
) -> Iterator[dict[str, np.ndarray]]:
    """Feeds from an array, a mapping or an iterable of mappings (see quantize_int8)."""
    many = isinstance(data, Iterator) or (
        isinstance(data, (list, tuple)) and bool(data) and isinstance(data[0], Mapping)
    )
    if many:
        produced = False
        for item in data:
            produced = True
            yield _single_feed(item, sidecar, argument)
        if not produced:
            raise DataError(f"{argument}: is empty")
        return
    feed = _single_feed(data, sidecar, argument)
    if not split or not _batch_first(sidecar):
        yield feed
        return
    size = _batch_of(feed, sidecar)
    if size == 0:
        raise DataError(f"{argument}: is empty")
    for start in range(0, size, _CALIBRATION_BATCH):
        yield _slice_batch(feed, sidecar, start, start + _CALIBRATION_BATCH)


def _batch_first(sidecar: Mapping[str, Any]) -> bool:
    return "batch" in sidecar.get("dynamic_axes", {})


def _batch_of(feed: Mapping[str, np.ndarray], sidecar: Mapping[str, Any]) -> int:
    """Samples in a feed: its batch size, or 1 for a graph."""
    for spec in _input_specs(sidecar):
        if "batch" in spec["shape"]:
            return int(feed[spec["name"]].shape[spec["shape"].index("batch")])
    return 1


def _slice_batch(
    feed: Mapping[str, np.ndarray], sidecar: Mapping[str, Any], start: int, stop: int
) -> dict[str, np.ndarray]:
    sliced = {}
    for spec in _input_specs(sidecar):
        array = feed[spec["name"]]
        if "batch" in spec["shape"]:
            index = [slice(None)] * array.ndim
            index[spec["shape"].index("batch")] = slice(start, stop)
            array = np.ascontiguousarray(array[tuple(index)])
        sliced[spec["name"]] = array
    return sliced


def _random_feed(sidecar: Mapping[str, Any], batch_size: int) -> dict[str, np.ndarray]:
    """Inputs of the sidecar's shapes: normal floats, valid edge lists for graphs."""
    generator = np.random.default_rng(0)
    model = sidecar.get("model", {})
    sizes = {"batch": batch_size, "steps": int(model.get("input_size") or 1), **_LATENCY_GRAPH}
    feed: dict[str, np.ndarray] = {}
    for spec in _input_specs(sidecar):
        shape = tuple(sizes[a] if isinstance(a, str) else int(a) for a in spec["shape"])
        if spec["dtype"] == "int64":
            feed[spec["name"]] = generator.integers(0, sizes["num_nodes"], shape, dtype=np.int64)
        else:
            feed[spec["name"]] = generator.standard_normal(shape, dtype=np.float32)
    return feed


def _latency_feed(
    feed: dict[str, np.ndarray], sidecar: Mapping[str, Any], batch_size: int
) -> dict[str, np.ndarray]:
    if not _batch_first(sidecar):
        return feed
    return _slice_batch(feed, sidecar, 0, batch_size)


def _sizes_of(feed: Mapping[str, np.ndarray], sidecar: Mapping[str, Any]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for spec in _input_specs(sidecar):
        for position, axis in enumerate(spec["shape"]):
            if isinstance(axis, str):
                sizes[axis] = int(feed[spec["name"]].shape[position])
    return sizes


def _run_chunked(
    session: Any, feed: dict[str, np.ndarray], sidecar: Mapping[str, Any]
) -> list[np.ndarray]:
    """All outputs for ``feed``, run in chunks of rows for batch-first models."""
    size = _batch_of(feed, sidecar)
    if not _batch_first(sidecar) or size <= _EVALUATION_CHUNK:
        return [np.asarray(each) for each in session.run(None, feed)]
    parts = [
        session.run(None, _slice_batch(feed, sidecar, start, start + _EVALUATION_CHUNK))
        for start in range(0, size, _EVALUATION_CHUNK)
    ]
    return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]


def _difference(before: list[np.ndarray], after: list[np.ndarray]) -> tuple[float, float]:
    largest_abs = largest_rel = 0.0
    for reference, compressed in zip(before, after, strict=True):
        if reference.size == 0:
            continue
        difference = float(np.max(np.abs(reference.astype(np.float64) - compressed)))
        largest_abs = max(largest_abs, difference)
        largest_rel = max(largest_rel, difference / max(float(np.max(np.abs(reference))), 1e-6))
    return largest_abs, largest_rel


def _median_latency_ms(session: Any, feed: dict[str, np.ndarray], runs: int) -> float:
    if runs < 1:
        raise ConfigError(f"latency_runs: expected a positive integer, got {runs}")
    for _ in range(2):
        session.run(None, feed)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, feed)
        timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


# ---------------------------------------------------------------------------------- metrics
def _metric_for(metric: str | None, targets: np.ndarray) -> str:
    if metric is None:
        return "accuracy" if targets.dtype.kind in "iub" else "mae"
    if metric not in METRICS:
        raise expect_one_of("metric", metric, METRICS)
    return metric


def _score(
    metric: str, output: np.ndarray, targets: np.ndarray, sidecar: Mapping[str, Any]
) -> float:
    if metric == "accuracy":
        if output.ndim < 2 or output.shape[0] != targets.shape[0]:
            raise DataError(
                f"evaluation: accuracy needs one row of scores per target; outputs"
                f" {output.shape}, targets {targets.shape}"
            )
        keep = targets >= 0
        if not keep.any():
            raise DataError("evaluation: no targets >= 0 to score")
        return float(np.mean(output[keep].argmax(axis=-1) == targets[keep]))
    point = _point(output, targets, sidecar)
    error = point.astype(np.float64) - targets.astype(np.float64)
    if metric == "mae":
        return float(np.mean(np.abs(error)))
    return float(np.sqrt(np.mean(error**2)))


def _point(output: np.ndarray, targets: np.ndarray, sidecar: Mapping[str, Any]) -> np.ndarray:
    """The point prediction of ``output`` shaped like ``targets``."""
    if output.shape == targets.shape:
        return output
    if output.ndim == targets.ndim + 1 and output.shape[:-1] == targets.shape:
        columns = sidecar.get("model", {}).get("output_columns") or []
        if "q0.5" in columns:
            return np.sort(output, axis=-1)[..., columns.index("q0.5")]
        return output[..., 0]
    raise DataError(
        f"evaluation: targets of shape {targets.shape} do not fit outputs {output.shape}"
    )
