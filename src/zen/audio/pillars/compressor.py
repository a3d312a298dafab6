"""Dynamics: a feed-forward compressor with a soft knee, single-band or multiband."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from zen.audio.pillars._stage import (
    SmoothedValue,
    Stage,
    check_positive,
    check_range,
    one_pole_coefficient,
    release_hold,
)
from zen.errors import ConfigError
from zen.filters import BUTTERWORTH_Q, BiquadCascade, linkwitz_riley, rbj_biquad


@dataclass(frozen=True)
class CompressorParams:
    """Dynamics settings.

    Args:
        threshold_db: level (dBFS, sample peak) where compression starts (centre of the knee).
        ratio: input dB over output dB above the knee (1 = no compression).
        attack_ms, release_ms: time constants of the gain-reduction detector.
        knee_db: width of the soft knee (0 = hard knee).
        makeup_db: gain after compression.
        crossovers_hz: split into ``len + 1`` bands with 4th-order Linkwitz-Riley crossovers
            (empty: single band); bands sum back flat (an all-pass) when nothing compresses.
        band_thresholds_db, band_ratios: per-band values, low to high; empty means
            ``threshold_db`` / ``ratio`` for every band.
    """

    threshold_db: float = -18.0
    ratio: float = 2.0
    attack_ms: float = 10.0
    release_ms: float = 150.0
    knee_db: float = 6.0
    makeup_db: float = 0.0
    crossovers_hz: tuple[float, ...] = ()
    band_thresholds_db: tuple[float, ...] = ()
    band_ratios: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_range("threshold_db", self.threshold_db, -80.0, 0.0, " dB")
        check_range("ratio", self.ratio, 1.0, 100.0)
        check_range("attack_ms", self.attack_ms, 0.01, 1000.0, " ms")
        check_range("release_ms", self.release_ms, 1.0, 10_000.0, " ms")
        check_range("knee_db", self.knee_db, 0.0, 36.0, " dB")
        check_range("makeup_db", self.makeup_db, -24.0, 24.0, " dB")
        for name in ("crossovers_hz", "band_thresholds_db", "band_ratios"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        for freq in self.crossovers_hz:
            check_positive("crossovers_hz", freq)
        if list(self.crossovers_hz) != sorted(set(self.crossovers_hz)):
            raise ConfigError(
                f"crossovers_hz: expected increasing frequencies, got {self.crossovers_hz}"
            )
        bands = len(self.crossovers_hz) + 1
        for name, low, high in (("band_thresholds_db", -80.0, 0.0), ("band_ratios", 1.0, 100.0)):
            values = getattr(self, name)
            if values and len(values) != bands:
                raise ConfigError(
                    f"{name}: expected {bands} values (one per band) or none, got {len(values)}"
                )
            for value in values:
                check_range(name, value, low, high)

    @property
    def thresholds_db(self) -> np.ndarray:
        """Threshold of every band, low to high."""
        bands = len(self.crossovers_hz) + 1
        return np.array(self.band_thresholds_db or (self.threshold_db,) * bands, dtype=float)

    @property
    def ratios(self) -> np.ndarray:
        """Ratio of every band, low to high."""
        bands = len(self.crossovers_hz) + 1
        return np.array(self.band_ratios or (self.ratio,) * bands, dtype=float)


def static_reduction_db(level_db, threshold_db: float, ratio: float, knee_db: float) -> np.ndarray:
    r"""Gain reduction (dB, >= 0) of the static curve with a soft knee of width :math:`W`.

    Giannoulis, Massberg and Reiss, "Digital Dynamic Range Compressor Design - A Tutorial and
    Analysis", JAES 2012, eq. 4: with :math:`o = x - T`, the reduction is 0 for
    :math:`2o \le -W`, :math:`(1 - 1/R)(o + W/2)^2 / 2W` inside the knee and
    :math:`(1 - 1/R)\,o` above it.

    >>> float(static_reduction_db(-6.0, threshold_db=-18.0, ratio=4.0, knee_db=0.0))
    9.0
    """
    level_db = np.asarray(level_db, dtype=float)
    over = level_db - threshold_db
    slope = 1.0 - 1.0 / ratio
    above = over * slope
    if knee_db > 0:
        bend = over + 0.5 * knee_db
        inside = slope * bend * bend / (2.0 * knee_db)
        above = np.where(2.0 * over < knee_db, inside, above)
    return np.where(2.0 * over <= -knee_db, 0.0, above)


class Compressor(Stage[CompressorParams]):
    r"""Dynamics pillar: feed-forward, stereo-linked peak compressor with a soft knee.

    Per band, the sample-peak level :math:`x_L = 20\log_{10}\max_c |x_c|` gives the static
    reduction :math:`c` (:func:`static_reduction_db`); a decoupled smooth peak detector
    (Giannoulis et al. 2012, sec. 3.3) turns it into the applied reduction
    :math:`y_1[n] = \max(c[n], \alpha_R\,y_1[n-1])`,
    :math:`y[n] = \alpha_A\,y[n-1] + (1-\alpha_A)\,y_1[n]`, :math:`\alpha = e^{-1/\tau f_s}`,
    and the band is scaled by :math:`10^{-y/20}`. Bands come from Linkwitz-Riley crossovers;
    each lower band also passes the all-pass of every higher crossover, so the bands add up
    to one all-pass. ``makeup_db`` glides; other changes apply at once (the detector smooths
    them).
    """

    pillar = "dynamics"
    params_class = CompressorParams

    def _configure(self, params: CompressorParams, initial: bool) -> None:
        crossovers = tuple(params.crossovers_hz)
        if initial or crossovers != self.params.crossovers_hz:
            self._build_crossovers(crossovers, keep_state=not initial)
        if initial:
            self._makeup = SmoothedValue(10.0 ** (params.makeup_db / 20.0), self.ramp_samples)
            self._state = np.zeros((len(crossovers) + 1, 2))
            self.gain_reduction_db = np.zeros(0)
        else:
            self._makeup.set_target(10.0 ** (params.makeup_db / 20.0))
            if len(self._state) != len(crossovers) + 1:
                self._state = np.zeros((len(crossovers) + 1, 2))
        self._thresholds = np.ascontiguousarray(params.thresholds_db)
        self._ratios = np.ascontiguousarray(params.ratios)
        self._alpha_attack = one_pole_coefficient(params.attack_ms, self.sample_rate)
        self._alpha_release = one_pole_coefficient(params.release_ms, self.sample_rate)

    def _build_crossovers(self, crossovers: tuple[float, ...], keep_state: bool) -> None:
        old = getattr(self, "_splits", [])
        same_count = keep_state and len(old) == len(crossovers)
        self._splits: list[tuple[BiquadCascade, BiquadCascade]] = []
        for index, freq in enumerate(crossovers):
            low = linkwitz_riley("low_pass", freq, self.sample_rate)
            high = linkwitz_riley("high_pass", freq, self.sample_rate)
            if same_count:  # a moved crossover keeps its state
                old[index][0].set_sos(low)
                old[index][1].set_sos(high)
                self._splits.append(old[index])
            else:
                pair = (BiquadCascade(low, self.channels), BiquadCascade(high, self.channels))
                self._splits.append(pair)
        # Band j < last also passes the all-pass of every crossover above it.
        old_allpasses = getattr(self, "_allpasses", [])
        self._allpasses: list[BiquadCascade] = []
        for band in range(len(crossovers)):
            above = [
                rbj_biquad("all_pass", freq, self.sample_rate, q=BUTTERWORTH_Q)
                for freq in crossovers[band + 1 :]
            ]
            sos = np.array(above).reshape(-1, 6)
            if same_count:
                old_allpasses[band].set_sos(sos)
                self._allpasses.append(old_allpasses[band])
            else:
                self._allpasses.append(BiquadCascade(sos, self.channels))

    def _reset(self) -> None:
        for low, high in self._splits:
            low.reset()
            high.reset()
        for allpass in self._allpasses:
            allpass.reset()
        self._state[:] = 0.0
        self._makeup.snap()

    def split_bands(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        """The crossover's bands of ``x``, shape (bands, frames, channels), low to high."""
        if not self._splits:
            return x[None]
        bands = self._workspace.get("bands", (len(self._splits) + 1, *x.shape))
        rest = x
        for index, (low, high) in enumerate(self._splits):
            # High first: from the second crossover on, `rest` is bands[index] itself.
            high.process(rest, kernels, out=bands[index + 1])
            low.process(rest, kernels, out=bands[index])
            rest = bands[index + 1]
        for index, allpass in enumerate(self._allpasses):
            allpass.process(bands[index], kernels, out=bands[index])
        return bands

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        frames = len(x)
        bands = self.split_bands(x, kernels)
        out = np.empty_like(x)
        reduction = self._workspace.get("reduction", (frames,))
        if kernels is not None:
            kernels.compressor(
                bands,
                self._thresholds,
                self._ratios,
                float(self.params.knee_db),
                self._alpha_attack,
                self._alpha_release,
                self._state,
                out,
                reduction,
            )
        else:
            self._reference(bands, out, reduction)
        makeup = self._makeup.next(frames)
        if isinstance(makeup, np.ndarray):
            out *= makeup[:, None]
        elif makeup != 1.0:
            out *= makeup
        self.gain_reduction_db = reduction
        return out

    def _reference(self, bands: np.ndarray, out: np.ndarray, reduction: np.ndarray) -> None:
        from scipy import signal  # the reference path only (slow to import)

        out[...] = 0.0
        reduction[...] = 0.0
        a_attack, a_release = self._alpha_attack, self._alpha_release
        for index, band in enumerate(bands):
            peak = np.max(np.abs(band), axis=1)
            with np.errstate(divide="ignore"):
                level_db = 20.0 * np.log10(peak)
            target = static_reduction_db(
                level_db, self._thresholds[index], self._ratios[index], self.params.knee_db
            )
            held = release_hold(target, a_release, self._state[index, 0])
            smooth, _ = signal.lfilter(
                [1.0 - a_attack], [1.0, -a_attack], held, zi=[a_attack * self._state[index, 1]]
            )
            self._state[index] = held[-1], smooth[-1]
            out += band * 10.0 ** (-smooth / 20.0)[:, None]
            np.maximum(reduction, smooth, out=reduction)
