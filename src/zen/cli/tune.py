"""``zen tune``: an Optuna study for one model on some data, here or on a Ray cluster."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._data_options import (
    AsImage,
    Data,
    DateFormat,
    Edges,
    Fill,
    Freq,
    FutrExog,
    HistExog,
    Horizon,
    Nodes,
    Policy,
    Seed,
    Static,
    Target,
    Task,
    TestSize,
    cluster_option,
    series_options,
)
from zen.cli._shell import app, console, json_option, parse_duration, print_json, reports_errors


@app.command()
@reports_errors
def tune(
    data: Data = None,
    target: Target = None,
    edges: Edges = None,
    nodes: Nodes = None,
    horizon: Horizon = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to tune (MLP, NHITS, NBEATS, PatchTST, TCN, DeepAR, GCN, GAT, GraphSAGE;"
            " sequences: ResNet, FCN, RecurrentNet, TransformerNet; images: ConvNet);"
            " default: the router's first choice for the data.",
        ),
    ] = None,
    trials: Annotated[int, typer.Option(help="Trials to run (a study continues).")] = 20,
    timeout: Annotated[
        str | None, typer.Option(help="Stop starting trials after this long: 90s, 5m, 1h.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Where the study lives: a SQLite file, postgresql://..., or a *.journal file;"
            " default: History's database ($ZEN_HISTORY, else $ZEN_HOME/zen.db)."
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(help="Study name to create or continue; default: one per model and data."),
    ] = None,
    cluster: Annotated[str | None, cluster_option("the trials")] = None,
    parallel: Annotated[
        int | None,
        typer.Option(help="Trials at once on the cluster (default: one per CPU there)."),
    ] = None,
    task: Task = "auto",
    test_size: TestSize = 0.2,
    seed: Seed = 0,
    policy: Policy = "learned",
    freq: Freq = None,
    date_format: DateFormat = None,
    fill: Fill = None,
    hist_exog: HistExog = None,
    futr_exog: FutrExog = None,
    static: Static = None,
    as_image: AsImage = None,
    json_output: Annotated[bool, json_option("the study's summary")] = False,
) -> None:
    """Tune one model's hyperparameters with Optuna (TPE, median pruning) on the data's
    training part (what `zen fit` with the same --seed trains on), in one shared study."""
    from zen.orchestrator.jobs import tune_data

    found = tune_data(
        data,
        target,
        edges=edges,
        nodes=nodes,
        horizon=horizon,
        model=model,
        n_trials=trials,
        timeout_s=None if timeout is None else parse_duration(timeout),
        task=task,
        test_size=test_size,
        seed=seed,
        storage=storage,
        study_name=study,
        cluster=cluster,
        parallel=parallel,
        policy=policy,
        series_options=series_options(freq, date_format, fill, hist_exog, futr_exog, static),
        as_image=as_image,
    )
    if json_output:
        print_json(found)
        return
    _show(found)


def _show(found: dict[str, Any]) -> None:
    console.print(f"[bold]{found['model']}[/] on {escape(found['source'])} ({found['family']});"
                  f" chosen by {escape(found['chosen_by'])}")  # fmt: skip
    console.print(
        f"study {found['study_name']!r} in {escape(found['storage'])}: {found['n_trials']}"
        f" trials ({found['n_new_trials']} new; {found['n_complete']} complete,"
        f" {found['n_pruned']} pruned, {found['n_failed']} failed) in {found['elapsed_s']:.1f} s"
    )
    if found["n_pruned"]:
        console.print(f"pruning saved about {found['time_saved_s']:.0f} s of training")
    if found["nodes"]:
        spread = ", ".join(f"{node}: {count}" for node, count in sorted(found["nodes"].items()))
        console.print(f"trials per node: {spread}")
    table = Table(title=f"best trial: {found['best_value']:.4g} ({found['direction']})")
    table.add_column("hyperparameter")
    table.add_column("value", justify="right")
    for name, value in sorted(found["best_hyperparameters"].items()):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(name, escape(shown))
    console.print(table)
    console.print("the same command continues this study; pass these to your model's arguments")
