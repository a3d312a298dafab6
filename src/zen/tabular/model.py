"""TabularModel: a dense network for a table, from raw columns to predictions in one estimator."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import zen
from zen.errors import ConfigError, DataError, NotFittedError
from zen.estimator import Estimator, available_if
from zen.neural import MLP, FitResult, History, HubMixin, Trainer, checkpoint, private_rng
from zen.neural.model_card import CardFacts, kept_epoch_scores
from zen.profile import TaskProfile, profile_table
from zen.registry import ModelSpec, register
from zen.tabular.export import tabular_plan
from zen.tabular.preprocessing import TablePreprocessor

_FORMAT = "zen.tabular"


class TabularModel(Estimator, HubMixin, tags=["tabular"]):
    """Classification or regression on a table with an :class:`~zen.neural.MLP`.

    Follows scikit-learn's estimator contract (:class:`~zen.estimator.Estimator`): the
    constructor stores settings, :meth:`fit` learns (state in attributes ending in ``_``) and
    returns ``self``, :meth:`predict` never changes the model; it works in scikit-learn's
    ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``. Features are encoded by
    :class:`~zen.tabular.preprocessing.TablePreprocessor` (missing values imputed, text
    one-hot); regression targets are standardised for training and mapped back for
    predictions.

    Args:
        task: ``"auto"`` (see :func:`zen.profile.detect_task`), ``"classification"``
            or ``"regression"``. scikit-learn sees a classifier or a regressor only when it is
            set (``"auto"`` is decided at fit time).
        hidden_layers: hidden widths; ``None`` picks by data size (small data gets a small net,
            which overfits less).
        activation, dropout, norm: see :class:`~zen.neural.MLP`.
        max_epochs, batch_size, optimizer, lr, weight_decay, early_stopping, val_split, seed,
        progress: see :class:`~zen.neural.TrainerConfig`.
        callbacks: extra Trainer callbacks (not saved).

    Example:
        >>> frame = pd.DataFrame({"x": np.arange(40.0), "label": ["a", "b"] * 20})
        >>> model = TabularModel(max_epochs=2).fit(frame, "label")
        >>> model.predict(frame.head(2)).shape
        (2,)
        >>> TabularModel(max_epochs=2).fit(np.arange(40.0).reshape(20, 2), [0, 1] * 10).classes_
        array([0, 1])
    """

    unsaved_params = ("callbacks",)

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
    def fit(self, X: Any, y: Any = None, *, target: str | None = None) -> TabularModel:
        """Learn to predict ``y`` from the columns of ``X``.

        Args:
            X: a DataFrame (numeric, text and boolean columns; NaN allowed) or a 2-D
                array-like ``(rows, features)``.
            y: the targets, one per row (array-like or Series; rows whose target is missing
                are dropped), or the name of the column of the DataFrame ``X`` that holds
                them (the other columns are the features).
            target: the name of the target column, as ``y`` (``fit(frame, target="label")``,
                the spelling before scikit-learn's ``fit(X, y)``).
        """
        if target is not None:
            if y is not None:
                raise ConfigError("target: pass the target column as y or as target, not both")
            y = target
        frame, target = self._training_frame(X, y)
        self.profile_: TaskProfile = profile_table(frame, target, self.task)
        rows = frame[frame[target].notna()]
        features = rows.drop(columns=[target])
        self._check_labels(rows[target])
        self.n_features_in_ = features.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # from an earlier fit on a DataFrame
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

    def _training_frame(self, X: Any, y: Any) -> tuple[pd.DataFrame, str]:
        """One table holding the features and the target, and the target's column name."""
        if y is None:
            raise DataError(
                "y: TabularModel requires y to be passed, but the target y is None; pass the"
                " targets (one per row) or the name of the target column of X"
            )
        if isinstance(y, str):
            if not isinstance(X, pd.DataFrame):
                raise DataError(
                    f"y: the column name {y!r} needs X to be a pandas DataFrame, got"
                    f" {type(X).__name__}; pass the targets themselves instead"
                )
            return _string_columns(X), y
        features = self._feature_table(X, fitting=True)
        labels = _targets(y, len(features))
        # The target's own name when it has one (a Series), kept apart from the features'.
        target = str(getattr(y, "name", None) or "y")
        while target in features.columns:
            target += "_"
        return features.assign(**{target: labels}), target

    def _feature_table(self, X: Any, fitting: bool) -> pd.DataFrame:
        """``X`` as a DataFrame with string column names; arrays get the names seen in fit
        (``x0``, ``x1``... when fitted on an array)."""
        if isinstance(X, pd.DataFrame):
            return _string_columns(X)
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise DataError(
                "X: sparse input is not supported; pass a dense array (X.toarray()) or a DataFrame"
            )
        array = np.asarray(X)
        if array.dtype.kind == "c":
            raise DataError("X: Complex data not supported; pass real numbers")
        if array.ndim != 2:
            raise DataError(
                f"X: expected a 2-D table (rows, features), got an array of shape {array.shape};"
                " Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1)"
                " for a single row"
            )
        if array.shape[1] == 0:
            raise DataError(
                f"X: 0 feature(s) (shape={array.shape}) while a minimum of 1 is required."
            )
        if fitting:
            names = [f"x{index}" for index in range(array.shape[1])]
        else:
            if array.shape[1] != self.n_features_in_:
                raise DataError(
                    f"X has {array.shape[1]} features, but TabularModel is expecting"
                    f" {self.n_features_in_} features as input"
                )
            names = list(getattr(self, "feature_names_in_", _generated_names(self)))
        # Object arrays (mixed rows, lists of lists) get per-column types back.
        return pd.DataFrame(array, columns=names).infer_objects()

    def _check_labels(self, labels: pd.Series) -> None:
        if self.profile_.kind == "classification" and labels.nunique() < 2:
            raise DataError(
                f"y: the targets hold 1 class ({labels.iloc[0]!r}); classification needs at least"
                " 2 classes"
            )
        if (
            self.profile_.kind == "classification"
            and pd.api.types.is_float_dtype(labels)
            and not np.all(labels.to_numpy() == np.round(labels.to_numpy()))
        ):
            raise ConfigError(
                f"task: 'classification' needs class labels, but target {self.profile_.target!r}"
                " holds continuous values (fractional numbers); use task='regression' or 'auto'"
            )

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
            self.classes_ = _class_array(classes.tolist())
            return codes.astype(np.int64)
        values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
        self.target_mean_ = float(values.mean())
        self.target_scale_ = float(values.std()) or 1.0
        return ((values - self.target_mean_) / self.target_scale_).astype(np.float32)

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression), one per row of ``X``
        (a DataFrame with the training columns, extra ones ignored, or an array with as many
        columns as in fit)."""
        outputs = self._raw_outputs(X)
        if self.classification:
            return self.classes_[outputs.argmax(axis=1)]
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

    def _may_classify(self) -> bool:
        if hasattr(self, "profile_"):
            return self.classification
        return self.task != "regression"

    @available_if(_may_classify, "only classification models have probabilities")
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(rows, classes)`` in the order of ``classes_``. Classifiers
        only: a regression model has no such method (scikit-learn's convention, which its
        scorers and ensembles rely on)."""
        return torch.softmax(torch.from_numpy(self._raw_outputs(X)), dim=1).numpy()

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or :math:`R^2` (regression) on ``X`` and ``y`` (targets,
        or the name of their column in ``X``): scikit-learn's default scores.

        .. math:: R^2 = 1 - \\frac{\\sum_i (y_i - \\hat y_i)^2}{\\sum_i (y_i - \\bar y)^2}
        """
        if isinstance(y, str):
            frame, target = self._training_frame(X, y)
            frame = frame[frame[target].notna()]
            X, truth = frame, frame[target].to_numpy()
        else:
            truth = _targets(y, len(X))
        predictions = self.predict(X)
        if self.classification:
            return float(np.mean(predictions == truth))
        truth = np.asarray(truth, dtype=np.float64)
        residual = float(np.sum((truth - predictions) ** 2))
        total = float(np.sum((truth - truth.mean()) ** 2))
        return 1.0 - residual / total if total > 0 else float(residual == 0)

    def _raw_outputs(self, X: Any) -> np.ndarray:
        self._fitted_profile()
        features = self._feature_table(X, fitting=False)
        if len(features) == 0:
            raise DataError("X: is empty; nothing to predict")
        encoded = self.preprocessor_.transform(features)
        return self.trainer_.predict(self.network_, encoded)

    def _fitted_profile(self) -> TaskProfile:
        if not hasattr(self, "profile_"):
            raise NotFittedError("this TabularModel is not fitted yet; call fit(X, y)")
        return self.profile_

    def __sklearn_tags__(self) -> Any:
        """How scikit-learn sees this estimator (its checks and meta-estimators ask). Only
        scikit-learn calls this, so importing it here adds no dependency to zen."""
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        kind = {"classification": "classifier", "regression": "regressor"}.get(self.task)
        return Tags(
            estimator_type=kind,
            target_tags=TargetTags(required=True),
            transformer_tags=None,
            classifier_tags=ClassifierTags() if kind == "classifier" else None,
            regressor_tags=RegressorTags() if kind == "regressor" else None,
            # Missing values are imputed, text and booleans one-hot encoded.
            input_tags=InputTags(allow_nan=True, categorical=True, string=True),
        )

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
                "classes": self.classes_.tolist() if hasattr(self, "classes_") else None,
                "mean": getattr(self, "target_mean_", None),
                "scale": getattr(self, "target_scale_", None),
            },
            "features": {
                "n_features_in": self.n_features_in_,
                "feature_names_in": (
                    self.feature_names_in_.tolist() if hasattr(self, "feature_names_in_") else None
                ),
            },
            "settings": self.hyperparameters(),
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
            model.classes_ = _class_array(target["classes"])
        else:
            model.target_mean_, model.target_scale_ = target["mean"], target["scale"]
        model.network_ = MLP.from_config(payload["network"])
        model.network_.load_state_dict(checkpoint.load_tensors(path / checkpoint.MODEL_FILE))
        model.network_.eval()
        model.trainer_ = Trainer(max_epochs=1)
        model.history_ = History(payload.get("history", []))
        # Saved before issue 15: fitted on DataFrames; their feature columns are the profile's.
        names = model.profile_.numeric_features + model.profile_.categorical_features
        features = payload.get("features", {"n_features_in": len(names), "feature_names_in": names})
        model.n_features_in_ = features["n_features_in"]
        if features["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(features["feature_names_in"], dtype=object)
        return model

    def _card_facts(self) -> CardFacts:
        """What the model card of :meth:`save_pretrained` says: the task, the network and the
        validation scores of the saved weights."""
        profile = self._fitted_profile()
        task = f"tabular-{profile.kind}"
        target = f"{len(self.classes_)} classes" if hasattr(self, "classes_") else "a number"
        sizes = "-".join(str(size) for size in self.network_.layer_sizes)
        return CardFacts(
            summary=f"Tabular {profile.kind}: {self.n_features_in_} columns to {target}, by an"
            f" MLP with layers {sizes} on the encoded columns.",
            pipeline_tag=task,
            tags=(task,),
            # Early stopping restores the best epoch's weights; without it the last are saved.
            metrics=kept_epoch_scores(
                self.history_.records, restored_best=self.early_stopping is not None
            ),
            metrics_source="validation split",
            settings=self.hyperparameters(),
        )


def _string_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as strings (how profiles and encoders name them)."""
    if all(isinstance(column, str) for column in frame.columns):
        return frame
    return frame.set_axis([str(column) for column in frame.columns], axis=1)


def _generated_names(model: TabularModel) -> list[str]:
    return [f"x{index}" for index in range(model.n_features_in_)]


def _targets(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n_rows`` targets (a column vector is flattened, with a
    warning, as scikit-learn does)."""
    values = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    if values.dtype == object and values.ndim == 1:
        values = pd.Series(values).infer_objects().to_numpy()  # numbers stored as objects
    if values.ndim == 2 and values.shape[1] == 1:
        warnings.warn(
            "y: a column vector was passed where 1-D targets are expected; using y.ravel()",
            UserWarning,
            stacklevel=3,
        )
        values = values.ravel()
    if values.ndim != 1:
        raise DataError(
            f"y: expected one target per row (a 1-D array), got shape {values.shape};"
            " TabularModel predicts a single target"
        )
    if values.dtype.kind == "c":
        raise DataError("y: Complex data not supported; pass real numbers or labels")
    if len(values) != n_rows:
        raise DataError(
            f"y: {len(values)} targets for the {n_rows} rows of X; pass one target per row"
        )
    return values


def _class_array(classes: list[Any]) -> np.ndarray:
    """The class labels as an array of their common type (int, float, bool or object)."""
    return np.asarray(classes, dtype=_label_dtype(classes))


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
