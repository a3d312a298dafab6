"""Trainer: learning, validation, early stopping, optimizers, schedules, callbacks, loaders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from zen import compute
from zen.errors import DataError
from zen.neural import MLP, Callback, MonitorCallback, StepOutput, Trainer
from zen.neural.losses import r2


def fit_regressor(data, **settings) -> tuple[MLP, Trainer, object]:
    X, y = data
    net = MLP([5, 32, 1], activation="silu")
    options = {"max_epochs": 40, "batch_size": 32, "lr": 1e-2, "loss": "mse", "seed": 0}
    trainer = Trainer(**{**options, **settings})
    return net, trainer, trainer.fit(net, X, y)


def test_learns_a_regression(regression_data) -> None:
    X, y = regression_data
    net, trainer, result = fit_regressor(regression_data)
    predictions = torch.from_numpy(trainer.predict(net, X))
    assert r2(predictions, torch.from_numpy(y)) > 0.9
    assert result.history["train_loss"][-1] < result.history["train_loss"][0] / 5


def test_learns_a_classification_and_reports_accuracy(classification_data) -> None:
    X, y = classification_data
    trainer = Trainer(max_epochs=30, loss="cross_entropy", lr=1e-2, val_split=0.2, seed=0)
    result = trainer.fit(MLP([4, 16, 3]), X, y)
    assert result.history["val_accuracy"][-1] > 0.9
    assert set(result.history.keys()) >= {"train_loss", "val_loss", "val_accuracy", "lr"}


def test_same_seed_gives_identical_runs(regression_data) -> None:
    torch.manual_seed(3)
    first, _, first_result = fit_regressor(regression_data, max_epochs=5)
    torch.manual_seed(3)
    second, _, second_result = fit_regressor(regression_data, max_epochs=5)
    assert first_result.history["train_loss"] == second_result.history["train_loss"]
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_different_seeds_shuffle_differently(regression_data) -> None:
    torch.manual_seed(3)
    _, _, first = fit_regressor(regression_data, max_epochs=3, seed=1)
    torch.manual_seed(3)
    _, _, second = fit_regressor(regression_data, max_epochs=3, seed=2)
    assert first.history["train_loss"] != second.history["train_loss"]


@pytest.mark.parametrize(
    "convert",
    [lambda a: a, torch.from_numpy, lambda a: pd.DataFrame(a) if a.ndim == 2 else pd.Series(a)],
    ids=["numpy", "torch", "pandas"],
)
def test_accepts_numpy_torch_and_pandas_alike(regression_data, convert) -> None:
    X, y = regression_data
    torch.manual_seed(0)
    _, _, reference = fit_regressor(regression_data, max_epochs=3)
    torch.manual_seed(0)
    _, _, converted = fit_regressor((convert(X), convert(y)), max_epochs=3)
    np.testing.assert_allclose(
        converted.history["train_loss"], reference.history["train_loss"], rtol=1e-6
    )


def test_no_validation_without_val_split(regression_data) -> None:
    _, _, result = fit_regressor(regression_data, max_epochs=2)
    assert "val_loss" not in result.history
    assert result.monitor == "train_loss"


def test_early_stopping_stops_and_restores_best_weights(regression_data) -> None:
    X, y = regression_data
    # A big net on 60 noisy samples overfits: validation loss turns up, training goes on.
    rng = np.random.default_rng(0)
    noisy = y[:60] + rng.normal(scale=1.0, size=60).astype(np.float32)
    net = MLP([5, 256, 256, 1])
    trainer = Trainer(max_epochs=300, lr=1e-2, batch_size=16, early_stopping=5, seed=0)
    result = trainer.fit(net, X[:60], noisy, val=(X[200:], y[200:]))
    assert result.stopped_early and result.epochs < 300
    assert result.best_epoch == result.epochs - 5
    restored_loss = trainer.evaluate(net, X[200:], y[200:])["loss"]
    assert restored_loss == pytest.approx(result.best_score, rel=1e-5)
    assert restored_loss < result.history["val_loss"][-1]


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9},
        {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        {"optimizer": "adam"},
        {"optimizer": "adamw", "weight_decay": 1e-2},
        {"optimizer": "rmsprop", "lr": 1e-3},
        {"optimizer": "rprop", "lr": 0.01},
    ],
    ids=lambda settings: settings["optimizer"] + ("+nesterov" if "nesterov" in settings else ""),
)
def test_every_optimizer_reduces_the_loss(regression_data, settings) -> None:
    _, _, result = fit_regressor(regression_data, max_epochs=15, **settings)
    losses = result.history["train_loss"]
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_takes_the_fused_kernel_unless_told_otherwise(name) -> None:
    from zen.neural.optim import build_optimizer

    weights = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.zeros(2))]
    assert build_optimizer(name, weights, lr=1e-3).defaults["fused"] is True
    assert not build_optimizer(name, weights, lr=1e-3, options={"fused": False}).defaults["fused"]
    chosen = build_optimizer(name, weights, lr=1e-3, options={"foreach": True}).defaults
    assert chosen["foreach"] is True and not chosen["fused"]
    # A device without the kernel keeps torch's default implementation.
    meta = [torch.nn.Parameter(torch.zeros(2, device="meta"))]
    assert not build_optimizer(name, meta, lr=1e-3).defaults["fused"]
    # The fused step is the same update up to float rounding.
    torch.manual_seed(0)
    start = torch.randn(50, 8)
    results = []
    for options in ({"fused": False}, {}):
        weight = torch.nn.Parameter(start.clone())
        optimizer = build_optimizer(name, [weight], lr=1e-2, weight_decay=1e-2, options=options)
        for step in range(20):
            optimizer.zero_grad()
            (weight.sin() * (step + 1)).sum().backward()
            optimizer.step()
        results.append(weight.detach())
    torch.testing.assert_close(results[0], results[1], rtol=1e-5, atol=1e-6)


def test_rprop_takes_one_full_batch_step_per_epoch(regression_data) -> None:
    _, _, result = fit_regressor(regression_data, max_epochs=7, optimizer="rprop", lr=0.01)
    assert result.steps == 7


@pytest.mark.parametrize(
    ("scheduler", "options", "expected_last_lr"),
    [
        ("step", {"step_size": 2, "gamma": 0.5}, 1e-2 * 0.5**2),
        ("cosine", {}, 0.0),
    ],
)
def test_schedules_change_the_learning_rate(
    regression_data, scheduler, options, expected_last_lr
) -> None:
    _, trainer, _ = fit_regressor(
        regression_data, max_epochs=5, scheduler=scheduler, scheduler_options=options
    )
    assert trainer.optimizer_.param_groups[0]["lr"] == pytest.approx(expected_last_lr, abs=1e-9)


def test_plateau_schedule_cuts_the_rate_when_validation_stalls(regression_data) -> None:
    _, _, result = fit_regressor(
        regression_data,
        max_epochs=30,
        lr=0.05,
        optimizer="sgd",
        val_split=0.2,
        scheduler="plateau",
        scheduler_options={"patience": 1},
    )
    assert min(result.history["lr"]) < 0.05


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_regression_losses_train(regression_data, loss) -> None:
    _, _, result = fit_regressor(regression_data, max_epochs=10, loss=loss)
    assert result.history["train_loss"][-1] < result.history["train_loss"][0]


def test_bce_trains_a_binary_classifier(classification_data) -> None:
    X, labels = classification_data
    y = (labels == 0).astype(np.float32)
    trainer = Trainer(max_epochs=20, loss="bce", lr=1e-2, val_split=0.2, seed=0)
    result = trainer.fit(MLP([4, 16, 1]), X, y)
    assert result.history["val_accuracy"][-1] > 0.9


def test_custom_loss_callable(regression_data) -> None:
    _, _, result = fit_regressor(
        regression_data, max_epochs=3, loss=lambda pred, target: ((pred - target) ** 4).mean()
    )
    assert len(result.history) == 3


class GradientNorms(Callback):
    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_batch_end(self, trainer, batch_size) -> None:
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def test_gradient_clipping_bounds_the_global_norm(regression_data) -> None:
    recorder = GradientNorms()
    X, y = regression_data
    trainer = Trainer(max_epochs=2, lr=1e-2, grad_clip=0.05, seed=0, callbacks=[recorder])
    trainer.fit(MLP([5, 32, 1]), X, y * 100)
    assert max(recorder.norms) <= 0.05 + 1e-5


class Recorder(Callback):
    def __init__(self, stop_at: int | None = None) -> None:
        self.events: list[tuple] = []
        self.stop_at = stop_at

    def on_fit_start(self, trainer) -> None:
        self.events.append(("fit_start",))

    def on_epoch_start(self, trainer, epoch) -> None:
        self.events.append(("epoch_start", epoch))

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        self.events.append(("epoch_end", epoch, round(logs["train_loss"], 12)))
        if epoch == self.stop_at:
            trainer.should_stop = True

    def on_fit_end(self, trainer) -> None:
        self.events.append(("fit_end",))


def test_callbacks_see_every_epoch_and_can_stop_training(regression_data) -> None:
    recorder = Recorder(stop_at=3)
    X, y = regression_data
    result = Trainer(max_epochs=10, callbacks=[recorder]).fit(MLP([5, 4, 1]), X, y)
    names = [event[0] for event in recorder.events]
    assert names == ["fit_start"] + ["epoch_start", "epoch_end"] * 3 + ["fit_end"]
    assert result.epochs == 3 and result.stopped_early
    assert recorder.events[-2][2] == round(result.history["train_loss"][-1], 12)


def test_monitor_callback_adds_throughput_and_memory(regression_data) -> None:
    X, y = regression_data
    result = Trainer(max_epochs=2, callbacks=[MonitorCallback()]).fit(MLP([5, 4, 1]), X, y)
    assert result.history["samples_per_s"][-1] > 0
    assert result.history["peak_rss_mb"][-1] > 10


def test_trains_from_dataloaders(regression_data) -> None:
    X, y = (torch.from_numpy(a) for a in regression_data)
    train = DataLoader(TensorDataset(X[:300], y[:300]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(X[300:], y[300:]), batch_size=64)
    result = Trainer(max_epochs=5, lr=1e-2).fit(MLP([5, 16, 1]), train, val)
    assert len(result.history["val_loss"]) == 5
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]


def test_trains_from_a_list_of_batches(regression_data) -> None:
    X, y = (torch.from_numpy(a) for a in regression_data)
    batches = [(X[i : i + 50], y[i : i + 50]) for i in range(0, 400, 50)]
    result = Trainer(max_epochs=2).fit(MLP([5, 4, 1]), batches)
    assert result.steps == 16


def test_lists_of_batches_for_training_and_validation(regression_data) -> None:
    X, y = (torch.from_numpy(a) for a in regression_data)
    train = [(X[i : i + 50], y[i : i + 50]) for i in range(0, 300, 50)]
    val = [(X[300:], y[300:])]
    result = Trainer(max_epochs=2).fit(MLP([5, 4, 1]), train, val)
    assert result.steps == 12
    assert len(result.history["val_loss"]) == 2


def test_a_nested_list_with_targets_is_still_an_array() -> None:
    X = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 4
    y = [1.0, 1.0, 0.0, 0.0] * 4
    result = Trainer(max_epochs=1, batch_size=4, val_split=0).fit(MLP([2, 4, 1]), X, y)
    assert result.steps == 4


def test_max_steps_and_steps_per_epoch_bound_training(regression_data) -> None:
    X, y = regression_data
    result = Trainer(max_epochs=50, batch_size=100, max_steps=10).fit(MLP([5, 4, 1]), X, y)
    assert result.steps == 10
    result = Trainer(max_epochs=3, batch_size=100, steps_per_epoch=7).fit(MLP([5, 4, 1]), X, y)
    assert result.steps == 21


class PairwiseModel(torch.nn.Module):
    """A model whose batches are dicts: it says how to compute its loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = MLP([5, 8, 1])

    def training_loss(self, batch, loss_fn) -> StepOutput:
        predictions = self.net(batch["x"]).squeeze(-1)
        loss = loss_fn(predictions, batch["y"])
        return StepOutput(loss, predictions, batch["y"], len(batch["x"]))


def test_models_with_their_own_batches_define_training_loss(regression_data) -> None:
    X, y = (torch.from_numpy(a) for a in regression_data)
    batches = [{"x": X[i : i + 100], "y": y[i : i + 100]} for i in range(0, 400, 100)]
    result = Trainer(max_epochs=10, lr=1e-2, metrics=["r2"]).fit(
        PairwiseModel(), batches, val=batches[:1]
    )
    assert result.history["val_r2"][-1] > result.history["val_r2"][0]


def test_mixed_precision_is_used_where_the_device_supports_it(regression_data, monkeypatch) -> None:
    # No GPU here: pretend the CPU supports it, with bfloat16 autocast (which CPUs run).
    monkeypatch.setattr(compute, "supports_mixed_precision", lambda device: True)
    monkeypatch.setattr(compute, "autocast_dtype", lambda device: torch.bfloat16)
    X, y = regression_data
    net = MLP([5, 8, 1])
    hook_dtypes = []
    net.linears[0].register_forward_hook(lambda m, i, o: hook_dtypes.append(o.dtype))
    Trainer(max_epochs=1, batch_size=200).fit(net, X, y)
    assert hook_dtypes and set(hook_dtypes) == {torch.bfloat16}


def test_mixed_precision_off_on_cpu_by_default(regression_data) -> None:
    X, y = regression_data
    net = MLP([5, 8, 1])
    hook_dtypes = []
    net.linears[0].register_forward_hook(lambda m, i, o: hook_dtypes.append(o.dtype))
    Trainer(max_epochs=1, batch_size=200).fit(net, X, y)
    assert set(hook_dtypes) == {torch.float32}


def test_progress_bar_renders(regression_data, capsys) -> None:
    X, y = regression_data
    Trainer(max_epochs=2, progress=True).fit(MLP([5, 4, 1]), X, y)
    captured = capsys.readouterr()
    assert "training" in captured.out + captured.err


@pytest.mark.slow
def test_compiled_training_matches_eager(regression_data) -> None:
    """compile=True runs the model through torch.compile (real inductor) and learns the same."""
    torch.manual_seed(0)
    _, _, eager = fit_regressor(regression_data, max_epochs=3)
    torch.manual_seed(0)
    _, _, compiled = fit_regressor(regression_data, max_epochs=3, compile=True)
    np.testing.assert_allclose(
        compiled.history["train_loss"], eager.history["train_loss"], rtol=1e-3
    )


def test_time_limit_stops_after_the_budget(regression_data) -> None:
    from zen.neural import TimeLimit

    readings = iter(range(0, 1000, 10))  # every reading of the clock is 10 s later
    limit = TimeLimit(25, clock=lambda: next(readings))
    X, y = regression_data
    result = Trainer(max_epochs=50, batch_size=400, callbacks=[limit]).fit(MLP([5, 4, 1]), X, y)
    assert result.epochs == 3  # one reading at the start, then one per (single-batch) epoch


def test_watching_adds_observers_to_every_fit_inside_the_block_only() -> None:
    from zen.neural.callbacks import ambient_callbacks, watching

    class Epochs(Callback):
        def __init__(self) -> None:
            self.seen: list[int] = []

        def on_epoch_end(self, trainer, epoch, logs) -> None:
            self.seen.append(epoch)

    X, y = torch.randn(32, 3), torch.randn(32, 1)
    observer = Epochs()
    with watching(observer):
        Trainer(max_epochs=3, seed=0).fit(torch.nn.Linear(3, 1), X, y)
        assert ambient_callbacks() == (observer,)
    Trainer(max_epochs=2, seed=0).fit(torch.nn.Linear(3, 1), X, y)
    assert observer.seen == [1, 2, 3] and ambient_callbacks() == ()


def test_nan_padded_sequences_reach_networks_that_declare_nan_padding() -> None:
    class MeanOverSteps(torch.nn.Module):
        nan_padding = True

        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, channels, length)
            mask = ~torch.isnan(x).any(dim=1, keepdim=True)
            mean = torch.nan_to_num(x).sum(-1) / mask.sum(-1)
            return self.head(mean)

    X = torch.randn(20, 2, 6)
    X[::2, :, 4:] = float("nan")  # half the sequences end after 4 steps
    y = X.nan_to_num().sum((1, 2)).unsqueeze(1)
    trainer = Trainer(max_epochs=2, seed=0, val_split=0.25)
    trainer.fit(MeanOverSteps(), X, y)
    assert np.isfinite(trainer.predict(None, X)).all()
    with pytest.raises(DataError, match="X: contains NaN"):  # a network without padding
        Trainer(max_epochs=1).fit(torch.nn.Flatten(), X, y)
    X[0, 0, 0] = float("inf")
    with pytest.raises(DataError, match="infinite"):
        trainer.predict(None, X)
