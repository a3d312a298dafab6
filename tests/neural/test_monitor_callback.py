"""MonitorCallback: per-epoch throughput and peak memory in the Trainer's logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import zen
from zen.neural import MonitorCallback
from zen.neural.callbacks import Callback


def run_fake_fit(
    callback: MonitorCallback,
    epochs: int,
    batches: int,
    batch_size: int,
    *,
    call_epoch_start: bool = True,
    trainer_logs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Drive the callback the way zen.neural.Trainer does and return each epoch's logs."""
    trainer = SimpleNamespace(model=torch.nn.Linear(2, 1))
    all_logs = []
    callback.on_fit_start(trainer)
    for epoch in range(1, epochs + 1):
        if call_epoch_start:
            callback.on_epoch_start(trainer, epoch)
        for _ in range(batches):
            callback.on_batch_end(trainer, batch_size)
        logs = {"train_loss": 0.5, **(trainer_logs or {})}
        callback.on_epoch_end(trainer, epoch, logs)
        all_logs.append(logs)
    callback.on_fit_end(trainer)
    return all_logs


def test_monitor_callback_is_a_trainer_callback():
    assert issubclass(MonitorCallback, Callback)


@pytest.mark.parametrize("call_epoch_start", [True, False])
def test_callback_adds_throughput_and_peak_rss_to_epoch_logs(call_epoch_start: bool):
    logs = run_fake_fit(
        MonitorCallback(), epochs=2, batches=3, batch_size=4, call_epoch_start=call_epoch_start
    )
    for epoch_logs in logs:
        assert epoch_logs["train_loss"] == 0.5
        assert epoch_logs["samples_per_s"] > 0
        assert epoch_logs["peak_rss_mb"] > 0
        assert "peak_device_memory_mb" not in epoch_logs  # CPU


def test_callback_keeps_the_trainers_own_throughput():
    logs = run_fake_fit(
        MonitorCallback(), epochs=1, batches=2, batch_size=4, trainer_logs={"samples_per_s": 123.0}
    )
    assert logs[0]["samples_per_s"] == 123.0
    assert logs[0]["peak_rss_mb"] > 0


def test_callback_totals_the_fit_in_a_json_summary():
    callback = MonitorCallback()
    run_fake_fit(callback, epochs=2, batches=3, batch_size=4)
    assert [(epoch["epoch"], epoch["samples"]) for epoch in callback.history_] == [(1, 12), (2, 12)]
    assert callback.summary_ is not None
    assert callback.summary_["epochs"] == 2
    assert callback.summary_["samples"] == 24
    assert callback.summary_["device"] == "cpu"
    json.dumps(callback.summary_)


def test_callback_leaves_no_sampler_thread_running():
    run_fake_fit(MonitorCallback(), epochs=2, batches=1, batch_size=1)
    assert not any(t.name == "zen-monitor" for t in threading.enumerate())


def test_callback_ignores_hooks_outside_a_fit():
    callback = MonitorCallback()
    trainer = SimpleNamespace()
    callback.on_epoch_start(trainer, 1)
    callback.on_batch_end(trainer, 4)
    logs: dict[str, Any] = {}
    callback.on_epoch_end(trainer, 1, logs)
    callback.on_fit_end(trainer)
    assert logs == {} and callback.summary_ is None


def test_importing_zen_compute_does_not_import_zen_neural():
    code = "import sys, zen.compute; assert 'zen.neural' not in sys.modules"
    src = os.path.dirname(os.path.dirname(zen.__file__))  # works installed or from a checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
