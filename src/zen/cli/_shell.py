"""What every ``zen`` command shares: the typer app, the consoles, JSON output and exit codes.

Exit codes (the same for every command):

====  =====================================================================================
0     done
1     an internal error: a bug in zen (one line asking for a report; ``--debug`` shows the
      traceback)
2     a usage or input error: a wrong option (typer's message), or any
      :class:`~zen.errors.ZenError` or file-system error (one red line saying what to do)
130   interrupted (Ctrl-C)
====  =====================================================================================

Commands with ``--json`` write one JSON document on stdout (:func:`print_json`) and nothing
else there; messages and progress go to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

import zen

EXIT_INTERNAL = 1
EXIT_USAGE = 2  # click's code for usage errors; zen's input errors share it
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

app = typer.Typer(
    name="zen",
    help="zen-neural: train, evaluate and apply neural networks from the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
_state = {"debug": False}
Command = TypeVar("Command", bound=Callable[..., Any])


def reports_errors(command: Command) -> Command:
    """Turn the errors a user can cause into one red line and exit code 2 (tracebacks: --debug).

    Anything else is a bug in zen: a short line asking for a report, exit code 1. Ctrl-C exits
    with 130.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (zen.ZenError, OSError) as error:
            if _state["debug"]:
                raise
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            errors.print("[red]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:
            if _state["debug"]:
                raise
            errors.print(
                f"[bold red]internal error:[/] {type(error).__name__}: {error}"
                " (run with --debug for the traceback, and please report it)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return run  # type: ignore[return-value]


def print_json(payload: Mapping[str, Any]) -> None:
    """Write ``payload`` as one JSON document on stdout: paths as strings, NaN and infinities
    as null (strict JSON has neither), numpy scalars as numbers."""
    text = json.dumps(_jsonable(payload), indent=2, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def json_option(what: str) -> Any:
    """The ``--json`` option of a command: ``what`` says what the JSON document holds."""
    return typer.Option("--json", help=f"Print {what} as JSON on stdout (messages: stderr).")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"zen-neural {zen.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"5m"``, ``"1h"`` or a plain number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    cleaned = text.strip().lower()
    try:
        if cleaned and cleaned[-1] in units:
            seconds = float(cleaned[:-1]) * units[cleaned[-1]]
        else:
            seconds = float(cleaned)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise zen.ConfigError(f"budget: expected a duration like 90s, 5m or 1h, got {text!r}")
    return seconds


def styled_status(status: str) -> str:
    colour = {"done": "green", "failed": "red", "interrupted": "yellow"}.get(status, "cyan")
    return f"[{colour}]{status}[/]"


def short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
