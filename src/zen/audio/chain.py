"""The Five Pillars master chain: tone, dynamics, colour, space, loudness, in that order."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from zen.audio.loudness import integrated_lufs
from zen.audio.matching import FIRFilter, FIRParams, ReferenceMatch, match_spectrum
from zen.audio.pillars._stage import Stage
from zen.audio.pillars.compressor import Compressor
from zen.audio.pillars.eq import Equalizer
from zen.audio.pillars.limiter import Limiter
from zen.audio.pillars.saturator import Saturator
from zen.audio.pillars.stereo import StereoImager
from zen.audio.presets import ChainSettings
from zen.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Loudness targeting: gains beyond this are not applied (a near-silent file is not a master).
MAX_LOUDNESS_GAIN_DB = 36.0
LOUDNESS_TOLERANCE_LU = 0.1  # fit stops this close to the target (acceptance: 0.5 LU)
MAX_LOUDNESS_ITERATIONS = 8


class MasterChain:
    """Five stages in series, for streaming (``process``) and offline work (``process_offline``).

    Args:
        settings: all parameters (default: the ``transparent`` preset).
        sample_rate: in Hz.
        channels: 1 or 2.
        native: DSP path of every stage (see :mod:`zen.audio._native`).
        smoothing_ms: parameter glide time while streaming.

    The output lags the input by :attr:`latency_samples` (the colour stage's filters, the
    limiter's look-ahead and, after ``fit`` with a reference, the matching FIR).
    ``process_offline`` compensates it. Loudness targeting needs the whole programme: ``fit``
    measures the integrated loudness (BS.1770-4) of what reaches the limiter and sets the
    limiter's input gain so the output lands on ``settings.limiter.target_lufs``; a stream then
    runs with that fixed gain. Without ``fit`` the gain is ``settings.limiter.gain_db``.

    Example:
        >>> import numpy as np
        >>> chain = MasterChain(sample_rate=44100, channels=2)
        >>> noise = np.random.default_rng(0).normal(scale=0.05, size=(44100, 2))
        >>> master = chain.fit_process(noise)
        >>> master.shape, abs(chain.loudness_gain_db_) < 36
        ((44100, 2), True)
    """

    def __init__(
        self,
        settings: ChainSettings | None = None,
        *,
        sample_rate: int,
        channels: int = 2,
        native: bool | None = None,
        smoothing_ms: float = 20.0,
    ) -> None:
        if channels not in (1, 2):
            raise ConfigError(
                f"channels: the master chain handles mono or stereo, got {channels!r}; split"
                " multichannel audio into stereo pairs first"
            )
        self.settings = settings if settings is not None else ChainSettings(name="transparent")
        self.sample_rate = sample_rate
        self.channels = channels
        self._native = native
        self._smoothing_ms = smoothing_ms
        options: dict[str, Any] = {
            "sample_rate": sample_rate,
            "channels": channels,
            "native": native,
            "smoothing_ms": smoothing_ms,
        }
        self.eq = Equalizer(self.settings.eq, **options)
        self.compressor = Compressor(self.settings.compressor, **options)
        self.saturator = Saturator(self.settings.saturator, **options)
        self.stereo = StereoImager(self.settings.stereo, **options)
        self.limiter = Limiter(self.settings.limiter, **options)
        self.match_filter: FIRFilter | None = None

    @property
    def stages(self) -> tuple[Stage[Any], ...]:
        """The stages in processing order (the matching FIR, when fitted, before the limiter)."""
        front: tuple[Stage[Any], ...] = (self.eq, self.compressor, self.saturator, self.stereo)
        match = (self.match_filter,) if self.match_filter is not None else ()
        return (*front, *match, self.limiter)

    @property
    def latency_samples(self) -> int:
        """Total delay of the output behind the input, in samples."""
        return sum(stage.latency_samples for stage in self.stages)

    @property
    def native(self) -> bool:
        """True when every stage runs its numba kernels."""
        return all(stage.native for stage in self.stages)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Process one block (frames, channels); the output lags by ``latency_samples``."""
        x = np.asarray(block)
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise DataError(f"block: expected shape (frames, {self.channels}), got {x.shape}")
        if not np.isfinite(x).all():
            raise DataError(
                "block: contains NaN or infinite samples; they would stay in the filters' state"
            )
        for stage in self.stages:
            x = stage.process(x)
        return x

    def reset(self) -> None:
        """Clear all signal state (keeps the settings and any fitted gain or match)."""
        for stage in self.stages:
            stage.reset()

    def warm_up(self) -> None:
        """Compile (or load from cache) every kernel now rather than in the first real block."""
        self.process(np.zeros((64, self.channels)))
        self.reset()

    def set_settings(self, settings: ChainSettings) -> None:
        """New settings while streaming: values glide, see each stage's ``set_params``.

        A fitted loudness gain (``loudness_gain_db_``) stays in force.
        """
        limiter = settings.limiter
        if hasattr(self, "loudness_gain_db_"):
            limiter = dataclasses.replace(limiter, gain_db=self.limiter.params.gain_db)
        self.eq.set_params(settings.eq)
        self.compressor.set_params(settings.compressor)
        self.saturator.set_params(settings.saturator)
        self.stereo.set_params(settings.stereo)
        self.limiter.set_params(limiter)
        self.settings = settings

    def process_offline(self, audio: np.ndarray) -> np.ndarray:
        """The whole programme at once, aligned with the input (latency removed), same length.

        Starts from a clean state (``reset``) and flushes the delay lines with silence.
        """
        return _render(self.stages, _as_audio(audio, self.channels), self.channels)

    def fit(
        self,
        audio: np.ndarray,
        reference: np.ndarray | None = None,
        reference_sample_rate: int | None = None,
    ) -> MasterChain:
        """Analyse the whole programme: reference match (optional) and the loudness gain.

        Sets ``match_`` (a :class:`~zen.audio.matching.ReferenceMatch` or None),
        ``input_lufs_`` (what reaches the limiter), ``loudness_gain_db_``, ``output_lufs_`` and
        ``loudness_iterations_``. With a reference, its integrated loudness is the target.
        """
        self.fit_process(audio, reference, reference_sample_rate)
        return self

    def fit_process(
        self,
        audio: np.ndarray,
        reference: np.ndarray | None = None,
        reference_sample_rate: int | None = None,
    ) -> np.ndarray:
        """``fit`` and return the mastered programme (what ``process_offline`` would give)."""
        audio = _as_audio(audio, self.channels)
        self.match_filter = None
        pre = _render((self.eq, self.compressor, self.saturator, self.stereo), audio, self.channels)
        target = self.settings.limiter.target_lufs
        self.match_: ReferenceMatch | None = None
        if reference is not None:
            rate = reference_sample_rate or self.sample_rate
            self.match_ = match_spectrum(pre, reference, self.sample_rate, rate)
            self.match_filter = FIRFilter(
                FIRParams(tuple(self.match_.taps)),
                sample_rate=self.sample_rate,
                channels=self.channels,
                native=self._native,
                smoothing_ms=self._smoothing_ms,
            )
            pre = _render((self.match_filter,), pre, self.channels)
            target = _loudness(reference, rate, "reference")
        if target is None:
            self.input_lufs_ = _loudness(pre, self.sample_rate, "audio", allow_silence=True)
            out = _render((self.limiter,), pre, self.channels)
            self.loudness_gain_db_ = self.limiter.params.gain_db
            self.output_lufs_ = _loudness(out, self.sample_rate, "audio", allow_silence=True)
            self.loudness_iterations_ = 0
            return out
        self.input_lufs_ = _loudness(pre, self.sample_rate, "audio")
        gain_db = target - self.input_lufs_
        previous: tuple[float, float] | None = None
        for iteration in range(1, MAX_LOUDNESS_ITERATIONS + 1):
            gain_db = float(np.clip(gain_db, -MAX_LOUDNESS_GAIN_DB, MAX_LOUDNESS_GAIN_DB))
            self.limiter.set_params(dataclasses.replace(self.limiter.params, gain_db=gain_db))
            out = _render((self.limiter,), pre, self.channels)
            output_lufs = _loudness(out, self.sample_rate, "audio", allow_silence=True)
            gap = target - output_lufs
            logger.debug(
                "loudness pass %d: gain %+.2f dB -> %.2f LUFS", iteration, gain_db, output_lufs
            )
            if abs(gap) <= LOUDNESS_TOLERANCE_LU or not np.isfinite(gap):
                break
            if abs(gain_db) >= MAX_LOUDNESS_GAIN_DB and np.sign(gap) == np.sign(gain_db):
                break  # the gain limit is reached; the report says how far off the target is
            # Secant step: the limiter makes loudness grow slower than the gain (slope <= 1).
            slope = 1.0
            if previous is not None and gain_db != previous[0]:
                slope = float(
                    np.clip((output_lufs - previous[1]) / (gain_db - previous[0]), 0.1, 1.0)
                )
            previous = (gain_db, output_lufs)
            gain_db += gap / slope
        self.loudness_gain_db_ = gain_db
        self.output_lufs_ = output_lufs
        self.loudness_iterations_ = iteration
        return out

    def __repr__(self) -> str:
        return (
            f"MasterChain({self.settings.name!r}, sample_rate={self.sample_rate},"
            f" channels={self.channels}, latency_samples={self.latency_samples},"
            f" native={self.native})"
        )


def _as_audio(audio: np.ndarray, channels: int) -> np.ndarray:
    data = np.asarray(audio)
    if data.ndim == 1 and channels == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] != channels:
        raise DataError(f"audio: expected shape (frames, {channels}), got {data.shape}")
    if not np.isfinite(data).all():
        raise DataError("audio: contains NaN or infinite samples")
    return np.ascontiguousarray(data, dtype=np.float64)


def _render(stages: tuple[Stage[Any], ...], x: np.ndarray, channels: int) -> np.ndarray:
    """Run ``stages`` over the whole of ``x`` (checked by ``_as_audio``) from a clean state,
    latency removed."""
    latency = sum(stage.latency_samples for stage in stages)
    for stage in stages:
        stage.reset()
    if latency:
        x = np.concatenate((x, np.zeros((latency, channels))))
    for stage in stages:
        x = stage.process(x)
    return x[latency:]


def _loudness(audio: np.ndarray, sample_rate: int, name: str, allow_silence: bool = False) -> float:
    lufs = integrated_lufs(audio, sample_rate)
    if not np.isfinite(lufs) and not allow_silence:
        raise DataError(
            f"{name}: is silent (every 400 ms block is below the -70 LUFS gate); there is no"
            " loudness to match, so no gain is applied"
        )
    return lufs
