"""Bad data and bad settings reach the user as DataError / ConfigError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

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
    with pytest.raises(DataError, match="class labels must be integers"):
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
