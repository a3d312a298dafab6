"""numba's on-disk cache of the DSP kernels: concurrent first runs, the notice, no cache folder."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme

numba = pytest.importorskip("numba")
soundfile = pytest.importorskip("soundfile")

from zen.audio import _native  # noqa: E402
from zen.audio.pillars import _kernels  # noqa: E402

# What a cached run must load and nothing more: the transparent preset switches the colour and
# space stages off, so their kernels (and the inlined helpers' own entries) are never compiled.
TRANSPARENT_KERNELS = {
    "apply_reduction",
    "biquad_cascade",
    "compressor",
    "exp_nonpositive",
    "level_db",
    "limiter_gain",
    "peak_excess_db",
}
# Printed when the process exits: cache hits and misses of every kernel, as JSON.
STATS = """
def _print_kernel_stats():
    import json
    from zen.audio.pillars import _kernels
    stats = {}
    for name in dir(_kernels):
        dispatcher = getattr(_kernels, name)
        if hasattr(dispatcher, "stats"):
            hits = sum(dispatcher.stats.cache_hits.values())
            stats[name] = [hits, sum(dispatcher.stats.cache_misses.values())]
    print(json.dumps(stats))
import atexit
atexit.register(_print_kernel_stats)
from zen.cli import main
main()
"""


def zen_flow_master(source: Path, output: Path, cache: Path) -> subprocess.Popen[str]:
    """``zen flow master`` in a new process whose numba cache is ``cache`` (set by the test,
    as a user would: zen itself sets no numba option)."""
    command = [sys.executable, "-c", STATS, "flow", "master", str(source), "-o", str(output)]
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "ZEN_AUDIO_NATIVE": "1"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )


def finished(process: subprocess.Popen[str]) -> tuple[str, str, dict[str, list[int]]]:
    """The process's output text, its stderr and its kernel statistics, once it succeeded."""
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    *text, stats = stdout.rstrip().splitlines()
    return "\n".join(text), stderr, json.loads(stats)


@pytest.mark.slow
def test_two_first_runs_at_once_leave_a_cache_the_next_run_loads(tmp_path):
    """Two processes compile into one empty cache folder at the same time; both master the
    file, both say they are compiling, and a third run loads every kernel it needs from the
    cache, compiles nothing, says nothing about compiling and writes the same master."""
    source = tmp_path / "mix.wav"
    soundfile.write(str(source), programme(3.0), SAMPLE_RATE, subtype="PCM_24")
    cache = tmp_path / "numba-cache"
    first = [zen_flow_master(source, tmp_path / f"first{i}.wav", cache) for i in range(2)]
    results = [finished(process) for process in first]
    for _, stderr, stats in results:
        assert "compiling the audio DSP kernels" in stderr
        assert {name for name, (_, misses) in stats.items() if misses} <= TRANSPARENT_KERNELS
    cached = sorted(path.name.split("-")[0] for path in cache.rglob("*.nbi"))
    assert {name.removeprefix("_kernels.") for name in cached} == TRANSPARENT_KERNELS

    text, stderr, stats = finished(zen_flow_master(source, tmp_path / "again.wav", cache))
    assert "compiling" not in stderr and "master of mix.wav" in text
    used = {name for name, (hits, _) in stats.items() if hits}
    assert used <= TRANSPARENT_KERNELS and not any(misses for _, misses in stats.values())
    master = soundfile.read(str(tmp_path / "again.wav"))[0]
    for index in range(2):
        np.testing.assert_array_equal(
            master, soundfile.read(str(tmp_path / f"first{index}.wav"))[0]
        )


def test_a_kernel_that_compiles_is_announced_once_and_a_cache_hit_is_not(monkeypatch, caplog):
    monkeypatch.setattr(_native, "_announced", set())
    fresh = numba.njit(_kernels.level_db.py_func)  # a new dispatcher of a zen kernel: it compiles
    values = np.ones(4)
    with caplog.at_level(logging.INFO, logger="zen.audio.compile"), _native.compile_notice():
        fresh(values, np.zeros(4), np.zeros(4, dtype=np.int64))
        fresh(values * 2, np.zeros(4), np.zeros(4, dtype=np.int64))  # compiled already
    notices = [r for r in caplog.records if r.name == "zen.audio.compile"]
    assert len(notices) == 1 and "compiling the audio DSP kernels" in notices[0].getMessage()
    caplog.clear()
    others = numba.njit(lambda x: x + 1)  # the user's own numba code is not announced
    with caplog.at_level(logging.INFO, logger="zen.audio.compile"), _native.compile_notice():
        monkeypatch.setattr(_native, "_announced", set())
        others(1)
    assert not caplog.records


def test_without_a_writable_cache_folder_the_kernels_run_uncached_and_say_so(tmp_path):
    """numba refuses cache=True when it finds no folder to write; the kernels then compile in
    every process instead of the native path being lost."""
    if not hasattr(numba.config, "CACHE_LOCATOR_CLASSES"):
        pytest.skip("this numba cannot be told to find no cache folder")
    script = (
        "import logging\n"
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "from zen.audio._native import load_kernels\n"
        "from zen.audio.pillars import Equalizer\n"
        "kernels = load_kernels()\n"
        "print(kernels is not None, bool(kernels.UNCACHED), Equalizer(sample_rate=44100).native)\n"
    )
    # IPython's locator only serves notebook cells: for a module, no folder is found.
    environment = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}
    environment.pop("ZEN_AUDIO_NATIVE", None)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
    assert "cannot be cached on disk" in result.stderr and "NUMBA_CACHE_DIR" in result.stderr
