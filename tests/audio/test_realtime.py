"""The real-time engine: mixing equals the offline sum, glides without clicks, outputs and their
pacing, xrun counting, the assistant off the block path, streaming, traces and bad input.

Logic runs on the scheduler's virtual clock; the few real-clock runs check properties that load
cannot break (a session never outruns the clock, a sleeping analysis never delays a block).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, sine
from hypothesis import given, settings
from hypothesis import strategies as st

from zen.audio import ChainSettings, Corrections, MasterChain, apply_corrections
from zen.audio.pillars import (
    CompressorParams,
    EQParams,
    LimiterParams,
    PeakBand,
    SaturatorParams,
    StereoParams,
)
from zen.audio.realtime import (
    ArraySource,
    DeviceOutput,
    FileOutput,
    FileSource,
    Mixer,
    MixHistory,
    NullOutput,
    Session,
    SessionConfig,
    StreamFormat,
    Track,
    pan_gains,
    resolve_output,
)
from zen.audio.realtime import analysis as analysis_module
from zen.errors import BackendUnavailable, ConfigError, DataError
from zen.runtime import VirtualClock

pytest.importorskip("numba")
soundfile = pytest.importorskip("soundfile")

NEUTRAL = ChainSettings(
    eq=EQParams(),
    compressor=CompressorParams(ratio=1.0),
    saturator=SaturatorParams(mix=0.0),
    stereo=StereoParams(width=1.0),
    limiter=LimiterParams(gain_db=0.0, target_lufs=None),
    name="neutral",
)
# Strips whose latencies differ (oversampled saturator, look-ahead limiter, none), so the
# mixer's delay compensation matters.
COLOUR = NEUTRAL.replace(saturator=SaturatorParams(drive_db=9.0, mix=0.5, oversampling=4))
WARM = NEUTRAL.replace(
    eq=EQParams(low_shelf_gain_db=3.0, bands=(PeakBand(900.0, -4.0, 1.5),)),
    compressor=CompressorParams(threshold_db=-24.0, ratio=3.0, attack_ms=5.0, makeup_db=2.0),
)
MASTER = NEUTRAL.replace(
    eq=EQParams(high_pass_hz=30.0, high_shelf_gain_db=1.5),
    compressor=CompressorParams(threshold_db=-20.0, ratio=2.0),
    stereo=StereoParams(width=1.2, mono_below_hz=120.0),
    limiter=LimiterParams(gain_db=3.0, target_lufs=None),
)


def stage_chain(settings: ChainSettings, pillars: tuple[str, ...], channels: int) -> list:
    chain = MasterChain(settings, sample_rate=SAMPLE_RATE, channels=channels)
    return [getattr(chain, pillar) for pillar in pillars]


def offline_mix(specs: list[dict], master: ChainSettings, frames: int) -> np.ndarray:
    """The mix computed on whole signals, independently of the mixer: each track through fresh
    stages at once, delayed to the slowest strip, gained and panned, summed, mastered."""
    processed, latencies = [], []
    for spec in specs:
        audio = spec["audio"] if spec["audio"].ndim == 2 else spec["audio"][:, None]
        padded = np.zeros((frames, audio.shape[1]))
        padded[: min(len(audio), frames)] = audio[:frames]
        stages = []
        if spec.get("settings") is not None:
            stages = stage_chain(spec["settings"], spec["pillars"], audio.shape[1])
        for stage in stages:
            padded = stage.process(padded)
        processed.append(padded)
        latencies.append(sum(stage.latency_samples for stage in stages))
    bus = np.zeros((frames, 2))
    for spec, signal, latency in zip(specs, processed, latencies, strict=True):
        delay = max(latencies) - latency
        delayed = np.concatenate([np.zeros((delay, signal.shape[1])), signal])[:frames]
        gain = 10 ** (spec.get("gain_db", 0.0) / 20)
        left, right = pan_gains(spec.get("pan", 0.0), signal.shape[1])
        bus[:, 0] += gain * left * delayed[:, 0]
        bus[:, 1] += gain * right * delayed[:, -1]
    return MasterChain(master, sample_rate=SAMPLE_RATE, channels=2).process(bus)


def track_specs(seconds: float = 1.0) -> list[dict]:
    return [
        {"audio": programme(seconds, seed=1), "settings": WARM, "pillars": ("eq", "compressor"),
         "gain_db": -3.0, "pan": 0.3},
        {"audio": sine(220.0, seconds * 0.7, amplitude=0.3)[:, 0], "settings": COLOUR,
         "pillars": ("eq", "saturator"), "gain_db": 2.0, "pan": -0.6},
        {"audio": programme(seconds * 0.5, seed=2), "settings": None, "pillars": (),
         "gain_db": -6.0, "pan": 0.0},
        {"audio": sine(1000.0, seconds, amplitude=0.2), "settings": NEUTRAL,
         "pillars": ("limiter",), "gain_db": 0.0, "pan": 1.0},
    ]  # fmt: skip


def make_tracks(specs: list[dict]) -> list[Track]:
    return [
        Track(
            ArraySource(spec["audio"], SAMPLE_RATE, name=f"t{index}"),
            gain_db=spec.get("gain_db", 0.0),
            pan=spec.get("pan", 0.0),
            settings=spec.get("settings"),
            pillars=spec.get("pillars", ()),
        )
        for index, spec in enumerate(specs)
    ]


def stream_blocks(mixer: Mixer, blocks: int) -> np.ndarray:
    return np.concatenate([mixer.process_block().copy() for _ in range(blocks)])


# -- mixing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("block_size", [64, 512])
def test_mixing_n_tracks_equals_the_offline_sum_through_the_same_chains(block_size: int) -> None:
    specs = track_specs(0.5)
    mixer = Mixer(make_tracks(specs), sample_rate=SAMPLE_RATE, block_size=block_size,
                  master=MASTER)  # fmt: skip
    blocks = -(-(SAMPLE_RATE // 2 + mixer.latency_samples) // block_size)
    streamed = stream_blocks(mixer, blocks)
    expected = offline_mix(specs, MASTER, len(streamed))
    assert mixer.bus_latency_samples > 0  # the strips' latencies differ: compensation is used
    np.testing.assert_allclose(streamed, expected, atol=1e-9, rtol=0)
    assert np.abs(streamed).max() > 0.05


def test_mixing_real_music_equals_the_offline_sum(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    if rate != SAMPLE_RATE:
        pytest.skip("the reference helpers assume 44.1 kHz")
    part = audio[: rate * 2]
    specs = [
        {"audio": part, "settings": WARM, "pillars": ("eq", "compressor"), "pan": -0.2},
        {"audio": part[::-1].copy(), "settings": COLOUR, "pillars": ("saturator",), "pan": 0.4},
    ]
    mixer = Mixer(make_tracks(specs), sample_rate=rate, block_size=512, master=MASTER)
    streamed = stream_blocks(mixer, len(part) // 512)
    np.testing.assert_allclose(
        streamed, offline_mix(specs, MASTER, len(streamed)), atol=1e-9, rtol=0
    )


def test_a_track_at_another_rate_is_resampled_once_at_load_and_logged(caplog) -> None:
    low = sine(440.0, 0.5, sample_rate=22050, channels=2)
    tracks = [
        Track(ArraySource(sine(440.0, 0.5, channels=2), SAMPLE_RATE, name="44k")),
        Track(ArraySource(low, 22050, name="22k")),
    ]
    with caplog.at_level(logging.INFO, logger="zen.audio.realtime"):
        mixer = Mixer(tracks, sample_rate=SAMPLE_RATE, block_size=256)
    assert [r.getMessage() for r in caplog.records if "resampled" in r.getMessage()] == [
        "22k: resampled from 22050 Hz to the session's 44100 Hz at load"
    ]
    assert tracks[1].source.frames == SAMPLE_RATE // 2
    # The resampled tone is the same tone: its spectrum peaks at 440 Hz.
    resampled = tracks[1].source.audio[:, 0]
    peak_hz = np.argmax(np.abs(np.fft.rfft(resampled))) * SAMPLE_RATE / len(resampled)
    assert abs(peak_hz - 440.0) < 3.0
    assert mixer.frames == SAMPLE_RATE // 2


def test_pan_laws_keep_power_for_mono_and_unity_in_the_centre_for_stereo() -> None:
    for pan in np.linspace(-1, 1, 9):
        left, right = pan_gains(float(pan), 1)
        assert left**2 + right**2 == pytest.approx(1.0)
    assert pan_gains(0.0, 2) == (1.0, 1.0)
    assert pan_gains(1.0, 2)[0] == pytest.approx(0.0, abs=1e-12)
    assert pan_gains(-0.5, 2) == (1.0, pytest.approx(np.cos(np.pi / 4)))


# -- parameter changes glide -----------------------------------------------------------------
TONE_HZ = 100.0  # slow enough that a jump in gain dwarfs the sine's own slope
CHANGE_BLOCK = 20  # the change lands where the tone is near its crest (sin ~ 0.98)


def run_change(change, *, smoothing_ms: float, stereo_tone: bool = False) -> np.ndarray:
    tone = sine(TONE_HZ, 2.0, amplitude=0.25, channels=2)
    if stereo_tone:
        tone[:, 1] *= 0.5  # a side component for the width to act on
    tracks = [
        Track(ArraySource(tone, SAMPLE_RATE, name="tone"), settings=NEUTRAL),
        Track(ArraySource(np.zeros(SAMPLE_RATE), SAMPLE_RATE, name="silence")),
    ]
    mixer = Mixer(tracks, sample_rate=SAMPLE_RATE, block_size=512, master=NEUTRAL,
                  smoothing_ms=smoothing_ms)  # fmt: skip
    before = stream_blocks(mixer, CHANGE_BLOCK)
    change(mixer)
    after = stream_blocks(mixer, 40)
    return np.concatenate([before, after])


def master(**pillars):
    return lambda mixer: mixer.set_master(NEUTRAL.replace(**pillars))


def track(name: str = "tone", **changes):
    return lambda mixer: mixer.set_track(name, **changes)


CHANGES = {
    "track gain +12 dB": (track(gain_db=12.0), True),
    "track pan hard right": (track(pan=1.0), True),
    "track mute": (track(mute=True), True),
    "solo another track": (track(name="silence", solo=True), True),
    "track EQ band +12 dB": (
        track(settings=NEUTRAL.replace(eq=EQParams(bands=(PeakBand(TONE_HZ, 12.0),)))),
        False,
    ),
    "master EQ shelf +9 dB": (master(eq=EQParams(low_shelf_hz=400.0, low_shelf_gain_db=9.0)),
                              False),
    "master compressor makeup +12 dB": (
        master(compressor=CompressorParams(ratio=1.0, makeup_db=12.0)), True),
    "master saturator mix 0 -> 1": (master(saturator=SaturatorParams(drive_db=12.0, mix=1.0)),
                                    True),
    "master stereo width 1 -> 2": (master(stereo=StereoParams(width=2.0)), True),
    "master limiter gain +6 dB": (master(limiter=LimiterParams(gain_db=6.0, target_lufs=None)),
                                  True),
}  # fmt: skip


def peaks(audio: np.ndarray, first: int, last: int) -> np.ndarray:
    return np.abs(audio[first * 512 : last * 512]).max(axis=0)


def steps(audio: np.ndarray, first: int, last: int) -> np.ndarray:
    """Largest sample-to-sample step of each channel between two block indices."""
    return np.abs(np.diff(audio[first * 512 : last * 512], axis=0)).max(axis=0)


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_step_change_while_playing_glides_without_a_click(name: str) -> None:
    change, gain_like = CHANGES[name]
    stereo = "width" in name
    out = run_change(change, smoothing_ms=20.0, stereo_tone=stereo)
    steady_before = steps(out, CHANGE_BLOCK - 8, CHANGE_BLOCK)
    steady_after = steps(out, CHANGE_BLOCK + 30, CHANGE_BLOCK + 40)
    transition = steps(out, CHANGE_BLOCK - 1, CHANGE_BLOCK + 4)
    steady = np.maximum(steady_before, steady_after)
    # A click is a sample-to-sample step larger than the tone's own at either level.
    assert np.all(transition <= 1.25 * steady), (name, transition, steady)
    level_before = peaks(out, CHANGE_BLOCK - 8, CHANGE_BLOCK)
    level_after = peaks(out, CHANGE_BLOCK + 30, CHANGE_BLOCK + 40)
    assert not np.allclose(level_before, level_after, rtol=0.05)  # the change took effect
    if gain_like:
        # The same change without smoothing does click: the bound above has teeth.
        jump = run_change(change, smoothing_ms=0.0, stereo_tone=stereo)
        assert np.any(steps(jump, CHANGE_BLOCK - 1, CHANGE_BLOCK + 4) > 2 * steady)


def test_changes_queued_from_another_thread_apply_while_playing_without_clicks(tmp_path) -> None:
    tone = sine(TONE_HZ, 0.8, amplitude=0.25, channels=2)
    out = tmp_path / "live.wav"
    session = Session(
        [Track(ArraySource(tone, SAMPLE_RATE, name="tone"))],
        master=NEUTRAL,
        output=f"file:{out}",
        config=SessionConfig(block_size=256),
    )
    gains = [-6.0, 6.0, -12.0, 0.0, 9.0, -3.0]
    session.start()
    for gain in gains:  # from this thread, while the scheduler thread plays
        time.sleep(0.04)
        session.set_track("tone", gain_db=gain)
    report = session.wait(timeout_s=30)
    assert report is not None and report.complete
    audio, rate = soundfile.read(str(out), always_2d=True)
    assert len(audio) == len(tone) and rate == SAMPLE_RATE
    # No step is larger than the tone's own at the loudest gain used (+9 dB), plus the ramp.
    bound = 10 ** (9 / 20) * 0.25 * 2 * np.sin(np.pi * TONE_HZ / SAMPLE_RATE) * 1.25
    assert np.abs(np.diff(audio, axis=0)).max() <= bound
    # The last change (-3 dB) is what the end of the programme plays at.
    tail = audio[-2000:, 0]
    assert np.abs(tail).max() == pytest.approx(0.25 * 10 ** (-3 / 20), rel=0.02)


# -- outputs and pacing ----------------------------------------------------------------------
def test_null_output_consumes_one_block_per_period_and_counts_underruns() -> None:
    clock = VirtualClock()
    output = NullOutput(buffer_blocks=2)
    output.open(StreamFormat(1000, 2, 10), clock)  # a period of 10 ms
    block = np.zeros((10, 2))
    assert output.write(block) == 0  # t = 0: the device starts 2 periods later
    for _ in range(4):  # on time: one block per period
        clock.advance(0.01)
        assert output.write(block) == 0
    assert (output.written, output.played) == (5, 3)  # instants 20, 30, 40 ms
    clock.advance(0.035)  # 75 ms: instants 50, 60, 70 ms play blocks 3, 4, then silence
    assert output.write(block) == 1
    assert (output.played, output.underruns) == (5, 1)
    clock.advance(0.1)  # a long stall: 10 more instants, one queued block
    assert output.write(block) == 9
    assert output.underruns == 10


def test_a_session_on_a_virtual_clock_is_paced_one_block_per_period() -> None:
    clock = VirtualClock()
    output = NullOutput()
    session = Session(
        [Track(ArraySource(programme(0.5), SAMPLE_RATE, name="p"))],
        output=output,
        config=SessionConfig(block_size=441),
        clock=clock,
    )
    report = session.run()
    blocks = -(-(SAMPLE_RATE // 2 + session.mixer.latency_samples) // 441)
    assert report.blocks == blocks and report.complete
    # The last block was released (blocks - 1) periods after the first, and the device has
    # played every block whose instant (2 periods after its release) has passed.
    assert clock.now() == pytest.approx((blocks - 1) * 0.01)
    assert output.played == blocks - 2
    assert report.xruns == report.underruns == report.deadline_misses == 0


def test_a_session_on_the_real_clock_never_outruns_it() -> None:
    session = Session(
        [Track(ArraySource(programme(0.3), SAMPLE_RATE, name="p"))],
        output="null",
        config=SessionConfig(block_size=1024),
    )
    report = session.run()
    period_s = 1024 / SAMPLE_RATE
    assert report.complete and report.output == "null"
    assert report.wall_s >= (report.blocks - 1) * period_s
    assert report.p50_block_ms is not None and report.p50_block_ms > 0


def test_file_output_equals_processing_offline(tmp_path: Path) -> None:
    specs = track_specs(0.8)
    out = tmp_path / "render.wav"
    session = Session(make_tracks(specs), master=MASTER, output=f"file:{out}",
                      config=SessionConfig(block_size=512), clock=VirtualClock())  # fmt: skip
    report = session.run()
    latency = session.mixer.latency_samples
    programme_frames = round(0.8 * SAMPLE_RATE)
    assert report.complete and report.file == str(out)
    assert report.programme_s == pytest.approx(0.8)
    audio, rate = soundfile.read(str(out), always_2d=True)
    assert rate == SAMPLE_RATE and audio.shape == (programme_frames, 2)
    expected = offline_mix(specs, MASTER, programme_frames + latency)[latency:]
    np.testing.assert_allclose(audio, expected, atol=2e-7, rtol=0)  # 24-bit PCM


def test_file_output_rejects_an_unknown_extension_before_playing() -> None:
    with pytest.raises(ConfigError, match="unsupported extension"):
        FileOutput("mix.mp3")


def test_the_default_device_falls_back_to_the_null_device_with_one_log_line(
    monkeypatch, caplog
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails: no sounddevice
    session = Session([Track(ArraySource(programme(0.2), SAMPLE_RATE))],
                      config=SessionConfig(block_size=512), clock=VirtualClock())  # fmt: skip
    with caplog.at_level(logging.INFO, logger="zen.audio.realtime"):
        report = session.run()
    assert report.output == "null" and report.complete
    assert "sounddevice package is not installed" in report.output_note
    lines = [r.getMessage() for r in caplog.records if "null output" in r.getMessage()]
    assert len(lines) == 1


def test_a_named_device_that_cannot_open_is_an_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    session = Session([Track(ArraySource(programme(0.2), SAMPLE_RATE))], output="Studio",
                      config=SessionConfig(block_size=512))  # fmt: skip
    with pytest.raises(BackendUnavailable, match="sounddevice"):
        session.run()


class FakeStream:
    def __init__(self, *, callback, blocksize, channels, **settings) -> None:
        self.callback, self.blocksize, self.channels = callback, blocksize, channels
        self.settings, self.started, self.closed = settings, False, False

    def pull(self, frames: int | None = None) -> np.ndarray:
        out = np.full((frames or self.blocksize, self.channels), np.nan, dtype=np.float32)
        self.callback(out, len(out), None, None)
        return out

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def fake_sounddevice(streams: list[FakeStream]) -> types.ModuleType:
    module = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    def query_devices(device=None, kind=None):
        if device not in (None, "Fake Out"):
            raise ValueError(f"No output device matching {device!r}")
        return {"name": "Fake Out", "max_output_channels": 2}

    def output_stream(**settings):
        streams.append(FakeStream(**settings))
        return streams[-1]

    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    module.query_devices = query_devices  # type: ignore[attr-defined]
    module.check_output_settings = lambda **settings: None  # type: ignore[attr-defined]
    module.OutputStream = output_stream  # type: ignore[attr-defined]
    return module


def test_device_output_feeds_the_callback_through_a_ring_and_counts_underruns(
    monkeypatch,
) -> None:
    streams: list[FakeStream] = []
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(streams))
    output = resolve_output("Fake Out")
    assert isinstance(output, DeviceOutput)
    output.open(StreamFormat(48000, 2, 4), VirtualClock())
    stream = streams[0]
    assert stream.started and stream.settings["samplerate"] == 48000
    assert output.name == "device:Fake Out"
    # Three blocks of silence lead in (the latency), then what was written, in order.
    blocks = [np.full((4, 2), float(k + 1)) for k in range(3)]
    assert output.blocks_wanted() == 1
    for block in blocks[:2]:
        assert output.write(block) == 0
    assert output.blocks_wanted() == 0  # 5 of 5 blocks queued: full, make none this period
    pulled = [stream.pull() for _ in range(5)]
    assert [float(p[0, 0]) for p in pulled] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert output.blocks_wanted() == 2  # empty: make two to catch up with the device
    dry = stream.pull()  # nothing queued: silence, one underrun
    assert not np.isnan(dry).any() and np.all(dry == 0) and output.underruns == 1
    assert output.write(blocks[2]) == 1  # this block was late by one period
    np.testing.assert_array_equal(stream.pull(), blocks[2].astype(np.float32))
    output.close()
    assert stream.closed


def test_a_device_output_plays_a_whole_session_on_the_real_clock(monkeypatch) -> None:
    streams: list[FakeStream] = []
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(streams))
    session = Session([Track(ArraySource(programme(0.2), SAMPLE_RATE))], output=None,
                      config=SessionConfig(block_size=1024))  # fmt: skip
    session.start()
    heard = []
    while session.playing:  # this thread is the device: pull about one block per period
        heard.append(streams[0].pull())
        time.sleep(1024 / SAMPLE_RATE)
    report = session.stop()
    assert report.output == "device:Fake Out" and report.output_note is None
    assert report.blocks >= 1 and streams[0].closed
    assert np.isfinite(np.concatenate(heard)).all()


# -- xruns ---------------------------------------------------------------------------------------
class SlowSource(ArraySource):
    """A source that makes one block expensive: it advances a virtual clock or sleeps."""

    def __init__(self, audio, *, slow_block: int, cost_s: float, clock=None) -> None:
        super().__init__(audio, SAMPLE_RATE, name="slow")
        self.slow_block, self.cost_s, self.clock, self.calls = slow_block, cost_s, clock, 0

    def read(self, out: np.ndarray) -> int:
        if self.calls == self.slow_block:
            if self.clock is not None:
                self.clock.advance(self.cost_s)
            else:
                time.sleep(self.cost_s)
        self.calls += 1
        return super().read(out)


@pytest.mark.parametrize(
    ("cost_periods", "misses", "dropped", "underruns", "xruns"),
    [
        # Block 5 ends 2.5 periods after its release, later than the device's 2-block buffer
        # allows: one late block (a miss) that the device waited for (an underrun); releases 6
        # and 7 are still within their deadlines and catch up back to back.
        (2.5, 1, 0, 1, 1),
        # 4.5 periods: releases 6 and 7 passed their deadlines meanwhile and are dropped, the
        # device plays three periods of silence.
        (4.5, 3, 2, 3, 3),
    ],
)
def test_an_overloaded_block_counts_exact_xruns_misses_and_underruns(
    cost_periods, misses, dropped, underruns, xruns
) -> None:
    clock = VirtualClock()
    period_s = 512 / SAMPLE_RATE
    source = SlowSource(programme(0.5), slow_block=5, cost_s=cost_periods * period_s,
                        clock=clock)  # fmt: skip
    session = Session([Track(source)], output=NullOutput(buffer_blocks=2),
                      config=SessionConfig(block_size=512), clock=clock)  # fmt: skip
    report = session.run()
    assert report.deadline_misses == misses
    assert report.dropped_blocks == dropped
    assert report.underruns == underruns
    assert report.xruns == xruns  # a late block the device waited for counts once
    assert report.complete  # nothing of the programme was lost, it came later


def test_an_overloaded_block_on_the_real_clock_is_an_xrun() -> None:
    period_s = 1024 / SAMPLE_RATE
    source = SlowSource(programme(0.4), slow_block=4, cost_s=3 * period_s)
    session = Session([Track(source)], output="null", config=SessionConfig(block_size=1024))
    report = session.run()
    assert report.deadline_misses >= 1 and report.xruns >= 1
    assert report.complete


# -- the assistant -------------------------------------------------------------------------------
def test_a_slow_assistant_runs_on_a_worker_and_never_delays_a_block(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    def slow_analysis(audio: np.ndarray, sample_rate: int) -> Corrections:
        time.sleep(0.4)  # far longer than a block period (46 ms)
        calls.append((audio.shape[0], sample_rate))
        return Corrections(width=0.9)

    config = SessionConfig(block_size=2048, assistant_interval_s=0.1, assistant_window_s=0.2)
    session = Session([Track(ArraySource(programme(1.6), SAMPLE_RATE))], output="null",
                      assistant=slow_analysis, config=config)  # fmt: skip
    trace = tmp_path / "trace.json"
    report = session.run(trace=trace)
    assert report.assistant == "on" and report.assistant_analyses >= 2
    assert calls[-1] == (round(0.2 * SAMPLE_RATE), SAMPLE_RATE)
    assert report.assistant_suggestion["width"] == 0.9
    stats = session.scheduler.stats
    assert stats.realtime.deadline_misses == 0 and report.xruns == 0
    # Blocks kept coming while each analysis slept on its worker thread.
    spans = session.scheduler.probe.spans
    blocks = [s for s in spans if s.tier == "realtime"]
    for work in (s for s in spans if s.tier == "inference" and s.duration_s >= 0.4):
        assert work.lane.startswith("worker")
        during = [b for b in blocks if work.start_s <= b.start_s <= work.end_s]
        assert len(during) >= 6


def test_the_assistant_suggestions_apply_to_the_master_when_asked() -> None:
    base = NEUTRAL.replace(stereo=StereoParams(width=1.0))
    config = SessionConfig(block_size=512, assistant_interval_s=0.2, assistant_window_s=0.2,
                           auto_apply=True)  # fmt: skip
    corrections = Corrections(width=1.5, compression_amount=0.5)
    session = Session([Track(ArraySource(programme(1.0), SAMPLE_RATE))], master=base,
                      output="null", assistant=lambda audio, rate: corrections, config=config,
                      clock=VirtualClock())  # fmt: skip
    report = session.run()
    assert report.assistant_analyses >= 3 and report.assistant_applied == report.assistant_analyses
    expected = apply_corrections(base, corrections)
    assert session.mixer.master.settings == expected
    assert session.mixer.master.stereo.params.width == 1.5


def test_a_failing_assistant_is_counted_and_playback_goes_on(caplog) -> None:
    calls = []

    def broken(audio: np.ndarray, sample_rate: int) -> Corrections:
        calls.append(len(audio))
        if len(calls) > 1:  # the warm-up passes, the analyses while playing fail
            raise RuntimeError("model exploded")
        return Corrections()

    config = SessionConfig(block_size=512, assistant_interval_s=0.2, assistant_window_s=0.1)
    session = Session([Track(ArraySource(programme(1.0), SAMPLE_RATE))], output="null",
                      assistant=broken, config=config, clock=VirtualClock())  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="zen.audio.realtime"):
        report = session.run()
    assert report.complete and report.assistant_failures >= 3
    assert report.assistant_analyses == 0
    assert sum("model exploded" in r.getMessage() for r in caplog.records) == 1


def test_a_missing_assistant_is_reported_and_playback_goes_on(monkeypatch) -> None:
    def missing():
        raise BackendUnavailable("the mastering assistant is not part of this installation")

    monkeypatch.setattr(analysis_module, "load_analysis", missing)
    monkeypatch.setattr("zen.audio.realtime.session.load_analysis", missing)
    session = Session([Track(ArraySource(programme(0.3), SAMPLE_RATE))], output="null",
                      assistant=True, clock=VirtualClock())  # fmt: skip
    report = session.run()
    assert report.assistant.startswith("unavailable: the mastering assistant is not part")
    assert report.complete and report.assistant_analyses == 0


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 64),
    sizes=st.lists(st.integers(1, 90), min_size=1, max_size=12),
    wanted=st.integers(1, 64),
)
def test_mix_history_always_holds_the_tail_of_what_was_written(capacity, sizes, wanted) -> None:
    history = MixHistory(capacity, channels=1)
    stream = np.arange(float(sum(sizes)))[:, None]
    start = 0
    for size in sizes:
        history.write(stream[start : start + size])
        start += size
    latest = history.latest(wanted)
    if wanted > min(capacity, len(stream)):
        assert latest is None
    else:
        np.testing.assert_array_equal(latest, stream[-wanted:].astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(
    frames=st.integers(1, 50),
    reads=st.lists(st.integers(1, 40), min_size=1, max_size=10),
    loop=st.booleans(),
)
def test_an_array_source_reads_its_audio_in_any_block_sizes(frames, reads, loop) -> None:
    audio = np.arange(float(frames))
    source = ArraySource(audio, SAMPLE_RATE, loop=loop)
    source.prepare(SAMPLE_RATE)
    got = []
    for size in reads:
        out = np.full((size, 1), -1.0)
        count = source.read(out)
        assert count == (size if loop else min(size, max(frames - sum(map(len, got)), 0)))
        got.append(out[:count, 0])
    total = sum(reads) if loop else min(sum(reads), frames)
    np.testing.assert_array_equal(np.concatenate(got), np.resize(audio, total))


def test_mix_history_returns_the_newest_frames_across_the_wrap() -> None:
    history = MixHistory(100, channels=2)
    ramp = np.arange(260.0).repeat(2).reshape(-1, 2)
    for start in range(0, 260, 30):
        history.write(ramp[start : start + 30])
    np.testing.assert_array_equal(history.latest(90), ramp[170:260].astype(np.float32))
    assert history.latest(101) is None
    history.write(np.arange(250.0).repeat(2).reshape(-1, 2))  # longer than the ring
    np.testing.assert_array_equal(history.latest(100)[:, 0], np.arange(150.0, 250.0))


# -- streaming and traces ------------------------------------------------------------------------
def write_wav(path: Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    soundfile.write(str(path), audio, rate, subtype="FLOAT")
    return path


def test_a_streamed_file_plays_what_a_fully_read_file_plays(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", programme(3.0, seed=4))
    renders = {}
    for stream in (False, True):
        out = tmp_path / f"out-{stream}.wav"
        source = FileSource(path, stream=stream, buffer_s=0.5)
        config = SessionConfig(block_size=512, refill_interval_s=0.1)
        session = Session([Track(source, settings=WARM)], output=f"file:{out}", config=config,
                          clock=VirtualClock())  # fmt: skip
        report = session.run()
        assert report.complete and report.streams_starved == 0
        assert source.streaming is False  # closed at the end
        renders[stream] = soundfile.read(str(out))[0]
    np.testing.assert_array_equal(renders[True], renders[False])


def test_a_streamed_looping_file_wraps_around(tmp_path: Path) -> None:
    audio = np.arange(1000.0)[:, None] / 1000
    source = FileSource(write_wav(tmp_path / "loop.wav", audio), stream=True, loop=True,
                        buffer_s=0.01)  # fmt: skip
    source.prepare(SAMPLE_RATE)
    out = np.zeros((300, 1))
    got = []
    for _ in range(8):  # 2400 frames through a 441-frame ring, refilled between reads
        assert source.read(out) == 300
        got.append(out.copy())
        source.refill()
    source.close()
    expected = np.resize(audio[:, 0].astype(np.float32), 2400)  # the file holds float32
    np.testing.assert_array_equal(np.concatenate(got)[:, 0], expected)


def test_the_trace_is_valid_chrome_json_with_every_block(tmp_path: Path) -> None:
    trace = tmp_path / "play.json"
    session = Session([Track(ArraySource(programme(0.3), SAMPLE_RATE))], output="null",
                      clock=VirtualClock())  # fmt: skip
    report = session.run(trace=trace)
    assert report.trace == str(trace)
    document = json.loads(trace.read_text())
    blocks = [e for e in document["traceEvents"] if e["ph"] == "X" and e["name"] == "mix block"]
    assert len(blocks) == report.blocks
    assert document["otherData"]["report"]["blocks"] == report.blocks


# -- bad input -----------------------------------------------------------------------------------
def tone_track(name: str = "tone", **kwargs) -> Track:
    return Track(ArraySource(sine(440.0, 0.2), SAMPLE_RATE, name=name), **kwargs)


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: Track(ArraySource(np.zeros((10, 3)), SAMPLE_RATE)), DataError, "1 or 2 channels"),
        (lambda: Track(ArraySource(np.full(10, np.nan), SAMPLE_RATE)), DataError, "NaN"),
        (lambda: Track(ArraySource(np.zeros(10), 0)), ConfigError, "sample_rate"),
        (lambda: tone_track(pan=2.0), ConfigError, "pan: expected -1"),
        (lambda: tone_track(gain_db=40.0), ConfigError, "gain_db"),
        (lambda: tone_track(pillars=("reverb",)), ConfigError, "unknown"),
        (lambda: Session([]), ConfigError, "at least one track"),
        (lambda: Session([tone_track(), tone_track()]), ConfigError, "unique"),
        (lambda: SessionConfig(block_size=8), ConfigError, "block_size"),
        (lambda: Session([tone_track()], output="file:"), ConfigError, "needs a path"),
        (lambda: Session([tone_track()], assistant="yes"), ConfigError, "assistant"),
        (lambda: FileSource("/no/such/file.wav"), DataError, "not found"),
    ],
)
def test_bad_input_is_a_clear_error(build, error, match) -> None:
    with pytest.raises(error, match=match):
        build()


def test_bad_calls_on_a_session_are_clear_errors() -> None:
    looping = Track(ArraySource(sine(440.0, 0.2), SAMPLE_RATE, loop=True))
    with pytest.raises(ConfigError, match="looping track plays forever"):
        Session([looping], output="null", clock=VirtualClock()).run()
    session = Session([tone_track(), tone_track("bare")], output="null", clock=VirtualClock())
    with pytest.raises(ConfigError, match="no track named 'drums'"):
        session.set_track("drums", gain_db=1.0)
    with pytest.raises(ConfigError, match="has no strip"):
        session.set_track("bare", settings=NEUTRAL)
    with pytest.raises(ConfigError, match="seconds"):
        session.run(seconds=-1)
    session.run(seconds=0.1)
    with pytest.raises(ConfigError, match="plays once"):
        session.run()
    with pytest.raises(ConfigError, match="virtual clock"):
        Session([tone_track()], output="null", clock=VirtualClock()).start()


def test_a_session_plays_a_looping_track_for_the_seconds_asked() -> None:
    looping = Track(ArraySource(sine(440.0, 0.1, channels=2), SAMPLE_RATE, loop=True))
    session = Session([looping], output="null", clock=VirtualClock(),
                      config=SessionConfig(block_size=256))  # fmt: skip
    report = session.run(seconds=0.5)
    assert report.programme_s == pytest.approx(0.5) and report.complete
    assert report.blocks == -(-(SAMPLE_RATE // 2 + session.mixer.latency_samples) // 256)


def test_report_fields_are_json_ready() -> None:
    session = Session([tone_track()], output="null", clock=VirtualClock())
    report = session.run()
    document = json.loads(json.dumps(report.to_json()))
    assert document["blocks"] == report.blocks
    assert set(document) == {field.name for field in dataclasses.fields(report)}


def test_a_session_stopped_early_reports_incomplete() -> None:
    session = Session([Track(ArraySource(programme(5.0), SAMPLE_RATE))], output="null",
                      config=SessionConfig(block_size=512))  # fmt: skip
    session.start()
    time.sleep(0.2)  # let it play a little
    report = session.stop()
    assert not report.complete and 0 < report.programme_s < 5.0


def test_a_looping_session_started_without_seconds_plays_until_stopped() -> None:
    looping = Track(ArraySource(sine(440.0, 0.05, channels=2), SAMPLE_RATE, loop=True))
    session = Session([looping], output="null", config=SessionConfig(block_size=512))
    session.start()
    assert session.wait(timeout_s=0.3) is None and session.playing  # still playing
    report = session.stop()
    assert not session.playing and not report.complete and report.blocks > 0
