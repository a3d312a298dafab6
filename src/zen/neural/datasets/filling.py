"""Turning raw cases (values with gaps) into the NaN-padded array every sequence network reads.

A raw case is a ``(channels, steps)`` float array in which NaN marks a missing value. Gaps
inside a case are filled here, once, so that the only NaN a network ever sees is the padding
after a case's end (the contract of :mod:`zen.neural.nets`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zen.errors import DataError


def fill_missing(
    values: np.ndarray,
    *,
    where: str,
    channel_names: Sequence[str],
    trim_end: bool,
) -> np.ndarray:
    """Fill the missing values of one case by linear interpolation along time, per channel.

    Leading gaps take a channel's first observed value and trailing gaps its last one (the
    constant extrapolation of :func:`numpy.interp`).

    Args:
        values: ``(channels, steps)`` floats, NaN where a value is missing.
        where: names the case in error messages (``"GunPoint_TRAIN.ts, line 20"``).
        channel_names: one name per channel for error messages (``"dimension 2"``).
        trim_end: treat steps at the end where every channel is missing as lying after the
            case's end (its padding) rather than as missing values, so the case gets shorter.

    Returns:
        ``(channels, length)`` float64 without NaN; ``length`` is ``steps`` unless trimmed.

    Raises:
        DataError: the case has no value at all, or one channel has none.

    >>> fill_missing(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]), where="case 0",
    ...              channel_names=["x"], trim_end=False)
    array([[1., 1., 2., 3., 3.]])
    """
    observed = ~np.isnan(values)
    observed_steps = np.flatnonzero(observed.any(axis=0))
    if observed_steps.size == 0:
        raise DataError(f"{where}: the case has no value at all; drop it or fill it in")
    if trim_end:
        length = int(observed_steps[-1]) + 1
        values, observed = values[:, :length], observed[:, :length]
    empty = np.flatnonzero(~observed.any(axis=1))
    if empty.size:
        raise DataError(
            f"{where}: {channel_names[int(empty[0])]} has no value at all (every step is"
            " missing); a channel needs at least one value to interpolate from"
        )
    if observed.all():
        return values.astype(np.float64, copy=False)
    filled = values.astype(np.float64, copy=True)
    steps = np.arange(values.shape[1])
    for channel in np.flatnonzero(~observed.all(axis=1)):
        known = observed[channel]
        filled[channel, ~known] = np.interp(steps[~known], steps[known], values[channel, known])
    return filled


def pad_cases(cases: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack filled cases of different lengths into one NaN-padded array.

    Args:
        cases: ``(channels, length_i)`` arrays without NaN, all with the same channel count.

    Returns:
        ``X`` float32 ``(n_cases, channels, max_length)`` with NaN after each case's end, and
        ``lengths`` int64 ``(n_cases,)``.

    >>> X, lengths = pad_cases([np.ones((1, 2)), np.zeros((1, 3))])
    >>> X[0], lengths
    (array([[ 1.,  1., nan]], dtype=float32), array([2, 3]))
    """
    lengths = np.array([case.shape[1] for case in cases], dtype=np.int64)
    channels = cases[0].shape[0]
    X = np.full((len(cases), channels, int(lengths.max())), np.nan, dtype=np.float32)
    for index, case in enumerate(cases):
        X[index, :, : case.shape[1]] = case
    return X, lengths
