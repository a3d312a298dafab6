"""The options that say what the data are, shared by ``zen fit`` and ``zen tune``.

Both read the data the same way (a table, time series or a graph), so they take the same
options with the same help, declared once here as ``Annotated`` types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

_SERIES = "Time series"

Data = Annotated[
    Path | None,
    typer.Argument(help="CSV file (a table or time series) or a Planetoid graph folder."),
]
Target = Annotated[str | None, typer.Option("--target", "-t", help="Column to predict.")]
Edges = Annotated[
    Path | None, typer.Option(help="Graph as an edge-list CSV (with --nodes, --target).")
]
Nodes = Annotated[
    Path | None, typer.Option(help="Node CSV of --edges: id, features and the label.")
]
Horizon = Annotated[
    int | None, typer.Option("--horizon", "-H", help="Steps to forecast (time series).")
]
Task = Annotated[str, typer.Option(help="auto, classification or regression.")]
AsImage = Annotated[
    str | None,
    typer.Option(
        "--as-image",
        help="Read the table's other columns as the pixels of images of this size (8x8,"
        " or 3x32x32 with channels) and classify them with image networks.",
    ),
]
TestSize = Annotated[float, typer.Option(help="Share of rows held out for scoring.")]
Seed = Annotated[int, typer.Option(help="Seed for the split and training.")]
Policy = Annotated[
    str,
    typer.Option(
        help="Router policy: default, rules, learned, thompson, or ab (drawn per run"
        " between rules and learned, for `zen router compare`)."
    ),
]
Freq = Annotated[
    str | None,
    typer.Option(
        help="Time series: pandas frequency of the dates (h, D, B, W, MS, 15min...);"
        " default: the most common spacing.",
        rich_help_panel=_SERIES,
    ),
]
DateFormat = Annotated[
    str | None,
    typer.Option(
        help="Time series: strftime format of the dates, e.g. '%d/%m/%Y'; default: ISO"
        " 8601, or day-/month-first when a day above 12 tells.",
        rich_help_panel=_SERIES,
    ),
]
Fill = Annotated[
    str | None,
    typer.Option(
        help="Time series: fill gaps and empty values by interpolate, zero or drop;"
        " default: zero for intermittent counts, else interpolate.",
        rich_help_panel=_SERIES,
    ),
]
HistExog = Annotated[
    list[str] | None,
    typer.Option(
        help="Time series: a column known only up to now (e.g. a measured temperature);"
        " repeat or comma-separate.",
        rich_help_panel=_SERIES,
    ),
]
FutrExog = Annotated[
    list[str] | None,
    typer.Option(
        help="Time series: a column known in advance (calendar, prices, plans); its future"
        " values come from rows after each series' end with the target empty.",
        rich_help_panel=_SERIES,
    ),
]
Static = Annotated[
    list[str] | None,
    typer.Option(
        help="Time series: a column with one value per series (a store's size...).",
        rich_help_panel=_SERIES,
    ),
]


def cluster_option(what: str) -> Any:
    """``--cluster`` (or ``$ZEN_CLUSTER``): where ``what`` runs."""
    return typer.Option(
        envvar="ZEN_CLUSTER",
        help=f"Run {what} on a Ray cluster: an address (127.0.0.1:6379), auto (a running"
        " one), or local (this machine, the default).",
    )


def series_options(
    freq: str | None,
    date_format: str | None,
    fill: str | None,
    hist_exog: list[str] | None,
    futr_exog: list[str] | None,
    static: list[str] | None,
) -> dict[str, Any]:
    """The time-series options as the library takes them (``series_options=``)."""
    return {
        "freq": _parse_freq(freq),
        "date_format": date_format,
        "fill": fill,
        "hist_exog": _columns(hist_exog),
        "futr_exog": _columns(futr_exog),
        "static": _columns(static),
    }


def _columns(values: list[str] | None) -> tuple[str, ...]:
    """Column names from repeated and/or comma-separated option values."""
    return tuple(
        name.strip() for value in values or () for name in value.split(",") if name.strip()
    )


def _parse_freq(text: str | None) -> str | int | None:
    """``--freq``: a pandas frequency, or a whole number for integer time steps."""
    if text is None:
        return None
    from zen.profile.calendar import check_freq

    return check_freq(int(text) if text.strip().isdigit() else text.strip())
