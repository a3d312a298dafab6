"""A bounded LRU cache of model outputs, keyed by a hash of the model and the input bytes.

>>> cache = ResultCache(max_entries=2)
>>> cache.put(b"a", [np.zeros(3)]); cache.put(b"b", [np.ones(3)]); cache.put(b"c", [np.ones(1)])
>>> cache.get(b"a") is None, cache.get(b"c")[0].tolist(), cache.stats().evictions
(True, [1.0], 1)

Values are lists of arrays, made read-only when stored: a response built from a cached value
cannot change what the next hit returns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from zen.errors import ConfigError

__all__ = ["CacheStats", "ResultCache"]


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`ResultCache` since it was made."""

    entries: int
    bytes: int
    hits: int
    misses: int
    evictions: int
    max_entries: int
    max_bytes: int

    @property
    def hit_rate(self) -> float:
        """Hits per lookup (0 before any lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class ResultCache:
    """Least-recently-used outputs, bounded by entry count and by bytes (thread-safe).

    Args:
        max_entries: entries kept; 0 turns the cache off (every lookup misses, nothing stored).
        max_bytes: total array bytes kept; an entry larger than this is never stored.
    """

    def __init__(self, max_entries: int = 1024, max_bytes: int = 64 << 20) -> None:
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}: expected an integer >= 0, got {value!r}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, tuple[list[np.ndarray], int]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = self._evictions = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: bytes) -> list[np.ndarray] | None:
        """The outputs stored under ``key`` (now the most recent), or None (a miss)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: bytes, outputs: list[np.ndarray]) -> None:
        """Store ``outputs`` under ``key``, evicting the least recently used beyond the bounds."""
        if not self.enabled:
            return
        stored = []
        for output in outputs:
            copy = np.array(output, copy=True)
            copy.flags.writeable = False
            stored.append(copy)
        size = sum(array.nbytes for array in stored)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (stored, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self._bytes -= freed
                self._evictions += 1

    def clear(self) -> None:
        """Drop every entry (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                len(self._entries),
                self._bytes,
                self._hits,
                self._misses,
                self._evictions,
                self.max_entries,
                self.max_bytes,
            )

    def __repr__(self) -> str:
        return f"ResultCache({len(self)}/{self.max_entries} entries, {self._bytes} bytes)"
