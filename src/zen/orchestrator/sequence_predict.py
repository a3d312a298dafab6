"""``zen predict`` for a sequence or image classifier: labels and class probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zen.errors import ConfigError, DataError
from zen.export.saved import SavedModel
from zen.reports import SEQUENCE_FILE
from zen.tabular import score


def predict_saved_sequences(
    saved: SavedModel, data: str | Path | None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Classify the sequences in ``data`` (a ``.ts`` file, or a long CSV ``sequence_id, t,
    value...`` with or without ``label``) with the run's model.

    Returns ``(frame, scores)``: one row per sequence (``sequence``, ``prediction``,
    ``prob_<class>``...), and accuracy and macro F1 when ``data`` holds labels.
    """
    from zen.neural.checkpoint import read_json
    from zen.neural.datasets import load_ts, read_sequence_csv

    if data is None:
        raise ConfigError(
            f"data: {saved.directory} holds a sequence classifier; pass sequences to classify"
            " (a .ts file or a long CSV with sequence_id, t, value columns)"
        )
    inputs = read_json(saved.directory / SEQUENCE_FILE)
    classes = [str(label) for label in inputs["classes"]]
    path = Path(data)
    if inputs.get("layout") == "images":
        x, ids, truth = _images(path, inputs)
        return _classified(saved, x, ids, truth, classes)
    if path.suffix.lower() == ".ts":
        sequences = load_ts(path)
        ids = [str(index) for index in range(sequences.n_cases)]
    elif path.suffix.lower() == ".csv":
        labelled = "label" in pd.read_csv(path, nrows=0).columns
        sequences = read_sequence_csv(path, label_column="label" if labelled else None,
                                      task="classification" if labelled else None)  # fmt: skip
        ids = _csv_ids(path)
    else:
        raise DataError(f"data: {path} is not a .ts file or a .csv long table of sequences")
    if sequences.n_channels != int(inputs["channels"]):
        raise DataError(
            f"data: {path} has {sequences.n_channels} channel(s); the model reads"
            f" {inputs['channels']}"
        )
    labelled = sequences.y is not None and sequences.task == "classification"
    truth = np.asarray(sequences.y).astype(str) if labelled else None
    return _classified(saved, sequences.X, ids, truth, classes, "sequence")


def _classified(
    saved: SavedModel,
    x: np.ndarray,
    ids: list[str],
    truth: np.ndarray | None,
    classes: list[str],
    what: str = "image",
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The network's labels and probabilities for ``x``, and scores against ``truth``."""
    with torch.no_grad():
        logits = saved.model(torch.from_numpy(x)).double()
    probabilities = torch.softmax(logits, dim=1).numpy()
    predicted = probabilities.argmax(axis=1)
    frame = pd.DataFrame({what: ids, "prediction": np.asarray(classes)[predicted]})
    for index, label in enumerate(classes):
        frame[f"prob_{label}"] = probabilities[:, index]
    scores: dict[str, float] = {}
    if truth is not None and np.isin(truth, classes).all():
        codes = np.asarray([classes.index(label) for label in truth])
        scores = score("classification", codes, predicted)
    return frame, scores


def _images(path: Path, inputs: dict) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """The pixel columns of the CSV ``path`` as images of the run's shape, row ids, labels."""
    from zen.orchestrator.jobs.images import table_images
    from zen.tabular import read_table

    frame = read_table(path)
    target = inputs.get("target")
    truth = None
    if target is not None and target in frame.columns:
        truth = frame[target].astype(str).to_numpy()
        frame = frame.drop(columns=[target])
    shape = tuple(int(size) for size in inputs["shape"])
    pixels = table_images(frame, shape, f"data: {path}", " (the model's)")
    return pixels, [str(index) for index in range(len(frame))], truth


def _csv_ids(path: Path) -> list[str]:
    """The sequence ids of a long CSV in the order the reader puts the sequences (first seen)."""
    column = pd.read_csv(path, usecols=["sequence_id"])["sequence_id"].astype(str)
    return list(dict.fromkeys(column))
