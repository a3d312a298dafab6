"""Trainer support for models with their own loss: X without y, the model's own hooks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from zen import DataError
from zen.neural import MLP, StepOutput, Trainer, private_rng
from zen.neural.trainer import align_targets


class TinyAutoencoder(nn.Module):
    """Reconstructs its inputs; records the batches and epochs the Trainer gives it."""

    def __init__(self, features: int = 4) -> None:
        super().__init__()
        self.encode = nn.Linear(features, 2)
        self.decode = nn.Linear(2, features)
        self.batch_lengths: set[int] = set()
        self.epochs_started: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def training_loss(self, batch: Any, loss_fn: Any) -> StepOutput:
        self.batch_lengths.add(len(batch))
        x = batch[0]
        return StepOutput(((self(x) - x) ** 2).mean(), size=len(x))

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.epochs_started.append(epoch)


@pytest.fixture
def data() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(64, 2, generator=generator) @ torch.randn(2, 4, generator=generator)


def test_a_model_with_its_own_loss_trains_on_x_alone(data: torch.Tensor) -> None:
    with private_rng(0):
        model = TinyAutoencoder()
    result = Trainer(max_epochs=30, lr=1e-2, val_split=0.25, seed=0).fit(model, data)
    assert model.batch_lengths == {1}  # (x,) batches
    assert result.history["val_loss"][-1] < result.history["val_loss"][0] / 2
    assert Trainer().evaluate(model, data)["loss"] == pytest.approx(
        float(((model(data) - data) ** 2).mean().detach()), rel=1e-5
    )


def test_validation_data_is_x_val_alone_without_targets(data: torch.Tensor) -> None:
    result = Trainer(max_epochs=2, seed=0).fit(TinyAutoencoder(), data, val=data[:8])
    assert len(result.history["val_loss"]) == 2
    with pytest.raises(DataError, match="X_val: expected shape"):
        Trainer(max_epochs=1).fit(TinyAutoencoder(), data, val=torch.zeros(8, 3))


def test_a_model_without_its_own_loss_still_needs_y(data: torch.Tensor) -> None:
    with pytest.raises(DataError, match="y: targets are required"):
        Trainer(max_epochs=1).fit(MLP([4, 2]), data)
    with pytest.raises(DataError, match="y: targets are required"):
        Trainer().evaluate(MLP([4, 2]), data)


def test_the_trainer_calls_the_models_own_hooks_every_epoch(data: torch.Tensor) -> None:
    model = TinyAutoencoder()
    trainer = Trainer(max_epochs=3, seed=0)
    trainer.fit(model, data)
    assert model.epochs_started == [1, 2, 3]
    trainer.config.max_epochs = 5
    trainer.fit(model, data, resume=True)
    assert model.epochs_started == [1, 2, 3, 4, 5]  # the epoch count carries on


def test_align_targets_shapes_targets_like_the_trainers_own_step() -> None:
    predictions = torch.zeros(4, 1)
    assert align_targets(predictions, torch.zeros(4), "mse").shape == (4, 1)
    labels = torch.tensor([0, 1, 1, 0])
    assert align_targets(torch.zeros(4, 2), labels, "cross_entropy") is labels
    loss_fn = Trainer(loss="bce").loss_fn  # a loss that knows its name
    assert align_targets(predictions, labels, loss_fn).dtype == torch.float32
