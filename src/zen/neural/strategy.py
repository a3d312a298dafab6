"""Where a :class:`~zen.neural.Trainer` trains: in this process, or data-parallel on Ray Train.

Kept apart from :mod:`zen.neural.distributed` so that checking a setting never imports Ray.
"""

from __future__ import annotations

import importlib.util

from zen.errors import ConfigError, expect_one_of

#: ``local``: this process; ``ddp``: PyTorch DDP on Ray Train workers.
STRATEGIES = ("local", "ddp")


def ray_installed() -> bool:
    """Whether Ray Train can be imported (the ``cluster`` extra), without importing it."""
    return importlib.util.find_spec("ray") is not None


def check_strategy(strategy: str, num_workers: int, max_failures: int = 0) -> None:
    """Raise :class:`ConfigError` naming the setting when the strategy cannot run.

    Args:
        strategy: one of :data:`STRATEGIES`.
        num_workers: workers (processes) to train on; 1 for ``local``.
        max_failures: restarts allowed after a lost worker (``ddp``).
    """
    if strategy not in STRATEGIES:
        raise expect_one_of("strategy", strategy, STRATEGIES)
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ConfigError(f"num_workers: expected a positive integer, got {num_workers!r}")
    if strategy == "local" and num_workers != 1:
        raise ConfigError(
            f"num_workers: {num_workers} workers need strategy='ddp'; 'local' trains in one process"
        )
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 0:
        raise ConfigError(f"max_failures: expected an integer >= 0, got {max_failures!r}")
    if strategy == "ddp" and not ray_installed():
        raise ConfigError(
            "strategy: 'ddp' trains on Ray Train, which is not installed;"
            " pip install 'zen-neural[cluster]' or use strategy='local'"
        )
