"""``zen history`` and ``zen router``: what was run, and how the routing policies compare."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import app, console, reports_errors, short, styled_status

history_app = typer.Typer(
    help="List the recorded runs (newest first), or `zen history show ID` for one.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(history_app, name="history")


@history_app.callback()
@reports_errors
def history(
    context: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only runs of this task kind.")] = None,
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status: running, done, failed...")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many runs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead.")] = False,
) -> None:
    """List recorded runs from $ZEN_HOME/zen.db, newest first."""
    if context.invoked_subcommand is not None:
        return
    from zen.orchestrator.history import History

    with History() as recorded:
        runs = recorded.runs(kind=kind, model=model, status=status, limit=limit)
        path = recorded.path
    if as_json:
        typer.echo(json.dumps([run.to_json() for run in runs], indent=2))
        return
    if not runs:
        filtered = kind or model or status
        console.print(f"no runs in {path}" + (" match these filters" if filtered else " yet"))
        return
    table = Table(title=f"runs in {path}")
    for column in ("id", "kind", "model", "status", "started (UTC)", "duration", "metrics"):
        table.add_column(column, justify="right" if column in ("id", "duration") else "left")
    for run in runs:
        table.add_row(
            str(run.id) if run.parent_id is None else f"{run.id} (of {run.parent_id})",
            escape(run.kind),
            escape(run.model),
            styled_status(run.status),
            run.started_at[:19].replace("T", " "),
            "–" if run.duration_s is None else f"{run.duration_s:.1f} s",
            escape(", ".join(f"{name}={short(value)}" for name, value in run.metrics.items())),
        )
    console.print(table)


@history_app.command("show")
@reports_errors
def history_show(
    run_id: Annotated[int, typer.Argument(help="The run's id, as `zen history` lists it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """Show one recorded run in full."""
    from zen.orchestrator.history import History

    with History() as recorded:
        run = recorded.get(run_id)
    if as_json:
        typer.echo(json.dumps(run.to_json(), indent=2))
        return
    table = Table(title=f"run {run.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in run.to_json().items():
        if name == "status":
            shown = styled_status(value)
        elif isinstance(value, dict):
            shown = json.dumps(value, indent=2) if value else "–"
        else:
            shown = "–" if value is None else f"{value:.3f}" if name == "duration_s" else str(value)
        table.add_row(name, shown if name == "status" else escape(shown))
    console.print(table)


router_app = typer.Typer(help="The router that picks candidate models: compare its policies.")
app.add_typer(router_app, name="router")


@router_app.command("compare")
@reports_errors
def router_compare(
    metric: Annotated[str, typer.Option(help="The outcome to compare, e.g. regret or mase.")],
    policies: Annotated[
        tuple[str, str] | None,
        typer.Option(help="The two policies (A B); default: the two found in History."),
    ] = None,
    method: Annotated[str, typer.Option(help="welch or bootstrap.")] = "welch",
    confidence: Annotated[float, typer.Option(help="Level of the interval.")] = 0.95,
    min_runs: Annotated[
        int | None,
        typer.Option(
            help="Randomised runs each policy needs before a winner is named; below it the"
            " numbers are shown with no conclusion. Default: MIN_RUNS_PER_POLICY (10)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
) -> None:
    """A/B test of routing policies on the randomised runs recorded in $ZEN_HOME/zen.db.

    Only runs whose policy was drawn at random (zen fit --policy ab) count.

    Exits 0 whether or not the runs settle it (--json: enough_runs, better); 1: nothing to compare.
    """
    from zen.orchestrator.history import History
    from zen.orchestrator.router import MIN_RUNS_PER_POLICY, compare_policies

    with History() as recorded:
        result = compare_policies(
            recorded, metric, policies, method=method, confidence=confidence,
            min_runs=MIN_RUNS_PER_POLICY if min_runs is None else min_runs,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    first, second = result.policies
    table = Table(title=f"routing policies on {metric} ({result.method}), randomised runs only")
    for column in ("policy", "runs", f"mean {metric}"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for policy, n, mean in zip(result.policies, result.n, result.means, strict=True):
        table.add_row(policy, str(n), short(mean))
    console.print(table)
    if result.left_out:
        console.print(
            f"left out: {result.left_out} run(s) under these policies whose policy was not drawn"
            " at random"
        )
    console.print(
        f"{second} - {first}: {result.difference:+.4g}, {result.confidence:.0%} interval"
        f" [{result.ci_low:.4g}, {result.ci_high:.4g}]"
        + ("" if result.p_value is None else f", p = {result.p_value:.3g}")
    )
    if not result.enough_runs:
        console.print(
            f"[yellow]not enough randomised runs to conclude[/]: {result.n[0]} and"
            f" {result.n[1]}, at least {result.min_runs} per policy needed; run more"
            " `zen fit --policy ab`"
        )
    elif result.better:
        console.print(f"better: {result.better}")
    else:
        console.print("no significant difference")
