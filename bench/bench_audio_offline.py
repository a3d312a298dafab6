"""Offline mastering speed and loudness accuracy: the Five Pillars chain against its peers.

On each shared 30 s stereo 44.1 kHz excerpt (../shared/data/audio/drascula-track{1,31}.flac),
in one process pinned to one core (numba, BLAS and torch limited to one thread):

* **zen native** / **zen reference**: ``MasterChain.process_offline`` with the loudness gain
  already fitted (the chain alone), and ``fit_process`` (loudness analysis + render: what
  ``master_file`` does between reading and writing), on the numba kernels and on the
  NumPy/SciPy reference path; presets ``warm`` and ``loud`` (their colour stage at 2x
  oversampling) and ``warm@4x`` (the same at 4x);
* **pedalboard only**: the nearest pedalboard chain (its first-order high-pass, RBJ shelves
  and peak, JUCE compressor, tanh distortion without oversampling, gain, JUCE limiter: no
  true-peak look-ahead, no mid/side, float32);
* **matchering 2.x** (reference mode: each excerpt matched to the other) file to file, beside
  ``zen.audio.master_file`` with the same reference, file to file;
* **master_file end to end in a fresh process**: a new Python process imports zen.audio and
  masters the excerpt (read the FLAC, analyse, process, write the WAV master and its JSON
  report; no picture), with an empty numba cache folder (``cold``: the kernels compile) and
  again with the folder the cold run filled (``cached``), beside the chain alone (the default
  ``transparent`` preset, in this process) with their ratio. ``end to end`` is the import of
  zen.audio plus the call, timed inside the process; ``process`` is the whole process as its
  parent sees it (interpreter start-up included), with its CPU time (user + system: less
  sensitive than wall time to other work on the machine). The cache folder is given to each
  process as ``NUMBA_CACHE_DIR``, as a user would; the process inherits this one's core and
  thread limits.

Speed is the excerpt's duration over the median wall time (x real time); target >= 200x for the
zen native chain and >= 60x for master_file end to end, cached. Loudness accuracy:
``master_file`` to -14 LUFS / -1 dBTP with each preset, integrated loudness within +-0.5 LU and
true peak <= the ceiling on every excerpt, measured on the written file (loudness by pyloudnorm
with the standard's K-weighting, an independent meter; true peak by zen's 4x meter).

    python bench/bench_audio_offline.py [--repeats 5] [--quick]
"""

# ruff: noqa: E402  (the thread limits must be in the environment before numpy and numba load)
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"  # before numpy, scipy and numba load their thread pools

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

AUDIO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio"
EXCERPTS = ("drascula-track1.flac", "drascula-track31.flac")
TARGET_X_REALTIME = 200.0
TARGET_END_TO_END_X_REALTIME = 60.0  # master_file in a fresh process, kernels cached
TARGET_LUFS, CEILING_DBTP, LOUDNESS_TOLERANCE_LU = -14.0, -1.0, 0.5
SPEED_PRESETS = ("warm", "loud", "warm@4x")
LOUDNESS_PRESETS = ("transparent", "warm", "loud", "wide")


def one_core() -> str:
    """Pin this process to one usable core and torch to one thread; say which."""
    import torch

    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "not pinned (no sched_setaffinity)"


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``fn()`` over ``repeats`` calls (after one warm-up)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def pedalboard_chain(settings: Any, gain_db: float) -> Any:
    """pedalboard's nearest equivalent of a zen preset (see the module docstring)."""
    import pedalboard as pb

    eq, comp, sat, lim = settings.eq, settings.compressor, settings.saturator, settings.limiter
    plugins = []
    if eq.high_pass_hz:
        plugins.append(pb.HighpassFilter(eq.high_pass_hz))
    plugins.append(pb.LowShelfFilter(eq.low_shelf_hz, eq.low_shelf_gain_db, eq.shelf_q))
    plugins += [pb.PeakFilter(b.freq_hz, b.gain_db, b.q) for b in eq.bands]
    plugins.append(pb.HighShelfFilter(eq.high_shelf_hz, eq.high_shelf_gain_db, eq.shelf_q))
    plugins.append(pb.Compressor(comp.threshold_db, comp.ratio, comp.attack_ms, comp.release_ms))
    plugins.append(pb.Gain(comp.makeup_db))
    if sat.mix > 0:
        plugins.append(pb.Distortion(sat.drive_db))
    plugins.append(pb.Gain(gain_db))
    plugins.append(pb.Limiter(lim.ceiling_dbtp, lim.release_ms))
    return pb.Pedalboard(plugins)


def speed_rows(audio: np.ndarray, rate: int, name: str, repeats: int) -> list[dict[str, Any]]:
    from zen.audio import MasterChain, preset

    seconds = len(audio) / rate
    rows = []
    for preset_name in SPEED_PRESETS:
        if preset_name.endswith("@4x"):  # the preset with its colour stage at 4x oversampling
            base = preset(preset_name.removesuffix("@4x"))
            settings = base.replace(saturator=dataclasses.replace(base.saturator, oversampling=4))
        else:
            settings = preset(preset_name)
        for native in (True, False):
            chain = MasterChain(settings, sample_rate=rate, channels=2, native=native)
            chain.fit(audio)  # the loudness gain, so that the chain alone is timed next
            chain_s, chain_cpu = timed(lambda c=chain: c.process_offline(audio), repeats)
            master_s, _ = timed(lambda c=chain: c.fit_process(audio), max(1, repeats // 2))
            rows.append(
                {
                    "excerpt": name,
                    "system": f"zen {'native' if native else 'reference'}",
                    "preset": preset_name,
                    "x_realtime": seconds / chain_s,
                    "x_realtime_cpu": seconds / chain_cpu,
                    "chain_ms": chain_s * 1000,
                    "fit_process_ms": master_s * 1000,
                    "fit_process_x_realtime": seconds / master_s,
                }
            )
        try:
            board = pedalboard_chain(settings, chain.loudness_gain_db_)
        except ImportError as error:  # the bench extra is not installed
            rows.append({"excerpt": name, "system": "pedalboard only", "preset": preset_name,
                         "note": f"not installed: {error}"})  # fmt: skip
            continue
        planar = np.ascontiguousarray(audio.T, dtype=np.float32)
        board_s, board_cpu = timed(lambda b=board, x=planar: b.process(x, rate), repeats)
        rows.append(
            {
                "excerpt": name,
                "system": "pedalboard only",
                "preset": preset_name,
                "x_realtime": seconds / board_s,
                "x_realtime_cpu": seconds / board_cpu,
                "chain_ms": board_s * 1000,
            }
        )
    return rows


def reference_rows(src: Path, ref: Path, seconds: float, repeats: int, folder: Path) -> list[dict]:
    """File to file with a reference: matchering 2.x against zen.audio.master_file."""
    from zen.audio import master_file
    from zen.audio.io import read_audio
    from zen.audio.loudness import integrated_lufs, true_peak_dbtp

    rows = []
    zen_out = folder / f"zen-{src.stem}.wav"
    zen_s, zen_cpu = timed(
        lambda: master_file(src, zen_out, reference=ref, write_report=False), repeats
    )
    out = read_audio(zen_out).audio
    reference_lufs = integrated_lufs(read_audio(ref).audio, 44100)
    rows.append(
        {
            "excerpt": src.name,
            "system": "zen master_file --reference",
            "x_realtime": seconds / zen_s,
            "x_realtime_cpu": seconds / zen_cpu,
            "reference_lufs": reference_lufs,
            "output_lufs": integrated_lufs(out, 44100),
            "true_peak_dbtp": true_peak_dbtp(out, 44100),
        }
    )
    try:
        import matchering
    except ImportError as error:
        rows.append(
            {"excerpt": src.name, "system": "matchering", "note": f"not installed: {error}"}
        )
        return rows
    mg_out = folder / f"matchering-{src.stem}.wav"
    matchering.log(default_handler=lambda *args, **kwargs: None)  # quiet

    def run() -> None:
        matchering.process(
            target=str(src), reference=str(ref), results=[matchering.pcm24(str(mg_out))]
        )

    try:
        mg_s, mg_cpu = timed(run, max(1, repeats // 2))
    except Exception as error:  # matchering refuses some inputs (e.g. too short)
        rows.append(
            {
                "excerpt": src.name,
                "system": f"matchering {matchering.__version__}",
                "note": f"failed: {type(error).__name__}: {error}",
            }
        )
        return rows
    out = read_audio(mg_out).audio
    rows.append(
        {
            "excerpt": src.name,
            "system": f"matchering {matchering.__version__}",
            "x_realtime": seconds / mg_s,
            "x_realtime_cpu": seconds / mg_cpu,
            "reference_lufs": reference_lufs,
            "output_lufs": integrated_lufs(out, 44100),
            "true_peak_dbtp": true_peak_dbtp(out, 44100),
        }
    )
    return rows


# What the fresh process runs: the import and the call timed from inside, and whether numba said
# it was compiling (zen.audio's compile notice, on a cold cache).
FRESH_PROCESS = """
import json, logging, sys, time
started = time.perf_counter()
notices = []
class Notice(logging.Handler):
    def emit(self, record):
        notices.append(record.getMessage())
log = logging.getLogger("zen.audio.compile")
log.addHandler(Notice())
log.setLevel(logging.INFO)
from zen.audio import master_file
imported = time.perf_counter()
report = master_file(sys.argv[1], sys.argv[2])
finished = time.perf_counter()
print(json.dumps({"import_s": imported - started, "call_s": finished - imported,
                  "compiled": bool(notices), "native": report["chain"]["native"]}))
"""


def fresh_master(src: Path, dst: Path, cache: Path) -> dict[str, Any]:
    """``master_file(src, dst)`` in a new process with numba's cache in ``cache``."""
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    environment.pop("ZEN_AUDIO_NATIVE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(src), str(dst)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    process_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise RuntimeError(f"the fresh process failed: {result.stderr.strip()[-2000:]}")
    timings = json.loads(result.stdout.strip().splitlines()[-1])
    return {**timings, "process_s": process_s, "process_cpu_s": cpu_s}


def end_to_end_rows(
    src: Path, audio: np.ndarray, rate: int, repeats: int, folder: Path
) -> list[dict[str, Any]]:
    """master_file in fresh processes, cold and cached, beside the chain alone (transparent)."""
    from zen.audio import MasterChain, preset

    seconds = len(audio) / rate
    chain = MasterChain(preset("transparent"), sample_rate=rate, channels=2, native=True)
    chain.fit(audio)
    chain_s, _ = timed(lambda: chain.process_offline(audio), repeats)
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "cached": []}
    for index in range(max(1, min(3, repeats))):  # each cold run compiles for seconds
        cache = folder / f"numba-cold-{src.stem}-{index}"
        runs["cold"].append(fresh_master(src, folder / f"e2e-{src.stem}.wav", cache))
    cache = folder / f"numba-cold-{src.stem}-0"  # filled by the first cold run
    for _ in range(repeats):
        runs["cached"].append(fresh_master(src, folder / f"e2e-{src.stem}.wav", cache))
    rows = []
    for mode, measured in runs.items():
        end_to_end_s = statistics.median(run["import_s"] + run["call_s"] for run in measured)
        rows.append(
            {
                "excerpt": src.name,
                "cache": mode,
                "runs": len(measured),
                "said_compiling": all(run["compiled"] for run in measured),
                "import_s": statistics.median(run["import_s"] for run in measured),
                "call_s": statistics.median(run["call_s"] for run in measured),
                "end_to_end_s": end_to_end_s,
                "x_realtime": seconds / end_to_end_s,
                "process_s": statistics.median(run["process_s"] for run in measured),
                "process_cpu_s": statistics.median(run["process_cpu_s"] for run in measured),
                "chain_x_realtime": seconds / chain_s,
                "chain_over_end_to_end": end_to_end_s / chain_s,
            }
        )
    return rows


def loudness_rows(src: Path, folder: Path) -> list[dict[str, Any]]:
    """master_file to the target with each preset; the written file is measured again, by
    pyloudnorm with the standard's K-weighting when it is installed (an independent meter)."""
    from zen.audio import master_file
    from zen.audio.io import read_audio
    from zen.audio.loudness import integrated_lufs, true_peak_dbtp

    try:
        import pyloudnorm
    except ImportError:
        pyloudnorm = None
    rows = []
    for preset_name in LOUDNESS_PRESETS:
        dst = folder / f"{src.stem}-{preset_name}.flac"
        report = master_file(src, dst, TARGET_LUFS, CEILING_DBTP, preset=preset_name)
        written = read_audio(dst, "output")
        if pyloudnorm is not None:
            meter = pyloudnorm.Meter(written.sample_rate, filter_class="DeMan")
            output_lufs = meter.integrated_loudness(written.audio)
        else:
            output_lufs = integrated_lufs(written.audio, written.sample_rate)
        error = output_lufs - TARGET_LUFS
        peak = true_peak_dbtp(written.audio, written.sample_rate)
        rows.append(
            {
                "excerpt": src.name,
                "preset": preset_name,
                "input_lufs": report["input"]["integrated_lufs"],
                "input_true_peak_dbtp": report["input"]["true_peak_dbtp"],
                "output_lufs": output_lufs,
                "meter": "pyloudnorm (DeMan)" if pyloudnorm is not None else "zen",
                "error_lu": error,
                "true_peak_dbtp": peak,
                "gain_db": report["chain"]["loudness_gain_db"],
                "ok": abs(error) <= LOUDNESS_TOLERANCE_LU and peak <= CEILING_DBTP,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="5 s of each excerpt, one repeat")
    args = parser.parse_args()
    missing = [name for name in EXCERPTS if not (AUDIO_DIR / name).is_file()]
    if missing:
        print(f"shared excerpts not found in {AUDIO_DIR}: {missing}", file=sys.stderr)
        return 2
    pinned = one_core()
    info = machine_info()
    info["pinned"] = pinned
    print_machine(info)
    print(f"one core ({pinned}), one thread each for numba, BLAS and torch", flush=True)
    from zen.audio.io import read_audio, write_audio

    repeats = 1 if args.quick else args.repeats
    speed, references, loudness, end_to_end = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="zen-audio-bench-") as temporary:
        folder = Path(temporary)
        sources = []
        for name in EXCERPTS:
            source = read_audio(AUDIO_DIR / name)
            audio = source.audio[: 5 * source.sample_rate] if args.quick else source.audio
            path = folder / name.replace(".flac", ".wav")
            write_audio(path, audio, source.sample_rate)
            sources.append((name, path, audio, source.sample_rate))
        for index, (name, path, audio, rate) in enumerate(sources):
            seconds = len(audio) / rate
            print(f"{name}: {seconds:.1f} s, {rate} Hz, timing ...", flush=True)
            speed += speed_rows(audio, rate, name, repeats)
            other = sources[1 - index][1]
            references += reference_rows(path, other, seconds, repeats, folder)
            loudness += loudness_rows(path, folder)
            excerpt = AUDIO_DIR / name if not args.quick else path
            end_to_end += end_to_end_rows(excerpt, audio, rate, repeats, folder)
    print_table(
        "offline speed, one core (x real time = excerpt duration / median wall time)",
        speed,
        [
            "excerpt",
            "system",
            "preset",
            "x_realtime",
            "x_realtime_cpu",
            "chain_ms",
            "fit_process_ms",
            "fit_process_x_realtime",
            "note",
        ],
    )
    print_table(
        "reference mode, file to file (each excerpt matched to the other)",
        references,
        [
            "excerpt",
            "system",
            "x_realtime",
            "x_realtime_cpu",
            "reference_lufs",
            "output_lufs",
            "true_peak_dbtp",
            "note",
        ],
    )
    print_table(
        f"loudness accuracy: master_file to {TARGET_LUFS} LUFS, ceiling {CEILING_DBTP} dBTP",
        loudness,
        [
            "excerpt",
            "preset",
            "input_lufs",
            "input_true_peak_dbtp",
            "output_lufs",
            "meter",
            "error_lu",
            "true_peak_dbtp",
            "gain_db",
            "ok",
        ],
    )
    print_table(
        "master_file end to end in a fresh process (import + call; process: the whole process)",
        end_to_end,
        [
            "excerpt",
            "cache",
            "runs",
            "said_compiling",
            "import_s",
            "call_s",
            "end_to_end_s",
            "x_realtime",
            "process_s",
            "process_cpu_s",
            "chain_x_realtime",
            "chain_over_end_to_end",
        ],
    )
    native = [r["x_realtime"] for r in speed if r["system"] == "zen native"]
    slowest = min(native)
    accurate = all(row["ok"] for row in loudness)
    cached = min(r["x_realtime"] for r in end_to_end if r["cache"] == "cached")
    announced = all(r["said_compiling"] for r in end_to_end if r["cache"] == "cold")
    print(
        f"slowest zen native chain: {slowest:.0f}x real time (target >= {TARGET_X_REALTIME:.0f}x);"
        f" loudness within +-{LOUDNESS_TOLERANCE_LU} LU and under the ceiling on every excerpt:"
        f" {accurate}; master_file end to end, cached: {cached:.0f}x real time (target >="
        f" {TARGET_END_TO_END_X_REALTIME:.0f}x); every cold run said it was compiling: {announced}"
    )
    write_result(
        "audio_offline",
        {
            "machine": info,
            "quick": args.quick,
            "repeats": repeats,
            "targets": {
                "x_realtime": TARGET_X_REALTIME,
                "end_to_end_x_realtime": TARGET_END_TO_END_X_REALTIME,
                "loudness_tolerance_lu": LOUDNESS_TOLERANCE_LU,
                "target_lufs": TARGET_LUFS,
                "ceiling_dbtp": CEILING_DBTP,
            },
            "speed": speed,
            "reference_mode": references,
            "loudness": loudness,
            "end_to_end": end_to_end,
        },
    )
    met = slowest >= TARGET_X_REALTIME and cached >= TARGET_END_TO_END_X_REALTIME
    return 0 if met and accurate and announced else 1


if __name__ == "__main__":
    sys.exit(main())
