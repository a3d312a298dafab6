"""The standard workload's DSP is real signal processing: RBJ filters and a stateful chain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from zen.errors import ConfigError
from zen.runtime.workload import EQ_BANDS, StereoChain, rbj_biquad

RATE = 44_100


def gain_db_at(section: np.ndarray, frequency_hz: float) -> float:
    _, response = signal.sosfreqz(section[None, :], worN=[frequency_hz], fs=RATE)
    return float(20 * np.log10(np.abs(response[0])))


@pytest.mark.parametrize("gain_db", [-6.0, -1.5, 2.0, 9.0])
def test_peaking_filter_has_its_gain_at_the_centre_and_none_far_away(gain_db) -> None:
    section = rbj_biquad("peaking", 1_000.0, gain_db, 1.0, RATE)
    assert gain_db_at(section, 1_000.0) == pytest.approx(gain_db, abs=1e-6)
    assert gain_db_at(section, 20.0) == pytest.approx(0.0, abs=0.05)
    assert gain_db_at(section, 20_000.0) == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize(("kind", "far", "near"), [("lowshelf", 10.0, 20_000.0),
                                                    ("highshelf", 21_000.0, 10.0)])  # fmt: skip
def test_shelves_reach_their_gain_on_their_side_only(kind, far, near) -> None:
    section = rbj_biquad(kind, 1_000.0, 6.0, 0.707, RATE)
    assert gain_db_at(section, far) == pytest.approx(6.0, abs=0.1)
    assert gain_db_at(section, near) == pytest.approx(0.0, abs=0.1)
    # Half the gain at the corner frequency (the cookbook's shelf midpoint).
    assert gain_db_at(section, 1_000.0) == pytest.approx(3.0, abs=0.01)


def test_rbj_biquad_rejects_unknown_kinds_and_frequencies() -> None:
    with pytest.raises(ConfigError, match="kind: unknown value 'notch'"):
        rbj_biquad("notch", 1_000.0, 0.0, 1.0, RATE)
    with pytest.raises(ConfigError, match="f0_hz"):
        rbj_biquad("peaking", 30_000.0, 0.0, 1.0, RATE)


def test_the_chain_carries_filter_state_across_blocks() -> None:
    blockwise, whole = StereoChain(seed=1), StereoChain(seed=1)
    blocks = [blockwise.source() for _ in range(8)]
    outputs = np.concatenate([blockwise.process(block) for block in blocks], axis=1)
    expected = whole.process(np.concatenate(blocks, axis=1))
    np.testing.assert_allclose(outputs, expected, atol=1e-12)
    assert len(blockwise.eq) == len(EQ_BANDS)


def test_the_compressor_reduces_loud_signals_and_leaves_quiet_ones() -> None:
    chain = StereoChain()
    time = np.arange(4_096) / RATE
    quiet = np.tile(0.01 * np.sin(2 * np.pi * 440 * time), (2, 1))
    chain.process(quiet)
    assert chain.gain_reduction_db == pytest.approx(0.0, abs=1e-9)
    loud = np.tile(0.9 * np.sin(2 * np.pi * 440 * time), (2, 1))
    chain.process(loud)
    assert chain.gain_reduction_db > 6.0


def test_process_block_fills_the_history_the_analysis_reads() -> None:
    chain = StereoChain()
    for _ in range(3):
        chain.process_block()
    assert chain.blocks == 3
    assert np.count_nonzero(chain.history.any(axis=1)) == 3
    assert chain.peak.shape == (2,) and np.all(chain.peak <= 1.0)
