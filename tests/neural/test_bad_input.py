"""Bad data and bad settings reach the user as DataError / ConfigError naming the argument."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from zen import ConfigError, DataError, NotFittedError, ZenError
from zen.neural import MLP, Trainer


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 3)).astype(np.float32), rng.normal(size=50).astype(np.float32)


def fit(X, y, **settings):
    return Trainer(max_epochs=1, **settings).fit(MLP([3, 4, 1]), X, y)


def test_errors_share_one_root() -> None:
    assert issubclass(DataError, ZenError) and issubclass(ConfigError, ZenError)


def test_nan_in_features_names_the_row(data) -> None:
    X, y = data
    X[7, 1] = np.nan
    with pytest.raises(DataError, match=r"X: contains NaN values in 1 row\(s\) \(first: row 7\)"):
        fit(X, y)


def test_infinite_target(data) -> None:
    X, y = data
    y[3] = np.inf
    with pytest.raises(DataError, match="y: contains infinite values"):
        fit(X, y)


def test_mismatched_lengths(data) -> None:
    X, y = data
    with pytest.raises(DataError, match="X has 50 rows, y has 49"):
        fit(X, y[:-1])


def test_empty_data() -> None:
    with pytest.raises(DataError, match="X: is empty"):
        fit(np.zeros((0, 3), np.float32), np.zeros(0, np.float32))


def test_text_features_are_refused(data) -> None:
    import pandas as pd

    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(city="Oslo")
    with pytest.raises(DataError, match=r"columns \['city'\] are not numeric"):
        fit(frame, y)


def test_wrong_feature_count_at_predict_time(data) -> None:
    X, y = data
    trainer = Trainer(max_epochs=1)
    net = MLP([3, 4, 1])
    trainer.fit(net, X, y)
    with pytest.raises(DataError, match="X: expected 3 feature columns, got 5"):
        trainer.predict(net, np.zeros((2, 5), np.float32))


def test_predict_before_fit() -> None:
    with pytest.raises(NotFittedError):
        Trainer().predict(None, np.zeros((2, 3)))


def test_fractional_class_labels(data) -> None:
    X, y = data
    with pytest.raises(ConfigError, match="loss='cross_entropy' needs integer class labels"):
        Trainer(max_epochs=1, loss="cross_entropy").fit(MLP([3, 2]), X, y)


def test_val_split_leaving_nothing_to_train() -> None:
    with pytest.raises(DataError, match="val_split"):
        fit(np.zeros((1, 3), np.float32), np.zeros(1, np.float32), val_split=0.5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"optimizer": "adan"}, r"optimizer: unknown value 'adan'; expected one of: sgd, adam"),
        ({"loss": "hinge"}, r"loss: unknown value 'hinge'; expected one of: bce, cross_entropy"),
        ({"max_epochs": 0}, "max_epochs: expected a positive integer"),
        ({"batch_size": 2.5}, "batch_size: expected a positive integer"),
        ({"lr": -1}, "lr: expected a positive"),
        ({"val_split": 1.0}, r"val_split: expected a fraction in \[0, 1\)"),
        ({"early_stopping": 0}, "early_stopping"),
        ({"scheduler": "linear"}, "scheduler: unknown value"),
        ({"metrics": ["f1"]}, "metrics: unknown value 'f1'"),
        ({"learning_rate": 0.1}, r"unknown setting\(s\) \['learning_rate'\]"),
        ({"optimizer": "adam", "nesterov": True}, "nesterov=True needs optimizer='sgd'"),
    ],
)
def test_bad_settings_raise_config_error(settings, message, data) -> None:
    with pytest.raises(ConfigError, match=message):
        trainer = Trainer(**settings)
        trainer.fit(MLP([3, 4, 1]), *data)


def test_threshold_networks_cannot_be_trained(data) -> None:
    with pytest.raises(ConfigError, match="inference only"):
        Trainer(max_epochs=1).fit(MLP([3, 4, 1], activation="threshold"), *data)


def test_divergence_is_reported(data) -> None:
    X, y = data
    with pytest.raises(DataError, match="diverged"):
        Trainer(max_epochs=5, optimizer="sgd", lr=1e6).fit(MLP([3, 64, 1]), X * 1e3, y)


def test_resume_with_another_model(data) -> None:
    trainer = Trainer(max_epochs=1)
    trainer.fit(MLP([3, 4, 1]), *data)
    with pytest.raises(ConfigError, match="same model"):
        trainer.fit(MLP([3, 4, 1]), *data, resume=True)


def test_resume_without_state() -> None:
    with pytest.raises(NotFittedError, match="resume=True"):
        Trainer().fit(MLP([3, 1]), np.zeros((4, 3)), np.zeros(4), resume=True)


# ---------------------------------------------------------------------------- targets vs loss

RNG = np.random.default_rng(3)
FEATURES = RNG.normal(size=(200, 8)).astype(np.float32)
LABELS = RNG.integers(0, 2, size=200)


def test_integer_labels_with_the_default_loss_say_what_to_do() -> None:
    # The report of issue 14: integer labels, two outputs, the default loss (mse). Before, torch
    # warned about broadcasting and then failed on "size of tensor a (2) ... b (128)".
    net = MLP([8, 16, 2])
    before = [parameter.detach().clone() for parameter in net.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no broadcasting warning on the way
        with pytest.raises(ConfigError) as error:
            Trainer(max_epochs=1).fit(net, FEATURES, LABELS)
    message = str(error.value)
    for part in ("loss='mse'", "shape (128, 2)", "shape (128,) int64", "loss='cross_entropy'"):
        assert part in message
    # Checked before the first optimisation step: the network is as it was.
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize(
    ("loss", "outputs", "targets", "message"),
    [
        ("cross_entropy", 2, RNG.normal(size=200), r"needs integer class labels .* fractional"),
        ("cross_entropy", 2, RNG.integers(0, 3, 200), r"labels run from 0 to 2, but the model has"
                                                       r" 2 outputs.* Give the model 3 outputs"),
        ("cross_entropy", 2, LABELS - 1, r"needs class labels 0..C-1, but the smallest is -1"),
        ("cross_entropy", 1, LABELS, r"one output \(logit\) per class, at least 2.* shape"
                                     r" \(128, 1\)"),
        ("mae", 3, RNG.normal(size=(200, 2)), r"3 outputs per row against 2 targets per row"),
        ("huber", 1, RNG.normal(size=(200, 2)), r"shape \(128, 2\) float32: 1 output per row"),
        ("mse", 4, RNG.integers(0, 4, 200), r"These look like class labels"),
        ("bce", 3, LABELS, r"loss='bce' compares each output .* 3 outputs per row against 1"),
        ("bce", 1, RNG.integers(0, 3, 200), r"loss='bce' needs targets in \[0, 1\].* from 0 to 2"),
    ],
    ids=["ce-float", "ce-label-range", "ce-negative", "ce-one-output", "mae-width", "huber-width",
         "mse-labels", "bce-width", "bce-range"],
)  # fmt: skip
def test_targets_that_do_not_suit_the_loss_raise_config_error(
    loss: str, outputs: int, targets: np.ndarray, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Trainer(max_epochs=1, loss=loss).fit(MLP([8, 16, outputs]), FEATURES, targets)


def test_a_label_out_of_range_anywhere_in_the_arrays_is_found() -> None:
    # One bad label among 200: the first batch may not hold it, the check covers all of them.
    labels = LABELS.copy()
    labels[-1] = 7
    with pytest.raises(ConfigError, match="labels run from 0 to 7"):
        Trainer(max_epochs=1, loss="cross_entropy", batch_size=16, shuffle=False).fit(
            MLP([8, 16, 2]), FEATURES, labels
        )


def test_loaders_and_evaluate_check_targets_too() -> None:
    loader = DataLoader(TensorDataset(torch.from_numpy(FEATURES), torch.from_numpy(LABELS)), 32)
    with pytest.raises(ConfigError, match="These look like class labels"):
        Trainer(max_epochs=1).fit(MLP([8, 16, 2]), loader)
    trainer = Trainer(max_epochs=1, loss="cross_entropy")
    net = MLP([8, 16, 2])
    trainer.fit(net, FEATURES, LABELS)
    with pytest.raises(ConfigError, match="labels run from 0 to 4"):
        trainer.evaluate(net, FEATURES, RNG.integers(0, 5, 200))


def test_models_with_their_own_loss_step_get_the_check_from_the_loss() -> None:
    # Graph models compute loss_fn(logits, labels) in training_loss, out of the Trainer's sight.
    from zen.graph import GCN, Graph, NodeLoader

    edges = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    graph = Graph(x=torch.eye(4), edge_index=edges, y=torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ConfigError, match=r"loss='mse'.*shape \(4,\) int64.*cross_entropy"):
        Trainer(max_epochs=1).fit(GCN(4, 8, 2, 2), NodeLoader(graph, torch.ones(4, dtype=bool)))


@pytest.mark.parametrize(
    ("loss", "outputs", "targets"),
    [
        ("mse", 1, LABELS),  # integer-valued regression targets (counts) are fine
        ("mse", 3, RNG.normal(size=(200, 3))),
        ("bce", 1, LABELS.astype(bool)),
        ("bce", 2, RNG.uniform(size=(200, 2))),  # probabilities
        ("cross_entropy", 3, RNG.integers(0, 3, 200).astype(np.float32)),  # integer-valued floats
    ],
)
def test_targets_that_suit_the_loss_train(loss: str, outputs: int, targets: np.ndarray) -> None:
    result = Trainer(max_epochs=1, loss=loss).fit(MLP([8, 16, outputs]), FEATURES, targets)
    assert np.isfinite(result.history["train_loss"][-1])
