"""The standard workload's DSP is real signal processing: RBJ filters and a stateful chain."""

from __future__ import annotations

import numpy as np
import pytest

from zen.runtime.workload import EQ_BANDS, StereoChain

RATE = 44_100


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
