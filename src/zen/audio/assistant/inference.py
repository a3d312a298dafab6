"""Edge inference of the assistant: load once, batch windows, cache by content, fp32 or INT8.

>>> assistant = Assistant.load()                                   # doctest: +SKIP
>>> corrections = assistant.analyse(audio, 44100)                  # doctest: +SKIP
>>> assistant.cache_stats().hit_rate                               # doctest: +SKIP

``analyse`` cuts up to ``max_windows`` windows spread over the audio (3 s each), resamples only
those to the analysis rate, computes their features, runs them through the network as one
batch and averages the predictions. Results are cached by a BLAKE2 hash of the analysed samples
(and the sample rate and length), so re-analysing the same audio - a user adjusting settings -
costs one hash.

Backends (``backend=``):

* ``"torch"``: the fp32 network on :func:`zen.compute.device` (a GPU when there is one).
* ``"int8"``: the shipped INT8 copy (``assistant-int8.onnx``, made by
  :func:`zen.export.quantize.quantize_int8`) on onnxruntime, one thread.
* ``"auto"`` (default): torch on a GPU; on a CPU the INT8 copy, or torch when onnxruntime or
  the INT8 file is missing (logged once at INFO).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.audio.assistant.abstention import Trust, band_gain_trust
from zen.audio.assistant.features import as_stereo, resample, window_features, window_starts
from zen.audio.assistant.model import (
    INT8_FILE,
    AssistantWeights,
    targets_to_values,
    values_to_corrections,
)
from zen.audio.presets import Corrections
from zen.compute.device import device as select_device
from zen.errors import BackendUnavailable, ConfigError, DataError, expect_one_of
from zen.runtime.cache import CacheStats, ResultCache

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "int8")
DEFAULT_MAX_WINDOWS = 6
MIN_SECONDS = 1.0
SILENCE_DB = -70.0  # windows quieter than this (RMS, dBFS) are not analysed
QUIET_BELOW_LOUDEST_DB = 30.0  # ...nor those this far below the loudest window
MONO_SIDE_DB = -40.0  # side this far below mid: treated as mono, width left alone
_announced: set[str] = set()
_announce_lock = threading.Lock()


def _announce_once(key: str, message: str, *args: Any) -> None:
    with _announce_lock:
        if key in _announced:
            return
        _announced.add(key)
    logger.info(message, *args)


class Assistant:
    """The trained mastering assistant, ready to analyse audio.

    Args:
        weights: a loaded :class:`~zen.audio.assistant.model.AssistantWeights`.
        backend: ``"auto"``, ``"torch"`` or ``"int8"`` (see the module docstring).
        device: torch device for the torch backend (None: :func:`zen.compute.device`).
        max_windows: windows analysed per call, at most (batched together).
        cache_entries: analyses kept in the LRU cache (0: no cache).

    Use :meth:`load` rather than the constructor: it reads the shipped weights and warms up.
    """

    def __init__(
        self,
        weights: AssistantWeights,
        *,
        backend: str = "auto",
        device: str | torch.device | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        cache_entries: int = 256,
    ) -> None:
        if backend not in BACKENDS:
            raise expect_one_of("backend", backend, BACKENDS)
        if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
            raise ConfigError(f"max_windows: expected a positive integer, got {max_windows!r}")
        self.weights = weights
        self.max_windows = max_windows
        # Decided once, from the held-out errors recorded with the weights.
        self.band_gains: Trust = band_gain_trust(weights.config.get("training_report", {}))
        self.device = select_device(device)
        self.backend, self._predict = self._build_backend(backend)
        self._cache = ResultCache(max_entries=cache_entries, max_bytes=1 << 20)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        backend: str = "auto",
        device: str | torch.device | None = None,
        max_windows: int = DEFAULT_MAX_WINDOWS,
        cache_entries: int = 256,
        warm_up: bool = True,
    ) -> Assistant:
        """The assistant from a weights directory (default: the weights shipped with zen).

        Reads local files only. ``warm_up`` runs one analysis of synthetic audio so that the
        first real call does not pay for FFT plans and runtime start-up.
        """
        assistant = cls(
            AssistantWeights.load(path),
            backend=backend,
            device=device,
            max_windows=max_windows,
            cache_entries=cache_entries,
        )
        if warm_up:
            assistant.warm_up()
        return assistant

    # ------------------------------------------------------------------ backends
    def _build_backend(self, backend: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
        if backend == "auto":
            if self.device.type != "cpu":
                return "torch", self._torch_predictor()
            try:
                return "int8", self._int8_predictor()
            except BackendUnavailable as error:
                _announce_once("int8", "assistant: using the fp32 torch backend: %s", error)
                return "torch", self._torch_predictor()
        if backend == "int8":
            return "int8", self._int8_predictor()
        return "torch", self._torch_predictor()

    def _torch_predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        network = self.weights.network.to(self.device).eval()

        def predict(features: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                inputs = torch.from_numpy(features).to(self.device)
                return network(inputs).float().cpu().numpy()

        return predict

    def _int8_predictor(self) -> Callable[[np.ndarray], np.ndarray]:
        directory = self.weights.directory
        path = directory / INT8_FILE if directory is not None else None
        if path is None or not path.is_file():
            raise BackendUnavailable(
                f"assistant: no INT8 copy ({INT8_FILE}) next to the weights; retrain with"
                " `make train-assistant` (it needs the onnx extra)"
            )
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise BackendUnavailable(
                "assistant: the INT8 backend needs onnxruntime; pip install 'zen-neural[onnx]'"
            ) from None
        from zen.export.onnx import load_onnx_session

        session, sidecar = load_onnx_session(path, threads=1)
        expected = self.weights.config.get("training_report", {}).get("int8", {}).get("onnx_sha256")
        if expected is not None and sidecar.get("onnx_sha256") != expected:
            raise BackendUnavailable(
                f"assistant: {path} was not made from these weights (checksum differs); retrain"
            )

        def predict(features: np.ndarray) -> np.ndarray:
            return np.asarray(session.run(None, {"x": features})[0])

        return predict

    # ------------------------------------------------------------------ analysis
    def warm_up(self) -> None:
        """Run one uncached analysis of quiet noise (FFT plans, kernels, runtime start-up)."""
        rate = self.weights.features.sample_rate
        noise = np.random.default_rng(0).normal(scale=0.05, size=(rate * 2, 2))
        self._window_values(self._windows(as_stereo(noise), rate), rate)

    def analyse(self, audio: np.ndarray, sample_rate: int) -> Corrections:
        """The corrections the chain should apply to ``audio``.

        Args:
            audio: ``(frames,)`` or ``(frames, channels)`` with 1 or 2 channels, float or
                integer PCM, at least one second long.
            sample_rate: in Hz (8 kHz to 768 kHz; resampled internally).

        Returns:
            :class:`~zen.audio.presets.Corrections` that bring the audio to the reference
            master the assistant learned (:mod:`zen.audio.assistant.reference`): tilt and
            band gains towards the reference balance, a signed compression amount (< 0:
            already over-compressed, add none), a width factor towards the reference width
            (1 for mono), and the loudness gap to a mastered level (-14 LUFS). Where the audio
            does not tell, a correction stays near 0 (1 for width). Band gains are left out
            (``band_gains_db == ()``, the reason in ``abstentions``) unless the weights' recorded
            held-out error shows they beat a constant guess (:attr:`band_gains`).

        Raises:
            DataError: bad shape or samples, shorter than a second, or silent.
            ConfigError: a sample rate that is not an integer in range.
        """
        stereo, rate = _checked(audio, sample_rate)
        windows = self._windows(stereo, rate)
        key = _content_key(windows, rate, len(stereo))
        cached = self._cache.get(key)
        if cached is not None:
            values = cached[0]
        else:
            values = self._window_values(windows, rate).mean(axis=0)
            self._cache.put(key, [values])
        corrections = values_to_corrections(values)
        if not self.band_gains.trusted:
            corrections = dataclasses.replace(
                corrections, band_gains_db=(), abstentions=(self.band_gains.reason,)
            )
        return corrections

    def window_values(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Per-window predictions (uncached), shape ``(audible windows, 9)``, in correction
        units: tilt dB/oct, five band gains dB, compression amount, log2 width, gap dB.
        :meth:`analyse` is their mean, clipped and rounded."""
        stereo, rate = _checked(audio, sample_rate)
        return self._window_values(self._windows(stereo, rate), rate)

    def predict_scaled(self, standardised: np.ndarray) -> np.ndarray:
        """The backend's raw outputs (batch, 9) for standardised features (batch, n_features):
        corrections divided by their scales (see :mod:`zen.audio.assistant.model`)."""
        return self._predict(np.ascontiguousarray(standardised, dtype=np.float32))

    def cache_stats(self) -> CacheStats:
        """Hits, misses and size of the analysis cache."""
        return self._cache.stats()

    def clear_cache(self) -> None:
        self._cache.clear()

    def _windows(self, stereo: np.ndarray, rate: int) -> list[np.ndarray]:
        length = round(self.weights.features.window_s * rate)
        starts = window_starts(len(stereo), length, self.max_windows)
        return [stereo[start : start + length] for start in starts]

    def _window_values(self, windows: list[np.ndarray], rate: int) -> np.ndarray:
        """Correction values (windows, 9) of the audible windows, one batch through the network."""
        config = self.weights.features
        features = np.stack(
            [window_features(resample(w, rate, config.sample_rate), config) for w in windows]
        )
        names = config.feature_names()
        rms = features[:, names.index("rms_db")]
        audible = (rms > SILENCE_DB) & (rms > rms.max() - QUIET_BELOW_LOUDEST_DB)
        if not audible.any():
            raise DataError(
                f"audio: is silent (every analysed window is below {SILENCE_DB:g} dBFS RMS);"
                " there is nothing to correct"
            )
        features = features[audible]
        values = targets_to_values(self._predict(self.weights.standardise(features)))
        side = [index for index, name in enumerate(names) if name.startswith("side_minus_mid")]
        if float(np.median(features[:, side])) < MONO_SIDE_DB:
            values[:, -2] = 0.0  # mono: a mid/side width control has nothing to work on
        return values

    def __repr__(self) -> str:
        return (
            f"Assistant(backend={self.backend!r}, device={str(self.device)!r},"
            f" n_fft={self.weights.features.n_fft}, max_windows={self.max_windows})"
        )


def _checked(audio: np.ndarray, sample_rate: Any) -> tuple[np.ndarray, int]:
    """``audio`` as checked (frames, 2) float32, and the sample rate as an int."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ConfigError(f"sample_rate: expected an integer in Hz, got {sample_rate!r}")
    rate = int(sample_rate)
    if not 8000 <= rate <= 768_000:
        raise ConfigError(f"sample_rate: expected 8000 to 768000 Hz, got {sample_rate!r}")
    stereo = as_stereo(audio)
    if len(stereo) < MIN_SECONDS * rate:
        raise DataError(
            f"audio: {len(stereo)} frames ({len(stereo) / rate:.2f} s) is too short; the"
            f" assistant needs at least {MIN_SECONDS:g} s"
        )
    return stereo, rate


def _content_key(windows: list[np.ndarray], sample_rate: int, frames: int) -> bytes:
    """BLAKE2b of the analysed samples, the sample rate and the total length."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{sample_rate}:{frames}:{len(windows)}".encode())
    for window in windows:
        digest.update(np.ascontiguousarray(window).tobytes())
    return digest.digest()


# ---------------------------------------------------------------------- process-wide default
_default: Assistant | None = None
_default_error: BaseException | None = None
_default_lock = threading.Lock()
_prefetch_thread: threading.Thread | None = None


def prefetch() -> threading.Thread:
    """Start loading (and warming up) the default assistant in a background thread.

    Call it at start-up; :func:`default_assistant` then returns at once, or waits for the
    load that is under way. Calling it again returns the same thread.
    """
    global _prefetch_thread
    with _default_lock:
        if _prefetch_thread is None:
            _prefetch_thread = threading.Thread(
                target=_load_default, name="zen-assistant-prefetch", daemon=True
            )
            _prefetch_thread.start()
        return _prefetch_thread


def _load_default() -> None:
    global _default, _default_error
    try:
        assistant = Assistant.load()
    except BaseException as error:  # reported to whoever asks for the assistant
        _default_error = error
        return
    _default = assistant


def default_assistant() -> Assistant:
    """The process-wide assistant with the shipped weights (loaded on first use)."""
    thread = prefetch()
    thread.join()
    if _default is None:
        assert _default_error is not None
        raise _default_error
    return _default


def suggest_corrections(audio: np.ndarray, sample_rate: int) -> Corrections:
    """The master chain's seam (:func:`zen.audio.presets.load_assistant`): the default
    assistant's :meth:`Assistant.analyse`.

    Its ``loudness_gap_db`` is the input's level error against the reference level the
    assistant learned (-14 LUFS); :func:`~zen.audio.presets.apply_corrections` turns it into
    compressor thresholds, and the chain still meets the user's loudness target by measuring.
    """
    return default_assistant().analyse(audio, sample_rate)
