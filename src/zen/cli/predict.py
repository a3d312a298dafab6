"""``zen predict``: apply a run (table, forecast or graph) or a saved model to data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from zen.cli._shell import app, console, errors, json_option, print_json, reports_errors


@app.command()
@reports_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A run directory from `zen fit`, or its model/.")],
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Tables: a CSV with the same feature columns (required). Forecasts: new history"
            " of the same series (and future exogenous values). Graphs: a Planetoid folder."
            " Sequences: a .ts file or a long CSV (sequence_id, t, values)."
            " Default: the run's own data (forecasts, graphs)."
        ),
    ] = None,
    edges: Annotated[
        Path | None, typer.Option(help="Graphs: an edge-list CSV to predict on (with --nodes).")
    ] = None,
    nodes: Annotated[
        Path | None,
        typer.Option(help="Graphs: the node CSV of --edges with the model's feature columns."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write predictions here (CSV).")
    ] = None,
    json_output: Annotated[
        bool, json_option("a summary (and the predictions, without -o)")
    ] = False,
) -> None:
    """Apply a saved run or model to data and write its predictions (CSV).

    Tables: the rows with a `prediction` column. Forecasts: `unique_id, ds, <model>` (and
    interval columns) for the steps after each series' end. Graphs: `node, prediction` and a
    `prob_<label>` column per class, one row per node. Sequences: `sequence, prediction` and a
    `prob_<label>` column per class.
    """
    from zen.atomic import write_atomic
    from zen.orchestrator.predict import predict_saved

    done = predict_saved(model, data, edges=edges, nodes=nodes)
    frame = done.frame
    if output is not None:
        write_atomic(output, lambda temporary: frame.to_csv(temporary, index=False))
    if json_output:
        summary = {
            "kind": done.kind,
            "model_dir": str(done.model_dir.resolve()),
            "run_dir": None if done.run_dir is None else str(done.run_dir.resolve()),
            "data": done.data,
            "rows": len(frame),
            "columns": [str(column) for column in frame.columns],
            "output": None if output is None else str(output.resolve()),
            "target": done.target,
            "scores": done.scores,
        }
        if output is None:
            summary["predictions"] = json.loads(frame.to_json(orient="records", date_format="iso"))
        print_json(summary)
        return
    if output is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        console.print(f"[bold green]wrote[/] {len(frame)} predictions to {output}")
    if done.scores:
        shown = ", ".join(f"{name}={value:.4f}" for name, value in done.scores.items())
        against = f"column {done.target!r}" if done.target else "the data's labels"
        errors.print(f"scores against {against}: {shown}")
