"""How a forecasting job builds its candidates: one :class:`ForecastSettings` for all of them.

The job (``zen fit --horizon``) decides the horizon, the input window, the step budget and the
exogenous columns once; each model's registry entry (:attr:`zen.registry.ModelSpec.build`)
turns them into its constructor arguments. :func:`window_builder` serves every
:class:`~zen.forecasting.WindowModel` (the exogenous kinds it takes come from its
``EXOGENOUS``), :func:`baseline_builder` the statistical baselines.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Per-window scaling the job asks of its neural candidates: robust to outliers and level shifts.
JOB_SCALER = "robust"


@dataclass(frozen=True)
class ForecastSettings:
    """What a forecasting job decides for every candidate it builds.

    Attributes:
        horizon: steps to forecast (every model's ``h``).
        input_size: the neural models' input window.
        season_length: the seasonal baselines' period.
        max_steps, random_seed, max_time_s, scaler_type, progress: the neural models' training.
        exogenous: columns by argument (``hist_exog_list``, ``futr_exog_list``,
            ``stat_exog_list``); each model gets the kinds its paper uses.
    """

    horizon: int
    input_size: int = 1
    season_length: int = 1
    max_steps: int = 1000
    random_seed: int = 0
    max_time_s: float | None = None
    scaler_type: str = JOB_SCALER
    progress: bool = False
    exogenous: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ForecastSettings:
        return dataclasses.replace(self, **changes)

    def window_arguments(self, model_class: type) -> dict[str, Any]:
        """The constructor arguments of a window model class (``h`` aside)."""
        taken = getattr(model_class, "EXOGENOUS", ())
        exogenous = {
            kind: list(columns)
            for kind, columns in self.exogenous.items()
            if columns and kind in taken
        }
        return {
            "input_size": self.input_size,
            "scaler_type": self.scaler_type,
            "max_steps": self.max_steps,
            "random_seed": self.random_seed,
            "max_time_s": self.max_time_s,
            "progress": self.progress,
            **exogenous,
        }


Builder = Callable[[ForecastSettings, Mapping[str, Any]], Any]


def window_builder(model_class: type) -> Builder:
    """Build ``model_class`` (a WindowModel) from the job's settings; ``options`` win."""

    def build(settings: ForecastSettings, options: Mapping[str, Any]) -> Any:
        return model_class(
            h=settings.horizon, **{**settings.window_arguments(model_class), **options}
        )

    return build


def baseline_builder(model_class: type) -> Builder:
    """Build a statistical baseline: the horizon, and the season when it takes one."""
    seasonal = "season_length" in inspect.signature(model_class).parameters

    def build(settings: ForecastSettings, options: Mapping[str, Any]) -> Any:
        season = {"season_length": settings.season_length} if seasonal else {}
        return model_class(h=settings.horizon, **{**season, **options})

    return build


# Search-space ranges the neural forecasters share (each model's space is in its own file).
#: Learning rates. neuralforecast's Auto* models search 1e-4..1e-1; the top decade mostly
#: diverges with Adam on these MLPs and wastes trials of a small budget.
FORECAST_LR = (1e-4, 1e-2)
#: Per-window scaling; "identity" stands for neuralforecast's ``None``.
SCALER_TYPES = ["identity", "robust", "standard"]
WINDOWS_BATCH_SIZES = [128, 256, 512, 1024]


def integers(text: str) -> list[int]:
    """``"2,2,1"`` -> ``[2, 2, 1]``: how list choices travel through Optuna's storage."""
    return [int(part) for part in text.split(",")]
