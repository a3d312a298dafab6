"""Set how many CPU threads torch uses: an argument, ``ZEN_NUM_THREADS`` or the usable cores.

Torch defaults to one thread per physical core of the machine, which oversubscribes CPUs when the
process is pinned to fewer cores (containers, ``taskset``, job schedulers). The default here is
the cores this process may actually run on.
"""

from __future__ import annotations

import logging
import os
import threading

import torch

from zen.errors import ConfigError

logger = logging.getLogger(__name__)

ENV_VAR = "ZEN_NUM_THREADS"
_DEFAULT_SOURCE = "cores available to this process"

_lock = threading.Lock()
_applied: int | None = None
# torch accepts set_num_interop_threads at most once, and only before parallel work starts.
_interop_attempted = False


def available_cores() -> int:
    """Number of CPU cores this process may run on (its affinity mask where the OS has one).

    >>> available_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _resolve(num_threads: int | None) -> tuple[int, str]:
    """The thread count to use and where it came from."""
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ConfigError(
                f"num_threads: expected a positive integer or None, got {num_threads!r}"
            )
        return num_threads, "num_threads argument"
    env_value = os.environ.get(ENV_VAR, "").strip()
    if env_value:
        try:
            parsed = int(env_value)
        except ValueError:
            parsed = 0
        if parsed < 1:
            raise ConfigError(
                f"{ENV_VAR}: expected a positive integer, got {env_value!r}; "
                f"set it to e.g. {available_cores()} or unset it"
            )
        return parsed, f"{ENV_VAR}={env_value}"
    return available_cores(), _DEFAULT_SOURCE


def configure_threads(num_threads: int | None = None) -> int:
    """Apply a CPU thread count to torch and return it.

    Args:
        num_threads: Threads for intra-op parallelism. ``None`` reads ``ZEN_NUM_THREADS``, and
            without it uses :func:`available_cores`.

    Returns:
        The thread count in effect. The default (no argument, no ``ZEN_NUM_THREADS``) is applied
        only on the first call of the process, so a user's own ``torch.set_num_threads`` holds.

    Raises:
        ConfigError: ``num_threads`` or ``ZEN_NUM_THREADS`` is not a positive integer.
    """
    global _applied, _interop_attempted
    count, source = _resolve(num_threads)
    with _lock:
        if source == _DEFAULT_SOURCE and _applied is not None:
            # The default is applied once per process; a later torch.set_num_threads by the
            # user wins over it, since every Trainer.fit calls this function again.
            return torch.get_num_threads()
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
        if not _interop_attempted:
            _interop_attempted = True
            try:
                torch.set_num_interop_threads(count)
            except RuntimeError as error:
                # Already set, or parallel work already ran: torch keeps its current value.
                logger.debug(
                    "inter-op threads left at %d: %s", torch.get_num_interop_threads(), error
                )
        if _applied != count:
            _applied = count
            logger.info("using %d CPU thread(s): %s", count, source)
    return count
