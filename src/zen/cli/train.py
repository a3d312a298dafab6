"""``zen fit``: profile the data, train the router's candidates, report and save the best."""

from __future__ import annotations

from pathlib import Path
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
from zen.cli._shell import (
    app,
    console,
    json_option,
    parse_duration,
    print_json,
    reports_errors,
    short,
)
from zen.reports import run_summary


@app.command()
@reports_errors
def fit(
    data: Data = None,
    target: Target = None,
    edges: Edges = None,
    nodes: Nodes = None,
    horizon: Horizon = None,
    budget: Annotated[
        str, typer.Option(help="Training time budget for time series and graphs: 90s, 5m, 1h.")
    ] = "5m",
    task: Task = "auto",
    epochs: Annotated[int, typer.Option(help="Maximum training epochs.")] = 300,
    test_size: TestSize = 0.2,
    runs_dir: Annotated[Path, typer.Option(help="Where run directories are created.")] = Path(
        "runs"
    ),
    seed: Seed = 0,
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
    policy: Policy = "learned",
    resume: Annotated[
        bool,
        typer.Option(
            help="Reuse the candidates an interrupted or failed run of the same job had"
            " trained (--no-resume trains all afresh)."
        ),
    ] = True,
    freq: Freq = None,
    date_format: DateFormat = None,
    fill: Fill = None,
    hist_exog: HistExog = None,
    futr_exog: FutrExog = None,
    static: Static = None,
    cluster: Annotated[str | None, cluster_option("the candidates (and --tune's trials)")] = None,
    as_image: AsImage = None,
    json_output: Annotated[
        bool, json_option("the run's summary (with --explain: the profile and candidates)")
    ] = False,
) -> None:
    """Profile the data, train the router's candidates, report held-out scores and why."""
    from zen.orchestrator import fit as run_fit
    from zen.orchestrator.jobs.forecast import ForecastRunResult
    from zen.orchestrator.jobs.graph import GraphRunResult
    from zen.orchestrator.jobs.sequence import SequenceRunResult

    options = series_options(freq, date_format, fill, hist_exog, futr_exog, static)
    if explain:
        budget_s = parse_duration(budget)
        _explain(data, target, edges, nodes, horizon, task, budget_s, policy, seed,
                 options, json_output, as_image)  # fmt: skip
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
        series_options=options,
        executor=cluster_executor(cluster),
        cluster=None if cluster in (None, "local") else cluster,
        as_image=as_image,
        max_epochs=epochs,
    )
    if json_output:
        print_json(run_summary(result.run_dir))
        return
    if isinstance(result, ForecastRunResult):
        _show_forecast_run(result, data or Path("."))
    elif isinstance(result, GraphRunResult):
        _show_graph_run(result)
    elif isinstance(result, SequenceRunResult):
        _show_sequence_run(result)
    else:
        _show_table_run(result, data)


def cluster_executor(option: str | None) -> Any:
    """The executor factory ``--cluster`` asks for; None runs on this machine (no Ray)."""
    if option is None or option == "local":
        return None
    from zen.collective import Cluster

    return Cluster.resolve(option).factory()


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
    series_options: dict[str, Any],
    json_output: bool = False,
    as_image: str | None = None,
) -> None:
    """``zen fit --explain``: what profiling found and what the router proposes, and why."""
    from zen.orchestrator.history import History
    from zen.orchestrator.profile import profile_data
    from zen.orchestrator.router import route

    profile = profile_data(data, target, edges=edges, nodes=nodes, horizon=horizon, task=task,
                           series_options=series_options, as_image=as_image)  # fmt: skip
    shown = policy
    if policy == "ab":  # each run draws one of AB_POLICIES; show the learned one's view
        from zen.orchestrator.orchestration import AB_POLICIES

        shown = AB_POLICIES[-1]
    with History() as recorded:
        candidates = route(profile, budget_s, recorded, policy=shown, seed=seed)
    if json_output:
        print_json(
            {
                "profile": profile.to_json(),
                "explain": [line._asdict() for line in profile.explain()],
                "policy": shown,
                "candidates": [candidate.to_json() for candidate in candidates],
            }
        )
        return
    table = Table(title=f"task profile ({profile.family})")
    for column in ("feature", "value", "reason"):
        table.add_column(column, overflow="fold")
    for line in profile.explain():
        table.add_row(line.feature, escape(short(line.value)), escape(line.reason))
    console.print(table)
    if policy == "ab":
        console.print(f"policy ab draws one of {', '.join(AB_POLICIES)} per run; showing {shown}")
    if shown == "thompson":  # the run's own draw is seeded by its run key, unknown before it runs
        console.print("policy thompson ranks by a draw from each candidate's posterior; every"
                      " run draws its own, so this ranking is one example")  # fmt: skip
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
        console.print(
            f"median ensemble of {', '.join(ensemble['members'])} {verdict} the best single"
            " model on the validation window"
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
    console.print(
        f"apply it: [bold]zen predict {result.run_dir}[/] (this graph; or a new one with"
        " --edges/--nodes or a Planetoid folder)"
    )


def _show_sequence_run(result: Any) -> None:
    images = result.profile.family == "image classification"
    what = "images" if images else "sequences"
    console.print(f"[bold]task[/]: {result.profile.kind} — {result.profile.reason}")
    console.print(f"split: {result.split}; models ranked by validation accuracy")
    table = Table(title=f"held-out scores ({result.n_test} {what}; trained on"
                        f" {result.n_train})")  # fmt: skip
    table.add_column("metric")
    table.add_column(f"zen {result.best_model}", justify="right")
    table.add_column(f"baseline: {escape(result.baseline_name)}", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}", f"{result.baseline[name]:.4f}")
    console.print(table)
    board = Table(title="leaderboard (ranked by validation accuracy)")
    for column in ("model", "val accuracy", "test accuracy", "epochs", "fit s"):
        board.add_column(column, justify="right" if column != "model" else "left")
    for row in result.leaderboard:
        board.add_row(
            row["model"] + (" (best)" if row["model"] == result.best_model else ""),
            f"{row['val_accuracy']:.4f}", f"{row['test_metrics']['accuracy']:.4f}",
            str(row["epochs"]), f"{row['fit_s']:.1f}",
        )  # fmt: skip
    console.print(board)
    _show_why(result)
    console.print(f"[bold green]saved[/] {result.run_dir}/")
    console.print(f"  best model       {result.model_dir}/ ({result.best_model})")
    console.print(f"  report           {result.run_dir / 'report.json'}")
    console.print(f"  confusion matrix {result.run_dir / 'confusion_matrix.png'}")
    _show_record(result)
    data = "IMAGES.csv" if images else "SEQUENCES.ts[/] (or a long CSV)[bold]"
    console.print(f"apply it: [bold]zen predict {result.run_dir} {data}[/];"
                  f" serve it: zen serve {result.run_dir}")  # fmt: skip


def _show_forecast_run(result: Any, data: Path) -> None:
    profile = result.profile
    console.print(f"[bold]task[/]: forecasting {profile.horizon} steps — {profile.reason}")
    for note in result.preparation.get("notes", []):
        console.print(f"[yellow]data[/]: {escape(note)}")
    console.print(f"season length {result.season_length}, input size {result.input_size}")
    console.print(f"evaluation: {escape(result.evaluation)}")
    title = "leaderboard (chosen on validation, scored on test)"
    if not result.separate_test:
        title = "leaderboard (one held-out window: chosen and scored on it)"
    table = Table(title=title)
    windows = ("validation", "test") if result.separate_test else ("validation",)
    columns = [f"{w} {m}" for w in windows for m in ("sMAPE", "MASE")]
    for column in ("model", *columns, "fit s"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in result.leaderboard:
        cells = []
        for window in windows:
            scores = row[window] or {}
            cells.append("n/a" if scores.get("smape") is None else f"{scores['smape']:.2f}")
            cells.append("n/a" if scores.get("mase") is None else f"{scores['mase']:.3f}")
        best = " (best)" if row["model"] == result.best_model else ""
        table.add_row(row["model"] + best, *cells, f"{row['fit_s']:.1f}")
    console.print(table)
    _show_why(result)
    console.print(f"final model: {escape(result.final_model.get('reason', ''))}")
    console.print(f"[bold green]saved[/] {result.run_dir}/")
    console.print(f"  model      {result.model_dir}/  (zen predict {result.run_dir})")
    if result.forecast_path is not None:
        console.print(f"  forecast   {result.forecast_path}")
    else:
        console.print(f"  [yellow]{escape(result.extra.get('forecast_note', ''))}[/]")
    console.print(f"  report     {result.run_dir / 'report.json'}")
    console.print(f"  forecasts  {result.run_dir / 'forecasts.png'}")
    _show_record(result)
