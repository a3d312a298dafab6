"""Trainer(strategy="ddp") on a real two-node Ray cluster (loopback-only network namespace).

The training runs inside the namespace (``cluster.python``); each script prints one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from typing import Any

import pytest

from cluster_harness import RayCluster, ray_cluster


def _run(cluster: RayCluster, code: str, timeout: float = 300) -> dict[str, Any]:
    done = cluster.python(code, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


DIGITS = """
    import json, os, sys
    import numpy as np, torch
    from sklearn.datasets import load_digits
    from zen.neural import MLP, Trainer, private_rng

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
"""


@pytest.mark.slow  # Ray Train workers on two nodes: ~60 s; the fast suite keeps the executor's
def test_mlp_on_two_nodes_matches_local_accuracy_on_disjoint_shards(
    ray_two_nodes: RayCluster, tmp_path: Any
) -> None:
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    code = (
        DIGITS
        + f"""
    class Recording(MLP):
        # Writes the row ids (the last feature) each worker trained on, one line per batch.
        def forward(self, x):
            if self.training:
                import ray.train
                rank = ray.train.get_context().get_world_rank()
                with open(os.path.join({str(seen_dir)!r}, f"rank{{rank}}.txt"), "a") as out:
                    out.write(" ".join(str(int(v)) for v in x[:, -1].tolist()) + "\\n")
            return super().forward(x[:, :-1])

    ids = np.arange(len(X_train), dtype="float32")[:, None]
    settings = dict(max_epochs=15, batch_size=32, lr=3e-3, loss="cross_entropy", seed=0)
    accuracy = {{}}
    for strategy, workers in (("local", 1), ("ddp", 2)):
        with private_rng(0):  # the same initial weights for both
            model = Recording([64, 64, 10], activation="relu")
            reference = MLP([64, 64, 10], activation="relu")
        trainer = Trainer(strategy=strategy, num_workers=workers, **settings)
        if strategy == "local":
            trainer_result = trainer.fit(reference, X_train, y_train)
            model_out = trainer.model
        else:
            trainer_result = trainer.fit(model, np.hstack([X_train, ids]), y_train)
            model_out = model
        with torch.no_grad():
            inputs = torch.from_numpy(X_test)
            if strategy == "ddp":
                inputs = torch.cat([inputs, torch.zeros(len(inputs), 1)], dim=1)
            model_out.eval()
            predicted = model_out(inputs).argmax(dim=1).numpy()
        accuracy[strategy] = float((predicted == y_test).mean())
        result = trainer_result
    print(json.dumps({{"accuracy": accuracy, "epochs": result.epochs, "steps": result.steps,
                      "history": len(result.history), "best_epoch": result.best_epoch,
                      "keys": result.history.keys()}}))
    """
    )
    out = _run(ray_two_nodes, code)
    assert out["epochs"] == 15, out and out["history"] == 15
    # 700 rows per worker, 32 per batch: 22 steps per epoch on each worker.
    assert out["steps"] == 15 * 22, out
    assert "train_loss" in out["keys"] and "samples_per_s" in out["keys"]
    assert out["accuracy"]["ddp"] > 0.9, out
    assert abs(out["accuracy"]["ddp"] - out["accuracy"]["local"]) < 0.04, out
    files = sorted(seen_dir.iterdir())
    assert [path.name for path in files] == ["rank0.txt", "rank1.txt"]
    epochs = [
        [[int(v) for v in line.split()] for line in path.read_text().splitlines()] for path in files
    ]
    first_epoch = [{row for line in lines[:22] for row in line} for lines in epochs]
    assert len(first_epoch[0]) == len(first_epoch[1]) == 700
    assert not first_epoch[0] & first_epoch[1]  # disjoint shards
    assert first_epoch[0] | first_epoch[1] == set(range(1400))


@pytest.mark.slow
def test_forecasting_and_graph_models_fit_with_ddp_and_errors_reach_the_caller(
    ray_two_nodes: RayCluster,
) -> None:
    code = """
    import json
    import numpy as np, pandas as pd, torch
    from zen.forecasting import NHITS
    from zen.forecasting.data import from_long
    from zen.graph import GCN, GraphSAGE, Graph, NeighborLoader, NodeLoader
    from zen.graph.metrics import accuracy
    from zen.graph.sampling import random_node_split
    from zen.neural import Trainer

    t = np.arange(240)
    frame = pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "ds": t + 1,
                      "y": 10 * (i + 1) + 3 * np.sin(2 * np.pi * t / 12)
                           + np.random.default_rng(i).normal(0, 0.3, 240)})
        for i in range(4)
    )
    train, test = frame[frame.ds <= 228], frame[frame.ds > 228]
    errors = {}
    for strategy, workers in (("local", 1), ("ddp", 2)):
        model = NHITS(h=12, input_size=24, max_steps=150, val_check_steps=50,
                      windows_batch_size=64, strategy=strategy, num_workers=workers)
        model.fit(from_long(train, freq=1))
        forecast = model.predict(from_long(train, freq=1)).reshape(-1)
        errors[strategy] = float(np.abs(forecast - test.y.to_numpy()).mean())
        steps = model.result_.steps

    generator = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 4
    probability = torch.where(y[:, None] == y[None, :], 0.08, 0.004)
    upper = torch.triu(torch.rand(300, 300, generator=generator) < probability, 1)
    edges = upper.nonzero().t()
    x = torch.nn.functional.one_hot(y, 4).float() + 1.5 * torch.randn(300, 4, generator=generator)
    graph = random_node_split(Graph(x=x, edge_index=torch.cat([edges, edges.flip(0)], 1), y=y),
                              train=0.5, val=0.2, seed=0)
    sage = GraphSAGE(4, 16, num_layers=2, out_channels=4)
    sage_result = Trainer(max_epochs=15, lr=0.02, loss="cross_entropy", seed=0, strategy="ddp",
                          checkpoint_every_s=60,
                          num_workers=2).fit(
        sage, NeighborLoader(graph, [10, 5], batch_size=32), NodeLoader(graph, "val"))
    gcn = GCN(4, 16, num_layers=2, out_channels=4)
    Trainer(max_epochs=30, lr=0.02, loss="cross_entropy", seed=0, strategy="ddp",
            checkpoint_every_s=60,
            num_workers=2).fit(gcn, NodeLoader(graph, "train"), NodeLoader(graph, "val"))
    from zen.errors import DataError
    try:  # a zen error on the workers reaches the caller as itself, without retries
        Trainer(max_epochs=3, lr=1e10, loss="mse", strategy="ddp", num_workers=2).fit(
            torch.nn.Linear(4, 1), graph.x * 1e30, graph.x.sum(1))
        diverged = ""
    except DataError as error:
        diverged = str(error)
    print(json.dumps({
        "mae": errors, "forecast_steps": steps, "diverged": diverged,
        "sage": float(accuracy(sage.predict(graph), graph.y, graph.test_mask)),
        "sage_epochs": sage_result.epochs, "sage_val": "val_accuracy" in sage_result.history,
        "gcn": float(accuracy(gcn.predict(graph), graph.y, graph.test_mask)),
    }))
    """
    out = _run(ray_two_nodes, code, timeout=600)
    assert out["forecast_steps"] == 150
    # The sine's amplitude is 3 and the noise 0.3: both fits must have learnt the season.
    assert out["mae"]["ddp"] < 1.0 and out["mae"]["ddp"] < 2 * out["mae"]["local"] + 0.2
    assert out["sage_epochs"] == 15 and out["sage_val"]
    assert out["sage"] > 0.7 and out["gcn"] > 0.7  # chance: 0.25
    assert out["diverged"].startswith("training diverged at epoch 1")


FAULT = """
    import json, os, sys, time
    import numpy as np, torch
    from sklearn.datasets import load_digits
    from zen.neural import MLP, Callback, Trainer

    folder = sys.argv[1]

    class Slow(MLP):
        # Each worker names its process, and epochs take long enough to kill one mid-way.
        def forward(self, x):
            if self.training:
                open(os.path.join(folder, f"pid-{os.getpid()}"), "w").close()
                time.sleep(0.02)
            return super().forward(x)

    class Epochs(Callback):
        def on_epoch_start(self, trainer, epoch):
            with open(os.path.join(folder, "epochs"), "a") as out:
                out.write(f"{epoch}\\n")

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    model = Slow([64, 32, 10], activation="relu")
    result = Trainer(max_epochs=8, batch_size=64, lr=3e-3, loss="cross_entropy", seed=0,
                     strategy="ddp", num_workers=2, max_failures=2, callbacks=[Epochs()]).fit(
        model, X, y)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean())
    print(json.dumps({"epochs": result.epochs, "history": len(result.history),
                      "accuracy": accuracy}))
"""


@pytest.mark.slow
def test_a_killed_worker_process_resumes_from_the_last_checkpoint(tmp_path: Any) -> None:
    with ray_cluster() as cluster:
        script = tmp_path / "fault.py"
        script.write_text(textwrap.dedent(FAULT))
        running = cluster.popen([sys.executable, str(script), str(tmp_path)])
        try:
            epochs_file = tmp_path / "epochs"
            deadline = time.monotonic() + 240
            while not (epochs_file.exists() and len(epochs_file.read_text().split()) >= 4):
                assert running.poll() is None, running.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "training did not reach epoch 4"
                time.sleep(0.2)
            victim = int(sorted(tmp_path.glob("pid-*"))[0].name.removeprefix("pid-"))
            os.kill(victim, signal.SIGKILL)
            stdout, stderr = running.communicate(timeout=400)
        finally:
            if running.poll() is None:
                running.kill()
    assert running.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["epochs"] == 8 and out["history"] == 8
    assert out["accuracy"] > 0.9
    started = [int(epoch) for epoch in epochs_file.read_text().split()]
    # After the kill the workers restarted, and went on from the last epoch saved, not epoch 1.
    restart = next(i for i in range(1, len(started)) if started[i] <= started[i - 1])
    assert started[restart] > 1, started
    assert started[-1] == 8
