"""Constructor-argument checks shared by the networks of :mod:`zen.neural.nets`.

Each returns the value in its canonical type or raises :class:`~zen.errors.ConfigError` naming
the argument, what was got and what was expected.

>>> positive_int("latent_dim", 8)
8
>>> int_tuple("hidden", [32, 16])
(32, 16)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from zen.errors import ConfigError, expect_one_of


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1."""
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    """``value`` as an int >= 0."""
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
    return int(value)


def positive_float(name: str, value: Any) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def non_negative_float(name: str, value: Any) -> float:
    """``value`` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: expected a number >= 0, got {value!r}")
    if not (value >= 0 and math.isfinite(value)):
        raise ConfigError(f"{name}: expected a finite number >= 0, got {value!r}")
    return float(value)


def int_tuple(
    name: str, value: Any, *, min_length: int = 1, length: int | None = None
) -> tuple[int, ...]:
    """``value`` (a sequence of positive ints, at least ``min_length`` long, or exactly
    ``length`` when given) as a tuple."""
    if length is not None:
        expected = f"{length} positive integer(s)"
    else:
        expected = f"a sequence of at least {min_length} positive integer(s)"
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) < (min_length if length is None else length)
        or (length is not None and len(value) != length)
        or not all(_is_int(item) and item >= 1 for item in value)
    ):
        raise ConfigError(f"{name}: expected {expected}, got {value!r}")
    return tuple(int(item) for item in value)


def one_of(name: str, value: Any, options: Sequence[str]) -> str:
    """``value`` when it is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise expect_one_of(name, value, list(options))
    return value
