"""The mastering assistant: features, degradations, the shipped model, inference and its seam."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, read_music

from zen.audio.assistant import Assistant, Suggestion, suggest_corrections
from zen.audio.assistant.abstention import band_gain_trust
from zen.audio.assistant.degradations import Degradation, DegradationSampler, expand
from zen.audio.assistant.features import (
    FeatureConfig,
    as_stereo,
    band_matrix,
    window_features,
    window_starts,
)
from zen.audio.assistant.model import (
    CONFIG_FILE,
    INT8_FILE,
    TARGET_NAMES,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    AssistantWeights,
    corrections_to_targets,
    targets_to_values,
    values_to_corrections,
)
from zen.audio.pillars import Equalizer
from zen.audio.presets import ASSISTANT_BANDS_HZ, Corrections, load_assistant
from zen.errors import ConfigError, DataError

CONFIG = FeatureConfig()


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.load(backend="torch", cache_entries=16)


@pytest.fixture(scope="module")
def int8_assistant() -> Assistant:
    pytest.importorskip("onnxruntime")
    return Assistant.load(backend="int8", cache_entries=0)


# ---------------------------------------------------------------------------------- features
@pytest.mark.parametrize("n_fft", [256, 512, 1024, 2048])
def test_features_have_the_documented_shape_dtype_and_names(n_fft: int) -> None:
    config = FeatureConfig(n_fft=n_fft)
    features = window_features(as_stereo(programme(3.0)), config)
    assert features.shape == (config.n_features,) == (len(config.feature_names()),)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


def test_band_matrix_rows_are_normalised_and_rise_in_frequency() -> None:
    matrix = band_matrix(1024, SAMPLE_RATE, 32).toarray()
    assert matrix.shape == (32, 513)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-6)
    centres = (matrix * np.arange(513)).sum(axis=1)
    # The lowest bands are narrower than a bin at this FFT size and share bins; none is empty.
    assert np.all(np.diff(centres) >= 0) and np.all(np.diff(centres[12:]) > 0)


def test_mono_input_has_a_silent_side_and_full_correlation() -> None:
    features = window_features(as_stereo(programme(3.0)[:, 0]), CONFIG)
    names = CONFIG.feature_names()
    side = features[[i for i, n in enumerate(names) if n.startswith("side_minus_mid")]]
    assert side.max() < -60.0
    assert features[names.index("correlation")] == pytest.approx(1.0, abs=1e-6)


def test_features_see_a_level_change_in_level_features_only() -> None:
    audio = as_stereo(programme(3.0))
    quiet, loud = window_features(audio, CONFIG), window_features(audio * 2.0, CONFIG)
    names = CONFIG.feature_names()
    for name in ("mid_rms_db", "rms_db", "peak_db"):
        assert loud[names.index(name)] - quiet[names.index(name)] == pytest.approx(6.02, abs=0.01)
    balance = slice(0, CONFIG.n_bands)
    np.testing.assert_allclose(loud[balance], quiet[balance], atol=1e-3)


def test_integer_pcm_is_scaled_to_full_scale() -> None:
    pcm = (programme(2.0) * 32767).astype(np.int16)
    np.testing.assert_allclose(as_stereo(pcm), programme(2.0), atol=1e-4)


@pytest.mark.parametrize(
    "bad", [np.zeros((100, 3)), np.array([[np.nan, 0.0]] * 10), np.array([["a", "b"]])]
)
def test_as_stereo_rejects_unusable_audio(bad: np.ndarray) -> None:
    with pytest.raises(DataError):
        as_stereo(bad)


def test_window_starts_cover_the_audio_evenly() -> None:
    assert window_starts(30, 10, 3) == [0, 10, 20]
    assert window_starts(20, 10, 6) == [0, 5, 10]  # no more windows than half-overlaps allow
    assert window_starts(12, 10, 6) == [0]
    assert window_starts(5, 10, 6) == [0]


# ---------------------------------------------------------------------------------- degradations
def test_eq_degradation_is_undone_exactly_by_its_corrections() -> None:
    """Same filters to spoil and to correct: RBJ shelves and peaks of -g undo those of +g."""
    audio = programme(2.0)
    spoil = Degradation(tilt_db_per_octave=2.0, band_gains_db=(3.0, 0.0, -4.0, 0.0, 5.0))
    fix = spoil.corrections()
    undo = Degradation(
        tilt_db_per_octave=fix.eq_tilt_db_per_octave, band_gains_db=fix.band_gains_db
    )
    options = {"sample_rate": SAMPLE_RATE, "channels": 2, "smoothing_ms": 0.0}
    spoiled = Equalizer(spoil.eq_params(), **options).process(audio)
    restored = Equalizer(undo.eq_params(), **options).process(spoiled)
    assert np.max(np.abs(spoiled - audio)) > 0.01
    np.testing.assert_allclose(restored, audio, atol=1e-10)


def test_corrections_invert_every_parameter() -> None:
    spoil = Degradation(1.5, (1.0, -2.0, 0.0, 3.0, -6.0), compression=0.4, width=0.5, level_db=-3)
    fix = spoil.corrections()
    assert fix == Corrections(-1.5, (-1.0, 2.0, -0.0, -3.0, 6.0), -0.4, 2.0, 3.0)


def test_degradations_keep_the_rms_and_the_level_error_sets_it() -> None:
    audio = programme(3.0)
    rms = np.sqrt(np.mean(audio**2))
    for spoil in (Degradation(tilt_db_per_octave=3.0), Degradation(compression=0.8),
                  Degradation(compression=-0.8), Degradation(width=2.0)):  # fmt: skip
        assert np.sqrt(np.mean(spoil.apply(audio, SAMPLE_RATE) ** 2)) == pytest.approx(rms)
    louder = Degradation(tilt_db_per_octave=1.0, level_db=4.0).apply(audio, SAMPLE_RATE)
    assert 20 * np.log10(np.sqrt(np.mean(louder**2)) / rms) == pytest.approx(4.0)


def test_width_degradation_scales_the_side() -> None:
    audio = programme(2.0)
    narrow = Degradation(width=0.5).apply(audio, SAMPLE_RATE) / 1.0
    side_before = audio[:, 0] - audio[:, 1]
    mid_before = audio[:, 0] + audio[:, 1]
    side_after, mid_after = narrow[:, 0] - narrow[:, 1], narrow[:, 0] + narrow[:, 1]
    ratio_before = np.std(side_before) / np.std(mid_before)
    assert np.std(side_after) / np.std(mid_after) == pytest.approx(0.5 * ratio_before, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_compression_narrows_and_expansion_widens_the_spread_of_short_term_levels(
    seed: int,
) -> None:
    audio = programme(3.0, seed=seed)

    def spread_db(x: np.ndarray) -> float:  # std of 46 ms block levels
        blocks = x[: len(x) // 2048 * 2048].reshape(-1, 4096)
        return float(np.std(10 * np.log10(np.mean(blocks**2, axis=1))))

    assert spread_db(Degradation(compression=1.0).apply(audio, SAMPLE_RATE)) < 0.7 * spread_db(
        audio
    )
    assert spread_db(expand(audio, 1.0, SAMPLE_RATE)) > 1.5 * spread_db(audio)


def test_sampler_stays_in_the_chain_ranges_and_is_seeded() -> None:
    sampler = DegradationSampler()
    first = [sampler(np.random.default_rng(3)) for _ in range(1)]
    again = [sampler(np.random.default_rng(3)) for _ in range(1)]
    assert first == again
    rng = np.random.default_rng(0)
    for spoil in (sampler(rng) for _ in range(300)):
        assert abs(spoil.tilt_db_per_octave) <= 3 and max(map(abs, spoil.band_gains_db)) <= 6
        assert 0.5 <= spoil.width <= 2.0 and abs(spoil.level_db) <= 6


def test_target_vector_round_trips_to_corrections() -> None:
    fix = Corrections(-1.25, (1.0, -2.0, 0.5, 3.0, -6.0), 0.3, 1.5, -2.0)
    back = values_to_corrections(targets_to_values(corrections_to_targets(fix)))
    assert back.eq_tilt_db_per_octave == pytest.approx(-1.25)
    assert back.band_gains_db == pytest.approx(fix.band_gains_db)
    assert back.width == pytest.approx(1.5, abs=1e-3)
    assert (back.compression_amount, back.loudness_gap_db) == pytest.approx((0.3, -2.0))


# ---------------------------------------------------------------------------------- shipped model
def test_shipped_weights_are_small_and_belong_to_their_config() -> None:
    assert (WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size < 1_000_000
    weights = AssistantWeights.load()
    assert weights.size_bytes < 1_000_000
    assert weights.network.out_features == len(TARGET_NAMES)
    assert weights.features.n_fft in (256, 512, 1024, 2048)
    report = weights.config["training_report"]
    assert report["chosen_n_fft"] == weights.features.n_fft


def test_shipped_int8_copy_is_at_least_3_5_times_smaller() -> None:
    weights = AssistantWeights.load()
    assert weights.size_bytes / (WEIGHTS_DIR / INT8_FILE).stat().st_size >= 3.5


def test_weights_with_a_foreign_checksum_are_refused(tmp_path: Path) -> None:
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        (tmp_path / name).write_bytes((WEIGHTS_DIR / name).read_bytes())
    (tmp_path / WEIGHTS_FILE).write_bytes((WEIGHTS_DIR / WEIGHTS_FILE).read_bytes() + b" ")
    with pytest.raises(DataError, match="checksum"):
        AssistantWeights.load(tmp_path)


def test_loading_and_analysing_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the assistant opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = Assistant.load(backend="auto")
    assert isinstance(fresh.analyse(programme(3.0), SAMPLE_RATE), Corrections)


# ---------------------------------------------------------------------------------- inference
def test_analyse_returns_the_chains_corrections(assistant: Assistant) -> None:
    suggestion = assistant.analyse(programme(4.0), SAMPLE_RATE)
    assert Suggestion is Corrections and isinstance(suggestion, Corrections)
    assert suggestion.band_gains_db == ()  # withheld: see the abstention tests below
    assert abs(suggestion.eq_tilt_db_per_octave) <= 3 and 0.5 <= suggestion.width <= 2
    assert -1 <= suggestion.compression_amount <= 1 and abs(suggestion.loudness_gap_db) <= 6


def test_analyse_averages_the_batched_windows(assistant: Assistant) -> None:
    audio = programme(20.0, seed=4)
    values = assistant.window_values(audio, SAMPLE_RATE)
    assert values.shape == (assistant.max_windows, len(TARGET_NAMES))
    expected = values_to_corrections(values.mean(axis=0))
    expected = dataclasses.replace(
        expected, band_gains_db=(), abstentions=(assistant.band_gains.reason,)
    )
    assert assistant.analyse(audio, SAMPLE_RATE) == expected
    # each window alone gives the row the batch gave it
    one = assistant.window_values(audio[: 3 * SAMPLE_RATE], SAMPLE_RATE)
    np.testing.assert_allclose(one[0], values[0], atol=1e-4)


def test_cache_hits_on_the_same_audio_and_misses_on_new_audio() -> None:
    assistant = Assistant.load(backend="torch", cache_entries=4, warm_up=False)
    audio = programme(5.0, seed=1)
    first = assistant.analyse(audio, SAMPLE_RATE)
    assert assistant.analyse(audio.copy(), SAMPLE_RATE) == first
    assistant.analyse(audio * 0.5, SAMPLE_RATE)
    assistant.analyse(audio, 48000)  # same samples at another rate: another analysis
    stats = assistant.cache_stats()
    assert (stats.hits, stats.misses) == (1, 3)


def test_a_disabled_cache_always_analyses() -> None:
    assistant = Assistant.load(backend="torch", cache_entries=0, warm_up=False)
    audio = programme(3.0)
    assistant.analyse(audio, SAMPLE_RATE)
    assistant.analyse(audio, SAMPLE_RATE)
    assert assistant.cache_stats().hits == 0


def test_mono_audio_gets_no_width_correction(assistant: Assistant) -> None:
    assert assistant.analyse(programme(3.0)[:, 0], SAMPLE_RATE).width == 1.0


@pytest.mark.parametrize(
    ("audio", "rate", "error"),
    [
        (np.zeros((SAMPLE_RATE * 3, 2)), SAMPLE_RATE, DataError),  # silence
        (np.ones((SAMPLE_RATE // 2, 2)) * 0.1, SAMPLE_RATE, DataError),  # too short
        (np.ones((SAMPLE_RATE * 2, 4)) * 0.1, SAMPLE_RATE, DataError),  # four channels
        (np.ones((SAMPLE_RATE * 2, 2)) * 0.1, 44100.0, ConfigError),  # float rate
        (np.ones((SAMPLE_RATE * 2, 2)) * 0.1, 100, ConfigError),  # absurd rate
    ],
)
def test_analyse_rejects_unusable_input(
    assistant: Assistant, audio: np.ndarray, rate: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        assistant.analyse(audio, rate)  # type: ignore[arg-type]


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="backend"):
        Assistant(AssistantWeights.load(), backend="tpu")


def test_int8_agrees_with_fp32(assistant: Assistant, int8_assistant: Assistant) -> None:
    """Per window: within 0.15 dB/oct, 0.4 dB per band, 0.05 compression, 4 % width, 0.4 dB."""
    audio = programme(12.0, seed=2)
    fp32 = assistant.window_values(audio, SAMPLE_RATE)
    int8 = int8_assistant.window_values(audio, SAMPLE_RATE)
    tolerance = np.array([0.15, *[0.4] * 5, 0.05, 0.06, 0.4])
    assert np.all(np.abs(fp32 - int8) <= tolerance)


def test_auto_backend_is_int8_on_a_cpu_with_onnxruntime() -> None:
    pytest.importorskip("onnxruntime")
    assert Assistant.load(backend="auto", device="cpu", warm_up=False).backend == "int8"


# ---------------------------------------------------------------------------------- recovery
def _predicted(assistant: Assistant, audio: np.ndarray, rate: int) -> np.ndarray:
    return assistant.window_values(audio, rate).mean(axis=0)


def _recovery(assistant: Assistant, audio: np.ndarray, rate: int, spoil: Degradation) -> np.ndarray:
    """Predicted correction of the spoiled audio minus that of the original: the part of the
    prediction caused by the known degradation (the original's own flaws cancel)."""
    spoiled = spoil.apply(audio, rate)
    return _predicted(assistant, spoiled, rate) - _predicted(assistant, audio, rate)


# What the shipped model recovers of a known degradation of held-out music, as the part of
# its prediction that the degradation causes. Stated tolerance: a level error or a tilt is
# answered in the right direction with 40 % to 120 % of its size (measured: 50-80 % for
# level, 60-75 % for tilt, on the two shared excerpts); a widened image is narrowed and an
# expanded one compressed by at least a clear margin. Band boosts and over-compression are not
# recovered from 3 s windows of this corpus (see the benchmark); for those the model abstains,
# which the last test pins down.
@pytest.mark.parametrize(
    ("spoil", "index", "expected"),
    [
        (Degradation(level_db=-5.0), -1, 5.0),
        (Degradation(level_db=4.0), -1, -4.0),
        (Degradation(tilt_db_per_octave=2.5), 0, -2.5),
        (Degradation(tilt_db_per_octave=-2.5), 0, 2.5),
    ],
)
def test_level_errors_and_tilts_are_recovered_on_held_out_music(
    assistant: Assistant, music: tuple[np.ndarray, int], spoil: Degradation, index: int,
    expected: float,
) -> None:  # fmt: skip
    """The shared Drascula excerpts are held-out test tracks (never trained on)."""
    audio, rate = music
    change = _recovery(assistant, audio, rate, spoil)[index]
    assert 0.4 * abs(expected) <= np.sign(expected) * change <= 1.2 * abs(expected)


def test_a_widened_image_is_narrowed_on_held_out_music(
    assistant: Assistant, music: tuple[np.ndarray, int]
) -> None:
    audio, rate = music
    assert _recovery(assistant, audio, rate, Degradation(width=2.0))[-2] < -0.2


def test_an_expanded_mix_gets_compression_on_held_out_music(
    assistant: Assistant, music: tuple[np.ndarray, int]
) -> None:
    audio, rate = music
    assert _recovery(assistant, audio, rate, Degradation(compression=-1.0))[6] > 0.15


def test_band_gains_stay_small_on_clean_held_out_music(
    assistant: Assistant, music: tuple[np.ndarray, int]
) -> None:
    """Unsure about a band, the L1-trained network itself suggests little rather than a random
    EQ (its raw outputs; the assistant withholds them anyway, see below)."""
    audio, rate = music
    bands = assistant.window_values(audio, rate).mean(axis=0)[1 : 1 + len(ASSISTANT_BANDS_HZ)]
    assert np.abs(bands).max() < 1.0


# ------------------------------------------------------------------------------- abstention
def _weights_with_report(tmp_path: Path, **changes: object) -> Path:
    """A copy of the shipped weights whose training report has ``changes``."""
    for name in (WEIGHTS_FILE, INT8_FILE):
        (tmp_path / name).write_bytes((WEIGHTS_DIR / name).read_bytes())
    config = json.loads((WEIGHTS_DIR / CONFIG_FILE).read_text())
    config["training_report"].update(changes)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    return tmp_path


def _band_errors(model_mae: float, constant_mae: float) -> dict[str, object]:
    names = [f"band_{freq:g}hz" for freq in ASSISTANT_BANDS_HZ]
    return {
        "examples": 100,
        "overall": dict.fromkeys(names, model_mae),
        "baseline": dict.fromkeys(names, constant_mae),
    }


def test_the_shipped_band_gains_are_withheld_and_the_reason_is_given(
    assistant: Assistant,
) -> None:
    """Their recorded held-out error (0.904 dB) is no better than a constant guess (0.904 dB)."""
    report = assistant.weights.config["training_report"]["evaluation"]["fp32"]
    bands = [f"band_{freq:g}hz" for freq in ASSISTANT_BANDS_HZ]
    model = np.mean([report["overall"][name] for name in bands])
    constant = np.mean([report["baseline"][name] for name in bands])
    assert model > 0.85 * constant  # what the decision rests on
    suggestion = assistant.analyse(programme(4.0, seed=2), SAMPLE_RATE)
    assert suggestion.band_gains_db == ()
    assert (
        len(suggestion.abstentions) == 1 and "band gains not applied" in suggestion.abstentions[0]
    )
    assert f"{constant:.2f} dB" in suggestion.abstentions[0]
    # the other corrections are still made
    assert suggestion.eq_tilt_db_per_octave != 0.0 and suggestion.width != 1.0


def test_retrained_weights_that_learn_the_bands_have_them_applied(tmp_path: Path) -> None:
    """The decision reads the weights' recorded validation errors: no code change needed."""
    directory = _weights_with_report(tmp_path, validation=_band_errors(0.5, 0.9))
    learned = Assistant.load(directory, backend="torch", warm_up=False)
    suggestion = learned.analyse(programme(4.0, seed=2), SAMPLE_RATE)
    assert learned.band_gains.trusted and learned.band_gains.split == "validation"
    assert len(suggestion.band_gains_db) == len(ASSISTANT_BANDS_HZ)
    assert suggestion.abstentions == ()


@pytest.mark.parametrize(
    ("report", "trusted", "split"),
    [
        ({"validation": _band_errors(0.76, 0.9)}, True, "validation"),  # 15.6 % better
        ({"validation": _band_errors(0.77, 0.9)}, False, "validation"),  # 14.4 % better
        # validation decides even when the test split says otherwise
        (
            {"validation": _band_errors(0.9, 0.9), "evaluation": {"fp32": _band_errors(0.1, 0.9)}},
            False,
            "validation",
        ),
        ({"evaluation": {"fp32": _band_errors(0.5, 0.9)}}, True, "test"),  # older weights
        ({}, False, "none"),
        ({"validation": {"overall": {}, "baseline": {}}}, False, "validation"),
    ],
)
def test_band_gains_are_trusted_only_15_percent_below_a_constant_guess(
    report: dict[str, object], trusted: bool, split: str
) -> None:
    decision = band_gain_trust(report)
    assert (decision.trusted, decision.split) == (trusted, split)
    assert decision.reason.startswith("band gains " + ("applied" if trusted else "not applied"))


@pytest.mark.slow
def test_every_held_out_style_beats_the_no_correction_baseline_on_average() -> None:
    """From the training report: on each held-out track, the mean scaled error over the nine
    outputs is below that of always suggesting no correction."""
    report = AssistantWeights.load().config["training_report"]["evaluation"]["fp32"]
    for track, entry in report["per_track"].items():
        assert entry["mean_scaled"] < entry["baseline_mean_scaled"], track


# ---------------------------------------------------------------------------------- the seam
def test_the_chain_finds_the_assistant_through_its_seam() -> None:
    suggest = load_assistant()
    assert suggest is suggest_corrections
    assert isinstance(suggest(programme(3.0), SAMPLE_RATE), Corrections)


def test_a_quiet_mix_moves_the_compressor_not_the_loudness_target(assistant: Assistant) -> None:
    """A quiet mix has a large level error; the chain meets the loudness target by measuring,
    so the gap lowers the compressor's thresholds instead of moving the target."""
    from zen.audio.presets import apply_corrections, preset

    quiet = programme(4.0) * 0.05
    suggestion = suggest_corrections(quiet, SAMPLE_RATE)
    assert suggestion.loudness_gap_db > 3.0
    base = preset("transparent")
    moved = apply_corrections(base, suggestion)
    assert moved.limiter.target_lufs == base.limiter.target_lufs
    assert moved.compressor.threshold_db < base.compressor.threshold_db - 3.0


def test_master_file_applies_the_assistants_corrections(tmp_path: Path) -> None:
    soundfile = pytest.importorskip("soundfile")
    from zen.audio import master_file

    source = tmp_path / "mix.wav"
    soundfile.write(str(source), programme(4.0), SAMPLE_RATE, subtype="FLOAT")
    report = master_file(source, tmp_path / "master.wav", assistant=True, write_report=False)
    corrections = report["assistant"]["corrections"]
    assert set(corrections) >= {"eq_tilt_db_per_octave", "band_gains_db", "width"}
    assert report["chain"]["preset"].endswith("+assistant")
    # withheld band gains leave the preset's bands alone, and the report says why
    assert list(corrections["band_gains_db"]) == []
    assert list(report["chain"]["settings"]["eq"]["bands"]) == []
    assert "band gains not applied" in corrections["abstentions"][0]


def test_shared_music_reads_for_these_tests(shared_data: Path) -> None:
    audio, rate = read_music(shared_data / "audio" / "drascula-track1.flac")
    assert audio.shape[1] == 2 and rate == SAMPLE_RATE
