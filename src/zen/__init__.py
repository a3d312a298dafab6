"""zen-neural: neural computing on PyTorch.

Subpackages are imported on demand (``from zen.neural import MLP``) so that ``import zen`` stays
cheap; the names here are the ones every module shares.
"""

from __future__ import annotations

from zen.errors import BackendUnavailable, ConfigError, DataError, NotFittedError, ZenError

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailable",
    "ConfigError",
    "DataError",
    "NotFittedError",
    "ZenError",
    "__version__",
]
