"""Trainer(strategy="ddp") on a real two-node Ray cluster (loopback-only network namespace).

The training runs inside the namespace (``cluster.python``); each script prints one JSON line.
"""

from __future__ import annotations

import json
from typing import Any

from cluster_harness import RayCluster


def _run(cluster: RayCluster, code: str, timeout: float = 300) -> dict[str, Any]:
    done = cluster.python(code, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


DIGITS = """
    import json, os, sys
    import numpy as np, torch
    from sklearn.datasets import load_digits
    from zen.neural import MLP, Trainer

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
"""


def test_mlp_on_two_nodes_matches_local_accuracy_on_disjoint_shards(
    ray_two_nodes: RayCluster, tmp_path: Any
) -> None:
    seen_dir = tmp_path / "seen"
    seen_dir.mkdir()
    code = (
        DIGITS
        + f"""
    class Recording(MLP):
        # Writes the row ids (feature 0 is replaced by them) each worker trained on.
        def forward(self, x):
            if self.training:
                with open(os.path.join({str(seen_dir)!r}, f"{{os.getpid()}}.txt"), "a") as out:
                    out.write(" ".join(str(int(v)) for v in x[:, -1].tolist()) + "\\n")
            return super().forward(x[:, :-1])

    ids = np.arange(len(X_train), dtype="float32")[:, None]
    settings = dict(max_epochs=15, batch_size=32, lr=3e-3, loss="cross_entropy", seed=0)
    accuracy = {{}}
    for strategy, workers in (("local", 1), ("ddp", 2)):
        model = Recording([64, 64, 10], activation="relu")
        trainer = Trainer(strategy=strategy, num_workers=workers, **settings)
        if strategy == "local":
            trainer_result = trainer.fit(MLP([64, 64, 10], activation="relu"), X_train, y_train)
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
    assert out["epochs"] == 15 and out["history"] == 15
    # 700 rows per worker, 32 per batch: 22 steps per epoch on each worker.
    assert out["steps"] == 15 * 22
    assert "train_loss" in out["keys"] and "samples_per_s" in out["keys"]
    assert out["accuracy"]["ddp"] > 0.9
    assert abs(out["accuracy"]["ddp"] - out["accuracy"]["local"]) < 0.04
    files = sorted(seen_dir.iterdir())
    assert len(files) == 2, files  # two worker processes trained
    epochs = [
        [[int(v) for v in line.split()] for line in path.read_text().splitlines()] for path in files
    ]
    first_epoch = [{row for line in lines[:22] for row in line} for lines in epochs]
    assert len(first_epoch[0]) == len(first_epoch[1]) == 700
    assert not first_epoch[0] & first_epoch[1]  # disjoint shards
    assert first_epoch[0] | first_epoch[1] == set(range(1400))
