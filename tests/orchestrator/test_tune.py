"""Tuning: search spaces, the pruning callback, studies kept next to History, tuned zen models."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import FixedTrial

from zen import registry
from zen.errors import ConfigError, DataError
from zen.forecasting import MODEL_CLASSES, NHITS
from zen.graph import Graph
from zen.neural import MLP, Trainer
from zen.orchestrator import search_spaces
from zen.orchestrator.history import History
from zen.orchestrator.tune import (
    EPOCHS_ATTR,
    OptunaPruningCallback,
    tune,
    tune_forecaster,
    tune_node_classifier,
    tune_sequence_classifier,
    tune_tabular,
)


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    return (x - 1.0) ** 2


def memory() -> optuna.storages.InMemoryStorage:
    return optuna.storages.InMemoryStorage()


@pytest.fixture
def series() -> pd.DataFrame:
    """Two noisy daily-seasonal series of 72 hourly points, on different levels."""
    rng = np.random.default_rng(0)
    t = np.arange(72)
    frames = [
        pd.DataFrame({"unique_id": name, "ds": t,
                      "y": level + np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, t.size)})
        for name, level in (("a", 10.0), ("b", 50.0))
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


# -- the pruning callback ------------------------------------------------------------------


def fake_trainer(max_epochs: int = 10) -> SimpleNamespace:
    return SimpleNamespace(config=SimpleNamespace(max_epochs=max_epochs), should_stop=False)


def run_epochs(callback: OptunaPruningCallback, trainer: SimpleNamespace, values: list[float]):
    callback.on_fit_start(trainer)
    try:
        for epoch, value in enumerate(values, start=1):
            callback.on_epoch_start(trainer, epoch)
            callback.on_epoch_end(trainer, epoch, {"train_loss": value, "val_loss": value})
    finally:
        callback.on_fit_end(trainer)


def test_pruning_callback_prunes_a_trial_worse_than_the_median() -> None:
    study = optuna.create_study(
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    )
    for _ in range(2):
        trial = study.ask()
        run_epochs(OptunaPruningCallback(trial), fake_trainer(), [1.0, 0.8, 0.6])
        study.tell(trial, 0.6)
    bad, trainer = study.ask(), fake_trainer()
    callback = OptunaPruningCallback(bad, monitor="val_loss")
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        run_epochs(callback, trainer, [5.0, 4.0, 3.0])
    study.tell(bad, state=optuna.trial.TrialState.PRUNED)
    assert trainer.should_stop and callback.pruned_epoch == 1
    frozen = study.trials[-1]
    assert frozen.intermediate_values == {1: 5.0}
    assert frozen.user_attrs[EPOCHS_ATTR]["epochs"] == 1
    assert frozen.user_attrs[EPOCHS_ATTR]["max_epochs"] == 10


def test_pruning_callback_rejects_a_monitor_missing_from_the_logs() -> None:
    callback = OptunaPruningCallback(FixedTrial({}), monitor="val_accuracy")
    trainer = fake_trainer()
    callback.on_fit_start(trainer)
    callback.on_epoch_start(trainer, 1)
    with pytest.raises(ConfigError, match=r"monitor: 'val_accuracy'.*train_loss, val_loss"):
        callback.on_epoch_end(trainer, 1, {"train_loss": 1.0, "val_loss": 1.0})


def test_tune_prunes_a_bad_training_run_and_estimates_the_time_saved(regression_data) -> None:
    X, y = regression_data

    def objective(trial: optuna.Trial) -> float:
        # Three sensible runs, then one whose learning rate is far too small to learn.
        lr = 1e-2 if trial.number < 3 else 1e-7
        trainer = Trainer(max_epochs=6, batch_size=32, lr=lr, val_split=0.25, seed=0,
                          callbacks=[OptunaPruningCallback(trial)])  # fmt: skip
        torch.manual_seed(0)
        return float(trainer.fit(MLP([5, 16, 1]), X, y).best_score)

    result = tune(objective, n_trials=4, storage=memory(), pruner_startup_trials=3,
                  warmup_epochs=1, seed=0)  # fmt: skip
    assert (result.n_complete, result.n_pruned, result.n_failed) == (3, 1, 0)
    assert result.time_saved_s > 0


# -- studies, storage, results -------------------------------------------------------------


def test_study_lives_next_to_history_and_a_rerun_continues_it(tmp_path) -> None:
    database = tmp_path / "zen.db"
    with History(database) as runs:
        with runs.record("forecasting", "nhits", {"h": 6}) as run:
            run.metrics["mae"] = 1.0
        first = tune(quadratic, n_trials=3, storage=database, study_name="q", seed=0)
        again = tune(quadratic, n_trials=2, storage=database, study_name="q", seed=0)
        # History still works on the file Optuna now shares, in the same process.
        with runs.record("forecasting", "nbeats", {"h": 6}) as run:
            run.metrics["mae"] = 2.0
        assert [record.model for record in runs.runs()] == ["nbeats", "nhits"]

    assert (first.n_trials, again.n_trials, again.n_new_trials) == (3, 5, 2)
    assert again.best_value <= first.best_value
    assert first.storage == again.storage == f"sqlite:///{database.resolve()}"
    study = optuna.load_study(study_name="q", storage=first.storage)
    # The resumed run did not replay the first run's seeded random points.
    assert len({trial.params["x"] for trial in study.trials}) == 5
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with History(database) as reopened:
        assert len(reopened.runs()) == 2


def test_tune_without_a_study_name_starts_a_fresh_study_each_time(tmp_path) -> None:
    database = tmp_path / "zen.db"
    first = tune(quadratic, n_trials=1, storage=database)
    second = tune(quadratic, n_trials=1, storage=database)
    assert first.study_name != second.study_name and second.n_trials == 1


def test_tune_keeps_studies_in_the_history_database_by_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ZEN_HOME", str(tmp_path / "home"))
    result = tune(quadratic, n_trials=1, study_name="default")
    assert result.storage == f"sqlite:///{(tmp_path / 'home' / 'zen.db').resolve()}"
    with History() as runs:
        assert runs.runs() == []


def test_tune_is_quiet_and_restores_optunas_verbosity(capsys) -> None:
    before = optuna.logging.get_verbosity()
    tune(quadratic, n_trials=2, storage=memory(), study_name="quiet")
    assert optuna.logging.get_verbosity() == before
    assert "Trial 0 finished" not in capsys.readouterr().err


def test_resuming_a_study_with_the_other_direction_is_refused() -> None:
    storage = memory()
    tune(quadratic, n_trials=1, storage=storage, study_name="q")
    with pytest.raises(ConfigError, match=r"direction: study 'q'.*minimize"):
        tune(quadratic, n_trials=1, storage=storage, study_name="q", direction="maximize")


def test_a_study_where_every_trial_fails_names_the_first_error() -> None:
    def diverges(trial: optuna.Trial) -> float:
        raise DataError("training diverged at epoch 1")

    with pytest.raises(DataError, match=r"no trial.*1 failed.*training diverged"):
        tune(diverges, n_trials=1, storage=memory(), catch=(DataError,))


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not sqlite " * 200)
    with pytest.raises(DataError, match="not a readable SQLite database"):
        tune(quadratic, n_trials=1, storage=path)
    assert path.read_text() == "not sqlite " * 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_trials": 0}, "n_trials: expected a positive integer, got 0"),
        ({"n_trials": 2.5}, "n_trials"),
        ({"timeout_s": 0}, "timeout_s: expected a positive number"),
        ({"direction": "down"}, "direction: unknown value 'down'; expected one of: minimize"),
        ({"warmup_epochs": -1}, "warmup_epochs: expected an integer >= 0"),
        ({"storage": 3}, "storage: expected a file path"),
    ],
)
def test_tune_rejects_bad_settings_naming_them(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        tune(quadratic, **{"storage": memory(), **settings})


# -- search spaces ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(search_spaces.SEARCH_SPACES))
def test_every_search_space_replays_from_its_stored_parameters(name) -> None:
    space = search_spaces.search_space(name)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    sampled = space(trial)
    assert all(isinstance(value, (int, float, str)) for value in trial.params.values())
    assert space(FixedTrial(trial.params)) == sampled


@pytest.mark.parametrize("name", search_spaces.tunable("forecast"))
def test_forecaster_spaces_give_valid_constructor_arguments(name) -> None:
    sampled = search_spaces.search_space(name)(optuna.create_study().ask())
    assert MODEL_CLASSES[name](h=4, input_size=8, **sampled).hyperparameters()


@pytest.mark.parametrize(
    ("kind", "shape", "x_shape"),
    [("sequence classifier", (2, 30, 3), (4, 2, 30)),
     ("image classifier", (1, 8, 8, 3), (4, 1, 8, 8))],
)  # fmt: skip
def test_sequence_and_image_spaces_build_their_candidates(kind, shape, x_shape) -> None:
    names = search_spaces.tunable(kind)
    expected = {"ResNet", "FCN", "RecurrentNet", "TransformerNet", "MLP"}
    assert set(names) == (
        expected if kind == "sequence classifier" else {"ResNet", "ConvNet", "MLP"}
    )
    for name in names:
        spec = registry.get(name, kind)
        assert spec.search_space is not None
        for seed in range(3):
            trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
            options = spec.search_space(trial)
            assert spec.search_space(FixedTrial(trial.params)) == options
            # The training settings the candidate step takes; the rest builds the network.
            assert 1e-4 <= options.pop("lr") <= 1e-2 and options.pop("batch_size") in (8, 16, 32)
            network = spec.create(shape, options).eval()
            assert network(torch.randn(*x_shape)).shape == (4, 3), (name, options)


def test_model_names_are_case_insensitive_and_unknown_ones_list_the_known() -> None:
    assert search_spaces.canonical_model("graphsage") == "GraphSAGE"
    assert search_spaces.canonical_model("tabular") == "MLP"
    with pytest.raises(
        ConfigError, match="'Prophet'; expected one of: NHITS, NBEATS, PatchTST, TCN"
    ):
        search_spaces.search_space("Prophet")


# -- tuning zen models ---------------------------------------------------------------------


def test_tune_forecaster_returns_hyperparameters_from_the_nhits_space(series, tmp_path) -> None:
    result = tune_forecaster(series, "nhits", h=6, n_trials=3, max_steps=8, val_check_steps=4,
                             storage=tmp_path / "zen.db", seed=0)  # fmt: skip
    assert result.n_trials == 3 and result.n_complete >= 1
    assert result.study_name.startswith("forecast-NHITS-h6-")
    params = result.best_params
    assert set(params) == {
        "learning_rate", "n_pool_kernel_size", "n_freq_downsample", "scaler_type",
        "windows_batch_size", "input_size_multiplier",
    }  # fmt: skip
    assert 1e-4 <= params["learning_rate"] <= 1e-2
    assert params["scaler_type"] in search_spaces.SCALER_TYPES
    chosen = result.best_hyperparameters
    assert chosen["input_size"] == 6 * params["input_size_multiplier"] <= 72 - 2 * 6
    assert chosen["n_pool_kernel_size"] == [int(k) for k in params["n_pool_kernel_size"].split(",")]
    assert (chosen["h"], chosen["max_steps"], chosen["random_seed"]) == (6, 8, 0)
    assert np.isfinite(result.best_value) and result.best_value > 0
    NHITS(**chosen)  # the result builds the final model as it is


def test_tune_forecaster_on_the_same_data_continues_its_study(series, tmp_path) -> None:
    settings = {"h": 6, "input_size": 12, "max_steps": 4, "val_check_steps": 4,
                "storage": tmp_path / "zen.db", "n_trials": 1}  # fmt: skip
    first = tune_forecaster(series, "NBEATS", **settings)
    second = tune_forecaster(series, "NBEATS", **settings)
    shifted = series.assign(y=series["y"] + 1.0)
    other = tune_forecaster(shifted, "NBEATS", **settings)
    assert second.study_name == first.study_name and second.n_trials == 2
    assert other.study_name != first.study_name and other.n_trials == 1


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        ({"model": "Prophet"}, ConfigError, "model: no search space for 'Prophet'.*NHITS"),
        ({"model": "GCN"}, ConfigError, "expected one of: NHITS, NBEATS, PatchTST, TCN, DeepAR$"),
        ({"metric": "r2"}, ConfigError, "metric: unknown value 'r2'"),
        ({"h": 0}, ConfigError, "h: expected a positive integer"),
        ({"h": 36}, DataError, "shortest series has 72 values"),
        ({"input_size": 61}, DataError, "input_size \\+ h = 61 \\+ 6"),
        ({"n_trials": 0}, ConfigError, "n_trials"),
    ],
)
def test_tune_forecaster_rejects_bad_arguments(series, call, error, message) -> None:
    with pytest.raises(error, match=message):
        tune_forecaster(
            series, **{"h": 6, "storage": memory(), "max_steps": 1, "n_trials": 1, **call}
        )


def test_tune_node_classifier_maximises_validation_accuracy() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(40) % 2
    features = torch.randn(40, 4, generator=generator) + labels[:, None].float()
    same = labels[:, None] == labels[None, :]
    edge_index = (same & (torch.rand(40, 40, generator=generator) < 0.2)).nonzero().T
    graph = Graph(x=features, edge_index=edge_index, y=labels)
    result = tune_node_classifier(graph, "gcn", n_trials=2, max_epochs=5, patience=5,
                                  storage=memory(), seed=0)  # fmt: skip
    assert result.direction == "maximize" and 0.0 <= result.best_value <= 1.0
    assert {"hidden_channels", "num_layers", "dropout", "lr", "weight_decay"} == set(
        result.best_hyperparameters
    )
    with pytest.raises(ConfigError, match=r"expected one of: GCN, GAT, GraphSAGE$"):
        tune_node_classifier(graph, "NHITS", storage=memory())


def test_tune_tabular_returns_a_buildable_mlp(classification_data) -> None:
    from zen.tabular import TabularModel

    X, labels = classification_data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=labels)
    result = tune_tabular(frame, "label", n_trials=2, max_epochs=3, storage=memory(), seed=0)
    assert result.n_complete == 2
    assert TabularModel(**result.best_hyperparameters).max_epochs == 3


def sequences(n: int = 40, length: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Rising and falling noisy ramps: two classes a small network separates in a few epochs."""
    rng = np.random.default_rng(0)
    labels = np.where(np.arange(n) % 2 == 0, "up", "down")
    ramp = np.linspace(-1.0, 1.0, length)
    X = np.stack([ramp if label == "up" else -ramp for label in labels])[:, None, :]
    return (X + rng.normal(scale=0.3, size=X.shape)).astype(np.float32), labels


def test_tune_sequence_classifier_continues_its_study_and_builds_the_winner() -> None:
    X, labels = sequences()
    storage = memory()
    first = tune_sequence_classifier(X, labels, "fcn", n_trials=2, max_epochs=4, patience=4,
                                     storage=storage, seed=0)  # fmt: skip
    assert first.direction == "minimize" and first.n_complete == 2
    assert first.study_name.startswith("sequences-FCN-loss-")
    assert {"channels", "dropout", "lr", "batch_size"} == set(first.best_hyperparameters)
    again = tune_sequence_classifier(X, labels, "FCN", n_trials=1, max_epochs=4, patience=4,
                                     storage=storage, seed=0)  # fmt: skip
    assert again.study_name == first.study_name and again.n_trials == 3
    assert again.best_value <= first.best_value
    # The held-out part can be given; accuracy is then maximised.
    scored = tune_sequence_classifier(X[:30], labels[:30], "MLP", val=(X[30:], labels[30:]),
                                      metric="accuracy", n_trials=1, max_epochs=3,
                                      storage=memory())  # fmt: skip
    assert scored.direction == "maximize" and 0.0 <= scored.best_value <= 1.0
    # A class only the validation part holds is one more output, scored but never learned.
    rare = np.array([*labels[:30], *["sideways"] * 2])
    lopsided = tune_sequence_classifier(X[:30], labels[:30], "MLP", val=(X[30:32], rare[30:]),
                                        n_trials=1, max_epochs=2, storage=memory())  # fmt: skip
    assert np.isfinite(lopsided.best_value)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        ({"X": np.zeros((40, 12))}, DataError, r"X: expected an array of shape \(n, channels, l"),
        ({"y": np.zeros(3)}, DataError, "y: expected 40 labels"),
        ({"val": (np.zeros((4, 1, 12)), [1, 2, 3, 4])}, DataError,
         "val: its labels are not of the same type as y's"),
        ({"val": (np.zeros((4, 1, 9)), ["up"] * 4)}, DataError, "val: expected rows shaped"),
        ({"val": (np.zeros((4, 1, 12)), ["up"] * 3)}, DataError, "and one label each"),
        ({"model": "NHITS"}, ConfigError, "model: no search space for 'NHITS'"),
        ({"kind": "table"}, ConfigError, "kind:"),
        ({"metric": "f1"}, ConfigError, "metric:"),
        ({"kind": "image classifier"}, DataError, r"\(n, channels, height, width\)"),
    ],
)  # fmt: skip
def test_tune_sequence_classifier_rejects_bad_arguments(call, error, message) -> None:
    X, labels = sequences()
    arguments = {"X": X, "y": labels, "model": "ResNet", "n_trials": 1, "storage": memory(), **call}
    with pytest.raises(error, match=message):
        tune_sequence_classifier(**arguments)
