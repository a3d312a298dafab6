"""The mastering assistant: a small network that listens and suggests the chain's corrections.

>>> from zen.audio.assistant import Assistant
>>> assistant = Assistant.load()                               # doctest: +SKIP
>>> suggestion = assistant.analyse(audio, 44100)               # doctest: +SKIP
>>> suggestion.eq_tilt_db_per_octave, suggestion.width         # doctest: +SKIP
(-1.2, 1.15)

It hears up to six 3 s windows of the audio (log-band spectra of mid and side, band and frame
dynamics, crest factors, level; :mod:`~zen.audio.assistant.features`), and an MLP predicts the
:class:`~zen.audio.presets.Corrections` the master chain applies: EQ tilt and band gains,
compression amount, width and loudness gap. It was trained self-supervised: real music from
Debian's game-music packages, brought to a reference balance, width and loudness
(:mod:`~zen.audio.assistant.reference`), then spoiled by known problems made with the chain's
own stages (:mod:`~zen.audio.assistant.degradations`), with the inverse of each problem as the
target (:mod:`~zen.audio.assistant.training`). The weights ship in ``zen/audio/weights``;
``make train-assistant`` rebuilds them. A group of outputs whose recorded held-out error does not
beat a constant guess by 15 % is withheld (:mod:`~zen.audio.assistant.abstention`): the shipped
weights' band gains are, and the report says so.

``master_file(..., assistant=True)`` and ``zen flow master --assistant`` call
:func:`suggest_corrections` through :func:`zen.audio.presets.load_assistant`.
"""

from zen.audio.assistant.features import FeatureConfig
from zen.audio.assistant.inference import (
    BACKENDS,
    Assistant,
    default_assistant,
    prefetch,
    suggest_corrections,
)
from zen.audio.presets import Corrections

Suggestion = Corrections
"""What :meth:`Assistant.analyse` returns: the chain's :class:`~zen.audio.presets.Corrections`."""

__all__ = [
    "BACKENDS",
    "Assistant",
    "Corrections",
    "FeatureConfig",
    "Suggestion",
    "default_assistant",
    "prefetch",
    "suggest_corrections",
]
