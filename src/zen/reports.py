"""Run directories and the files a person reads after a run: JSON summary and plots."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zen.atomic import write_atomic
from zen.errors import DataError

#: The files of a ``zen fit`` run directory, shared by every kind of job.
MODEL_DIR = "model"
REPORT_FILE = "report.json"
HTML_FILE = "report.html"
CURVES_FILE = "learning_curves.png"
ALL_CURVES_FILE = "candidate_curves.png"
LEADERBOARD_FILE = "leaderboard.png"
#: The file every saved model directory holds (TabularModel, Forecaster and Trainer all write it).
MODEL_CONFIG_FILE = "config.json"
#: Beside a sequence classifier's checkpoint: its classes and input shape (``zen fit`` on
#: labelled sequences writes it; loaders read the model's kind from it).
SEQUENCE_FILE = "sequence_inputs.json"


def new_run_id() -> str:
    """A sortable, collision-safe run id such as ``20261125-013501-3fa2``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def model_directory(path: str | Path) -> Path:
    """The directory holding a saved model: ``path`` itself, or ``path/model`` when ``path`` is
    a ``zen fit`` run directory.

    Raises:
        DataError: ``path`` is missing, a file, or holds no saved model.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(
            f"{path}: not found; expected a run directory (runs/<id>/ from zen fit) or a saved"
            f" model directory (with {MODEL_CONFIG_FILE})"
        )
    if not path.is_dir():
        raise DataError(
            f"{path}: is a file; expected a run directory (runs/<id>/ from zen fit) or a saved"
            f" model directory (with {MODEL_CONFIG_FILE})"
        )
    for candidate in (path, path / MODEL_DIR):
        if (candidate / MODEL_CONFIG_FILE).is_file():
            return candidate
    raise DataError(
        f"{path}: no {MODEL_CONFIG_FILE} in it (nor in {path / MODEL_DIR}); expected a directory"
        " written by zen fit, TabularModel.save, Forecaster.save or Trainer.save"
    )


#: Leaderboard entries that describe training rather than score the model.
_NOT_SCORES = ("model", "reason", "resumed", "epochs", "best_epoch", "fit_s")


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """The short, machine-readable account of a ``zen fit`` run, read from its ``report.json``
    (what ``zen fit --json`` prints).

    Keys: ``run_id``; ``run_dir`` (absolute); ``kind`` (``tabular``, ``forecast``, ``graph``,
    ``sequence`` or ``image``); ``task`` (e.g. ``classification``); ``data``; ``best_model``;
    ``scores`` (the best model's scores from the leaderboard, held-out tables' metrics prefixed
    ``test_``;
    forecasts: the chosen model's test-window scores, as the report gives them);
    ``baseline`` (tables); ``leaderboard``; ``files`` (absolute paths by role);
    ``history_run_id``; ``zen_version``; ``tuning`` (what ``--tune`` found, when asked).

    Raises:
        DataError: ``run_dir`` has no readable ``report.json``.
    """
    import json

    run_dir = Path(run_dir).expanduser().resolve()
    try:
        report = json.loads((run_dir / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(
            f"{run_dir / REPORT_FILE}: cannot be read ({error}); expected a run directory of"
            " zen fit"
        ) from None
    board = report.get("leaderboard") or []
    best = report.get("best_model")
    # A forecasting run whose median ensemble won has the ensemble's scores beside the board.
    row = next((r for r in board if r.get("model") == best), None) or report.get("ensemble") or {}
    scores: dict[str, Any] = dict(report.get("scores") or {})  # forecasts: the reported ones
    for key, value in row.items() if not scores else ():
        if key == "test_metrics" and isinstance(value, Mapping):
            scores.update({f"test_{name}": number for name, number in value.items()})
        elif (
            key not in _NOT_SCORES
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            scores[key] = value
    task = report.get("task") or {}
    family = str(task.get("family", ""))
    kind = {"time series": "forecast", "graph": "graph",
            "sequence classification": "sequence",
            "image classification": "image"}.get(family, "tabular")  # fmt: skip
    summary = {
        "run_id": report.get("run_id", run_dir.name),
        "run_dir": str(run_dir),
        "kind": kind,
        "task": task.get("kind"),
        "data": report.get("data"),
        "best_model": best,
        "scores": scores,
        "leaderboard": board,
        "files": {
            "report": str(run_dir / REPORT_FILE),
            **{role: str(run_dir / name) for role, name in (report.get("files") or {}).items()},
        },
        "history_run_id": report.get("history_run_id"),
        "zen_version": report.get("zen_version"),
    }
    for optional in ("baseline", "tuning"):  # tables only; runs with --tune only
        if report.get(optional) is not None:
            summary[optional] = report[optional]
    return summary


def plot_learning_curves(
    records: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str = "learning curves",
    best_epoch: int | None = None,
) -> Path:
    """Save a PNG of train/validation loss per epoch, with validation metrics beside it.

    ``best_epoch`` (the weights kept by early stopping) is marked with a dotted line.

    Uses matplotlib's Agg backend (no display needed); the write is atomic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [record["epoch"] for record in records]
    metric_keys = sorted(
        key
        for key in {name for record in records for name in record}
        if key.startswith("val_") and key != "val_loss"
    )
    columns = 2 if metric_keys else 1
    figure, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 4), squeeze=False)
    loss_axis = axes[0][0]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [record.get(key) for record in records]
        if any(value is not None for value in values):
            loss_axis.plot(epochs, values, label=label)
    loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_axis.set_yscale("log")
    loss_axis.legend()
    if metric_keys:
        metric_axis = axes[0][1]
        for key in metric_keys:
            metric_axis.plot(epochs, [record.get(key) for record in records], label=key)
        metric_axis.set(xlabel="epoch", title="validation metrics")
        metric_axis.legend()
    if best_epoch is not None:
        for axis in axes[0]:
            axis.axvline(best_epoch, color="grey", linestyle=":", label="best epoch")
        loss_axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=110))
    plt.close(figure)
    return Path(path)


def write_html_report(
    path: str | Path,
    report: Mapping[str, Any],
    images: Mapping[str, str | Path] | None = None,
) -> Path:
    """Write ``report.html``: one self-contained page (PNGs embedded as base64) of a run.

    Shows the profile with the reason of each finding (``report["profile_explain"]``), the
    candidates with the router's reasons (``report["candidates"]``), the leaderboard
    (``report["leaderboard"]``, best first), the ``images`` by caption, and the History id
    of the run. The write is atomic.
    """
    import base64
    from html import escape

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        if isinstance(value, list | tuple):
            return escape(", ".join(cell(item) for item in value))
        if isinstance(value, Mapping):  # a score dict such as {"smape": ..., "mase": ...}
            return ", ".join(f"{escape(str(key))} {cell(item)}" for key, item in value.items())
        return escape("–" if value is None else str(value))

    def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
        head = "".join(f"<th>{escape(column)}</th>" for column in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{cell(row.get(column))}</td>" for column in columns) + "</tr>"
            for row in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    title = f"zen fit run {report.get('run_id', '')}"
    parts = [f"<h1>{escape(title)}</h1>"]
    parts.append(
        f"<p>data: <code>{cell(report.get('data'))}</code> · History run id:"
        f" <b>{cell(report.get('history_run_id'))}</b> (<code>zen history show"
        f" {cell(report.get('history_run_id'))}</code>) · best model:"
        f" <b>{cell(report.get('best_model'))}</b></p>"
    )
    explained = [
        {"feature": f, "value": v, "reason": r} for f, v, r in report.get("profile_explain", [])
    ]
    parts += ["<h2>Task profile</h2>", table(explained, ["feature", "value", "reason"])]
    candidates = report.get("candidates", [])
    parts += [
        "<h2>Candidates (router)</h2>",
        f"<p>policy: {cell(report.get('router_policy'))}</p>",
        table(candidates, ["name", "expected_score", "uncertainty", "reason"]),
    ]
    if report.get("evaluation"):
        parts.append(f"<p>evaluation: {cell(report['evaluation'])}</p>")
    notes = (report.get("preparation") or {}).get("notes")
    if notes:
        parts += ["<h2>Data preparation</h2>", "<ul>"]
        parts += [f"<li>{cell(note)}</li>" for note in notes] + ["</ul>"]
    board = list(report.get("leaderboard", []))
    if board:
        keys = dict.fromkeys(key for row in board for key in row if key != "reason")
        columns = [*keys, "reason"]
        parts += ["<h2>Leaderboard (best first)</h2>", table(board, columns)]
    if report.get("ensemble"):
        parts += ["<h2>Ensemble</h2>", table([report["ensemble"]], list(report["ensemble"]))]
    if report.get("tuning"):
        parts += ["<h2>Tuning</h2>", table([report["tuning"]], list(report["tuning"]))]
    for caption, image in (images or {}).items():
        encoded = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        parts.append(
            f"<h2>{escape(caption)}</h2><img alt='{escape(caption)}'"
            f" src='data:image/png;base64,{encoded}'>"
        )
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;vertical-align:top;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}"
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    write_atomic(path, lambda temporary: temporary.write_text(page, encoding="utf-8"))
    return Path(path)


def plot_confusion_matrix(
    truth: Sequence[Any], predicted: Sequence[Any], path: str | Path, title: str = ""
) -> Path:
    """Save a PNG of the confusion matrix (rows: true class, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = sorted({str(label) for label in truth} | {str(label) for label in predicted})
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    for true, guess in zip(truth, predicted, strict=True):
        counts[index[str(true)], index[str(guess)]] += 1
    size = min(10.0, 2.5 + 0.45 * len(labels))
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(counts, cmap="Blues")
    axis.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted",
             ylabel="true", title=title or "confusion matrix (held-out rows)")  # fmt: skip
    axis.set_xticklabels(labels, rotation=90)
    axis.set_yticklabels(labels)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            axis.text(column, row, str(count), ha="center", va="center", fontsize=8)
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return Path(path)


def plot_leaderboard(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    path: str | Path,
    *,
    lower_is_better: bool = True,
    title: str = "",
) -> Path:
    """Save a PNG bar chart of each candidate's ``metric`` (rows as the leaderboard orders them).

    The first row (the chosen model) is drawn in a stronger colour; rows without a numeric
    ``metric`` are left out. The write is atomic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [
        (str(row["model"]), float(row[metric]))
        for row in rows
        if isinstance(row.get(metric), int | float) and row.get(metric) == row.get(metric)
    ]
    if not scored:
        raise DataError(f"leaderboard: no row has a numeric {metric!r}; nothing to plot")
    names, values = zip(*scored, strict=True)
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    colours = ["#1f5fa8"] + ["#9bbbe0"] * (len(names) - 1)
    axis.barh(range(len(names)), values, color=colours)
    axis.set_yticks(range(len(names)), labels=list(names))
    axis.invert_yaxis()  # best (first) on top
    direction = "lower is better" if lower_is_better else "higher is better"
    axis.set(xlabel=f"{metric} ({direction})", title=title or "leaderboard")
    for position, value in enumerate(values):
        axis.text(value, position, f" {value:.4g}", va="center", fontsize=8)
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return Path(path)


def plot_candidate_curves(
    curves: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | Path,
    *,
    step_key: str = "epoch",
    title: str = "learning curves",
) -> Path:
    """Save a PNG of every candidate's training (solid) and validation (dashed) loss.

    ``curves`` maps a candidate's name to its per-epoch records (as :class:`zen.neural.Trainer`
    keeps them: ``epoch``, ``train_loss``, optionally ``val_loss``). The write is atomic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn = {name: records for name, records in curves.items() if records}
    if not drawn:
        raise DataError("curves: no candidate has training records; nothing to plot")
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for index, (name, records) in enumerate(drawn.items()):
        colour = f"C{index % 10}"
        steps = [float(record.get(step_key, index)) for index, record in enumerate(records)]
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            values = [float(record.get(key) or "nan") for record in records]
            if any(value == value for value in values):  # not all NaN
                suffix = "train" if key == "train_loss" else "validation"
                axis.plot(steps, values, style, color=colour, label=f"{name} ({suffix})")
    axis.set(xlabel=step_key, ylabel="loss", title=title)
    axis.set_yscale("log")
    axis.legend(fontsize=8)
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return Path(path)
