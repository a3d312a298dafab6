"""Flow: the Five Pillars master chain and offline mastering.

>>> from zen.audio import master_file
>>> report = master_file("mix.wav", "master.wav", target_lufs=-14.0)  # doctest: +SKIP

**The chain.** :class:`MasterChain` runs tone (RBJ EQ), dynamics (soft-knee compressor,
optionally multiband), colour (oversampled saturation), space (mid/side width, mono bass) and
loudness (gain and a look-ahead true-peak limiter), see :mod:`zen.audio.pillars`. Settings are a
:class:`ChainSettings` (one frozen params dataclass per pillar); :data:`PRESETS` names a few.

**Latency.** The saturator's linear-phase oversampling filters (24 samples), the limiter's
look-ahead (5 ms) plus its detector (10 samples) and, with a reference, the matching FIR delay
the output; ``MasterChain.latency_samples`` says by how much. ``process`` (streaming) returns
delayed audio; ``process_offline`` and ``fit_process`` flush and trim, so their output lines up
with the input sample for sample. Streaming in any block size gives the offline output shifted by
the latency (tests hold it to 1e-11).

**Loudness.** Integrated loudness (BS.1770-4 / EBU R128) needs the whole programme, so targeting
is an analysis pass: ``fit`` renders the first four pillars, measures them (BS.1770-4), sets
the limiter's input gain, renders the limiter, measures again and corrects the gain until the
output is within 0.1 LU of the target (the limiter takes loudness away as it works). A stream
cannot know its integrated loudness in advance: run ``fit`` on the programme first (or set
``LimiterParams.gain_db`` from a previous analysis) and stream with that fixed gain; gain changes
while streaming glide, they do not jump. True peak is measured at 4x (BS.1770-4 Annex 2) by
:func:`zen.audio.loudness.true_peak_dbtp`. Both meters are zen's own, on the numba kernels
(:mod:`zen.audio.loudness`; the tests hold the loudness meter to pyloudnorm).

**Reference matching.** With a reference, ``fit`` compares 1/3-octave average spectra and adds a
linear-phase FIR (limited to +-12 dB) before the limiter, and the reference's loudness becomes
the target (:mod:`zen.audio.matching`).

**Native speed.** Each stage has numba kernels (``nogil``, cached on disk) and a NumPy/SciPy
reference that keeps the same state, chosen by ``ZEN_AUDIO_NATIVE`` (see :mod:`zen.audio._native`).
On real music the two agree within 1e-9 (full scale 1). pedalboard was considered for the fast
path: its peak and shelf filters are the same RBJ biquads (JUCE), but it filters in float32, its
high-pass is first order, and on our machine it ran a 4-biquad cascade 2.4x slower than the numba
kernel; its compressor (no knee, no makeup), distortion (no oversampling, no mix) and limiter
(no look-ahead, no true peak) are different stages. It is a peer in the benchmark instead.
"""

from zen.audio.chain import MasterChain
from zen.audio.master import master_file
from zen.audio.presets import PRESETS, ChainSettings, Corrections, apply_corrections, preset

__all__ = [
    "PRESETS",
    "ChainSettings",
    "Corrections",
    "MasterChain",
    "apply_corrections",
    "master_file",
    "preset",
]
