"""Space: stereo width by mid/side, with the low end made mono below a crossover."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from zen.audio.pillars._stage import SmoothedValue, Stage, check_positive, check_range
from zen.errors import ConfigError
from zen.filters import BUTTERWORTH_Q, BiquadCascade, linkwitz_riley, rbj_biquad

MAX_WIDTH = 2.0
_NO_SECTIONS = np.zeros((0, 6))
_NO_STATE = np.zeros((0, 2, 1))


@dataclass(frozen=True)
class StereoParams:
    """Space settings.

    Args:
        width: side level relative to mid: 0 mono, 1 unchanged, up to 2.
        mono_below_hz: below this the side signal is removed (4th-order Linkwitz-Riley high-pass
            on the side, the matching all-pass on the mid); None keeps the low end as it is.
    """

    width: float = 1.0
    mono_below_hz: float | None = None

    def __post_init__(self) -> None:
        check_range("width", self.width, 0.0, MAX_WIDTH)
        if self.mono_below_hz is not None:
            check_positive("mono_below_hz", self.mono_below_hz)


class StereoImager(Stage[StereoParams]):
    r"""Space pillar: :math:`M = (L+R)/2`, :math:`S = (L-R)/2`, :math:`L' = M + wS`,
    :math:`R' = M - wS`.

    With ``mono_below_hz`` the side goes through a Linkwitz-Riley high-pass and the mid through the
    all-pass that the crossover's two halves add up to, so above the crossover mid and side keep
    the same phase and the image is unchanged except for ``width``. The width glides per sample.
    Mono blocks pass through unchanged.
    """

    pillar = "space"
    params_class = StereoParams

    def _configure(self, params: StereoParams, initial: bool) -> None:
        if self.channels > 2:
            raise ConfigError(
                f"channels: the stereo stage handles mono or stereo, got {self.channels} channels"
            )
        if initial:
            self._width = SmoothedValue(params.width, self.ramp_samples)
            self._mid_filter: BiquadCascade | None = None
            self._side_filter: BiquadCascade | None = None
        else:
            self._width.set_target(params.width)
        freq = params.mono_below_hz
        if freq is None:
            self._mid_filter = self._side_filter = None
            return
        mid_sos = rbj_biquad("all_pass", freq, self.sample_rate, q=BUTTERWORTH_Q)[None]
        side_sos = linkwitz_riley("high_pass", freq, self.sample_rate)
        if self._mid_filter is None or self._side_filter is None:
            self._mid_filter = BiquadCascade(mid_sos, 1)
            self._side_filter = BiquadCascade(side_sos, 1)
        else:  # a moved crossover keeps its state
            self._mid_filter.set_sos(mid_sos)
            self._side_filter.set_sos(side_sos)

    def _reset(self) -> None:
        self._width.snap()
        for cascade in (self._mid_filter, self._side_filter):
            if cascade is not None:
                cascade.reset()

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        if self.channels == 1:
            return x.copy()
        frames = len(x)
        width = self._width.next(frames)
        if self._mid_filter is None and isinstance(width, float) and width == 1.0:
            return x.copy()
        if kernels is not None:
            widths = width if isinstance(width, np.ndarray) else np.full(frames, width)
            out = np.empty_like(x)
            if self._mid_filter is not None and self._side_filter is not None:
                mid_filter, side_filter = self._mid_filter, self._side_filter
                kernels.mid_side(
                    x, widths, mid_filter.sos, mid_filter.zi, side_filter.sos, side_filter.zi, out
                )
            else:
                kernels.mid_side(x, widths, _NO_SECTIONS, _NO_STATE, _NO_SECTIONS, _NO_STATE, out)
            return out
        mid = self._workspace.get("mid", (frames, 1))
        side = self._workspace.get("side", (frames, 1))
        np.add(x[:, 0], x[:, 1], out=mid[:, 0])
        np.subtract(x[:, 0], x[:, 1], out=side[:, 0])
        mid *= 0.5
        side *= 0.5
        if self._mid_filter is not None and self._side_filter is not None:
            self._mid_filter.process(mid, kernels, out=mid)
            self._side_filter.process(side, kernels, out=side)
        if isinstance(width, np.ndarray):
            side[:, 0] *= width
        else:
            side *= width
        out = np.empty_like(x)
        np.add(mid[:, 0], side[:, 0], out=out[:, 0])
        np.subtract(mid[:, 0], side[:, 0], out=out[:, 1])
        return out
