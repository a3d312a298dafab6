"""Training leaves the process as it found it: random generators and torch's thread count.

Every family that trains (or builds its network from a seed) is fitted between two snapshots of
Python's, NumPy's and torch's global random state, which must match; a seed still makes the
result repeatable, within a process and across processes.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from zen.neural import MLP, Trainer

SRC = Path(__file__).resolve().parents[1] / "src"


def rng_state() -> tuple[object, ...]:
    """Everything a fit could disturb: Python's, NumPy's and torch's CPU generator states."""
    _, keys, position, *_ = np.random.get_state()
    return random.getstate(), keys.tobytes(), position, torch.get_rng_state().numpy().tobytes()


def regression_arrays(rows: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """The data of CHILD below, where the same lines build it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4)).astype(np.float32)
    return X, (X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 3]).astype(np.float32)


# A family is a function that sets up (a model the user builds draws from the user's generator,
# so it is built here) and returns the call that must leave the random state alone.
Family = Callable[[], Callable[[], object]]


def fit_mlp_on_arrays() -> Callable[[], object]:
    X, y = regression_arrays()
    net = MLP([4, 16, 1], dropout=0.3)
    return lambda: Trainer(max_epochs=2, batch_size=16, val_split=0.25, seed=0).fit(net, X, y)


def fit_mlp_on_a_shuffling_loader() -> Callable[[], object]:
    # DataLoader's RandomSampler draws its seed from torch's global generator each epoch.
    X, y = regression_arrays()
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), 16, shuffle=True)
    net = MLP([4, 16, 1], dropout=0.3)
    return lambda: Trainer(max_epochs=2, seed=0).fit(net, loader)


def fit_tabular_model() -> Callable[[], object]:
    from zen.tabular import TabularModel

    X, y = regression_arrays()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(target=y)
    return lambda: TabularModel(max_epochs=2, dropout=0.2, seed=0).fit(frame, "target")


def series() -> object:
    from zen.forecasting.data import from_long

    t = np.arange(120)
    frame = pd.DataFrame(
        {"unique_id": "s0", "ds": t + 1, "y": 10 + np.sin(2 * np.pi * t / 12) + 0.01 * t}
    )
    return from_long(frame)


def fit_nhits() -> Callable[[], object]:
    from zen.forecasting import NHITS

    data = series()
    model = NHITS(h=6, input_size=24, mlp_units=((16, 16),) * 3, max_steps=4,
                  dropout_prob_theta=0.2)  # fmt: skip
    return lambda: model.fit(data)


def fit_and_sample_deepar() -> Callable[[], object]:
    from zen.forecasting import DeepAR

    data = series()
    model = DeepAR(h=6, input_size=24, lstm_n_layers=2, lstm_hidden_size=8, lstm_dropout=0.2,
                   max_steps=4, trajectory_samples=20)  # fmt: skip
    return lambda: model.fit(data).predict(data)


def small_graph() -> object:
    from zen.graph import Graph
    from zen.graph.sampling import random_node_split

    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(30) % 2
    features = torch.randn(30, 4, generator=generator) + labels[:, None].float()
    same = labels[:, None] == labels[None, :]
    edge_index = (same & (torch.rand(30, 30, generator=generator) < 0.2)).nonzero().T
    graph = Graph(x=features, edge_index=edge_index, y=labels)
    return random_node_split(graph, train=0.6, val=0.2, seed=0)


def fit_gcn() -> Callable[[], object]:
    from zen.graph import GCN, NodeLoader

    graph = small_graph()
    model = GCN(4, 8, 2, 2, dropout=0.5)
    trainer = Trainer(max_epochs=3, loss="cross_entropy", lr=0.01, seed=0)
    return lambda: trainer.fit(model, NodeLoader(graph, "train"), NodeLoader(graph, "val"))


def tune_gcn() -> Callable[[], object]:
    import optuna

    from zen.orchestrator.tune import tune_node_classifier

    graph, storage = small_graph(), optuna.storages.InMemoryStorage()
    return lambda: tune_node_classifier(graph, "gcn", n_trials=1, max_epochs=2, patience=2,
                                        storage=storage, seed=0)  # fmt: skip


def fit_assistant_network() -> Callable[[], object]:
    from zen.audio.assistant.dataset import DatasetConfig, Examples
    from zen.audio.assistant.training import TrainingConfig, fit_network

    rng = np.random.default_rng(0)
    n_fft = DatasetConfig().fft_sizes[0]

    def examples(rows: int) -> Examples:
        features = {n_fft: rng.normal(size=(rows, 12)).astype(np.float32)}
        targets = rng.normal(size=(rows, 9)).astype(np.float32)
        return Examples(features, targets, np.zeros(rows, dtype=int), ["track"])

    config = TrainingConfig(hidden=(16,), max_epochs=2, batch_size=16)
    train, val = examples(48), examples(16)
    return lambda: fit_network(train, val, n_fft, DatasetConfig(), config)


def build_workload_analysis() -> Callable[[], object]:
    from zen.runtime.workload import Analysis, StereoChain

    chain = StereoChain()
    return lambda: Analysis(chain)


FAMILIES: dict[str, Family] = {
    "mlp-arrays": fit_mlp_on_arrays,
    "mlp-loader": fit_mlp_on_a_shuffling_loader,
    "tabular": fit_tabular_model,
    "nhits": fit_nhits,
    "deepar": fit_and_sample_deepar,
    "gcn": fit_gcn,
    "tune-gcn": tune_gcn,
    "audio-assistant": fit_assistant_network,
    "runtime-workload": build_workload_analysis,
}


@pytest.mark.parametrize("family", FAMILIES.values(), ids=FAMILIES.keys())
def test_training_leaves_the_global_random_state_alone(family: Family) -> None:
    train = family()
    random.seed(11)
    np.random.seed(12)
    torch.manual_seed(13)
    before = rng_state()
    train()
    assert rng_state() == before


def test_a_thread_count_set_with_torch_stays_through_fit() -> None:
    before = torch.get_num_threads()
    train = fit_mlp_on_arrays()
    torch.set_num_threads(1)
    try:
        train()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def fit_twice_from_the_same_start() -> tuple[list[torch.Tensor], list[float]]:
    X, y = regression_arrays()
    start = MLP([4, 16, 1], dropout=0.3)
    results = []
    for _ in range(2):
        net = MLP([4, 16, 1], dropout=0.3)
        net.load_state_dict(start.state_dict())
        result = Trainer(max_epochs=3, batch_size=16, val_split=0.25, seed=5).fit(net, X, y)
        results.append(([p.detach().clone() for p in net.parameters()], result))
    (first_weights, first), (second_weights, second) = results
    assert first.history["train_loss"] == second.history["train_loss"]
    assert first.history["val_loss"] == second.history["val_loss"]
    for a, b in zip(first_weights, second_weights, strict=True):
        assert torch.equal(a, b)
    return first_weights, first.history["train_loss"]


def test_the_same_seed_gives_identical_fits_with_dropout() -> None:
    fit_twice_from_the_same_start()


# A fresh interpreter: the user sets one thread before zen is imported, builds the network from
# their own seed, fits with dropout; prints the thread count and the trained weights.
CHILD = """
import numpy as np, torch
torch.set_num_threads(1)
torch.manual_seed(0)
from zen.neural import MLP, Trainer
rng = np.random.default_rng(0)
X = rng.normal(size=(96, 4)).astype(np.float32)
y = (X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 3]).astype(np.float32)
net = MLP([4, 16, 1], dropout=0.3)
Trainer(max_epochs=3, batch_size=16, val_split=0.25, seed=5).fit(net, X, y)
print(torch.get_num_threads())
print(",".join(repr(float(v)) for v in torch.cat([p.detach().flatten() for p in net.parameters()])))
"""


def test_fit_repeats_across_processes_and_keeps_the_users_thread_count() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    env.pop("ZEN_NUM_THREADS", None)
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300
    )
    assert child.returncode == 0, child.stderr
    threads, weights = child.stdout.split()
    assert threads == "1"
    with torch.random.fork_rng():  # this process: the same seed, other history, same result
        torch.manual_seed(0)
        X, y = regression_arrays()
        net = MLP([4, 16, 1], dropout=0.3)
        Trainer(max_epochs=3, batch_size=16, val_split=0.25, seed=5).fit(net, X, y)
    here = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert weights == ",".join(repr(float(v)) for v in here)


def test_without_a_seed_fit_follows_torchs_global_generator() -> None:
    X, y = regression_arrays()
    start = MLP([4, 16, 1], dropout=0.3)
    histories = []
    for _ in range(2):
        net = MLP([4, 16, 1], dropout=0.3)
        net.load_state_dict(start.state_dict())
        torch.manual_seed(21)  # the user's seed makes an unseeded fit repeatable
        result = Trainer(max_epochs=2, batch_size=16, val_split=0.25, seed=None).fit(net, X, y)
        histories.append(result.history["train_loss"])
    assert histories[0] == histories[1]
