"""TabularModel: a dense network for a table, from raw columns to predictions in one estimator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import zen
from zen.errors import ConfigError, DataError, NotFittedError
from zen.neural import MLP, FitResult, History, Trainer, checkpoint, private_rng
from zen.profile import TaskProfile, profile_table
from zen.registry import ModelSpec, register
from zen.tabular.export import tabular_plan
from zen.tabular.preprocessing import TablePreprocessor

_FORMAT = "zen.tabular"


class TabularModel:
    """Classification or regression on a table with an :class:`~zen.neural.MLP`.

    Follows the estimator contract: the constructor stores settings, :meth:`fit` learns (state in
    attributes ending in ``_``) and returns ``self``, :meth:`predict` never changes the model.
    Features are encoded by :class:`~zen.tabular.preprocessing.TablePreprocessor`; regression
    targets are standardised for training and mapped back for predictions.

    Args:
        task: ``"auto"`` (see :func:`zen.profile.detect_task`), ``"classification"``
            or ``"regression"``.
        hidden_layers: hidden widths; ``None`` picks by data size (small data gets a small net,
            which overfits less).
        activation, dropout, norm: see :class:`~zen.neural.MLP`.
        max_epochs, batch_size, optimizer, lr, weight_decay, early_stopping, val_split, seed,
        progress: see :class:`~zen.neural.TrainerConfig`.
        callbacks: extra Trainer callbacks.

    Example:
        >>> frame = pd.DataFrame({"x": np.arange(40.0), "label": ["a", "b"] * 20})
        >>> model = TabularModel(max_epochs=2).fit(frame, "label")
        >>> model.predict(frame.head(2)).shape
        (2,)
    """

    def __init__(
        self,
        task: str = "auto",
        hidden_layers: Sequence[int] | None = None,
        activation: str = "relu",
        dropout: float = 0.1,
        norm: str | None = None,
        max_epochs: int = 300,
        batch_size: int = 128,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        early_stopping: int | None = 30,
        val_split: float = 0.15,
        seed: int = 0,
        progress: bool = False,
        callbacks: Sequence[Any] = (),
    ) -> None:
        self.task = task
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.norm = norm
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.val_split = val_split
        self.seed = seed
        self.progress = progress
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fitting
    def fit(self, frame: pd.DataFrame, target: str) -> TabularModel:
        """Learn to predict column ``target`` of ``frame`` from the other columns."""
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        self.profile_: TaskProfile = profile_table(frame, target, self.task)
        rows = frame[frame[target].notna()]
        features = rows.drop(columns=[target])
        self.preprocessor_ = TablePreprocessor(
            self.profile_.numeric_features, self.profile_.categorical_features
        ).fit(features)
        X = self.preprocessor_.transform(features)
        y = self._encode_target(rows[target])

        hidden = list(self.hidden_layers or self._auto_hidden(len(rows)))
        outputs = len(self.classes_) if self.classification else 1
        with private_rng(self.seed):  # initial weights, without reseeding the caller's torch
            self.network_ = MLP(
                [X.shape[1], *hidden, outputs],
                activation=self.activation,
                dropout=self.dropout,
                norm=self.norm,
            )
        self.trainer_ = Trainer(
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            loss="cross_entropy" if self.classification else "mse",
            metrics=["accuracy"] if self.classification else ["r2"],
            val_split=self.val_split,
            early_stopping=self.early_stopping,
            seed=self.seed,
            progress=self.progress,
            callbacks=self.callbacks,
        )
        self.result_: FitResult = self.trainer_.fit(self.network_, X, y)
        self.history_ = self.result_.history
        return self

    @property
    def classification(self) -> bool:
        """Whether the fitted task is classification."""
        return self._fitted_profile().kind == "classification"

    @staticmethod
    def _auto_hidden(n_rows: int) -> tuple[int, ...]:
        if n_rows < 1000:
            return (64,)
        if n_rows < 20000:
            return (256, 128)
        return (512, 256)

    def _encode_target(self, labels: pd.Series) -> np.ndarray:
        if self.profile_.kind == "classification":
            classes, codes = np.unique(labels.to_numpy(), return_inverse=True)
            self.classes_ = [value.item() if hasattr(value, "item") else value for value in classes]
            return codes.astype(np.int64)
        values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
        self.target_mean_ = float(values.mean())
        self.target_scale_ = float(values.std()) or 1.0
        return ((values - self.target_mean_) / self.target_scale_).astype(np.float32)

    # ------------------------------------------------------------------ prediction
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression), one per row."""
        outputs = self._raw_outputs(frame)
        if self.classification:
            return np.asarray(self.classes_, dtype=object)[outputs.argmax(axis=1)].astype(
                _label_dtype(self.classes_)
            )
        return outputs[:, 0] * self.target_scale_ + self.target_mean_

    def output_module(self) -> torch.nn.Module:
        """The network from encoded features to outputs: class logits, or values in target units.

        What export and serving run: the same numbers as :meth:`predict` before the arg-max,
        without the pandas preprocessing (the caller encodes rows with ``preprocessor_``).
        """
        if not hasattr(self, "network_"):
            raise NotFittedError("TabularModel.output_module: call fit() or load() first")
        if self.classification:
            return self.network_
        return _Denormalized(self.network_, self.target_mean_, self.target_scale_)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape ``(rows, classes)`` in the order of ``classes_``."""
        if not self.classification:
            raise ConfigError("predict_proba: only classification models have probabilities")
        return torch.softmax(torch.from_numpy(self._raw_outputs(frame)), dim=1).numpy()

    def _raw_outputs(self, frame: pd.DataFrame) -> np.ndarray:
        self._fitted_profile()
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise DataError("frame: is empty; nothing to predict")
        X = self.preprocessor_.transform(frame)
        return self.trainer_.predict(self.network_, X)

    def _fitted_profile(self) -> TaskProfile:
        if not hasattr(self, "profile_"):
            raise NotFittedError("this TabularModel is not fitted yet; call fit(frame, target)")
        return self.profile_

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to directory ``path`` (safetensors weights + JSON state), atomically."""
        profile = self._fitted_profile()
        payload = {
            "format": _FORMAT,
            "zen_version": zen.__version__,
            "profile": profile.to_json(),
            "network": self.network_.config(),
            "preprocessor": self.preprocessor_.state(),
            "target": {
                "classes": getattr(self, "classes_", None),
                "mean": getattr(self, "target_mean_", None),
                "scale": getattr(self, "target_scale_", None),
            },
            "settings": {
                key: value
                for key, value in vars(self).items()
                if not key.endswith("_") and key != "callbacks"
            },
            "history": self.history_.records,
        }
        with checkpoint.atomic_directory(path) as staging:
            checkpoint.save_tensors(staging / checkpoint.MODEL_FILE, self.network_.state_dict())
            checkpoint.write_json(staging / checkpoint.CONFIG_FILE, payload)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> TabularModel:
        """Load a model saved with :meth:`save`."""
        path = Path(path)
        payload = checkpoint.read_json(path / checkpoint.CONFIG_FILE)
        if payload.get("format") != _FORMAT:
            raise DataError(f"{path}: not a saved TabularModel")
        model = cls(**payload["settings"])
        profile = dict(payload["profile"])
        profile.pop("n_features", None)
        model.profile_ = TaskProfile(**profile)
        model.preprocessor_ = TablePreprocessor.from_state(payload["preprocessor"])
        target = payload["target"]
        if model.profile_.kind == "classification":
            model.classes_ = target["classes"]
        else:
            model.target_mean_, model.target_scale_ = target["mean"], target["scale"]
        model.network_ = MLP.from_config(payload["network"])
        model.network_.load_state_dict(checkpoint.load_tensors(path / checkpoint.MODEL_FILE))
        model.network_.eval()
        model.trainer_ = Trainer(max_epochs=1)
        model.history_ = History(payload.get("history", []))
        return model


def _label_dtype(classes: list[Any]) -> type:
    if all(isinstance(value, bool) for value in classes):
        return bool
    if all(isinstance(value, int) for value in classes):
        return np.int64
    if all(isinstance(value, (int, float)) for value in classes):
        return np.float64
    return object


class _Denormalized(torch.nn.Module):
    """A regression network whose standardised output is mapped back to target units."""

    def __init__(self, network: torch.nn.Module, mean: float, scale: float) -> None:
        super().__init__()
        self.network = network
        self.mean, self.scale = float(mean), float(scale)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.network(features)[:, 0] * self.scale + self.mean


# -- declarations ------------------------------------------------------------------------------
def search_space(trial: Any) -> dict[str, Any]:
    """The MLP space of Gorishniy et al., "Revisiting deep learning models for tabular data"
    (NeurIPS 2021), capped at 4 layers of 512 units, which CPU budgets can afford."""
    depth = trial.suggest_int("n_layers", 1, 4)
    width = trial.suggest_categorical("layer_size", [64, 128, 256, 512])
    return {
        "hidden_layers": [width] * depth,
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
    }


def build(settings: dict[str, Any], options: dict[str, Any]) -> TabularModel:
    """A TabularModel for a ``zen fit`` job: its settings (task, seed, callbacks, the user's
    options) with the candidate's options under them."""
    return TabularModel(**{**options, **settings})


# The one table family zen has, an MLP, at three capacities. Small tables want strong
# regularisation (Kadra et al. 2021; Grinsztajn et al. 2022) and many features per row invite
# overfitting (Hastie, Tibshirani & Friedman, ESL sec. 18); capacity pays off with enough rows
# (Gorishniy et al. 2021). The factors are the router's findings about a table.
for _name, _prior, _options, _factors in (
    ("MLP", 1.00, {}, {}),
    (
        "MLP-regularised",
        1.02,
        {"hidden_layers": [64], "dropout": 0.3, "weight_decay": 0.1},
        {"small table": 0.93, "many features per row": 0.95, "large table": 1.03},
    ),
    (
        "MLP-wide",
        1.04,
        {"hidden_layers": [256, 256], "dropout": 0.1},
        {"small table": 1.08, "many features per row": 1.05, "large table": 0.95},
    ),
):
    register(
        ModelSpec(
            _name,
            "table",
            model_class=TabularModel,
            prior=_prior,
            options=_options,
            rule_factors=_factors,
            build=build,
            search_space=search_space,
            export_plan=tabular_plan,
            reference="Gorishniy et al., NeurIPS 2021",
        )
    )
