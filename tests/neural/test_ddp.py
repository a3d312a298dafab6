"""Trainer(strategy="ddp") without a cluster: settings, sharding, backend choice.

The training itself runs on a real two-node Ray cluster in ``test_ddp_cluster.py``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from zen.errors import ConfigError, NotFittedError
from zen.forecasting import NHITS
from zen.forecasting.data import from_long
from zen.forecasting.windows import WindowSampler
from zen.graph import Graph, GraphSAGE, NeighborLoader, NodeLoader
from zen.graph.sampling import random_node_split
from zen.neural import Trainer, distributed, strategy
from zen.neural.data import TensorBatches


def make_series(n_series: int, length: int) -> pd.DataFrame:
    """Noisy sine waves, one per series, on hourly timestamps."""
    rng = np.random.default_rng(0)
    t = np.arange(length)
    return pd.concat(
        pd.DataFrame(
            {
                "unique_id": f"s{index}",
                "ds": pd.date_range("2024-01-01", periods=length, freq="h"),
                "y": 10 * (index + 1) + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, length),
            }
        )
        for index in range(n_series)
    )


def community_graph(num_nodes: int = 120) -> Graph:
    """Four communities with noisy one-hot features, half the nodes for training."""
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(num_nodes) % 4
    probability = torch.where(y[:, None] == y[None, :], 0.1, 0.005)
    upper = torch.triu(torch.rand(num_nodes, num_nodes, generator=generator) < probability, 1)
    edges = upper.nonzero().t()
    x = torch.nn.functional.one_hot(y, 4).float() + torch.randn(num_nodes, 4, generator=generator)
    graph = Graph(x=x, edge_index=torch.cat([edges, edges.flip(0)], dim=1), y=y)
    return random_node_split(graph, train=0.5, val=0.2, seed=0)


@pytest.mark.parametrize(
    ("settings", "argument"),
    [
        ({"strategy": "horovod"}, "strategy"),
        ({"strategy": "ddp", "num_workers": 0}, "num_workers"),
        ({"strategy": "ddp", "num_workers": 1.5}, "num_workers"),
        ({"strategy": "local", "num_workers": 2}, "num_workers"),
        ({"strategy": "ddp", "num_workers": 2, "max_failures": -1}, "max_failures"),
    ],
)
def test_bad_strategy_settings_name_the_argument(settings: dict, argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        Trainer(**settings)


def test_ddp_without_ray_installed_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategy, "ray_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"^strategy: 'ddp' trains on Ray Train.*cluster"):
        Trainer(strategy="ddp", num_workers=2)
    Trainer(strategy="local")  # local training never needs Ray


def test_window_models_take_the_strategy_but_do_not_save_it() -> None:
    model = NHITS(h=4, input_size=8, strategy="ddp", num_workers=2)
    assert model.get_params()["num_workers"] == 2
    assert "strategy" not in model.hyperparameters()
    with pytest.raises(ConfigError, match=r"^num_workers:"):
        NHITS(h=4, input_size=8, strategy="ddp", num_workers=0)


def _shards(num_replicas: int, n: int = 101, shuffle: bool = True) -> list:
    data = (torch.arange(n), torch.arange(n) * 10)
    return [
        distributed.shard(
            TensorBatches(data, 8, shuffle=shuffle, generator=torch.Generator().manual_seed(3)),
            rank,
            num_replicas,
            torch.nn.Linear(1, 1),
        )
        for rank in range(num_replicas)
    ]


def test_array_shards_are_disjoint_equal_and_reshuffled_every_epoch() -> None:
    shards = _shards(3)
    epochs = []
    for _ in range(2):
        rows = [torch.cat([x for x, _ in shard]).tolist() for shard in shards]
        assert [len(part) for part in rows] == [33, 33, 33]  # 101 // 3 each, 2 wait
        assert len(set().union(*rows)) == 99  # disjoint
        epochs.append(rows)
        for shard in shards:
            x, y = next(iter(shard))
            assert torch.equal(y, x * 10)  # features and targets stay paired
    assert epochs[0] != epochs[1]
    assert [len(shard) for shard in shards] == [5, 5, 5]  # ceil(33 / 8) batches


def test_unshuffled_shards_deal_rows_round_robin() -> None:
    first, second = _shards(2, n=10, shuffle=False)
    assert torch.cat([x for x, _ in first]).tolist() == [0, 2, 4, 6, 8]
    assert torch.cat([x for x, _ in second]).tolist() == [1, 3, 5, 7, 9]


def test_a_loader_without_shard_is_refused_naming_train() -> None:
    batches = [(torch.zeros(2, 1), torch.zeros(2))]
    with pytest.raises(ConfigError, match=r"^train: strategy='ddp' needs data it can shard"):
        distributed.shard(batches, 0, 2, torch.nn.Linear(1, 1))


def test_window_sampler_shards_split_one_double_sized_draw() -> None:
    data = from_long(make_series(n_series=4, length=60))

    def sampler(batch_size: int) -> WindowSampler:
        generator = torch.Generator().manual_seed(7)
        return WindowSampler(data, 8, 4, batch_size, generator)

    whole = next(iter(sampler(32)))["window"]
    parent = sampler(16)
    first, second = (next(iter(parent.shard(rank, 2))) for rank in range(2))
    assert torch.equal(first["window"], whole[0::2])
    assert torch.equal(second["window"], whole[1::2])


def test_neighbor_loader_shards_have_disjoint_seeds_every_epoch() -> None:
    graph = community_graph()
    loader = NeighborLoader(graph, [5, 3], batch_size=16, split="train")
    shards = [loader.shard(rank, 2) for rank in range(2)]
    for _ in range(2):
        seeds = [
            {int(node) for part in shard for node in part.graph.n_id[: part.mask.sum()]}
            for shard in shards
        ]
        assert len(seeds[0]) == len(seeds[1]) == int(graph.train_mask.sum()) // 2
        assert not seeds[0] & seeds[1]
    assert len(shards[0]) == len(list(shards[0]))


def test_full_batch_node_loader_shards_into_full_neighbourhood_mini_batches() -> None:
    graph = community_graph()
    model = GraphSAGE(graph.num_features, 8, num_layers=3, out_channels=4)
    shard = NodeLoader(graph, "train").shard(1, 2, model)
    assert isinstance(shard, NeighborLoader)
    assert shard.num_neighbors == [-1, -1, -1] and shard.rank == 1


@pytest.mark.parametrize(
    ("gpus", "expected"),
    [(2.0, distributed.Backend("nccl", True)), (1.0, distributed.Backend("gloo", False))],
)
def test_backend_is_nccl_only_with_a_gpu_per_worker(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, gpus: float, expected
) -> None:
    monkeypatch.setattr(distributed, "cluster_gpus", lambda: gpus)
    with caplog.at_level(logging.INFO, logger="zen.neural.distributed"):
        assert distributed.choose_backend(2) == expected
    if not expected.use_gpu:
        assert "ddp on CPUs with gloo: 1 GPUs for 2 workers" in caplog.text


def test_ddp_fit_refuses_unshardable_data_before_starting_workers() -> None:
    trainer = Trainer(strategy="ddp", num_workers=2, loss="mse")
    batches = [(torch.zeros(4, 3), torch.zeros(4))]
    with pytest.raises(ConfigError, match=r"^train: strategy='ddp' needs data it can shard"):
        trainer.fit(torch.nn.Linear(3, 1), batches)
    with pytest.raises(NotFittedError, match="resume=True"):
        trainer.fit(torch.nn.Linear(3, 1), np.zeros((4, 3)), np.zeros(4), resume=True)
