"""The exception hierarchy every zen module raises from.

Callers catch :class:`ZenError` to handle anything zen reports on purpose; the subclasses exist
where a caller would react differently (fix the data, fix the arguments, install a backend).
"""

from __future__ import annotations


class ZenError(Exception):
    """Root of all errors that zen raises deliberately."""


class DataError(ZenError, ValueError):
    """The data handed to zen is unusable: wrong shape, missing values, too short, ..."""


class ConfigError(ZenError, ValueError):
    """An argument or setting is invalid: unknown name, out-of-range value, conflicting options."""


class BackendUnavailable(ZenError, RuntimeError):
    """An optional backend (device, compiler, library) was asked for but cannot be used here."""


class NotFittedError(ZenError, RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""


def expect_one_of(argument: str, value: object, valid: list[str] | tuple[str, ...]) -> ConfigError:
    """Build the standard error for an unknown choice, listing the valid ones.

    >>> str(expect_one_of("optimizer", "adan", ["adam", "sgd"]))
    "optimizer: unknown value 'adan'; expected one of: adam, sgd"
    """
    return ConfigError(f"{argument}: unknown value {value!r}; expected one of: {', '.join(valid)}")
