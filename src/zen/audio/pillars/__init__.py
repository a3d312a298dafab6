"""The Five Pillars of the master chain, one stage each.

=========  ===============  =====================================================
pillar     stage            what it does
=========  ===============  =====================================================
tone       Equalizer        RBJ biquads: high-pass, shelves, peaking bands
dynamics   Compressor       soft-knee compressor, optional Linkwitz-Riley bands
colour     Saturator        oversampled tanh / soft-clip saturation, dry/wet mix
space      StereoImager     mid/side width, mono below a crossover
loudness   Limiter          loudness gain and look-ahead true-peak limiter
=========  ===============  =====================================================

Every stage takes a frozen params dataclass and offers ``process(block)``, ``reset()``,
``set_params(params)`` and ``latency_samples``; see :mod:`zen.audio.pillars._stage`.
"""

from zen.audio.pillars.compressor import Compressor, CompressorParams, static_reduction_db
from zen.audio.pillars.eq import EQParams, Equalizer, PeakBand
from zen.audio.pillars.limiter import Limiter, LimiterParams
from zen.audio.pillars.saturator import Saturator, SaturatorParams, shape_curve
from zen.audio.pillars.stereo import StereoImager, StereoParams

__all__ = [
    "Compressor",
    "CompressorParams",
    "EQParams",
    "Equalizer",
    "Limiter",
    "LimiterParams",
    "PeakBand",
    "Saturator",
    "SaturatorParams",
    "StereoImager",
    "StereoParams",
    "shape_curve",
    "static_reduction_db",
]
