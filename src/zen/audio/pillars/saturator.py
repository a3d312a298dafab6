"""Colour: oversampled harmonic saturation (tanh or cubic soft clip) with drive and dry/wet mix."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np

from zen.audio.pillars._stage import CONTROL_INTERVAL, SmoothedValue, Stage, check_range
from zen.errors import ConfigError, expect_one_of
from zen.filters import nyquist_interpolator, polyphase

SHAPES = ("tanh", "soft_clip")
OVERSAMPLING_FACTORS = (1, 2, 4, 8)
# The up- and down-sampling filter (Kaiser-windowed sinc, 24 taps per phase, beta 7): at 44.1 kHz
# the pair is flat within 0.01 dB to 18 kHz (-1.6 dB at 20 kHz) and removes what would fold back
# by >= 40 dB from 24 kHz and >= 67 dB from 25 kHz; 24 samples of latency.
TAPS_PER_PHASE = 24
KAISER_BETA = 7.0


@dataclass(frozen=True)
class SaturatorParams:
    """Colour settings.

    Args:
        drive_db: gain into the curve; the output is divided by it again, so quiet passages
            keep their level and loud ones are rounded off.
        mix: 0 (dry, the stage is bypassed) to 1 (fully saturated).
        shape: ``"tanh"`` or ``"soft_clip"`` (cubic ``u - u^3/3``, flat beyond |u| = 1).
        oversampling: 1, 2, 4 or 8; fixed for the life of a stage (it sets the latency).
    """

    drive_db: float = 6.0
    mix: float = 0.0
    shape: Literal["tanh", "soft_clip"] = "tanh"
    oversampling: int = 4

    def __post_init__(self) -> None:
        check_range("drive_db", self.drive_db, -24.0, 36.0, " dB")
        check_range("mix", self.mix, 0.0, 1.0)
        if self.shape not in SHAPES:
            raise expect_one_of("shape", self.shape, SHAPES)
        if self.oversampling not in OVERSAMPLING_FACTORS:
            raise expect_one_of(
                "oversampling", str(self.oversampling), [str(f) for f in OVERSAMPLING_FACTORS]
            )


def shape_curve(u: np.ndarray, shape: str) -> np.ndarray:
    """The curve f with f(0) = 0 and f'(0) = 1: ``tanh`` or the cubic soft clip."""
    if shape == "tanh":
        return np.tanh(u)
    clipped = np.clip(u, -1.0, 1.0)
    return clipped - clipped**3 / 3.0


class Saturator(Stage[SaturatorParams]):
    r"""Colour pillar: :math:`y = (1-m)\,x + m\,f(g\,x)/g` at ``oversampling`` times the rate.

    :math:`g = 10^{drive/20}`, :math:`f` = :func:`shape_curve`, :math:`m` = ``mix``. The signal is
    up-sampled by a polyphase Kaiser-windowed sinc, shaped, low-passed by the same filter and
    decimated, so harmonics above the original Nyquist frequency are removed instead of folding
    back as aliases. The filters are linear phase; the dry path is delayed to match, and the stage
    reports that delay (``TAPS_PER_PHASE`` samples when oversampling, 0 without). ``mix`` glides
    per sample, ``drive_db`` in steps of ``CONTROL_INTERVAL``; at ``mix = 0`` the shaping is
    skipped and only the delay runs.
    """

    pillar = "colour"
    params_class = SaturatorParams

    @property
    def latency_samples(self) -> int:
        return 0 if self.params.oversampling == 1 else TAPS_PER_PHASE

    def _configure(self, params: SaturatorParams, initial: bool) -> None:
        if initial:
            factor = params.oversampling
            self._factor = factor
            self._history = 0 if factor == 1 else TAPS_PER_PHASE
            if factor > 1:
                taps = nyquist_interpolator(factor, TAPS_PER_PHASE, KAISER_BETA)
                self._up = polyphase(taps, factor)
                self._down = np.ascontiguousarray(taps[::-1])
            else:
                self._up = np.ones((1, 1))
                self._down = np.ones(1)
            self._input_history = np.zeros((self.channels, self._history))
            # The high-rate history, by phase: sample factor * i + p at [:, p, i].
            self._shaped_history = np.zeros((self.channels, factor, self._history))
            self._mix = SmoothedValue(params.mix, self.ramp_samples)
            self._drive = SmoothedValue(10.0 ** (params.drive_db / 20.0), self.ramp_samples)
            self._wet_stale = False
            return
        if params.oversampling != self._factor:
            raise ConfigError(
                f"oversampling: cannot change from {self._factor} to {params.oversampling} while"
                " streaming (it sets the latency); build a new Saturator"
            )
        self._mix.set_target(params.mix)
        self._drive.set_target(10.0 ** (params.drive_db / 20.0))

    def _reset(self) -> None:
        self._input_history[:] = 0.0
        self._shaped_history[:] = 0.0
        self._mix.snap()
        self._drive.snap()
        self._wet_stale = False

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        frames = len(x)
        history = self._history
        ext_x = self._workspace.get("ext_x", (self.channels, history + frames))
        ext_x[:, :history] = self._input_history
        ext_x[:, history:] = x.T
        dry = ext_x[:, :frames].T  # the input delayed by the filters' latency
        bypass = self._mix.steady and self._mix.value == 0.0
        if bypass:
            out = np.ascontiguousarray(dry)
            self._wet_stale = True
        else:
            if self._wet_stale:  # coming back from bypass: the high-rate history is out of date
                self._shaped_history[:] = 0.0
                self._wet_stale = False
            mix = self._mix.next(frames)
            if not isinstance(mix, np.ndarray):
                mix = np.full(frames, mix)
            out = np.empty_like(x)
            self._saturate(ext_x, mix, out, kernels)
        self._input_history[:] = ext_x[:, frames : frames + history]
        return out

    def _saturate(self, ext_x, mix: np.ndarray, out: np.ndarray, kernels) -> None:
        frames = len(out)
        position = 0
        while position < frames:
            if self._drive.steady:
                length = frames - position
            else:  # drive glides on a grid of CONTROL_INTERVAL samples
                length = min(CONTROL_INTERVAL, frames - position)
            drive = float(self._drive.value)
            part = ext_x[:, position : position + self._history + length]
            if not part.flags.c_contiguous:
                part = np.ascontiguousarray(part)
            span = slice(position, position + length)
            self._shape_part(part, drive, mix[span], out[span], kernels)
            if not self._drive.steady:
                self._drive.next(length)
            position += length

    def _shape_part(self, ext_x, drive: float, mix: np.ndarray, out: np.ndarray, kernels) -> None:
        factor, history, frames = self._factor, self._history, len(out)
        if kernels is not None and factor > 1:
            shaped = self._workspace.get("shaped", (self.channels, factor, history + frames))
            shaped[:, :, :history] = self._shaped_history
            shape_id = SHAPES.index(self.params.shape)
            kernels.oversampled_shaper(
                ext_x, self._up, shaped, self._down, drive, shape_id, mix, out
            )
            self._shaped_history[:] = shaped[:, :, frames : frames + history]
            return
        dry = ext_x[:, :frames].T
        if factor == 1:
            wet = shape_curve(drive * dry, self.params.shape) / drive
        else:
            from scipy import signal  # the reference path only (slow to import)

            length = len(self._down)
            ext_w = np.empty((self.channels, length - 1 + factor * frames))
            ext_w[:, : length - 1] = self._shaped_history.transpose(0, 2, 1).reshape(
                self.channels, -1
            )
            high_rate = np.empty((self.channels, factor * frames))
            for p in range(factor):
                # Row p of the polyphase filter, correlated with the input windows.
                rows = signal.lfilter(self._up[p, ::-1], [1.0], ext_x, axis=1)
                high_rate[:, p::factor] = rows[:, history:]
            ext_w[:, length - 1 :] = shape_curve(drive * high_rate, self.params.shape) / drive
            filtered = signal.lfilter(self._down[::-1], [1.0], ext_w, axis=1)
            wet = filtered[:, length - 1 :: factor].T
            tail = ext_w[:, factor * frames :].reshape(self.channels, history, factor)
            self._shaped_history[:] = tail.transpose(0, 2, 1)
        out[...] = dry + mix[:, None] * (wet - dry)
