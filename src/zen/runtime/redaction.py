"""File paths of the server out of what its clients see.

A load error such as ``/home/ana/models/churn/config.json: not valid JSON`` tells any client
where the server keeps its models and who runs it. The server answers with
``<path>/config.json: not valid JSON`` and keeps the full text in its log.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PLACEHOLDER", "redact_paths"]

PLACEHOLDER = "<path>"

# An absolute path as a token: after a space, quote, bracket or ':' (not inside a word, a
# number like 1/2 or a unit like rows/s), up to the next space, quote, bracket, ':' or ','.
_ABSOLUTE = re.compile(r"""(?<![\w.~<>/\\-])(?:~[/\\]|/|[A-Za-z]:[/\\])[^\s'"`:;,()\[\]{}<>]*""")


def redact_paths(text: str, roots: Iterable[str | Path] = ()) -> str:
    """``text`` with every file path of this machine replaced by ``<path>``.

    Two passes. First the given ``roots`` (model directories, caches, the home directory: what
    the caller knows it uses), as written and resolved, longest first; this also catches
    relative paths and paths with spaces, and keeps what follows the root
    (``<path>/config.json``). Then any other absolute path whose first component exists at
    this machine's root (``/srv/...``, ``/home/...``, ``/tmp/...``), and any ``C:\\...`` or
    ``~/...`` path. Routes such as ``/v1/models`` name nothing at the root and stay.

    Example:
        >>> redact_paths("/srv/models/churn/config.json: not valid JSON", ["/srv/models/churn"])
        '<path>/config.json: not valid JSON'
        >>> redact_paths("POST /v1/models/churn/predict with rows/s of 1/2")
        'POST /v1/models/churn/predict with rows/s of 1/2'
    """
    known = sorted(_spellings(roots), key=len, reverse=True)
    if known:
        pattern = "|".join(re.escape(root) for root in known)
        # Whole paths only: the root /srv/app must not eat half of /srv/application, nor a
        # relative root "runs/a" the tail of /data/runs/a (its absolute spelling is there).
        text = re.sub(rf"(?<![\w./\\-])(?:{pattern})(?![\w.-])", PLACEHOLDER, text)
    return _ABSOLUTE.sub(_absolute, text)


def _spellings(roots: Iterable[str | Path]) -> set[str]:
    """Each root as given, expanded (``~``, the working directory) and resolved (symlinks);
    never ``/`` or ``.`` alone."""
    spellings: set[str] = set()
    for root in roots:
        given = Path(root)
        candidates = [str(root), str(given.expanduser()), str(given.expanduser().absolute())]
        # A symlink loop cannot be resolved: the spellings above still count.
        with contextlib.suppress(OSError, RuntimeError):
            candidates.append(str(given.expanduser().resolve()))
        spellings.update(c.rstrip("/\\") for c in candidates if len(c.rstrip("/\\")) > 1)
    return spellings


def _absolute(match: re.Match[str]) -> str:
    token = match.group()
    if token.startswith("/"):
        first = token[1:].split("/", 1)[0]
        if first not in _root_entries():
            return token  # a route or a fraction, not a file here
    return PLACEHOLDER


@functools.cache
def _root_entries() -> frozenset[str]:
    try:
        return frozenset(os.listdir("/"))
    except OSError:
        return frozenset()
