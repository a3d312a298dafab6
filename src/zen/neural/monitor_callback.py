"""Trainer callback that measures every epoch with a :class:`~zen.compute.monitor.Monitor`.

It lives with the other callbacks: the monitor itself is in ``zen.compute``, below
``zen.neural``, and this callback joins the two from above.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch

from zen.compute.monitor import Monitor
from zen.neural.callbacks import Callback

if TYPE_CHECKING:
    from zen.neural.trainer import Trainer

_MB = 2**20


class MonitorCallback(Callback):
    """Add ``samples_per_s`` and ``peak_rss_mb`` (and GPU peak memory) to each epoch's logs.

    Each epoch is measured from ``on_epoch_start`` (or from the end of the previous epoch for
    trainers that do not call it) to ``on_epoch_end``, validation included. ``samples_per_s``
    is only written when the trainer has not already put its own (training-only) figure there;
    ``peak_rss_mb`` is always written, plus ``peak_device_memory_mb`` on CUDA.

    Args:
        interval_s: Seconds between background RSS samples.

    Attributes:
        history_: One :meth:`Monitor.summary` dict per finished epoch, with its ``epoch``.
        summary_: Totals for the whole fit (JSON-serialisable), set by ``on_fit_end``.

    Example::

        result = Trainer(max_epochs=5, callbacks=[MonitorCallback()]).fit(model, X, y)
        result.history["peak_rss_mb"]
    """

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.history_: list[dict[str, Any]] = []
        self.summary_: dict[str, Any] | None = None
        self._monitor: Monitor | None = None
        self._fit_start: float = 0.0
        self._samples = 0
        self._peak_rss_bytes = 0
        self._peak_device_memory_bytes: int | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        """Reset the totals and start measuring."""
        self.history_, self.summary_ = [], None
        self._samples, self._peak_rss_bytes, self._peak_device_memory_bytes = 0, 0, None
        self._fit_start = time.perf_counter()
        self._monitor = Monitor(_trainer_device(trainer), interval_s=self.interval_s).start()

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Restart the measurement so the epoch excludes the time between epochs."""
        if self._monitor is not None:
            self._finish_segment()
            self._monitor.start()

    def on_batch_end(self, trainer: Trainer, batch_size: int) -> None:
        """Count the samples of one finished batch."""
        if self._monitor is not None:
            self._monitor.add_samples(int(batch_size))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """Write this epoch's throughput and peak memory into ``logs``."""
        if self._monitor is None:
            return
        summary = self._finish_segment()
        self.history_.append({"epoch": epoch, **summary})
        logs.setdefault("samples_per_s", summary["samples_per_s"])
        logs["peak_rss_mb"] = summary["peak_rss_mb"]
        if summary["peak_device_memory_bytes"] is not None:
            logs["peak_device_memory_mb"] = summary["peak_device_memory_bytes"] / _MB
        self._monitor.start()

    def on_fit_end(self, trainer: Trainer) -> None:
        """Stop measuring and total the fit into ``summary_``."""
        if self._monitor is None:
            return
        last = self._finish_segment()
        self._monitor = None
        wall_time_s = time.perf_counter() - self._fit_start
        self.summary_ = {
            "device": last["device"],
            "epochs": len(self.history_),
            "wall_time_s": wall_time_s,
            "samples": self._samples,
            "samples_per_s": self._samples / wall_time_s if wall_time_s > 0 else 0.0,
            "peak_rss_bytes": self._peak_rss_bytes,
            "peak_rss_mb": self._peak_rss_bytes / _MB,
            "peak_device_memory_bytes": self._peak_device_memory_bytes,
        }

    def _finish_segment(self) -> dict[str, Any]:
        """Stop the running monitor, fold it into the fit totals and return its summary."""
        assert self._monitor is not None
        summary = self._monitor.stop().summary()
        self._samples += summary["samples"]
        self._peak_rss_bytes = max(self._peak_rss_bytes, summary["peak_rss_bytes"])
        device_peak = summary["peak_device_memory_bytes"]
        if device_peak is not None:
            self._peak_device_memory_bytes = max(self._peak_device_memory_bytes or 0, device_peak)
        return summary


def _trainer_device(trainer: Any) -> torch.device | None:
    """The device the trainer's model lives on, or None to let Monitor decide."""
    device = getattr(trainer, "device", None)
    if isinstance(device, torch.device | str):
        return torch.device(device)
    model = getattr(trainer, "model", None)
    if isinstance(model, torch.nn.Module):
        parameter = next(model.parameters(), None)
        if parameter is not None:
            return parameter.device
    return None
