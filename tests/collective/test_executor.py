"""The Ray executor end to end: ``zen fit --cluster`` on a real two-node cluster gives the local
leaderboard, and History says on which node and in how many attempts each candidate trained."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cluster_harness import RayCluster


def small_table(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(240, 4))
    frame = pd.DataFrame(features, columns=["a", "b", "c", "d"])
    frame["y"] = features @ [1.0, -2.0, 0.5, 0.0] + rng.normal(scale=0.1, size=240)
    path = folder / "table.csv"
    frame.to_csv(path, index=False)
    return path


def fit(cluster: RayCluster, data: Path, home: Path, *extra: str) -> dict:
    argv = [sys.executable, "-m", "zen.cli", "fit", str(data), "--target", "y", "--epochs", "4",
            "--policy", "rules", "--seed", "3", "--no-progress", "--json",
            "--runs-dir", str(home / "runs"), *extra]  # fmt: skip
    done = cluster.run(argv, env={"ZEN_HOME": str(home)}, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def history(cluster: RayCluster, home: Path) -> list[dict]:
    argv = [sys.executable, "-m", "zen.cli", "history", "--json"]
    done = cluster.run(argv, env={"ZEN_HOME": str(home)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow  # a two-node cluster (15 s) and two fits of 6 candidates: ~50 s
def test_fit_on_the_cluster_matches_the_local_leaderboard(
    ray_two_nodes: RayCluster, tmp_path: Path
) -> None:
    data = small_table(tmp_path)
    local = fit(ray_two_nodes, data, tmp_path / "local", "--cluster", "local")
    remote = fit(ray_two_nodes, data, tmp_path / "ray", "--cluster", ray_two_nodes.address)

    def board(summary: dict) -> list[tuple[str, float]]:
        return [(row["model"], row["test_metrics"]["rmse"]) for row in summary["leaderboard"]]

    assert [name for name, _ in board(remote)] == [name for name, _ in board(local)]
    for (_, mine), (_, theirs) in zip(board(remote), board(local), strict=True):
        assert mine == pytest.approx(theirs, rel=1e-3)

    runs = history(ray_two_nodes, tmp_path / "ray")
    children = [run for run in runs if run["parent_id"] is not None]
    assert len(children) == len(remote["leaderboard"])
    assert all(run["attempts"] == 1 for run in children)
    nodes = {run["node"] for run in children}
    # Ray node ids (56 hex digits), not this machine's name: the steps ran as Drones.
    assert all(len(node) == 56 for node in nodes), nodes
    local_children = [r for r in history(ray_two_nodes, tmp_path / "local") if r["parent_id"]]
    assert {run["attempts"] for run in local_children} == {1}


def zen_json(cluster: RayCluster, home: Path, *argv: str) -> dict:
    done = cluster.run([sys.executable, "-m", "zen.cli", *argv, "--json"],
                       env={"ZEN_HOME": str(home)}, timeout=400)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


@pytest.mark.slow  # the workers import zen and torch, then train 6 small MLPs
def test_zen_tune_runs_its_trials_on_both_nodes_in_one_study(
    ray_two_nodes: RayCluster, tmp_path: Path
) -> None:
    data = small_table(tmp_path)
    found = zen_json(ray_two_nodes, tmp_path, "tune", str(data), "--target", "y", "--trials",
                     "6", "--cluster", ray_two_nodes.address, "--parallel", "2")  # fmt: skip
    assert found["n_trials"] == 6 and found["n_failed"] == 0
    # On a cluster a SQLite History shares its studies through a journal file beside it.
    assert found["storage"] == f"journal:{tmp_path / 'zen-studies.journal'}"
    assert len(found["nodes"]) == 2 and sum(found["nodes"].values()) == 6


@pytest.mark.slow  # tuning on the cluster, then the candidates
def test_fit_tune_on_the_cluster_tunes_there_and_trains_with_what_it_found(
    ray_two_nodes: RayCluster, tmp_path: Path
) -> None:
    data = small_table(tmp_path)
    summary = zen_json(ray_two_nodes, tmp_path, "fit", str(data), "--target", "y", "--epochs",
                       "4", "--budget", "60s", "--tune", "--no-progress", "--runs-dir",
                       str(tmp_path / "runs"), "--cluster", ray_two_nodes.address)  # fmt: skip
    tuning = summary["tuning"]
    assert tuning["n_trials"] >= 2 and len(tuning["nodes"]) >= 1
    assert sum(tuning["nodes"].values()) == tuning["n_trials"]
    runs = history(ray_two_nodes, tmp_path)
    (tuned,) = [run for run in runs if run["parent_id"] and run["model"] == tuning["model"]]
    assert tuned["hyperparameters"]["lr"] == pytest.approx(tuning["best_hyperparameters"]["lr"])
