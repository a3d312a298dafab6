"""Fixtures of the audio tests: the shared music (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_signals import read_music


@pytest.fixture(params=["drascula-track1.flac", "drascula-track31.flac"])
def music(request: pytest.FixtureRequest, shared_data: Path) -> tuple[np.ndarray, int]:
    """A few seconds of each shared track (quiet orchestral, loud); skips when absent."""
    path = shared_data / "audio" / request.param
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return read_music(path)
