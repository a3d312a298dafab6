"""Which DSP path runs: the numba kernels (native) or the NumPy/SciPy reference.

Every stage of :mod:`zen.audio.pillars` has both. The native path is the default; the reference
path is the oracle the tests compare against and the fallback, chosen

- by the flag ``ZEN_AUDIO_NATIVE=0`` (``1`` or unset: native),
- when numba cannot be imported (logged once at INFO),
- when a kernel fails at run time (logged once per stage at WARNING; the block is redone on the
  reference path, which shares the kernels' state layout). Failures happen when numba compiles,
  in a stage's first native block, which is redone from a copy of the state; a failure in a later
  block (not expected: the kernels raise nothing) continues from the state it left.

**Compiled kernels are cached on disk** by numba's own cache (``cache=True``), in the order numba
looks: ``NUMBA_CACHE_DIR`` when the user sets it, else the ``__pycache__`` folder next to
``_kernels.py`` when it is writable, else the user's cache folder (``~/.cache/numba`` on Linux),
which is where the kernels of a read-only installed package go. zen sets no numba option: the
user's own numba code keeps the user's settings. Writes are a temporary file renamed into place,
so two processes compiling at once leave a cache that loads (``tests/audio/test_kernel_cache.py``).
A kernel compiles on its first call with its argument types, so a preset compiles only the
kernels of the stages it switches on (a stage that is off calls none). Compiling takes seconds;
the first compilation in a process is logged once at INFO on the ``zen.audio.compile`` logger
(``zen flow master`` shows it). Without any writable cache folder the kernels still run, compiled
in every new process (logged once at WARNING).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from zen.errors import BackendUnavailable, ConfigError

logger = logging.getLogger(__name__)
compile_logger = logging.getLogger("zen.audio.compile")

ENV_VAR = "ZEN_AUDIO_NATIVE"
_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}

_lock = threading.Lock()
_kernels: ModuleType | None = None
_import_error: str | None = None
_announced: set[str] = set()


def native_requested() -> bool:
    """Whether ``ZEN_AUDIO_NATIVE`` asks for the native path (unset means yes).

    Raises:
        ConfigError: the variable holds something other than 0/1/true/false/yes/no/on/off.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ConfigError(f"{ENV_VAR}: expected 1 or 0, got {value!r}; unset it to use the default (1)")


def load_kernels() -> ModuleType | None:
    """The numba kernel module, or ``None`` when numba cannot be imported (logged once)."""
    global _kernels, _import_error
    with _lock:
        if _kernels is not None or _import_error is not None:
            return _kernels
        try:
            from zen.audio.pillars import _kernels as module
        except Exception as error:  # ImportError, or numba failing to initialise its LLVM
            _import_error = f"{type(error).__name__}: {error}"
            logger.info("using the NumPy reference DSP path: numba unavailable (%s)", _import_error)
            return None
        _kernels = module
    if module.UNCACHED:
        announce_once(
            "uncached",
            "the numba DSP kernels cannot be cached on disk (%s); they compile in every new"
            " process (seconds each time): set NUMBA_CACHE_DIR to a writable folder",
            module.UNCACHED[0],
            level=logging.WARNING,
        )
    return module


def resolve_kernels(native: bool | None) -> ModuleType | None:
    """The kernels a new stage should use: ``native`` True/False forces a path, None reads the flag.

    Raises:
        BackendUnavailable: ``native=True`` but numba cannot be imported.
    """
    if native is False:
        return None
    if native is None and not native_requested():
        announce_once("flag", "using the NumPy reference DSP path: %s=0", ENV_VAR)
        return None
    kernels = load_kernels()
    if kernels is None and native:
        raise BackendUnavailable(
            f"native=True: the numba DSP kernels are unavailable ({_import_error}); install the "
            "audio extra (pip install 'zen-neural[audio]') or pass native=None to fall back"
        )
    return kernels


def announce_once(key: str, message: str, *args: object, level: int = logging.INFO) -> None:
    """Log ``message`` the first time ``key`` is seen in this process."""
    with _lock:
        if key in _announced:
            return
        _announced.add(key)
    logger.log(level, message, *args)


def _announce_compile(event: Any) -> None:
    function = getattr(event.data.get("dispatcher"), "py_func", None)
    if function is None or function.__module__ != "zen.audio.pillars._kernels":
        return  # someone else's numba function
    with _lock:
        if "compile" in _announced:
            return
        _announced.add("compile")
    compile_logger.info(
        "compiling the audio DSP kernels (%s first): the first run on this machine, or after"
        " an upgrade, takes a few seconds more; later runs load them from numba's cache",
        function.__name__,
    )


@functools.cache
def _compile_listener() -> Any:
    """A ``numba.core.event.Listener`` that calls :func:`_announce_compile` (numba imported)."""
    from numba.core import event

    class CompileListener(event.Listener):
        def on_start(self, event: Any) -> None:
            _announce_compile(event)

        def on_end(self, event: Any) -> None:
            pass

    return CompileListener()


@contextlib.contextmanager
def compile_notice() -> Iterator[None]:
    """Within this block, a zen kernel that numba compiles (rather than loads) is announced.

    Listens to numba's ``numba:compile`` event only while the block runs and only for zen's
    kernels; a cache hit compiles nothing and says nothing.
    """
    if load_kernels() is None:  # no numba: nothing compiles
        yield
        return
    from numba.core import event

    listener = _compile_listener()
    event.register("numba:compile", listener)
    try:
        yield
    finally:
        event.unregister("numba:compile", listener)
