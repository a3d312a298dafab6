"""What every pillar shares: block handling, the DSP path and its fallback, parameter smoothing.

A stage is built from a frozen params dataclass (units in the field names), processes blocks of
shape (frames, channels) with state carried between calls, and can take new parameters while
streaming: gain-like values glide linearly over ``smoothing_ms``; filters glide their frequency,
gain and Q in steps of :data:`CONTROL_INTERVAL` samples; structural changes (adding a band,
switching a filter on) apply at once.
"""

from __future__ import annotations

import copy
import logging
import math
from abc import ABC, abstractmethod
from types import ModuleType
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from zen.audio._native import announce_once, compile_notice, resolve_kernels
from zen.errors import ConfigError, DataError, ZenError

P = TypeVar("P")
# Filters being smoothed get new coefficients every this many samples (0.7 ms at 44.1 kHz).
CONTROL_INTERVAL = 32
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 768_000
_CHUNK = 65536  # the log-domain recursion restarts here to keep its offsets small


def check_positive(name: str, value: float) -> None:
    """Raise ConfigError unless ``value`` is a finite number > 0."""
    if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")


def check_range(name: str, value: float, low: float, high: float, unit: str = "") -> None:
    """Raise ConfigError unless ``low <= value <= high``."""
    if not (isinstance(value, (int, float)) and np.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{name}: expected a value in [{low:g}, {high:g}]{unit}, got {value!r}")


def one_pole_coefficient(time_ms: float, sample_rate: int) -> float:
    r"""Pole of a one-pole smoother with time constant ``time_ms``: :math:`e^{-1/(\tau f_s)}`."""
    return float(np.exp(-1000.0 / (time_ms * sample_rate)))


def release_hold(target: np.ndarray, alpha: float, previous: float) -> np.ndarray:
    r"""``y[n] = max(target[n], alpha * y[n-1])`` without a Python loop.

    In logs the recursion is a running maximum: :math:`\ln y_n = \max_{k \le n}(\ln t_k -
    k\lambda) + n\lambda` with :math:`\lambda = \ln\alpha`, the state entering as :math:`k = -1`.
    """
    out = np.empty_like(target)
    log_alpha = np.log(alpha)
    for start in range(0, len(target), _CHUNK):
        part = target[start : start + _CHUNK]
        steps = np.arange(len(part), dtype=float) * log_alpha
        with np.errstate(divide="ignore"):
            logs = np.log(part) - steps
            carried = np.log(previous) + log_alpha
        running = np.maximum.accumulate(np.maximum(logs, carried))
        out[start : start + len(part)] = np.exp(running + steps)
        previous = float(out[start + len(part) - 1])
    return out


class SmoothedValue:
    """A parameter that moves linearly to its target over a fixed number of samples.

    ``next(frames)`` returns a float while steady and a per-sample array (a view into a reused
    buffer, valid until the next call) while moving. Progress is counted in samples, so the values
    do not depend on how a stream is cut into blocks.

    >>> gain = SmoothedValue(1.0, ramp_samples=4)
    >>> gain.set_target(0.0)
    >>> gain.next(6).tolist()
    [0.75, 0.5, 0.25, 0.0, 0.0, 0.0]
    >>> gain.next(2)
    0.0
    """

    def __init__(self, value: float, ramp_samples: int) -> None:
        self.value = float(value)
        self.target = float(value)
        self.ramp_samples = max(int(ramp_samples), 0)
        self._remaining = 0
        self._step = 0.0
        self._buffer = np.empty(0)
        self._steps = np.arange(1.0, 1.0)

    @property
    def steady(self) -> bool:
        return self._remaining == 0

    def set_target(self, target: float, *, immediately: bool = False) -> None:
        self.target = float(target)
        if immediately or self.ramp_samples == 0 or self.target == self.value:
            self.value = self.target
            self._remaining = 0
        else:
            self._remaining = self.ramp_samples
            self._step = (self.target - self.value) / self.ramp_samples

    def snap(self) -> None:
        """Jump to the target (used by ``reset``)."""
        self.set_target(self.target, immediately=True)

    def next(self, frames: int) -> float | np.ndarray:
        if self._remaining == 0:
            return self.value
        if len(self._buffer) < frames:
            self._buffer = np.empty(frames)
            self._steps = np.arange(1.0, frames + 1.0)
        moving = min(frames, self._remaining)
        values = self._buffer[:frames]
        start = self.target - self._step * self._remaining
        np.multiply(self._steps[:moving], self._step, out=values[:moving])
        values[:moving] += start
        values[moving:] = self.target
        self._remaining -= moving
        self.value = self.target if self._remaining == 0 else float(values[moving - 1])
        return values


class Workspace:
    """Scratch arrays reused between blocks, grown when a longer block arrives."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        # math.prod, not np.prod: this runs several times per block and np.prod's overhead
        # was a third of a 512-frame block's time.
        size = math.prod(shape)
        array = self._arrays.get(name)
        if array is None or array.size < size:
            array = np.empty(size * 2 if shape else 1)
            self._arrays[name] = array
        return array[:size].reshape(shape)


class Stage(ABC, Generic[P]):
    """Base of the five pillars: ``process(block)``, ``reset()``, ``set_params(params)``.

    Args:
        params: the stage's parameters (its ``params_class``); defaults when omitted.
        sample_rate: in Hz.
        channels: of every block.
        native: True for the numba kernels, False for the NumPy/SciPy reference, None to follow
            ``ZEN_AUDIO_NATIVE`` (default: native when numba imports).
        smoothing_ms: how long parameter changes glide while streaming.
    """

    pillar: ClassVar[str]
    params_class: ClassVar[type]

    def __init__(
        self,
        params: P | None = None,
        *,
        sample_rate: int,
        channels: int = 2,
        native: bool | None = None,
        smoothing_ms: float = 20.0,
    ) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ConfigError(f"sample_rate: expected an integer in Hz, got {sample_rate!r}")
        check_range("sample_rate", sample_rate, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, " Hz")
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
            raise ConfigError(f"channels: expected a positive integer, got {channels!r}")
        check_range("channels", channels, 1, 64)
        check_range("smoothing_ms", smoothing_ms, 0.0, 1000.0, " ms")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.smoothing_ms = float(smoothing_ms)
        self.ramp_samples = round(smoothing_ms * sample_rate / 1000.0)
        self._kernels: ModuleType | None = resolve_kernels(native)
        self._native_proven = False
        self._workspace = Workspace()
        self.params: P = self._check_params(params if params is not None else self.params_class())
        self._configure(self.params, initial=True)

    @property
    def native(self) -> bool:
        """True while the numba kernels run this stage."""
        return self._kernels is not None

    @property
    def latency_samples(self) -> int:
        """How many samples the output lags the input."""
        return 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Process one block of shape (frames, channels); returns a new float64 array."""
        x = self._as_block(block)
        if x.shape[0] == 0:
            return x.copy()
        if self._kernels is not None:
            # Until a kernel call has worked once (compilation is where numba fails), keep a copy
            # of the state, so that the reference path redoes the block from where it started.
            saved = None if self._native_proven else self._snapshot()
            try:
                if self._native_proven:
                    return self._process(x, self._kernels)
                with compile_notice():  # the first block is where numba compiles, if it must
                    out = self._process(x, self._kernels)
                self._native_proven = True
                return out
            except ZenError:
                raise
            except Exception as error:
                announce_once(
                    f"kernel-failure:{type(self).__name__}",
                    "%s: the numba kernel failed (%s: %s); using the NumPy reference path",
                    type(self).__name__,
                    type(error).__name__,
                    error,
                    level=logging.WARNING,
                )
                self._kernels = None
                if saved is not None:
                    self.__dict__.update(saved)
        return self._process(x, None)

    def reset(self) -> None:
        """Forget the signal history (filters, envelopes, delay lines); finish any glide."""
        self._reset()

    def set_params(self, params: P) -> None:
        """Take new parameters while streaming; values glide, structure changes at once."""
        params = self._check_params(params)
        self._configure(params, initial=False)
        self.params = params

    def _snapshot(self) -> dict[str, Any]:
        state = {k: v for k, v in vars(self).items() if k not in ("_workspace", "_kernels")}
        return copy.deepcopy(state)

    def __repr__(self) -> str:
        path = "native" if self.native else "reference"
        return (
            f"{type(self).__name__}({self.params!r}, sample_rate={self.sample_rate},"
            f" channels={self.channels}, path={path!r})"
        )

    def _check_params(self, params: Any) -> P:
        if not isinstance(params, self.params_class):
            raise ConfigError(
                f"params: expected {self.params_class.__name__}, got {type(params).__name__}"
            )
        return params  # type: ignore[return-value]

    def _as_block(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise DataError(
                f"block: expected shape (frames, {self.channels}), got {x.shape}; pass audio as"
                " soundfile reads it, one column per channel"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"block: expected floating-point samples, got dtype {x.dtype}")
        return np.ascontiguousarray(x, dtype=np.float64)

    @abstractmethod
    def _configure(self, params: P, initial: bool) -> None:
        """Apply ``params``: set up everything on ``initial``, else start glides to them."""

    @abstractmethod
    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        """Process a float64 C-contiguous block (kernels None: the reference path)."""

    @abstractmethod
    def _reset(self) -> None:
        """Zero the signal state."""
