"""Sequence and image data sets for zen's networks, read from local files (zen never downloads).

Readers return a :class:`SequenceSet`: a ``(n_cases, n_channels, max_length)`` float32 array,
NaN-padded after each case's end (the layout every network in :mod:`zen.neural.nets` reads),
with its labels.

>>> from zen.neural.datasets import SequenceSet, load_sequences
>>> # train, test = load_sequences("data/GunPoint")   # GunPoint_TRAIN.ts + GunPoint_TEST.ts
"""

from __future__ import annotations

from zen.neural.datasets.digits import load_digits_images
from zen.neural.datasets.loading import load_sequences
from zen.neural.datasets.long_csv import read_sequence_csv
from zen.neural.datasets.sequence_set import SequenceSet
from zen.neural.datasets.ts_reader import load_ts
from zen.neural.datasets.ts_writer import write_ts

__all__ = [
    "SequenceSet",
    "load_digits_images",
    "load_sequences",
    "load_ts",
    "read_sequence_csv",
    "write_ts",
]
