"""Set how many CPU threads torch uses: an argument, ``ZEN_NUM_THREADS``, or a capped default.

Torch defaults to one thread per physical core of the machine, which oversubscribes CPUs when the
process may run on fewer cores (containers, ``taskset``, job schedulers). Without an argument or
``ZEN_NUM_THREADS``, zen lowers torch's count to the cores this process may run on, and only
when nobody else chose a count. Somebody chose when:

- ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set (torch takes its count from them at start-up);
- torch's count differs from the one it had when this module was imported, or from the one zen
  last set: ``torch.set_num_threads`` was called since.

A count set before this module is imported cannot be told apart from torch's default, which is
why the default only ever lowers the count: a user's count within the usable cores always stays.
(It never raises it either: torch's default already leaves out hyperthreads, on purpose.)
"""

from __future__ import annotations

import logging
import os
import threading

import torch

from zen.errors import ConfigError

logger = logging.getLogger(__name__)

ENV_VAR = "ZEN_NUM_THREADS"
#: Variables through which users give torch (OpenMP, MKL) a thread count at start-up.
TORCH_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_DEFAULT_SOURCE = "cores available to this process"

_lock = threading.Lock()
_applied: int | None = None
# torch accepts set_num_interop_threads at most once, and only before parallel work starts.
_interop_attempted = False
# torch's count as nobody but zen left it: the count at import, then whatever zen sets. A
# different count means the user called torch.set_num_threads.
_untouched_count = torch.get_num_threads()


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
    """Apply a CPU thread count to torch and return the count in effect.

    Args:
        num_threads: Threads for intra-op parallelism, always applied. ``None`` reads
            ``ZEN_NUM_THREADS`` (applied too), and without it caps torch's count at
            :func:`available_cores` unless the user chose a count (see the module docstring).

    Returns:
        The thread count in effect.

    Raises:
        ConfigError: ``num_threads`` or ``ZEN_NUM_THREADS`` is not a positive integer.
    """
    global _applied, _interop_attempted, _untouched_count
    count, source = _resolve(num_threads)
    with _lock:
        current = torch.get_num_threads()
        if source == _DEFAULT_SOURCE:
            chooser = _user_choice(current)
            if chooser is not None or current <= count:
                if _applied != current:
                    _applied = current
                    logger.info("using %d CPU thread(s): %s", current, chooser or "torch default")
                return current
        if current != count:
            torch.set_num_threads(count)
        _untouched_count = count
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


def _user_choice(current: int) -> str | None:
    """How the user chose torch's thread count, or None when nobody did (module docstring)."""
    for name in TORCH_ENV_VARS:
        if os.environ.get(name, "").strip():
            return f"{name} is set"
    if current != _untouched_count:
        return "set with torch.set_num_threads"
    return None
