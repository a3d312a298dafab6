"""Small saved models of every family the inference engine serves, made once per session.

Each is trained for a few steps on synthetic data and saved the way ``zen fit`` saves it; the
tests compare the engine's answers with the model's own ``predict``, so accuracy is irrelevant.
ONNX exports go to one cache directory per session (exporting is the slow part).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from zen.runtime import EngineConfig, InferenceEngine, ModelSpec

HORIZON = 6
INPUT_SIZE = 24


def hourly_frame(n: int = 120, ids: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    """Long-format hourly series: a daily sine per id, offset by its position."""
    parts = []
    for offset, uid in enumerate(ids):
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": pd.date_range("2024-01-01", periods=n, freq="h"),
                    "y": 10 + np.sin(np.arange(n) * 2 * np.pi / 24) + offset,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def series_payload(frame: pd.DataFrame) -> list[dict]:
    """``frame`` as the server's ``series`` request form."""
    return [
        {
            "unique_id": uid,
            "ds": [stamp.isoformat(sep=" ") for stamp in group["ds"]],
            "y": group["y"].tolist(),
        }
        for uid, group in frame.groupby("unique_id", sort=False)
    ]


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Directories of a saved MLP, tabular classifier and regressor, N-HiTS and SeasonalNaive
    forecasters and a GCN, plus what the tests need to call the originals."""
    from zen.forecasting import NHITS, Forecaster, SeasonalNaive
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets.karate import karate_club
    from zen.neural import MLP, Trainer
    from zen.tabular import TabularModel

    root = tmp_path_factory.mktemp("served-models")
    rng = np.random.default_rng(0)
    torch.manual_seed(0)

    X = rng.normal(size=(128, 8)).astype(np.float32)
    y = X[:, :3].sum(axis=1, keepdims=True)
    trainer = Trainer(max_epochs=2, seed=0)
    trainer.fit(MLP([8, 16, 2]), X, np.hstack([y, -y]))
    trainer.save(root / "mlp")

    table = pd.DataFrame(
        {
            "size": rng.normal(size=120),
            "weight": rng.normal(size=120),
            "colour": rng.choice(["red", "blue"], size=120),
        }
    )
    table["label"] = np.where(table["size"] + (table["colour"] == "red") > 0.5, "big", "small")
    TabularModel(max_epochs=3).fit(table, "label").save(root / "classifier")
    regression = table.drop(columns="label").assign(price=table["size"] * 3 + 1)
    TabularModel(max_epochs=3).fit(regression, "price").save(root / "regressor")

    history = hourly_frame()
    nhits = NHITS(h=HORIZON, input_size=INPUT_SIZE, max_steps=5, random_seed=0)
    Forecaster([nhits], freq="h").fit(history).save(root / "nhits")
    Forecaster([SeasonalNaive(h=HORIZON, season_length=24)], freq="h").fit(history).save(
        root / "snaive"
    )

    graph = karate_club()
    gcn = GCN(graph.num_features, 8, 2, int(graph.y.max()) + 1, cached=True)
    mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
    mask[::2] = True
    graph_trainer = Trainer(max_epochs=3, optimizer="adam", lr=0.01, loss="cross_entropy", seed=0)
    graph_trainer.fit(gcn, NodeLoader(graph, mask))
    graph_trainer.save(root / "gcn")

    return SimpleNamespace(
        root=root,
        mlp=root / "mlp",
        classifier=root / "classifier",
        regressor=root / "regressor",
        nhits=root / "nhits",
        snaive=root / "snaive",
        gcn=root / "gcn",
        table=table,
        history=history,
        graph=graph,
        hourly_frame=hourly_frame,
        series_payload=series_payload,
    )


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX cache for the session: each model is exported once."""
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture
def make_engine(onnx_cache: Path) -> Iterator[Callable[..., InferenceEngine]]:
    """A factory of engines over saved models (PyTorch eager only unless ``backends`` says
    otherwise, quick timing); every engine made is closed after the test."""
    engines: list[InferenceEngine] = []

    def make(
        models: dict[str, Path], *, start: bool = True, scheduler: Any = None, **settings: Any
    ) -> InferenceEngine:
        options: dict[str, Any] = {
            "backends": ("torch",),
            "cache_dir": onnx_cache,
            "timing_runs": 2,
        }
        options.update(settings)
        config = EngineConfig(
            models=tuple(ModelSpec(path, name=name) for name, path in models.items()), **options
        )
        engine = InferenceEngine(config, scheduler=scheduler)
        engines.append(engine)
        if start:
            assert engine.start(wait=True, timeout_s=300) is None
        return engine

    yield make
    for engine in engines:
        engine.close(drain=False)
