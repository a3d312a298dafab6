"""The RBJ biquads shared by zen.audio's EQ and zen.runtime's workload have the cookbook's gains."""

from __future__ import annotations

import numpy as np
import pytest

from zen.errors import ConfigError
from zen.filters import clamp_frequency, rbj_biquad, sos_response

RATE = 44_100


def gain_db_at(section: np.ndarray, frequency_hz: float) -> float:
    return float(20 * np.log10(np.abs(sos_response(section[None], [frequency_hz], RATE)[0])))


@pytest.mark.parametrize("gain_db", [-6.0, -1.5, 2.0, 9.0])
def test_peak_has_its_gain_at_the_centre_and_none_far_away(gain_db) -> None:
    section = rbj_biquad("peak", 1_000.0, RATE, gain_db=gain_db, q=1.0)
    assert gain_db_at(section, 1_000.0) == pytest.approx(gain_db, abs=1e-6)
    assert gain_db_at(section, 20.0) == pytest.approx(0.0, abs=0.05)
    assert gain_db_at(section, 20_000.0) == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize(("kind", "far", "near"), [("low_shelf", 10.0, 20_000.0),
                                                    ("high_shelf", 21_000.0, 10.0)])  # fmt: skip
def test_shelves_reach_their_gain_on_their_side_only(kind, far, near) -> None:
    section = rbj_biquad(kind, 1_000.0, RATE, gain_db=6.0, q=0.707)
    assert gain_db_at(section, far) == pytest.approx(6.0, abs=0.1)
    assert gain_db_at(section, near) == pytest.approx(0.0, abs=0.1)
    # Half the gain at the corner frequency (the cookbook's shelf midpoint).
    assert gain_db_at(section, 1_000.0) == pytest.approx(3.0, abs=0.01)


def test_unknown_kinds_and_bad_q_are_refused_and_frequencies_clamped_below_nyquist() -> None:
    with pytest.raises(ConfigError, match="kind: unknown value 'notch'"):
        rbj_biquad("notch", 1_000.0, RATE)
    with pytest.raises(ConfigError, match="q: expected a positive"):
        rbj_biquad("peak", 1_000.0, RATE, q=0.0)
    assert clamp_frequency(30_000.0, RATE) == pytest.approx(0.45 * RATE)
    assert np.all(np.isfinite(rbj_biquad("peak", 30_000.0, RATE, gain_db=3.0)))
