"""Chain settings, named presets, and the seam for the mastering assistant.

:class:`ChainSettings` holds every parameter of the five pillars. A preset is a named
``ChainSettings``; the assistant (``zen.audio.assistant``, a model built separately) predicts
:class:`Corrections` from the audio, and :func:`apply_corrections` turns them into settings.

The assistant plugs in by providing a module ``zen.audio.assistant`` with a function
``suggest_corrections(audio: np.ndarray, sample_rate: int) -> Corrections``; :func:`load_assistant`
finds it. Until that module exists, asking for the assistant raises ``BackendUnavailable`` (the
CLI default is ``--no-assistant``), so a master never silently skips a step the user asked for.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zen.audio.pillars.compressor import CompressorParams
from zen.audio.pillars.eq import EQParams, PeakBand, tilt_gains_db
from zen.audio.pillars.limiter import LimiterParams
from zen.audio.pillars.saturator import SaturatorParams
from zen.audio.pillars.stereo import MAX_WIDTH, StereoParams
from zen.errors import BackendUnavailable, ConfigError, expect_one_of

# Centres of the assistant's band gains (peaking bands, Q 1): low, low-mid, mid, presence, air.
ASSISTANT_BANDS_HZ = (80.0, 250.0, 1000.0, 3500.0, 10000.0)
MAX_TILT_DB_PER_OCTAVE = 3.0
MAX_BAND_GAIN_DB = 6.0
MAX_LOUDNESS_GAP_DB = 6.0


@dataclass(frozen=True)
class ChainSettings:
    """Every parameter of the master chain, one params object per pillar.

    ``ChainSettings()`` is the ``transparent`` preset. ``to_dict`` / ``from_dict`` round-trip
    through JSON.
    """

    eq: EQParams = field(default_factory=lambda: EQParams(high_pass_hz=20.0))
    compressor: CompressorParams = field(
        default_factory=lambda: CompressorParams(
            threshold_db=-10.0, ratio=1.5, attack_ms=30.0, release_ms=250.0, knee_db=6.0
        )
    )
    saturator: SaturatorParams = field(default_factory=lambda: SaturatorParams(mix=0.0))
    stereo: StereoParams = field(default_factory=StereoParams)
    limiter: LimiterParams = field(default_factory=LimiterParams)
    name: str = "custom"

    def replace(self, **changes: Any) -> ChainSettings:
        """A copy with some pillars (or the name) replaced."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainSettings:
        """Settings from :meth:`to_dict` output (missing pillars take their defaults)."""
        kinds = {
            "eq": EQParams,
            "compressor": CompressorParams,
            "saturator": SaturatorParams,
            "stereo": StereoParams,
            "limiter": LimiterParams,
        }
        unknown = set(data) - {*kinds, "name"}
        if unknown:
            raise ConfigError(f"settings: unknown keys {sorted(unknown)}; expected {sorted(kinds)}")
        try:
            parts = {key: kinds[key](**value) for key, value in data.items() if key in kinds}
        except TypeError as error:
            raise ConfigError(f"settings: {error}") from None
        return cls(**parts, name=str(data.get("name", "custom")))


def _presets() -> dict[str, ChainSettings]:
    transparent = ChainSettings(name="transparent")
    warm = ChainSettings(
        name="warm",
        eq=EQParams(
            high_pass_hz=25.0,
            low_shelf_hz=120.0,
            low_shelf_gain_db=1.5,
            high_shelf_hz=9000.0,
            high_shelf_gain_db=-1.0,
            bands=(PeakBand(350.0, 0.8, 0.8),),
        ),
        compressor=CompressorParams(
            threshold_db=-16.0, ratio=2.0, attack_ms=20.0, release_ms=200.0
        ),
        saturator=SaturatorParams(drive_db=6.0, mix=0.35, shape="tanh", oversampling=2),
        stereo=StereoParams(width=1.0, mono_below_hz=120.0),
    )
    loud = ChainSettings(
        name="loud",
        eq=EQParams(
            high_pass_hz=30.0,
            low_shelf_hz=90.0,
            low_shelf_gain_db=1.0,
            high_shelf_hz=10000.0,
            high_shelf_gain_db=1.5,
        ),
        compressor=CompressorParams(
            threshold_db=-20.0,
            ratio=3.0,
            attack_ms=5.0,
            release_ms=80.0,
            knee_db=6.0,
            makeup_db=2.0,
            crossovers_hz=(150.0, 2500.0),
            band_ratios=(3.0, 2.5, 2.0),
        ),
        saturator=SaturatorParams(drive_db=4.0, mix=0.25, shape="soft_clip", oversampling=2),
        stereo=StereoParams(width=1.1, mono_below_hz=150.0),
        limiter=LimiterParams(release_ms=60.0),
    )
    wide = ChainSettings(
        name="wide",
        eq=EQParams(high_pass_hz=25.0, high_shelf_hz=10000.0, high_shelf_gain_db=1.0),
        stereo=StereoParams(width=1.35, mono_below_hz=150.0),
    )
    return {preset.name: preset for preset in (transparent, warm, loud, wide)}


PRESETS: dict[str, ChainSettings] = _presets()
"""Named starting points: ``transparent`` (high-pass, gentle glue compression), ``warm`` (low
lift, soft top, tanh colour, mono bass), ``loud`` (3-band compression, makeup, soft clip, a
brighter top; pair it with a louder ``--target-lufs``), ``wide`` (wider image, mono bass).

``warm`` and ``loud`` saturate at 2x oversampling: with their moderate drive and partial mix the
aliases stay more than 80 dB below the programme on the shared music (measured against 8x), at
half the cost of 4x. Heavier settings should keep the default 4x (-89 dB at 12 dB of drive,
fully wet, where 2x gives only -56 dB)."""


def preset(name: str) -> ChainSettings:
    """The preset called ``name``."""
    if name not in PRESETS:
        raise expect_one_of("preset", name, sorted(PRESETS))
    return PRESETS[name]


@dataclass(frozen=True)
class Corrections:
    """What the assistant suggests, relative to a preset.

    Args:
        eq_tilt_db_per_octave: spectral tilt around 1 kHz (+ brighter), up to +-3 dB/octave.
        band_gains_db: gains at ``ASSISTANT_BANDS_HZ`` (80 Hz ... 10 kHz), up to +-6 dB each.
        compression_amount: 0 (none added) to 1 (threshold 12 dB lower, ratio + 2); the
            assistant may suggest less than 0 for a mix that is already over-compressed, which
            :func:`apply_corrections` reads as 0 (the chain cannot undo compression).
        width: multiplies the stereo width (1 = unchanged).
        loudness_gap_db: how far the mix sits below the level the chain's settings were made
            for (+ quieter), up to +-6 dB. The loudness stage measures and meets its target by
            itself; the gap moves the compressor's thresholds instead, so that a quiet mix is
            compressed as a mix at the reference level would be.
        abstentions: the suggestions the assistant withholds, each with its reason (for
            example band gains whose held-out error is no better than a constant guess's, see
            :mod:`zen.audio.assistant.abstention`); reported, never applied.
    """

    eq_tilt_db_per_octave: float = 0.0
    band_gains_db: tuple[float, ...] = ()
    compression_amount: float = 0.0
    width: float = 1.0
    loudness_gap_db: float = 0.0
    abstentions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        gains = tuple(float(g) for g in self.band_gains_db)
        object.__setattr__(self, "band_gains_db", gains)
        object.__setattr__(self, "abstentions", tuple(str(a) for a in self.abstentions))
        values = [
            self.eq_tilt_db_per_octave,
            self.compression_amount,
            self.width,
            self.loudness_gap_db,
            *gains,
        ]
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"corrections: expected finite numbers, got {self}")
        if len(gains) not in (0, len(ASSISTANT_BANDS_HZ)):
            raise ConfigError(
                f"band_gains_db: expected {len(ASSISTANT_BANDS_HZ)} gains (at"
                f" {ASSISTANT_BANDS_HZ} Hz) or none, got {len(gains)}"
            )
        if self.width < 0:
            raise ConfigError(f"width: expected a factor >= 0, got {self.width}")


def apply_corrections(settings: ChainSettings, corrections: Corrections) -> ChainSettings:
    """Settings moved by the assistant's corrections, each clipped to its documented range.

    Tilt goes into the shelves (:func:`~zen.audio.pillars.eq.tilt_gains_db`, corners 250 Hz and
    4 kHz), band gains into peaking bands added after the preset's, compression into threshold
    and ratio, width multiplies, and the loudness gap lowers (raises) the compressor's
    thresholds by as many dB as the mix is quieter (louder) than the reference level; the
    loudness target is the user's and stays.
    """
    tilt = float(
        np.clip(corrections.eq_tilt_db_per_octave, -MAX_TILT_DB_PER_OCTAVE, MAX_TILT_DB_PER_OCTAVE)
    )
    low_db, high_db = tilt_gains_db(tilt, 250.0, 4000.0)
    eq = settings.eq
    bands = list(eq.bands)
    for freq, gain in zip(ASSISTANT_BANDS_HZ, corrections.band_gains_db, strict=False):
        gain = float(np.clip(gain, -MAX_BAND_GAIN_DB, MAX_BAND_GAIN_DB))
        if gain != 0.0:
            bands.append(PeakBand(freq, gain, 1.0))
    eq = dataclasses.replace(
        eq,
        low_shelf_hz=250.0 if tilt else eq.low_shelf_hz,
        high_shelf_hz=4000.0 if tilt else eq.high_shelf_hz,
        low_shelf_gain_db=float(np.clip(eq.low_shelf_gain_db + low_db, -24, 24)),
        high_shelf_gain_db=float(np.clip(eq.high_shelf_gain_db + high_db, -24, 24)),
        bands=tuple(bands),
    )
    amount = float(np.clip(corrections.compression_amount, 0.0, 1.0))
    gap = float(np.clip(corrections.loudness_gap_db, -MAX_LOUDNESS_GAP_DB, MAX_LOUDNESS_GAP_DB))
    shift_db = -12.0 * amount - gap
    compressor = dataclasses.replace(
        settings.compressor,
        threshold_db=float(np.clip(settings.compressor.threshold_db + shift_db, -80.0, 0.0)),
        ratio=min(settings.compressor.ratio + 2.0 * amount, 100.0),
        band_thresholds_db=tuple(
            float(np.clip(t + shift_db, -80.0, 0.0)) for t in settings.compressor.band_thresholds_db
        ),
        band_ratios=tuple(min(r + 2.0 * amount, 100.0) for r in settings.compressor.band_ratios),
    )
    stereo = dataclasses.replace(
        settings.stereo,
        width=float(np.clip(settings.stereo.width * corrections.width, 0, MAX_WIDTH)),
    )
    return settings.replace(
        eq=eq,
        compressor=compressor,
        stereo=stereo,
        name=f"{settings.name}+assistant",
    )


SuggestCorrections = Callable[[np.ndarray, int], Corrections]


def load_assistant() -> SuggestCorrections:
    """``zen.audio.assistant.suggest_corrections``, or BackendUnavailable when it is not there."""
    try:
        module = importlib.import_module("zen.audio.assistant")
    except ModuleNotFoundError as error:
        if error.name not in ("zen.audio.assistant",):
            raise BackendUnavailable(
                f"assistant: zen.audio.assistant needs {error.name!r}, which is not installed"
            ) from None
        raise BackendUnavailable(
            "assistant: the mastering assistant model (zen.audio.assistant) is not part of this"
            " installation yet; run without --assistant (--no-assistant) and pick a --preset"
        ) from None
    suggest = getattr(module, "suggest_corrections", None)
    if not callable(suggest):
        raise BackendUnavailable(
            "assistant: zen.audio.assistant has no suggest_corrections(audio, sample_rate)"
        )
    return suggest
