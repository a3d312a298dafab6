"""Forecaster: fit several models on long data, forecast, cross-validate, save and load.

>>> import pandas as pd
>>> from zen.forecasting import Forecaster, SeasonalNaive
>>> df = pd.DataFrame({"unique_id": "a", "ds": range(1, 49), "y": [i % 24 for i in range(48)]})
>>> fc = Forecaster(models=[SeasonalNaive(h=3, season_length=24)], freq=1).fit(df)
>>> fc.predict()["SeasonalNaive"].tolist()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import zen
from zen import registry
from zen.errors import ConfigError, DataError, NotFittedError
from zen.estimator import Estimator, clone
from zen.forecasting.data import SeriesData, from_long, with_future, with_static
from zen.forecasting.ensemble import Ensemble, fit_model
from zen.forecasting.models.base import WindowModel
from zen.neural import HubMixin, checkpoint
from zen.neural.model_card import CardFacts

_FORMAT = "zen.forecaster"


class Forecaster(
    Estimator,
    HubMixin,
    pipeline_tag="time-series-forecasting",
    tags=["time-series", "forecasting"],
):
    """Fit and apply forecasting models on many series at once.

    Like scikit-learn's meta-estimators, :meth:`fit` trains clones of the models given
    (:func:`zen.estimator.clone`) and keeps them in ``models_``: the models given are never
    changed, so one list of models can serve several Forecasters, and ``seed`` applies to the
    clones only. Read fitted models from ``models_``
    (``fc.models_[0].model_`` is the first model's trained network).

    Args:
        models: model objects (``NHITS(h=48, input_size=96)``, ``SeasonalNaive(...)``...); all
            with the same horizon ``h``; their ``alias`` names the forecast columns.
        freq: pandas frequency of ``ds`` (``"h"``, ``"D"``) or an integer step; inferred when
            None.
        seed: when given, the ``random_seed`` of every neural model (ensemble members
            included) for this Forecaster's fits (repeatable runs).
        fill_missing: how to fill NaN in ``y`` (see :func:`zen.forecasting.data.from_long`).
    """

    def __init__(
        self,
        models: Sequence[Any],
        freq: str | int | None = None,
        seed: int | None = None,
        fill_missing: str | None = None,
    ) -> None:
        self.models = models
        self.freq = freq
        self.seed = seed
        self.fill_missing = fill_missing
        self._check_params()

    def _check_params(self) -> None:
        if not self.models:
            raise ConfigError("models: expected at least one model")
        horizons = {model.h for model in self.models}
        if len(horizons) != 1:
            raise ConfigError(f"models: all models need the same h, got {sorted(horizons)}")
        aliases = [model.alias for model in self.models]
        duplicates = sorted({alias for alias in aliases if aliases.count(alias) > 1})
        if duplicates:
            raise ConfigError(f"models: aliases must be unique; pass alias= for {duplicates}")

    @property
    def h(self) -> int:
        """The models' forecast horizon."""
        return int(self.models[0].h)

    def _fresh_models(self) -> list[Any]:
        """Unfitted clones of ``models``, with ``seed`` as their ``random_seed`` when given."""
        self._check_params()
        return [_seeded(clone(model), self.seed) for model in self.models]

    # ------------------------------------------------------------------ exogenous variables
    @property
    def temporal_exog(self) -> tuple[str, ...]:
        """Columns of ``df`` some model reads (its ``hist_exog_list`` or ``futr_exog_list``)."""
        return _listed(self.models, ("hist_exog_list", "futr_exog_list"))

    @property
    def future_exog(self) -> tuple[str, ...]:
        """Columns ``predict`` needs in ``futr_df`` (some model's ``futr_exog_list``)."""
        return _listed(self.models, ("futr_exog_list",))

    @property
    def static_exog(self) -> tuple[str, ...]:
        """Columns of ``static_df`` some model reads (its ``stat_exog_list``)."""
        return _listed(self.models, ("stat_exog_list",))

    # ------------------------------------------------------------------ fitting
    def fit(
        self, df: pd.DataFrame, static_df: pd.DataFrame | None = None, val_size: int = 0
    ) -> Forecaster:
        """Fit every model on ``df`` (long format: ``unique_id, ds, y`` + exogenous columns).

        Args:
            static_df: ``unique_id`` and the static variables of the models'
                ``stat_exog_list``, one row per series.
            val_size: the last ``val_size`` points of each series validate neural models
                (early stopping); 0 lets each model decide.
        """
        self.static_df_ = self._static_rows(static_df)
        self.data_ = self._series(df, "df")
        self.freq_ = self.data_.freq
        self.models_ = [fit_model(model, self.data_, val_size) for model in self._fresh_models()]
        return self

    def _static_rows(self, static_df: pd.DataFrame | None) -> pd.DataFrame | None:
        if not self.static_exog:
            return None
        if static_df is None:
            raise DataError(
                f"static_df: the models' stat_exog_list names {list(self.static_exog)}; pass"
                " static_df with unique_id and those columns, one row per series"
            )
        if not isinstance(static_df, pd.DataFrame):
            raise DataError(
                f"static_df: expected a pandas DataFrame, got {type(static_df).__name__}"
            )
        return static_df

    def _series(
        self, df: pd.DataFrame, name: str, static_df: pd.DataFrame | None = None
    ) -> SeriesData:
        freq = getattr(self, "freq_", self.freq)
        data = from_long(
            df, freq, fill_missing=self.fill_missing, name=name, exog_columns=self.temporal_exog
        )
        static_rows = self.static_df_ if static_df is None else static_df
        if self.static_exog:
            data = with_static(data, self._static_rows(static_rows), self.static_exog)
        return data

    # ------------------------------------------------------------------ forecasting
    def predict(
        self,
        df: pd.DataFrame | None = None,
        futr_df: pd.DataFrame | None = None,
        level: Sequence[float] | None = None,
        static_df: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Forecast ``h`` steps after the end of each series.

        Args:
            df: other or updated history to forecast from (default: the data given to fit),
                with the models' exogenous columns.
            futr_df: ``unique_id, ds`` and the future exogenous variables (the models'
                ``futr_exog_list``) for the ``h`` steps after each series; needed exactly
                when a model has future variables, ignored otherwise.
            level: interval levels in %, e.g. ``[80, 95]``; models must support them.
            static_df: static variables of the series in ``df`` (default: those given to fit).

        Returns:
            Columns ``unique_id, ds`` then one per model, and ``<model>-lo-<level>`` /
            ``<model>-hi-<level>`` per level.
        """
        if not hasattr(self, "data_"):
            raise NotFittedError("Forecaster is not fitted; call fit(df) first")
        data = self.data_ if df is None else self._series(df, "df", static_df)
        if self.future_exog:
            if futr_df is None:
                raise DataError(
                    f"futr_df: the models use future exogenous variables"
                    f" {list(self.future_exog)}; pass futr_df with unique_id, ds and their"
                    f" values for the {self.h} steps after each series"
                )
            data = with_future(data, futr_df, self.future_exog, self.h)
        return self._forecast_frame(data, level)

    def _forecast_frame(self, data: SeriesData, level: Sequence[float] | None) -> pd.DataFrame:
        columns: dict[str, np.ndarray] = {
            "unique_id": np.repeat(data.ids, self.h),
            "ds": data.future_ds(self.h).reshape(-1),
        }
        for model in self.models_:
            if isinstance(model, Ensemble):
                for alias, forecast in model.member_forecasts(data).items():
                    columns[alias] = forecast.reshape(-1)
            columns[model.alias] = np.asarray(model.predict(data), dtype=np.float64).reshape(-1)
            for value in level or ():
                if not hasattr(model, "predict_interval"):
                    raise ConfigError(f"level: {model.alias} does not produce intervals")
                low, high = model.predict_interval(data, value)
                columns[f"{model.alias}-lo-{value:g}"] = low.reshape(-1)
                columns[f"{model.alias}-hi-{value:g}"] = high.reshape(-1)
        return pd.DataFrame(columns)

    def cross_validation(
        self,
        df: pd.DataFrame,
        n_windows: int = 1,
        step_size: int | None = None,
        refit: bool = False,
        level: Sequence[float] | None = None,
        static_df: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Forecast the last ``n_windows`` windows of ``df`` as if each cutoff were "now".

        Window ``i`` (0 = oldest) ends ``step_size * (n_windows - 1 - i)`` steps before the end
        of each series. With ``refit=False`` the models are fitted once, on the data before the
        first cutoff; with ``refit=True`` before every cutoff. Future exogenous variables over
        each window come from ``df`` itself. Afterwards the Forecaster holds
        the models and history of the last window; call :meth:`fit` again to forecast from the
        full data.

        Returns:
            ``unique_id, ds, cutoff, y`` and one column per model (plus interval columns).
        """
        if n_windows < 1:
            raise ConfigError(f"n_windows: expected a positive integer, got {n_windows!r}")
        step = self.h if step_size is None else step_size
        if step < 1:
            raise ConfigError(f"step_size: expected a positive integer, got {step_size!r}")
        self.static_df_ = self._static_rows(static_df)
        data = self._series(df, "df")
        self.freq_ = data.freq
        back = self.h + step * (n_windows - 1)
        too_short = np.flatnonzero(data.lengths <= back)
        if len(too_short):
            raise DataError(
                f"df: series {data.ids[too_short[0]]!r} has {data.lengths[too_short[0]]} values,"
                f" too few for {n_windows} windows of h={self.h} every {step} steps"
            )
        frames = []
        for window in range(n_windows):
            keep = data.lengths - self.h - step * (n_windows - 1 - window)
            history = data.head(keep, horizon=self.h)
            if refit or window == 0:
                self._fit_series(history)
            forecast = self._forecast_frame(history, level)
            forecast.insert(2, "cutoff", np.repeat(history.last_ds, self.h))
            actual_index = (data.indptr[:-1] + keep)[:, None] + np.arange(self.h)
            forecast.insert(
                3, "y", data.values.numpy()[actual_index].reshape(-1).astype(np.float64)
            )
            frames.append(forecast)
        return pd.concat(frames, ignore_index=True)

    def _fit_series(self, data: SeriesData) -> None:
        self.data_ = data
        self.models_ = [fit_model(model, data) for model in self._fresh_models()]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save models (safetensors weights + JSON hyperparameters) to directory ``path``."""
        if not hasattr(self, "data_"):
            raise NotFittedError("save(): the Forecaster is not fitted")
        with checkpoint.atomic_directory(path) as staging:
            entries = [_describe(model, staging, str(i)) for i, model in enumerate(self.models_)]
            checkpoint.write_json(
                staging / checkpoint.CONFIG_FILE,
                {
                    "format": _FORMAT,
                    "zen_version": zen.__version__,
                    "freq": self.freq_,
                    "h": self.h,
                    "fill_missing": self.fill_missing,
                    "models": entries,
                },
            )
            # The training history, so predict() without df works after loading.
            tensors = {"values": self.data_.values, "indptr": torch.from_numpy(self.data_.indptr)}
            for key in ("exog", "static"):
                value = getattr(self.data_, key)
                if value is not None:
                    tensors[key] = value.contiguous()
            checkpoint.save_tensors(staging / "history.safetensors", tensors)
            checkpoint.write_json(
                staging / "history.json",
                {
                    "ids": [_plain(key) for key in self.data_.ids],
                    "last_ds": [str(value) for value in self.data_.last_ds],
                    "exog_names": list(self.data_.exog_names),
                    "static_names": list(self.data_.static_names),
                },
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Load a Forecaster saved with :meth:`save`; it predicts without refitting."""
        path = Path(path)
        payload = checkpoint.read_json(path / checkpoint.CONFIG_FILE)
        if payload.get("format") != _FORMAT:
            raise DataError(f"{path}: not a saved Forecaster")
        models = [_rebuild(entry, path) for entry in payload["models"]]
        forecaster = cls(models, freq=payload["freq"], fill_missing=payload["fill_missing"])
        forecaster.models_ = models  # fitted: weights loaded, baselines refitted below
        forecaster.freq_ = payload["freq"]
        tensors = checkpoint.load_tensors(path / "history.safetensors")
        history = checkpoint.read_json(path / "history.json")
        freq = payload["freq"]
        last_ds = (
            np.asarray(history["last_ds"], dtype=np.int64)
            if isinstance(freq, int)
            else pd.to_datetime(history["last_ds"]).to_numpy()
        )
        forecaster.data_ = SeriesData(
            np.asarray(history["ids"], dtype=object),
            tensors["values"],
            tensors["indptr"].numpy(),
            last_ds,
            freq,
            exog=tensors.get("exog"),
            exog_names=tuple(history.get("exog_names", ())),
            static=tensors.get("static"),
            static_names=tuple(history.get("static_names", ())),
        )
        forecaster.static_df_ = None
        if forecaster.data_.static is not None:
            forecaster.static_df_ = pd.DataFrame(
                forecaster.data_.static.numpy(), columns=list(forecaster.data_.static_names)
            ).assign(unique_id=forecaster.data_.ids)
        for model in models:
            _fit_stateless(model, forecaster.data_)
        return forecaster

    def _card_facts(self) -> CardFacts:
        """What the model card of :meth:`save_pretrained` says: horizon, frequency, series
        and models (no scores: a Forecaster keeps none; pass them in ``model_card_kwargs``)."""
        models = {model.alias: type(model).__name__ for model in self.models_}
        listed = ", ".join(f"{alias} ({name})" for alias, name in models.items())
        return CardFacts(
            summary=f"Forecasts {self.h} steps ahead (frequency {self.freq_!r}) for"
            f" {self.data_.n_series} series with {listed}; `predict()` continues the saved"
            " history, `predict(df)` new data.",
            tags=tuple(sorted(set(models.values()))),
            settings={"h": self.h, "freq": self.freq_, "fill_missing": self.fill_missing}
            | {f"models.{alias}": name for alias, name in models.items()},
        )


def _describe(model: Any, staging: Path, key: str) -> dict[str, Any]:
    """JSON entry for ``model``; network weights go to ``model-<key>.safetensors``."""
    if isinstance(model, Ensemble):
        return {
            "class": "Ensemble",
            "method": model.method,
            "alias": model.get_params()["alias"],
            "ensemble_weights": [float(weight) for weight in model.weights_],
            "members": [
                _describe(member, staging, f"{key}-{i}") for i, member in enumerate(model.models_)
            ],
        }
    entry: dict[str, Any] = {
        "class": type(model).__name__,
        "hyperparameters": model.hyperparameters(),
    }
    if isinstance(model, WindowModel):
        entry["weights"] = f"model-{key}.safetensors"
        checkpoint.save_tensors(staging / entry["weights"], model.weights())
    return entry


def _rebuild(entry: dict[str, Any], path: Path) -> Any:
    """Inverse of :func:`_describe` (statistical baselines are refitted by the caller)."""
    if entry["class"] == "Ensemble":
        members = [_rebuild(member, path) for member in entry["members"]]
        ensemble = Ensemble(members, method=entry["method"], alias=entry["alias"])
        ensemble.models_ = members
        ensemble.weights_ = np.asarray(entry["ensemble_weights"])
        return ensemble
    # Only classes declared as forecasting models are built from a saved file.
    model_class = registry.model_class(entry["class"], "forecast")
    if model_class is None:
        raise DataError(
            f"{path}: unknown model class {entry['class']!r}; a model of your own must be"
            " registered (zen.registry.register) before loading"
        )
    model: Any = model_class(**entry["hyperparameters"])
    if "weights" in entry:
        model.load_weights(checkpoint.load_tensors(path / entry["weights"]))
    return model


def _fit_stateless(model: Any, data: SeriesData) -> None:
    """Baselines keep no weights: fitting them again on the saved history restores them."""
    if isinstance(model, Ensemble):
        for member in model.models_:
            _fit_stateless(member, data)
    elif not isinstance(model, WindowModel):
        model.fit(data)


def _listed(models: Sequence[Any], arguments: Sequence[str]) -> tuple[str, ...]:
    """Column names in the models' (and ensemble members') ``arguments`` lists, in order."""
    names: dict[str, None] = {}
    for model in models:
        if isinstance(model, Ensemble):
            names.update(dict.fromkeys(_listed(model.models, arguments)))
        for argument in arguments:
            names.update(dict.fromkeys(getattr(model, argument, None) or ()))
    return tuple(names)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _seeded(model: Any, seed: int | None) -> Any:
    """``model`` (a fresh clone) with ``random_seed=seed``, ensemble members included."""
    if seed is None:
        return model
    if isinstance(model, Ensemble):
        model.set_params(models=[_seeded(member, seed) for member in model.models])
    elif "random_seed" in model.get_params(deep=False):
        model.set_params(random_seed=seed)
    return model
