"""A Drone's report of the step it runs: each Trainer epoch as a ``step_progress`` event."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from zen.collective.events import Event
from zen.neural.callbacks import Callback

if TYPE_CHECKING:
    from zen.neural.trainer import Trainer

#: The epoch's logs a report carries (when finite).
REPORTED = ("train_loss", "val_loss")


class StepReporter(Callback):
    """Publish a step's epochs to the bus, at most one event every ``interval_s``.

    Args:
        bus: the bus actor's handle (``RayBus.actor``); ``publish`` is not waited for.
        about: what every event says of the step (``step``, ``token``, ``node``).
        interval_s: the shortest time between two events (a fast fit reports its newest epoch).
    """

    def __init__(self, bus: Any, about: dict[str, Any], interval_s: float = 1.0) -> None:
        self.bus = bus
        self.about = dict(about)
        self.interval_s = interval_s
        self._last = -math.inf

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        numbers = {key: float(logs[key]) for key in REPORTED if key in logs}
        payload = {**self.about, "epoch": epoch,
                   **{key: round(value, 6) for key, value in numbers.items()
                      if math.isfinite(value)}}  # fmt: skip
        # A bus restarting or Ray shutting down must not fail the step it reports on.
        try:
            self.bus.publish.remote(Event("step_progress", payload).to_json())
        except Exception:
            return
