"""``zen fit``, ``zen predict`` and ``zen info``: train on data, apply a model, show the setup."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import zen
from zen.cli._shell import app, console, errors, parse_duration, reports_errors, short


@app.command()
@reports_errors
def fit(
    data: Annotated[
        Path | None,
        typer.Argument(help="CSV file (a table or time series) or a Planetoid graph folder."),
    ] = None,
    target: Annotated[str | None, typer.Option("--target", "-t", help="Column to predict.")] = None,
    edges: Annotated[
        Path | None, typer.Option(help="Graph as an edge-list CSV (with --nodes, --target).")
    ] = None,
    nodes: Annotated[
        Path | None, typer.Option(help="Node CSV of --edges: id, features and the label.")
    ] = None,
    horizon: Annotated[
        int | None, typer.Option("--horizon", "-H", help="Steps to forecast (time series).")
    ] = None,
    budget: Annotated[
        str, typer.Option(help="Training time budget for time series and graphs: 90s, 5m, 1h.")
    ] = "5m",
    task: Annotated[str, typer.Option(help="auto, classification or regression.")] = "auto",
    epochs: Annotated[int, typer.Option(help="Maximum training epochs.")] = 300,
    test_size: Annotated[float, typer.Option(help="Share of rows held out for scoring.")] = 0.2,
    runs_dir: Annotated[Path, typer.Option(help="Where run directories are created.")] = Path(
        "runs"
    ),
    seed: Annotated[int, typer.Option(help="Seed for the split and training.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    explain: Annotated[
        bool,
        typer.Option(help="Show the task profile and the router's candidates; train nothing."),
    ] = False,
    tune: Annotated[
        bool, typer.Option(help="Tune the best-ranked candidate (Optuna) before training it.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes training candidates side by side (default: the cores)."),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            help="Router policy: default, rules, learned, thompson, or ab (drawn per run"
            " between rules and learned, for `zen router compare`)."
        ),
    ] = "learned",
    resume: Annotated[
        bool,
        typer.Option(
            help="Reuse the candidates an interrupted or failed run of the same job had"
            " trained (--no-resume trains all afresh)."
        ),
    ] = True,
) -> None:
    """Profile the data, train the router's candidates, report held-out scores and why."""
    from zen.orchestrator import fit as run_fit
    from zen.orchestrator.forecast_job import ForecastRunResult
    from zen.orchestrator.graph_job import GraphRunResult

    if explain:
        _explain(data, target, edges, nodes, horizon, task, parse_duration(budget), policy, seed)
        return
    result = run_fit(
        data,
        target,
        edges=edges,
        nodes=nodes,
        horizon=horizon,
        budget_s=parse_duration(budget),
        task=task,
        test_size=test_size,
        runs_dir=runs_dir,
        seed=seed,
        progress=progress,
        workers=workers,
        tune=tune,
        policy=policy,
        resume=resume,
        max_epochs=epochs,
    )
    if isinstance(result, ForecastRunResult):
        _show_forecast_run(result, data or Path("."))
    elif isinstance(result, GraphRunResult):
        _show_graph_run(result)
    else:
        _show_table_run(result, data)


def _explain(
    data: Path | None,
    target: str | None,
    edges: Path | None,
    nodes: Path | None,
    horizon: int | None,
    task: str,
    budget_s: float,
    policy: str,
    seed: int,
) -> None:
    """``zen fit --explain``: what profiling found and what the router proposes, and why."""
    from zen.orchestrator.history import History
    from zen.orchestrator.profile import profile_data
    from zen.orchestrator.router import route

    profile = profile_data(data, target, edges=edges, nodes=nodes, horizon=horizon, task=task)
    table = Table(title=f"task profile ({profile.family})")
    for column in ("feature", "value", "reason"):
        table.add_column(column, overflow="fold")
    for line in profile.explain():
        table.add_row(line.feature, escape(short(line.value)), escape(line.reason))
    console.print(table)
    shown = policy
    if policy == "ab":  # each run draws one of AB_POLICIES; show the learned one's view
        from zen.orchestrator.orchestration import AB_POLICIES

        shown = AB_POLICIES[-1]
        console.print(f"policy ab draws one of {', '.join(AB_POLICIES)} per run; showing {shown}")
    if shown == "thompson":  # the run's own draw is seeded by its run key, unknown before it runs
        console.print("policy thompson ranks by a draw from each candidate's posterior; every"
                      " run draws its own, so this ranking is one example")  # fmt: skip
    with History() as recorded:
        candidates = route(profile, budget_s, recorded, policy=shown, seed=seed)
    ranked = Table(title=f"router candidates (policy {shown}), best first")
    for column in ("rank", "model", "expected", "reason"):
        ranked.add_column(column, overflow="fold", justify="right" if column == "rank" else "left")
    for rank, candidate in enumerate(candidates, 1):
        expected = f"{candidate.expected_score:.3f} ± {candidate.uncertainty:.3f}"
        ranked.add_row(str(rank), candidate.name, expected, escape(candidate.reason))
    console.print(ranked)
    console.print("nothing trained (--explain); drop --explain to train these candidates")


def _show_why(result: Any) -> None:
    """The router's candidates in its order with its reasons, failures, ensemble and tuning."""
    extra = getattr(result, "extra", {}) or {}
    drawn = " (drawn for an A/B test)" if extra.get("ab_test") else ""
    console.print(f"why these candidates (router policy {extra.get('policy')}{drawn}):")
    for rank, candidate in enumerate(result.candidates, 1):
        console.print(
            f"  {rank}. [bold]{escape(candidate['name'])}[/]: {escape(candidate['reason'])}"
        )
    resumed = [row["model"] for row in result.leaderboard if row.get("resumed")]
    if resumed:
        console.print(f"resumed from an unfinished earlier run: {', '.join(resumed)}")
    if extra.get("regret") is not None:
        console.print(
            f"router regret {extra['regret']:.3f} (its first choice against the best trained"
            " candidate; 0 = it picked the winner)"
        )
    for failure in result.failed:
        console.print(f"[red]failed[/] {escape(failure['model'])}: {escape(failure['error'])}")
    ensemble = getattr(result, "ensemble", None)
    if ensemble:
        verdict = "beats" if ensemble["helps"] else "does not beat"
        mase = "n/a" if ensemble["mase"] is None else f"{ensemble['mase']:.3f}"
        console.print(
            f"median ensemble of {', '.join(ensemble['members'])}: sMAPE"
            f" {ensemble['smape']:.2f}, MASE {mase} — {verdict} the best single model"
        )
    if result.tuning:
        tuning = result.tuning
        if "skipped" in tuning:
            console.print(f"tuning skipped for {tuning['model']}: {escape(tuning['skipped'])}")
        else:
            console.print(
                f"tuned {tuning['model']}: study {tuning['study_name']!r},"
                f" {tuning['n_trials']} trials, best {tuning['best_value']:.4g}"
            )


def _show_record(result: Any) -> None:
    console.print(f"  html report      {result.run_dir / 'report.html'}")
    console.print(
        f"recorded in History as run {result.history_id}: zen history show {result.history_id}"
    )


def _show_table_run(result: Any, data: Path | None) -> None:
    profile = result.profile
    console.print(f"[bold]task[/]: {profile.kind} — {profile.reason}")
    if profile.dropped_rows:
        console.print(f"[yellow]dropped {profile.dropped_rows} row(s) without a target value[/]")
    table = Table(title=f"held-out scores ({result.n_test} rows; trained on {result.n_train})")
    table.add_column("metric")
    table.add_column(f"zen {result.best_model}", justify="right")
    table.add_column(f"baseline: {result.baseline_name}", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}", f"{result.baseline[name]:.4f}")
    console.print(table)
    board = Table(title="leaderboard (ranked by validation loss)")
    for column in ("model", "val loss", *result.metrics, "epochs", "fit s"):
        board.add_column(column, justify="left" if column == "model" else "right")
    for row in result.leaderboard:
        best = " (best)" if row["model"] == result.best_model else ""
        scores = [f"{row['test_metrics'][name]:.4f}" for name in result.metrics]
        board.add_row(row["model"] + best, f"{row['val_loss']:.4f}", *scores, str(row["epochs"]),
                      f"{row['fit_s']:.1f}")  # fmt: skip
    console.print(board)
    console.print(
        f"best: {result.best_model}, trained {result.epochs} epochs (best: {result.best_epoch})"
        f" in {result.train_time_s:.1f} s"
    )
    _show_why(result)
    console.print(f"[bold green]saved[/] {result.run_dir}/")
    console.print(f"  model            {result.model_dir}/")
    console.print(f"  report           {result.run_dir / 'report.json'}")
    console.print(f"  learning curves  {result.run_dir / 'learning_curves.png'}")
    if result.profile.kind == "classification":
        console.print(f"  confusion matrix {result.run_dir / 'confusion_matrix.png'}")
    _show_record(result)
    console.print(f"apply it: [bold]zen predict {result.run_dir} {data}[/]")


def _show_graph_run(result: Any) -> None:
    console.print(f"[bold]task[/]: {result.profile.kind} — {result.profile.reason}")
    console.print(f"split: {result.split}; models ranked by validation accuracy")
    table = Table(title="leaderboard")
    for column in ("model", "val accuracy", "test accuracy", "epochs", "fit s"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in result.leaderboard:
        test = "–" if row["test_accuracy"] is None else f"{row['test_accuracy']:.4f}"
        table.add_row(
            row["model"] + (" (best)" if row["model"] == result.best_model else ""),
            f"{row['val_accuracy']:.4f}",
            test,
            str(row["epochs"]),
            f"{row['fit_s']:.1f}",
        )
    console.print(table)
    _show_why(result)
    console.print(f"[bold green]saved[/] {result.run_dir}/")
    console.print(f"  best model       {result.model_dir}/ ({result.best_model})")
    console.print(f"  report           {result.run_dir / 'report.json'}")
    console.print(f"  learning curves  {result.run_dir / 'learning_curves.png'}")
    _show_record(result)


def _show_forecast_run(result: Any, data: Path) -> None:
    profile = result.profile
    console.print(f"[bold]task[/]: forecasting {profile.horizon} steps — {profile.reason}")
    console.print(
        f"season length {result.season_length}, input size {result.input_size};"
        f" scored on the last {profile.horizon} values of each series"
    )
    table = Table(title="leaderboard (held-out last window)")
    for column in ("model", "sMAPE", "MASE", "fit s"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in result.leaderboard:
        mase = "n/a" if row["mase"] is None else f"{row['mase']:.3f}"
        best = " (best)" if row["model"] == result.best_model else ""
        table.add_row(row["model"] + best, f"{row['smape']:.2f}", mase, f"{row['fit_s']:.1f}")
    console.print(table)
    _show_why(result)
    console.print(f"[bold green]saved[/] {result.run_dir}/")
    console.print(f"  model      {result.model_dir}/  (Forecaster.load(...).predict())")
    console.print(f"  report     {result.run_dir / 'report.json'}")
    console.print(f"  forecasts  {result.run_dir / 'forecasts.png'}")
    _show_record(result)


@app.command()
@reports_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A run directory from `zen fit`, or its model/.")],
    data: Annotated[Path, typer.Argument(help="CSV with the same feature columns.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write predictions here (CSV).")
    ] = None,
) -> None:
    """Apply a saved model to a CSV; writes the rows with a `prediction` column."""
    from zen.neural.checkpoint import write_atomic
    from zen.orchestrator import read_table
    from zen.tabular import TabularModel, score

    model_dir = model / "model" if (model / "model").is_dir() else model
    fitted = TabularModel.load(model_dir)
    frame = read_table(data)
    predictions = fitted.predict(frame)
    result = frame.assign(prediction=predictions)
    target = fitted.profile_.target
    if output is None:
        result.to_csv(sys.stdout, index=False)
    else:
        write_atomic(output, lambda temporary: result.to_csv(temporary, index=False))
        console.print(f"[bold green]wrote[/] {len(result)} predictions to {output}")
    if target in frame.columns and frame[target].notna().all():
        scores = score(fitted.profile_.kind, frame[target].to_numpy(), predictions)
        shown = ", ".join(f"{name}={value:.4f}" for name, value in scores.items())
        errors.print(f"scores against column {target!r}: {shown}")


@app.command()
@reports_errors
def info() -> None:
    """Show versions, compute devices and thread settings."""
    import numpy
    import pandas
    import torch

    from zen import compute

    threads = compute.configure_threads()
    table = Table(title=f"zen-neural {zen.__version__}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("python", platform.python_version())
    table.add_row("torch", torch.__version__)
    table.add_row("numpy / pandas", f"{numpy.__version__} / {pandas.__version__}")
    table.add_row("platform", platform.platform())
    chosen = compute.device_info()
    table.add_row("device", f"{chosen.device} ({chosen.kind}: {chosen.name}) — {chosen.reason}")
    for available in compute.available_devices():
        table.add_row("  available", f"{available.device}: {available.name}")
    table.add_row("threads", f"{threads} of {compute.available_cores()} cores")
    table.add_row("compile", compute.compile_status())
    console.print(table)
