"""Flow: the Five Pillars master chain and offline mastering.

>>> from zen.audio import master_file
>>> report = master_file("mix.wav", "master.wav", target_lufs=-14.0)  # doctest: +SKIP

:class:`MasterChain` streams blocks (``process``) or renders a whole programme
(``process_offline``, ``fit_process``); :func:`master_file` reads a file, masters it and writes
the result and a report. The DSP runs in numba kernels unless ``ZEN_AUDIO_NATIVE=0``.
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
