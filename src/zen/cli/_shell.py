"""What every ``zen`` command shares: the typer app, the consoles and the error mapping.

Every error a user can cause is a :class:`~zen.errors.ZenError` (or a file-system error) and
becomes one red line and exit code 1; ``--debug`` shows the traceback instead. Usage errors are
typer's (exit code 2).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

import zen

app = typer.Typer(
    name="zen",
    help="zen-neural: train, evaluate and apply neural networks from the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
_state = {"debug": False}
Command = TypeVar("Command", bound=Callable[..., Any])


def reports_errors(command: Command) -> Command:
    """Turn the errors a user can cause into one red line and exit code 1 (tracebacks: --debug).

    Anything else is a bug in zen; it gets a short line too, asking for a report.
    """

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (zen.ZenError, OSError) as error:
            if _state["debug"]:
                raise
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        except KeyboardInterrupt:
            errors.print("[red]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as error:
            if _state["debug"]:
                raise
            errors.print(
                f"[bold red]internal error:[/] {type(error).__name__}: {error}"
                " (run with --debug for the traceback, and please report it)",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(1)

    return run  # type: ignore[return-value]


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show info logs.")] = False,
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
