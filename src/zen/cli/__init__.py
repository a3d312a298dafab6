"""The ``zen`` command: parse arguments, call the library, format the result with rich.

This package is the only part of zen that prints or exits. :mod:`zen.cli._shell` holds the typer
app and turns errors into one red line and an exit code; each other module adds the commands of
one area and registers them on import.
"""

from __future__ import annotations

from zen.cli import (  # noqa: F401  (importing registers their commands)
    cluster,
    export,
    flow,
    info,
    predict,
    records,
    runtime,
    serve,
    train,
    tune,
)
from zen.cli._shell import app, console, errors, parse_duration, reports_errors

__all__ = ["app", "console", "errors", "main", "parse_duration", "reports_errors"]


def main() -> None:
    """Entry point of the ``zen`` console script (and of ``python -m zen.cli``)."""
    app(prog_name="zen")  # also under python -m: usage lines and completion say "zen"


if __name__ == "__main__":
    main()
