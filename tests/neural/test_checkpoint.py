"""Saving and loading trainers: safetensors + JSON, atomic writes, resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zen import ConfigError, DataError
from zen.neural import MLP, ModelCheckpoint, Trainer, checkpoint


def trained(regression_data, **settings) -> tuple[Trainer, MLP]:
    X, y = regression_data
    net = MLP([5, 16, 1], dropout=0.1)
    trainer = Trainer(**{"max_epochs": 4, "lr": 1e-2, "seed": 0, **settings})
    trainer.fit(net, X, y)
    return trainer, net


def test_checkpoint_is_safetensors_plus_json(regression_data, tmp_path) -> None:
    trainer, _ = trained(regression_data)
    trainer.save(tmp_path / "ckpt")
    files = sorted(path.name for path in (tmp_path / "ckpt").iterdir())
    assert files == ["config.json", "model.safetensors", "optimizer.safetensors"]
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["model"]["class"] == "MLP" and config["trainer"]["lr"] == 1e-2


def test_loaded_model_predicts_the_same(regression_data, tmp_path) -> None:
    trainer, net = trained(regression_data)
    trainer.save(tmp_path / "ckpt")
    loaded = Trainer.load(tmp_path / "ckpt")
    X = regression_data[0]
    np.testing.assert_array_equal(loaded.predict(None, X), trainer.predict(net, X))
    assert len(loaded.history_) == 4


def test_resume_matches_an_uninterrupted_run(regression_data, tmp_path) -> None:
    """4 epochs + save + load + 4 more epochs == 8 epochs in one go (full batch: no shuffle)."""
    X, y = regression_data
    settings = {"lr": 1e-2, "seed": 0, "batch_size": 400, "optimizer": "adam"}
    torch.manual_seed(0)
    straight = MLP([5, 16, 1])
    Trainer(max_epochs=8, **settings).fit(straight, X, y)

    torch.manual_seed(0)
    first = Trainer(max_epochs=4, **settings)
    first.fit(MLP([5, 16, 1]), X, y)
    first.save(tmp_path / "ckpt")
    resumed = Trainer.load(tmp_path / "ckpt", max_epochs=8)
    result = resumed.fit(resumed.model, X, y, resume=True)
    assert result.epochs == 8 and len(result.history) == 8
    for a, b in zip(straight.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_failed_save_keeps_the_previous_checkpoint(regression_data, tmp_path, monkeypatch) -> None:
    trainer, _ = trained(regression_data)
    target = tmp_path / "ckpt"
    trainer.save(target)
    before = (target / "model.safetensors").read_bytes()

    def broken(path, tensors):
        path.write_bytes(b"half")
        raise OSError("disk full")

    trainer.fit(trainer.model, *regression_data)  # new weights to (fail to) save
    monkeypatch.setattr(checkpoint, "save_tensors", broken)
    with pytest.raises(OSError, match="disk full"):
        trainer.save(target)
    assert (target / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_load_of_a_missing_checkpoint_says_where(tmp_path) -> None:
    with pytest.raises(DataError, match=r"config\.json: not found"):
        Trainer.load(tmp_path / "nowhere")


def test_unregistered_model_needs_model_argument(regression_data, tmp_path) -> None:
    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = MLP([5, 3, 1])

        def forward(self, x):
            return self.inner(x)

    trainer = Trainer(max_epochs=1)
    trainer.fit(Wrapper(), *regression_data)
    trainer.save(tmp_path / "ckpt")
    with pytest.raises(ConfigError, match="pass model="):
        Trainer.load(tmp_path / "ckpt")
    loaded = Trainer.load(tmp_path / "ckpt", model=Wrapper())
    assert isinstance(loaded.model, Wrapper)


def test_custom_loss_must_be_given_again(regression_data, tmp_path) -> None:
    def quartic(prediction, target):
        return ((prediction - target) ** 4).mean()

    trainer, _ = trained(regression_data, loss=quartic)
    trainer.save(tmp_path / "ckpt")
    with pytest.raises(ConfigError, match="custom loss"):
        Trainer.load(tmp_path / "ckpt")
    assert Trainer.load(tmp_path / "ckpt", loss=quartic).loss_fn is quartic


def test_model_checkpoint_keeps_the_best_epoch(regression_data, tmp_path) -> None:
    X, y = regression_data
    saver = ModelCheckpoint(tmp_path / "best")
    trainer = Trainer(max_epochs=6, val_split=0.2, lr=1e-2, callbacks=[saver])
    result = trainer.fit(MLP([5, 8, 1]), X, y)
    saved = json.loads((tmp_path / "best" / "config.json").read_text())
    assert saved["progress"]["epoch"] == result.best_epoch
    assert saver.best_score == pytest.approx(result.best_score)
