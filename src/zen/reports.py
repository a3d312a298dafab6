"""Run directories and the files a person reads after a run: JSON summary and plots."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zen.neural.checkpoint import write_atomic


def new_run_id() -> str:
    """A sortable, collision-safe run id such as ``20261125-013501-3fa2``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


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
