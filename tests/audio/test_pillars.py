"""Each pillar against its formula, both DSP paths against each other, blocks against one call."""

from __future__ import annotations

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, sine
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from zen.audio.loudness import true_peak_dbtp
from zen.audio.pillars import (
    Compressor,
    CompressorParams,
    EQParams,
    Equalizer,
    Limiter,
    LimiterParams,
    PeakBand,
    Saturator,
    SaturatorParams,
    StereoImager,
    StereoParams,
    shape_curve,
    static_reduction_db,
)
from zen.errors import ConfigError, DataError
from zen.filters import rbj_biquad, sos_response

pytest.importorskip("numba")
PATHS = [pytest.param(True, id="native"), pytest.param(False, id="reference")]
# Native and reference paths compute the same recursions in a different order (vectorised FIRs,
# a polynomial exp); on audio scaled to full scale they agree far below a 24-bit LSB (1.2e-7).
PATH_TOLERANCE = 1e-9
# One call versus many blocks: the same arithmetic, up to rounding in running sums.
BLOCK_TOLERANCE = 1e-11

STAGES = {
    "eq": (
        Equalizer,
        EQParams(
            high_pass_hz=30.0,
            low_shelf_gain_db=2.0,
            high_shelf_gain_db=-3.0,
            bands=(PeakBand(400.0, -2.5, 1.4), PeakBand(3000.0, 3.0, 0.8)),
        ),
    ),
    "compressor": (
        Compressor,
        CompressorParams(
            threshold_db=-24.0, ratio=3.0, attack_ms=5.0, release_ms=80.0, makeup_db=3.0
        ),
    ),
    "multiband": (
        Compressor,
        CompressorParams(
            threshold_db=-24.0,
            ratio=3.0,
            crossovers_hz=(150.0, 2500.0),
            band_ratios=(4.0, 2.0, 1.5),
        ),
    ),
    "saturator": (Saturator, SaturatorParams(drive_db=12.0, mix=0.6)),
    "soft_clip": (
        Saturator,
        SaturatorParams(drive_db=9.0, mix=1.0, shape="soft_clip", oversampling=2),
    ),
    "stereo": (StereoImager, StereoParams(width=1.4, mono_below_hz=120.0)),
    "limiter": (Limiter, LimiterParams(gain_db=12.0, ceiling_dbtp=-1.0)),
}


def make(name: str, native: bool = True, channels: int = 2, sample_rate: int = SAMPLE_RATE):
    cls, params = STAGES[name]
    return cls(params, sample_rate=sample_rate, channels=channels, native=native)


def in_blocks(stage, audio: np.ndarray, block: int) -> np.ndarray:
    stage.reset()
    return np.concatenate(
        [stage.process(audio[i : i + block]) for i in range(0, len(audio), block)]
    )


def steady_gain_db(stage, freq_hz: float, seconds: float = 1.0) -> float:
    """Gain of a stage at one frequency: RMS out / RMS in over the second half of a sine."""
    x = sine(freq_hz, seconds, amplitude=0.1)
    y = stage.process(x)
    half = len(x) // 2
    return float(20 * np.log10(np.std(y[half:]) / np.std(x[half:])))


# --- tone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize(
    ("freq_hz", "gain_db", "q"), [(1000.0, 6.0, 1.0), (150.0, -9.0, 2.5), (8000.0, 3.0, 0.5)]
)
def test_peak_band_gain_at_its_centre_frequency_equals_gain_db(native, freq_hz, gain_db, q):
    eq = Equalizer(
        EQParams(bands=(PeakBand(freq_hz, gain_db, q),)),
        sample_rate=SAMPLE_RATE,
        channels=1,
        native=native,
    )
    assert eq.magnitude_db([freq_hz])[0] == pytest.approx(gain_db, abs=1e-9)
    assert steady_gain_db(eq, freq_hz) == pytest.approx(gain_db, abs=0.02)


def test_shelves_give_half_their_gain_at_the_corner_and_all_of_it_far_away():
    params = EQParams(
        low_shelf_hz=200.0, low_shelf_gain_db=8.0, high_shelf_hz=5000.0, high_shelf_gain_db=-6.0
    )
    low = rbj_biquad("low_shelf", 200.0, SAMPLE_RATE, 8.0)[None]
    high = rbj_biquad("high_shelf", 5000.0, SAMPLE_RATE, -6.0)[None]
    db = lambda sos, f: 20 * np.log10(abs(sos_response(sos, [f], SAMPLE_RATE)[0]))  # noqa: E731
    assert db(low, 200.0) == pytest.approx(4.0, abs=1e-9)
    assert db(low, 10.0) == pytest.approx(8.0, abs=0.05)
    assert db(high, 5000.0) == pytest.approx(-3.0, abs=1e-9)
    assert db(high, 20000.0) == pytest.approx(-6.0, abs=0.2)
    eq = Equalizer(params, sample_rate=SAMPLE_RATE, channels=1)
    assert eq.magnitude_db([1000.0])[0] == pytest.approx(
        db(low, 1000.0) + db(high, 1000.0), abs=1e-9
    )


def test_high_pass_is_3_db_down_at_cutoff_and_falls_12_db_per_octave():
    eq = Equalizer(EQParams(high_pass_hz=100.0), sample_rate=SAMPLE_RATE, channels=1)
    response = eq.magnitude_db([100.0, 25.0, 12.5, 1000.0])
    assert response[0] == pytest.approx(-3.01, abs=0.01)
    assert response[1] - response[2] == pytest.approx(12.0, abs=0.2)
    assert abs(response[3]) < 0.05


@pytest.mark.parametrize("native", PATHS)
def test_flat_equaliser_returns_its_input_exactly(native):
    x = programme(0.5)
    eq = Equalizer(EQParams(bands=(PeakBand(1000.0, 0.0),)), sample_rate=SAMPLE_RATE, native=native)
    np.testing.assert_array_equal(eq.process(x), x)


def test_eq_gain_change_glides_instead_of_jumping():
    """+12 dB on a band while its 1 kHz sine streams: the level per period climbs over the
    20 ms glide in small steps; without smoothing it jumps within a period or two."""
    x = sine(1000.0, 0.5, amplitude=0.1)

    def largest_step_db(smoothing_ms: float) -> float:
        eq = Equalizer(
            EQParams(bands=(PeakBand(1000.0, 0.0),)),
            sample_rate=SAMPLE_RATE,
            channels=1,
            smoothing_ms=smoothing_ms,
        )
        out = [eq.process(x[:11025])]
        eq.set_params(EQParams(bands=(PeakBand(1000.0, 12.0),)))
        out += [eq.process(x[i : i + 256]) for i in range(11025, len(x), 256)]
        y = np.concatenate(out)[:, 0]
        assert 20 * np.log10(y[-4410:].std() / x[-4410:, 0].std()) == pytest.approx(12, abs=0.05)
        periods = np.abs(y[: len(y) // 441 * 441]).reshape(-1, 441).max(axis=1)  # 10 ms each
        return float(np.abs(np.diff(20 * np.log10(periods))).max())

    assert largest_step_db(20.0) < 7.0
    assert largest_step_db(0.0) > 11.0


# --- dynamics -----------------------------------------------------------------------------------


def square(level_db: float, seconds: float = 0.5) -> np.ndarray:
    """A 100 Hz square wave: |x| is constant, so the detector sees one level."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = 10 ** (level_db / 20) * np.sign(np.sin(2 * np.pi * 100 * t) + 1e-9)
    return np.stack([wave, wave], axis=1)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("level_db", [-40.0, -23.0, -20.0, -17.0, -6.0])
def test_compressor_settles_on_the_static_curve(native, level_db):
    params = CompressorParams(
        threshold_db=-20.0, ratio=4.0, knee_db=6.0, attack_ms=1.0, release_ms=20.0, makeup_db=2.0
    )
    compressor = Compressor(params, sample_rate=SAMPLE_RATE, native=native)
    out = compressor.process(square(level_db))
    expected_db = level_db - static_reduction_db(level_db, -20.0, 4.0, 6.0) + 2.0
    assert 20 * np.log10(np.abs(out[-100:]).max()) == pytest.approx(expected_db, abs=1e-6)


def test_static_curve_formula_is_continuous_through_the_knee():
    levels = np.linspace(-40, 0, 4001)
    reduction = static_reduction_db(levels, -20.0, 4.0, 10.0)
    assert np.all(np.diff(reduction) >= 0) and np.abs(np.diff(reduction)).max() < 0.01
    assert reduction[levels <= -25].max() == 0.0
    np.testing.assert_allclose(reduction[levels >= -15], (levels[levels >= -15] + 20) * 0.75)


@pytest.mark.parametrize("native", PATHS)
def test_compressor_attack_follows_its_time_constant(native):
    params = CompressorParams(
        threshold_db=-30.0, ratio=10.0, knee_db=0.0, attack_ms=10.0, release_ms=100.0
    )
    compressor = Compressor(params, sample_rate=SAMPLE_RATE, channels=2, native=native)
    compressor.process(square(-60.0, 0.1))
    compressor.process(square(-10.0, 0.2))
    reduction = compressor.gain_reduction_db
    final = static_reduction_db(-10.0, -30.0, 10.0, 0.0)
    at_tau = reduction[round(0.010 * SAMPLE_RATE) - 1]
    assert at_tau / final == pytest.approx(1 - np.exp(-1), abs=0.005)


@pytest.mark.parametrize("native", PATHS)
def test_multiband_crossover_sums_to_an_all_pass_when_nothing_is_compressed(native):
    compressor = Compressor(
        CompressorParams(ratio=1.0, crossovers_hz=(200.0, 3000.0)),
        sample_rate=SAMPLE_RATE,
        channels=1,
        native=native,
    )
    impulse = np.zeros((8192, 1))
    impulse[0] = 1.0
    response = compressor.process(impulse)[:, 0]
    magnitude = np.abs(np.fft.rfft(response))
    np.testing.assert_allclose(magnitude, 1.0, atol=1e-6)
    allpasses = np.stack([rbj_biquad("all_pass", f, SAMPLE_RATE) for f in (200.0, 3000.0)])
    np.testing.assert_allclose(response, signal.sosfilt(allpasses, impulse[:, 0]), atol=1e-12)


def test_compressor_rejects_per_band_values_that_do_not_match_the_bands():
    with pytest.raises(ConfigError, match="band_ratios: expected 3 values"):
        CompressorParams(crossovers_hz=(100.0, 1000.0), band_ratios=(2.0, 3.0))
    with pytest.raises(ConfigError, match="increasing"):
        CompressorParams(crossovers_hz=(1000.0, 100.0))


# --- colour -------------------------------------------------------------------------------------


def harmonics_db(y: np.ndarray, fundamental_bin: int, count: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return 20 * np.log10(spectrum[[fundamental_bin * k for k in range(1, count + 1)]])


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("shape", ["tanh", "soft_clip"])
def test_saturator_harmonics_match_the_curve(native, shape):
    """441 Hz at -6 dBFS driven 12 dB: the odd harmonics (3rd..7th) of the output match those
    of the ideal curve f(g x)/g sampled densely, and so does the THD."""
    saturator = Saturator(
        SaturatorParams(drive_db=12.0, mix=1.0, shape=shape),
        sample_rate=SAMPLE_RATE,
        channels=1,
        native=native,
    )
    x = sine(441.0, 1.5)
    y = saturator.process(x)[saturator.latency_samples :][:SAMPLE_RATE, 0]
    g = 10 ** (12 / 20)
    ideal = shape_curve(g * x[:SAMPLE_RATE, 0], shape) / g
    measured, expected = harmonics_db(y, 441, 9), harmonics_db(ideal, 441, 9)
    np.testing.assert_allclose(measured[[0, 2, 4, 6]], expected[[0, 2, 4, 6]], atol=0.05)

    def thd(levels_db):
        power = 10 ** (levels_db / 10)
        return np.sqrt(power[1:].sum() / power[0])

    assert thd(measured) == pytest.approx(thd(expected), rel=0.01)
    assert thd(expected) > 0.05  # the test drives the curve hard enough to matter


@pytest.mark.parametrize("native", PATHS)
def test_oversampling_reduces_aliasing(native):
    """A 7 kHz sine driven hard: harmonics above Nyquist fold back as aliases at 1x; at 4x the
    decimation filter removes them first. Aliases are all non-harmonic energy below 20 kHz."""
    x = sine(7000.0, 1.2, amplitude=0.9)

    def alias_db(factor: int) -> float:
        saturator = Saturator(
            SaturatorParams(drive_db=18.0, mix=1.0, oversampling=factor),
            sample_rate=SAMPLE_RATE,
            channels=1,
            native=native,
        )
        y = saturator.process(x)[saturator.latency_samples :][:SAMPLE_RATE, 0]
        power = np.abs(np.fft.rfft(y * np.blackman(len(y)))) ** 2  # 1 Hz bins
        harmonic = np.zeros(len(power), dtype=bool)
        for k in range(1, 4):
            harmonic[7000 * k - 20 : 7000 * k + 21] = True
        alias = ~harmonic
        alias[20000:] = False
        return float(10 * np.log10(power[alias].sum() / power[harmonic].sum()))

    assert alias_db(4) < alias_db(1) - 30
    assert alias_db(4) < -45


@pytest.mark.parametrize("native", PATHS)
def test_saturator_at_mix_zero_is_a_pure_delay(native):
    x = programme(0.3)
    saturator = Saturator(SaturatorParams(mix=0.0), sample_rate=SAMPLE_RATE, native=native)
    y = saturator.process(x)
    delay = saturator.latency_samples
    assert delay == 24
    np.testing.assert_array_equal(y[delay:], x[:-delay])


def test_saturator_keeps_quiet_signals_below_18_khz_at_their_level():
    saturator = Saturator(SaturatorParams(drive_db=12.0, mix=1.0), sample_rate=SAMPLE_RATE)
    x = sum(sine(f, 0.3, amplitude=1e-4, channels=2) for f in (60.0, 1000.0, 7000.0, 17000.0))
    delay = saturator.latency_samples
    y = saturator.process(x)[delay + 2000 :]
    np.testing.assert_allclose(y, x[2000:-delay], rtol=0, atol=1e-3 * np.abs(x).max())


def test_soft_clip_curve_is_flat_beyond_one_with_unit_slope_at_zero():
    u = np.array([-3.0, -1.0, 0.0, 1e-6, 1.0, 3.0])
    np.testing.assert_allclose(shape_curve(u, "soft_clip"), [-2 / 3, -2 / 3, 0, 1e-6, 2 / 3, 2 / 3])


def test_oversampling_cannot_change_while_streaming():
    saturator = Saturator(SaturatorParams(oversampling=4), sample_rate=SAMPLE_RATE)
    with pytest.raises(ConfigError, match="oversampling: cannot change"):
        saturator.set_params(SaturatorParams(oversampling=2))


# --- space --------------------------------------------------------------------------------------


@pytest.mark.parametrize("native", PATHS)
def test_width_zero_gives_mono(native):
    x = programme(0.5)
    out = StereoImager(StereoParams(width=0.0), sample_rate=SAMPLE_RATE, native=native).process(x)
    np.testing.assert_allclose(out[:, 0], out[:, 1], atol=0)
    np.testing.assert_allclose(out[:, 0], x.mean(axis=1), atol=1e-15)


@pytest.mark.parametrize("width", [0.5, 1.0, 1.7])
def test_width_scales_the_side_and_keeps_the_mid(width):
    x = programme(0.5)
    out = StereoImager(StereoParams(width=width), sample_rate=SAMPLE_RATE).process(x)
    np.testing.assert_allclose(out.sum(axis=1), x.sum(axis=1), atol=1e-14)
    np.testing.assert_allclose(out[:, 0] - out[:, 1], width * (x[:, 0] - x[:, 1]), atol=1e-14)


@pytest.mark.parametrize("native", PATHS)
def test_mono_below_removes_the_low_side_and_keeps_the_high_image(native):
    imager = StereoImager(
        StereoParams(width=1.0, mono_below_hz=150.0), sample_rate=SAMPLE_RATE, native=native
    )
    low_side = sine(40.0, 1.0) * [1, -1]  # all side
    out = imager.process(low_side)
    side = (out[:, 0] - out[:, 1]) / 2
    assert 20 * np.log10(side[22050:].std() / low_side[22050:, 0].std()) < -24
    imager.reset()
    high = sine(5000.0, 0.5) * [1.0, 0.3]
    out = imager.process(high)[11025:]
    for channel in range(2):  # same level per channel: the image above the crossover is intact
        assert out[:, channel].std() == pytest.approx(high[11025:, channel].std(), rel=0.005)


def test_mono_blocks_pass_the_space_stage_unchanged():
    x = programme(0.2)[:, :1]
    np.testing.assert_array_equal(
        StereoImager(StereoParams(width=0.0), sample_rate=SAMPLE_RATE, channels=1).process(x), x
    )


# --- loudness -----------------------------------------------------------------------------------


def intersample_peaks(seconds: float = 1.0) -> np.ndarray:
    """fs/4 at 45 degrees: every sample is at 0.707 of the waveform's true peak (+3 dB over)."""
    return sine(SAMPLE_RATE / 4, seconds, amplitude=1.0, channels=2, phase=np.pi / 4)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("ceiling", [-1.0, -0.1, -6.0])
def test_limiter_holds_the_true_peak_under_the_ceiling(native, ceiling):
    x = np.concatenate([programme(1.0) * 8.0, intersample_peaks(0.5), programme(0.5) * 3.0])
    limiter = Limiter(LimiterParams(ceiling_dbtp=ceiling), sample_rate=SAMPLE_RATE, native=native)
    y = limiter.process(np.concatenate([x, np.zeros((limiter.latency_samples, 2))]))
    assert true_peak_dbtp(y, SAMPLE_RATE) <= ceiling
    assert true_peak_dbtp(y, SAMPLE_RATE) > ceiling - 0.5  # and it does not overdo it


@pytest.mark.parametrize("signal_name", ["programme", "intersample", "impulses"])
def test_true_peak_meter_agrees_with_resample_poly_at_4x(signal_name):
    """BS.1770-4 Annex 2 with scipy's interpolator; the meter skips points that cannot matter.

    resample_poly normalises its filter as a whole, which lifts the samples by 0.005 dB; the
    meter normalises each phase (the samples pass exactly), so they agree within 0.006 dB."""
    x = {
        "programme": programme(1.0) * 3.0,
        "intersample": intersample_peaks(0.2),
        "impulses": np.pad(np.array([[0.5, -0.2], [-0.5, 0.3]]), ((3000, 3000), (0, 0))),
    }[signal_name]
    oversampled = signal.resample_poly(x, 4, 1, axis=0)
    expected = 20 * np.log10(max(np.abs(oversampled).max(), np.abs(x).max()))
    assert true_peak_dbtp(x, SAMPLE_RATE) == pytest.approx(expected, abs=0.006)


def test_limiter_delays_quiet_audio_by_its_latency_and_applies_its_gain():
    limiter = Limiter(LimiterParams(gain_db=6.0, lookahead_ms=2.0), sample_rate=48000)
    assert limiter.latency_samples == 96 - 1 + 10  # look-ahead window, detector delay
    x = programme(0.3, sample_rate=48000) * 0.1
    y = limiter.process(x)
    np.testing.assert_allclose(y[105:], x[:-105] * 10 ** (6 / 20), rtol=1e-12)
    assert limiter.gain_reduction_db.max() == 0.0


@pytest.mark.parametrize("native", PATHS)
def test_limiter_reduction_starts_a_lookahead_before_the_peak(native):
    limiter = Limiter(
        LimiterParams(ceiling_dbtp=-6.0, lookahead_ms=5.0),
        sample_rate=SAMPLE_RATE,
        channels=1,
        native=native,
    )
    x = np.zeros((4000, 1))
    x[2000] = 1.0  # 6 dB over the ceiling
    y = limiter.process(x)
    reduction = limiter.gain_reduction_db
    peak_out = 2000 + limiter.latency_samples
    assert y[peak_out, 0] == pytest.approx(10 ** ((-6.0 - 0.05) / 20), rel=1e-9)
    window = round(0.005 * SAMPLE_RATE)
    # The ramp starts a look-ahead window before the peak (a little earlier: the interpolated
    # waveform of an impulse rings into the samples before it) and ends on it.
    assert np.all(reduction[: peak_out - window - 10] == 0.0)
    assert reduction[peak_out - window + 1] > 0.0
    assert reduction[peak_out] == pytest.approx(6.05, abs=1e-9)


def test_lookahead_cannot_change_while_streaming():
    limiter = Limiter(LimiterParams(lookahead_ms=5.0), sample_rate=SAMPLE_RATE)
    limiter.set_params(LimiterParams(lookahead_ms=5.0, ceiling_dbtp=-2.0))
    with pytest.raises(ConfigError, match="lookahead_ms: cannot change"):
        limiter.set_params(LimiterParams(lookahead_ms=1.0))


# --- every stage --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STAGES))
def test_native_and_reference_paths_agree_on_music(name, music):
    audio, rate = music
    native, reference = make(name, True, sample_rate=rate), make(name, False, sample_rate=rate)
    np.testing.assert_allclose(
        native.process(audio), reference.process(audio), rtol=0, atol=PATH_TOLERANCE
    )


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("name", list(STAGES))
def test_blocks_of_64_512_4096_give_the_one_call_output(name, native):
    audio = programme(1.0) * 3.0
    whole = make(name, native).process(audio)
    stage = make(name, native)
    for block in (64, 512, 4096):
        np.testing.assert_allclose(
            in_blocks(stage, audio, block), whole, rtol=0, atol=BLOCK_TOLERANCE
        )


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(sorted(STAGES)),
    cuts=st.lists(st.integers(1, 700), min_size=1, max_size=8),
)
def test_any_block_partition_gives_the_one_call_output(name, cuts):
    audio = programme(0.25, seed=3) * 3.0
    whole = make(name).process(audio)
    stage = make(name)
    bounds = np.unique(np.clip(np.cumsum(cuts), 0, len(audio)))
    parts = np.split(audio, bounds)
    streamed = np.concatenate([stage.process(part) for part in parts])
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=BLOCK_TOLERANCE)


@settings(max_examples=15, deadline=None)
@given(
    gains=st.lists(st.floats(-12, 12), min_size=3, max_size=3),
    freqs=st.lists(st.floats(40, 15000), min_size=3, max_size=3),
    q=st.floats(0.3, 8.0),
    threshold=st.floats(-40, -3),
    ratio=st.floats(1.0, 20.0),
    knee=st.floats(0.0, 12.0),
)
def test_native_and_reference_agree_for_any_eq_and_compressor(
    gains, freqs, q, threshold, ratio, knee
):
    audio = programme(0.3, seed=5) * 2.0
    eq = EQParams(
        high_pass_hz=freqs[0] / 2,
        low_shelf_gain_db=gains[0],
        bands=(PeakBand(freqs[1], gains[1], q), PeakBand(freqs[2], gains[2], q)),
    )
    comp = CompressorParams(threshold_db=threshold, ratio=ratio, knee_db=knee, attack_ms=2.0)
    for cls, params in ((Equalizer, eq), (Compressor, comp)):
        outputs = [cls(params, sample_rate=SAMPLE_RATE, native=n).process(audio) for n in (1, 0)]
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=0, atol=PATH_TOLERANCE)


@pytest.mark.parametrize("name", list(STAGES))
def test_reset_forgets_the_signal(name):
    audio = programme(0.3) * 3.0
    stage = make(name)
    first = stage.process(audio)
    stage.process(programme(0.2, seed=9))
    stage.reset()
    np.testing.assert_array_equal(stage.process(audio), first)


def test_stages_reject_blocks_of_the_wrong_shape_and_bad_parameters():
    eq = Equalizer(sample_rate=SAMPLE_RATE, channels=2)
    with pytest.raises(DataError, match=r"expected shape \(frames, 2\)"):
        eq.process(np.zeros((10, 3)))
    with pytest.raises(DataError, match="floating-point"):
        eq.process(np.zeros((10, 2), dtype=np.int16))
    with pytest.raises(ConfigError, match="ratio"):
        CompressorParams(ratio=0.5)
    with pytest.raises(ConfigError, match="sample_rate"):
        Equalizer(sample_rate=1000)
    with pytest.raises(ConfigError, match="params: expected EQParams"):
        eq.set_params(StereoParams())
    assert len(eq.process(np.zeros((0, 2)))) == 0
