"""The assistant's training caches: written atomically, and a damaged one is rebuilt."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme

from zen.audio.assistant import dataset
from zen.audio.assistant.corpus import Track
from zen.audio.assistant.dataset import DatasetConfig, balance_of, track_examples

soundfile = pytest.importorskip("soundfile")
CONFIG = DatasetConfig(fft_sizes=(256,), max_windows_per_track=1, degradations_per_window=1)


@pytest.fixture
def track(tmp_path: Path) -> tuple[Track, Path]:
    root = tmp_path / "audio"
    root.mkdir()
    soundfile.write(str(root / "one.wav"), programme(6.0), SAMPLE_RATE, subtype="FLOAT")
    return Track("test/one", "test", "train", "noise", "CC0", ("one.wav",)), root


def only_file(folder: Path, suffix: str) -> Path:
    files = [path for path in folder.iterdir() if path.name.endswith(suffix)]
    assert len(files) == 1, files
    return files[0]


def test_examples_cut_short_are_a_cache_miss_and_are_rewritten(track, tmp_path, caplog):
    track, root = track
    cache = tmp_path / "cache"
    first = track_examples(track, root, CONFIG, cache)
    cached = only_file(cache, ".npz")
    cached.write_bytes(cached.read_bytes()[:100])  # a run killed while writing, before the fix
    with caplog.at_level(logging.WARNING, logger=dataset.__name__):
        again = track_examples(track, root, CONFIG, cache)
    assert "unreadable cache file" in caplog.text
    np.testing.assert_array_equal(again.targets, first.targets)
    np.testing.assert_array_equal(again.features[256], first.features[256])
    with np.load(cached) as data:  # whole again
        np.testing.assert_array_equal(data["y"], first.targets)


def test_a_damaged_balance_is_a_cache_miss(track, tmp_path):
    track, root = track
    cache = tmp_path / "cache"
    first = balance_of(track, root, CONFIG, cache)
    only_file(cache, ".json").write_text('{"balance_db": [1, 2')
    again = balance_of(track, root, CONFIG, cache)
    np.testing.assert_array_equal(again.balance_db, first.balance_db)


def test_an_interrupted_write_leaves_no_cache_file(track, tmp_path, monkeypatch):
    """Ctrl-C while the examples are saved: the next run must not find half a file."""
    track, root = track
    cache = tmp_path / "cache"
    real_savez = np.savez

    def interrupted(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)
        if hasattr(file, "truncate"):
            file.truncate(100)
        else:
            Path(file).write_bytes(Path(file).read_bytes()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        track_examples(track, root, CONFIG, cache)
    assert [path.name for path in cache.iterdir()] == []
