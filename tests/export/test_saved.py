"""The one loader of saved models (`zen.export.saved.load_saved`): every kind, runs, bad files."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zen.errors import ConfigError, DataError
from zen.export.saved import SavedModel, load_saved


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One directory per kind, saved by its own class after a few training steps."""
    from zen.forecasting import Forecaster, SeasonalNaive
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets.karate import karate_club
    from zen.neural import MLP, Trainer
    from zen.tabular import TabularModel

    root = tmp_path_factory.mktemp("saved")
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    table["y"] = table["a"] * 2 + 1
    TabularModel(max_epochs=2, seed=0).fit(table, "y").save(root / "tabular")

    series = pd.DataFrame(
        {"unique_id": "s", "ds": pd.date_range("2024-01-01", periods=48, freq="h"),
         "y": np.sin(np.arange(48))}
    )  # fmt: skip
    Forecaster([SeasonalNaive(h=4, season_length=24)], freq="h").fit(series).save(root / "forecast")

    graph = karate_club()
    gcn = GCN(graph.num_features, 4, 2, int(graph.y.max()) + 1)
    trainer = Trainer(max_epochs=1, optimizer="adam", loss="cross_entropy", seed=0)
    trainer.fit(gcn, NodeLoader(graph, torch.ones(graph.num_nodes, dtype=torch.bool)))
    trainer.save(root / "graph")

    x = rng.normal(size=(32, 3)).astype(np.float32)
    mlp_trainer = Trainer(max_epochs=1, seed=0)
    mlp_trainer.fit(MLP([3, 4, 1]), x, x[:, :1])
    mlp_trainer.save(root / "network")
    return {kind: root / kind for kind in ("tabular", "forecast", "graph", "network")}


@pytest.mark.parametrize(
    ("kind", "model_class", "saved_format"),
    [
        ("tabular", "TabularModel", "zen.tabular"),
        ("forecast", "Forecaster", "zen.forecaster"),
        ("graph", "GCN", "zen.trainer"),
        ("network", "MLP", "zen.trainer"),
    ],
)
def test_load_saved_names_the_kind_of_every_saved_model(
    saved, kind, model_class, saved_format
) -> None:
    loaded = load_saved(saved[kind])
    assert isinstance(loaded, SavedModel)
    assert loaded.kind == kind and type(loaded.model).__name__ == model_class
    assert loaded.format == saved_format and loaded.directory == saved[kind]
    assert loaded.run_dir is None  # saved on its own, not by zen fit


def test_load_saved_of_a_run_directory_knows_its_run(saved, tmp_path) -> None:
    run = tmp_path / "20240601-abc"
    shutil.copytree(saved["graph"], run / "model")
    (run / "report.json").write_text("{}")
    for given in (run, run / "model"):
        loaded = load_saved(given)
        assert loaded.directory == run / "model" and loaded.run_dir == run
    # A directory merely called "model" outside a run is no run.
    lone = tmp_path / "elsewhere" / "model"
    shutil.copytree(saved["graph"], lone)
    assert load_saved(lone).run_dir is None


def test_load_saved_refuses_what_zen_did_not_write(tmp_path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_saved(tmp_path / "missing")
    folder = tmp_path / "odd"
    folder.mkdir()
    with pytest.raises(DataError, match=r"no config\.json"):
        load_saved(folder)
    (folder / "config.json").write_text(json.dumps({"format": "keras"}))
    with pytest.raises(DataError, match="unknown saved model format 'keras'"):
        load_saved(folder)
    (folder / "config.json").write_text(json.dumps({"format": "zen.tabular"}))
    with pytest.raises(DataError, match="incomplete or corrupt"):
        load_saved(folder)
    (folder / "config.json").write_text(json.dumps({"format": "zen.trainer", "model": None}))
    with pytest.raises(ConfigError, match="not registered"):
        load_saved(folder)


class _Boom:
    """Unpickling this creates ``target``: what a malicious checkpoint would do."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_load_saved_never_unpickles_weights(saved, tmp_path) -> None:
    """A pickle in place of the safetensors weights is refused as corrupt, not executed."""
    tampered = tmp_path / "tampered"
    shutil.copytree(saved["network"], tampered)
    (tampered / "model.safetensors").write_bytes(pickle.dumps(_Boom(tmp_path / "pwned")))
    with pytest.raises(DataError, match="not a readable safetensors file"):
        load_saved(tampered)
    assert not (tmp_path / "pwned").exists()
