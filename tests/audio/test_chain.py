"""The master chain: alignment and latency, streaming equals offline, loudness targeting,
reference matching, glides, the native flag and its fallbacks, presets and corrections."""

from __future__ import annotations

import logging
import sys
import threading
import types

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, sine

import zen.audio.pillars
from zen.audio import (
    PRESETS,
    ChainSettings,
    Corrections,
    MasterChain,
    _native,
    apply_corrections,
    preset,
)
from zen.audio.loudness import integrated_lufs, true_peak_dbtp
from zen.audio.matching import analysis_frequencies, average_spectrum
from zen.audio.pillars import (
    CompressorParams,
    EQParams,
    LimiterParams,
    PeakBand,
    SaturatorParams,
    StereoParams,
)
from zen.audio.pillars.eq import Equalizer
from zen.audio.presets import ASSISTANT_BANDS_HZ, load_assistant
from zen.errors import BackendUnavailable, ConfigError, DataError

pytest.importorskip("numba")
pytest.importorskip("pyloudnorm")
PATHS = [pytest.param(True, id="native"), pytest.param(False, id="reference")]
LOUDNESS_TOLERANCE_LU = 0.5  # the acceptance: within +-0.5 LU of the target

NEUTRAL = ChainSettings(
    eq=EQParams(),
    compressor=CompressorParams(ratio=1.0),
    saturator=SaturatorParams(mix=0.0),
    stereo=StereoParams(width=1.0),
    limiter=LimiterParams(gain_db=0.0, target_lufs=None),
    name="neutral",
)


def stream(chain: MasterChain, audio: np.ndarray, block: int) -> np.ndarray:
    """Blocks in, then silence to flush the latency; the output shifted back into line."""
    chain.reset()
    latency = chain.latency_samples
    padded = np.concatenate([audio, np.zeros((latency, audio.shape[1]))])
    out = [chain.process(padded[i : i + block]) for i in range(0, len(padded), block)]
    return np.concatenate(out)[latency:]


def test_offline_output_is_aligned_with_the_input_and_latency_is_reported():
    chain = MasterChain(NEUTRAL, sample_rate=SAMPLE_RATE)
    stages = chain.stages
    assert chain.latency_samples == sum(stage.latency_samples for stage in stages)
    assert chain.latency_samples == 24 + (round(0.005 * SAMPLE_RATE) - 1 + 10)
    x = programme(0.5) * 0.1
    np.testing.assert_array_equal(chain.process_offline(x), x)
    impulse = np.zeros((2000, 2))
    impulse[500] = 0.1
    streamed = np.concatenate([chain.process(impulse), chain.process(np.zeros((1000, 2)))])
    assert np.argmax(np.abs(streamed[:, 0])) == 500 + chain.latency_samples


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_streaming_in_64_512_4096_blocks_equals_offline(name, native):
    settings = preset(name).replace(limiter=LimiterParams(gain_db=9.0, target_lufs=None))
    chain = MasterChain(settings, sample_rate=SAMPLE_RATE, native=native)
    audio = programme(0.75)
    offline = chain.process_offline(audio)
    for block in (64, 512, 4096):
        np.testing.assert_allclose(stream(chain, audio, block), offline, rtol=0, atol=1e-11)


def test_streaming_equals_offline_on_music(music):
    audio, rate = music
    chain = MasterChain(preset("loud"), sample_rate=rate).fit(audio)
    offline = chain.process_offline(audio)
    for block in (64, 512, 4096):
        np.testing.assert_allclose(stream(chain, audio, block), offline, rtol=0, atol=1e-11)


def test_fit_process_equals_fit_then_process_offline():
    audio = programme(2.0)
    chain = MasterChain(preset("warm"), sample_rate=SAMPLE_RATE)
    fitted = chain.fit_process(audio)
    np.testing.assert_allclose(chain.process_offline(audio), fitted, rtol=0, atol=1e-12)
    assert chain.limiter.params.gain_db == chain.loudness_gain_db_


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize(("target", "ceiling"), [(-14.0, -1.0), (-9.0, -0.3), (-23.0, -2.0)])
def test_fit_lands_on_the_target_loudness_under_the_ceiling(name, target, ceiling):
    settings = preset(name).replace(limiter=LimiterParams(target_lufs=target, ceiling_dbtp=ceiling))
    chain = MasterChain(settings, sample_rate=SAMPLE_RATE)
    out = chain.fit_process(programme(4.0))
    assert integrated_lufs(out, SAMPLE_RATE) == pytest.approx(target, abs=LOUDNESS_TOLERANCE_LU)
    assert true_peak_dbtp(out, SAMPLE_RATE) <= ceiling
    assert chain.output_lufs_ == pytest.approx(integrated_lufs(out, SAMPLE_RATE))


def test_fit_on_music_lands_on_minus_14_lufs_under_minus_1_dbtp(music):
    audio, rate = music
    chain = MasterChain(preset("transparent"), sample_rate=rate)
    out = chain.fit_process(audio)
    assert integrated_lufs(out, rate) == pytest.approx(-14.0, abs=LOUDNESS_TOLERANCE_LU)
    assert true_peak_dbtp(out, rate) <= -1.0


def test_fit_refuses_silence():
    with pytest.raises(DataError, match="silent"):
        MasterChain(sample_rate=SAMPLE_RATE).fit(np.zeros((SAMPLE_RATE, 2)))


def test_reference_matching_moves_the_balance_and_loudness_to_the_reference():
    mix = programme(4.0, seed=1)
    shaped = Equalizer(
        EQParams(
            low_shelf_hz=150.0,
            low_shelf_gain_db=-5.0,
            high_shelf_hz=3000.0,
            high_shelf_gain_db=6.0,
            bands=(PeakBand(800.0, 3.0, 1.0),),
        ),
        sample_rate=SAMPLE_RATE,
    ).process(programme(4.0, seed=2))
    reference = shaped * 0.5
    chain = MasterChain(
        NEUTRAL.replace(limiter=LimiterParams(target_lufs=-14.0)), sample_rate=SAMPLE_RATE
    )
    out = chain.fit_process(mix, reference)
    assert chain.match_ is not None and chain.match_filter is not None
    assert chain.latency_samples > 1000  # the linear-phase FIR, compensated offline
    freqs = analysis_frequencies(SAMPLE_RATE)
    band = (freqs > 60) & (freqs < 12000)

    def balance(audio: np.ndarray) -> np.ndarray:
        spectrum = average_spectrum(audio, SAMPLE_RATE, freqs)[band]
        return spectrum - spectrum.mean()

    before = np.abs(balance(mix) - balance(reference)).max()
    after = np.abs(balance(out) - balance(reference)).max()
    assert before > 5.0 and after < 1.5
    reference_lufs = integrated_lufs(reference, SAMPLE_RATE)
    assert integrated_lufs(out, SAMPLE_RATE) == pytest.approx(reference_lufs, abs=0.5)


def test_a_loudness_change_while_streaming_glides_without_a_click():
    x = sine(100.0, 1.0, amplitude=0.05, channels=2)

    def largest_step(smoothing_ms: float) -> float:
        chain = MasterChain(NEUTRAL, sample_rate=SAMPLE_RATE, smoothing_ms=smoothing_ms)
        out = [chain.process(x[:22050])]
        chain.set_settings(NEUTRAL.replace(limiter=LimiterParams(gain_db=12.0, target_lufs=None)))
        out += [chain.process(x[i : i + 512]) for i in range(22050, len(x), 512)]
        return float(np.abs(np.diff(np.concatenate(out)[:, 0])).max())

    settled_slope = 0.05 * 10 ** (12 / 20) * 2 * np.pi * 100 / SAMPLE_RATE
    assert largest_step(20.0) <= settled_slope * 1.01
    assert largest_step(0.0) > settled_slope * 5


def test_the_chain_rejects_bad_blocks_and_channel_counts():
    chain = MasterChain(sample_rate=SAMPLE_RATE)
    block = np.zeros((64, 2))
    block[3, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        chain.process(block)
    with pytest.raises(DataError, match=r"expected shape \(frames, 2\)"):
        chain.process(np.zeros((64, 1)))
    with pytest.raises(ConfigError, match="mono or stereo"):
        MasterChain(sample_rate=SAMPLE_RATE, channels=6)


def test_mono_audio_is_mastered_as_mono():
    chain = MasterChain(preset("wide"), sample_rate=48000, channels=1)
    out = chain.fit_process(programme(3.0, sample_rate=48000)[:, 0])
    assert out.shape == (144000, 1)
    assert integrated_lufs(out, 48000) == pytest.approx(-14.0, abs=LOUDNESS_TOLERANCE_LU)


def test_chains_on_two_threads_give_the_same_blocks_as_one_after_the_other():
    """The kernels release the GIL; two tracks processed at once must not disturb each other."""
    tracks = [programme(1.0, seed=seed) for seed in (11, 12)]
    expected = [
        MasterChain(preset("loud"), sample_rate=SAMPLE_RATE).process_offline(t) for t in tracks
    ]
    results: list[np.ndarray | None] = [None, None]

    def run(index: int) -> None:
        chain = MasterChain(preset("loud"), sample_rate=SAMPLE_RATE)
        results[index] = stream(chain, tracks[index], 512)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


# --- the native flag and its fallbacks ----------------------------------------------------------


def test_the_flag_picks_the_dsp_path(monkeypatch):
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "0")
    assert not MasterChain(sample_rate=SAMPLE_RATE).native
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "1")
    assert MasterChain(sample_rate=SAMPLE_RATE).native
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "maybe")
    with pytest.raises(ConfigError, match="ZEN_AUDIO_NATIVE: expected 1 or 0"):
        MasterChain(sample_rate=SAMPLE_RATE)


def test_without_numba_the_chain_runs_the_reference_path_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(_native, "_kernels", None)
    monkeypatch.setattr(_native, "_import_error", None)
    monkeypatch.setitem(sys.modules, "zen.audio.pillars._kernels", None)  # import fails
    monkeypatch.delattr(zen.audio.pillars, "_kernels", raising=False)
    with caplog.at_level(logging.INFO, logger="zen.audio._native"):
        chain = MasterChain(preset("warm"), sample_rate=SAMPLE_RATE)
        MasterChain(preset("warm"), sample_rate=SAMPLE_RATE)
    assert not chain.native
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "numba unavailable" in m]) == 1
    with pytest.raises(BackendUnavailable, match="native=True"):
        MasterChain(sample_rate=SAMPLE_RATE, native=True)


def test_a_failing_kernel_falls_back_to_the_reference_for_the_rest_of_the_stream(
    monkeypatch, caplog
):
    audio = programme(0.5)
    expected = MasterChain(preset("loud"), sample_rate=SAMPLE_RATE, native=False).process(audio)
    chain = MasterChain(preset("loud"), sample_rate=SAMPLE_RATE, native=True)
    kernels = _native.load_kernels()

    def broken(*args: object) -> None:
        raise RuntimeError("simulated kernel failure")

    monkeypatch.setattr(kernels, "compressor", broken)
    with caplog.at_level(logging.WARNING, logger="zen.audio._native"):
        got = chain.process(audio)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert not chain.compressor.native and chain.eq.native
    assert any("Compressor: the numba kernel failed" in r.getMessage() for r in caplog.records)


# --- presets and the assistant's seam -----------------------------------------------------------


def test_presets_round_trip_through_json_dicts():
    import json

    for settings in PRESETS.values():
        again = ChainSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
        assert again == settings
    assert ChainSettings() == PRESETS["transparent"].replace(name="custom")
    with pytest.raises(ConfigError, match="preset: unknown value 'shiny'"):
        preset("shiny")
    with pytest.raises(ConfigError, match="unknown keys"):
        ChainSettings.from_dict({"reverb": {}})


def test_corrections_move_the_settings_within_their_limits():
    base = preset("transparent")
    corrections = Corrections(
        eq_tilt_db_per_octave=1.0,
        band_gains_db=(2, 0, -1, 0, 9),
        compression_amount=0.5,
        width=1.2,
        loudness_gap_db=2.0,
    )
    moved = apply_corrections(base, corrections)
    assert (moved.eq.low_shelf_hz, moved.eq.low_shelf_gain_db) == (250.0, -2.0)
    assert (moved.eq.high_shelf_hz, moved.eq.high_shelf_gain_db) == (4000.0, 2.0)
    assert [(b.freq_hz, b.gain_db) for b in moved.eq.bands] == [
        (ASSISTANT_BANDS_HZ[0], 2.0),
        (ASSISTANT_BANDS_HZ[2], -1.0),
        (ASSISTANT_BANDS_HZ[4], 6.0),
    ]
    # Half the compression (-6 dB) and a mix 2 dB quieter than the reference (-2 dB more).
    assert moved.compressor.threshold_db == base.compressor.threshold_db - 8.0
    assert moved.compressor.ratio == base.compressor.ratio + 1.0
    assert moved.stereo.width == pytest.approx(1.2)
    assert moved.limiter.target_lufs == base.limiter.target_lufs  # the user's target stays
    assert apply_corrections(base, Corrections()).replace(name=base.name) == base
    with pytest.raises(ConfigError, match="band_gains_db: expected 5 gains"):
        Corrections(band_gains_db=(1.0,))
    with pytest.raises(ConfigError, match="finite"):
        Corrections(width=float("nan"))


def test_asking_for_the_assistant_when_it_is_not_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "zen.audio.assistant", None)  # not importable
    with pytest.raises(BackendUnavailable, match="--no-assistant"):
        load_assistant()


def test_the_assistant_plugs_in_through_suggest_corrections(monkeypatch):
    module = types.ModuleType("zen.audio.assistant")
    module.suggest_corrections = lambda audio, sample_rate: Corrections(width=0.5)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zen.audio.assistant", module)
    suggest = load_assistant()
    assert suggest(np.zeros((10, 2)), SAMPLE_RATE) == Corrections(width=0.5)
    monkeypatch.delattr(module, "suggest_corrections")
    with pytest.raises(BackendUnavailable, match="no suggest_corrections"):
        load_assistant()
