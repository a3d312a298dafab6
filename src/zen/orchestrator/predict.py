"""``zen predict``: apply any saved run or model to data, whatever its kind.

:func:`predict_saved` loads the model with the one loader (:func:`zen.export.saved.load_saved`)
and hands it to its kind's predictor:

============  ==============================================  ===================================
kind          data                                            rows of the result
============  ==============================================  ===================================
tabular       a CSV with the training columns (required)      its rows + ``prediction``
forecast      new history (+ future exogenous values), or     ``unique_id, ds, <model>`` (+
              none: the run's own data                        ``-lo-80`` ... intervals)
graph         a Planetoid folder or edge and node CSVs, or    ``node, prediction, prob_<label>``
              none: the run's own graph
sequence      a ``.ts`` file or a long CSV (``sequence_id,    ``sequence, prediction,
              t, value...`` [+ ``label``])                    prob_<label>``
image         a CSV of pixel columns (+ the label column)     ``image, prediction, prob_<label>``
============  ==============================================  ===================================

Data whose columns do not match what the model was trained on is refused with the missing
columns named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zen.errors import ConfigError
from zen.export.saved import SavedModel, load_saved
from zen.orchestrator.forecast_predict import predict_saved_forecaster


@dataclass(frozen=True)
class Predictions:
    """What :func:`predict_saved` predicted, on what, with which model.

    Attributes:
        kind: the model's kind (``"tabular"``, ``"forecast"``, ``"graph"`` or ``"sequence"``).
        frame: the predictions (see the module docstring for the columns of each kind).
        model_dir: the model directory read.
        run_dir: its ``zen fit`` run directory, or None.
        data: what was predicted on: the path(s) given, or None for the run's own data.
        target: tables: the column the model predicts.
        scores: tables whose ``data`` holds the target column, and labelled sequences: the
            model's scores on them.
    """

    kind: str
    frame: pd.DataFrame
    model_dir: Path
    run_dir: Path | None
    data: list[str] | None = None
    target: str | None = None
    scores: dict[str, float] = field(default_factory=dict)


def predict_saved(
    path: str | Path,
    data: str | Path | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
) -> Predictions:
    """Apply the model of a run (or model) directory to ``data``.

    Args:
        path: ``runs/<id>/`` from ``zen fit``, or a saved model directory.
        data: tables: a CSV of rows with the feature columns (required); forecasts: a CSV of
            new history of the same series in long format (and future exogenous values when
            the model uses them); graphs: a Planetoid folder. Default (forecasts, graphs): the
            data the run was trained on.
        edges, nodes: graphs only: an edge-list CSV and a node CSV instead of ``data``.

    Raises:
        DataError: ``data`` lacks columns the model reads (named), or cannot be read.
        ConfigError: arguments that do not fit the model's kind, or a model zen cannot apply.
    """
    saved = load_saved(path)
    given = [str(each) for each in (data, edges, nodes) if each is not None] or None
    if saved.kind != "graph" and (edges is not None or nodes is not None):
        raise ConfigError(
            f"edges, nodes: only graph models read --edges/--nodes; {saved.directory} holds a"
            f" {saved.kind} model"
        )
    if saved.kind == "tabular":
        frame, scores = _predict_table(saved, data)
        target = saved.model.profile_.target
        return Predictions("tabular", frame, saved.directory, saved.run_dir, given, target, scores)
    if saved.kind == "forecast":
        frame = predict_saved_forecaster(
            saved.directory, None if data is None else Path(data), forecaster=saved.model
        )
        return Predictions("forecast", frame, saved.directory, saved.run_dir, given)
    if saved.kind == "graph":
        from zen.orchestrator.graph_predict import predict_saved_graph

        frame = predict_saved_graph(saved, data, edges=edges, nodes=nodes)
        return Predictions("graph", frame, saved.directory, saved.run_dir, given)
    if saved.kind in ("sequence", "image"):
        from zen.orchestrator.sequence_predict import predict_saved_sequences

        frame, scores = predict_saved_sequences(saved, data)
        return Predictions(saved.kind, frame, saved.directory, saved.run_dir, given, None, scores)
    raise ConfigError(
        f"model: {saved.directory} is a Trainer checkpoint of a {type(saved.model).__name__};"
        " zen predict applies what zen fit saves (tables, forecasts, graphs). Load it with"
        " zen.neural.Trainer.load, or serve it with zen serve"
    )


def _predict_table(
    saved: SavedModel, data: str | Path | None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The rows of ``data`` with a ``prediction`` column, and scores when it has the target."""
    from zen.tabular import read_table, score

    if data is None:
        raise ConfigError(
            f"data: {saved.directory} holds a table model; pass a CSV of rows to predict"
            " (zen predict RUN DATA.csv)"
        )
    model = saved.model
    frame = read_table(data)
    predictions = model.predict(frame)
    target = model.profile_.target
    scores: dict[str, float] = {}
    if target in frame.columns and frame[target].notna().all():
        scores = score(model.profile_.kind, frame[target].to_numpy(), predictions)
    return frame.assign(prediction=predictions), scores
