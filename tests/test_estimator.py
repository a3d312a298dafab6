"""The estimator contract: settings from the signatures, clone, set_params, saved settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sklearn.base
from torch import nn

from zen import ConfigError
from zen.estimator import Estimator, clone, is_estimator, param_names
from zen.forecasting import (
    NBEATS,
    NHITS,
    TCN,
    DeepAR,
    Ensemble,
    Forecaster,
    HistoricAverage,
    MQLoss,
    Naive,
    Naive2,
    RandomWalkWithDrift,
    SeasonalNaive,
    WindowModel,
)
from zen.graph import GAT, GCN, GIN, GraphSAGE
from zen.tabular import TabularModel

#: Every estimator family, built with settings that differ from the defaults.
ESTIMATORS: dict[str, Callable[[], Any]] = {
    "NHITS": lambda: NHITS(h=4, input_size=8, mlp_units=((8, 8),) * 3, loss=MQLoss(level=[80])),
    "NBEATS": lambda: NBEATS(
        h=4, input_size=8, stack_types=("identity",), n_blocks=(2,), mlp_units=((8,),), alias="nb"
    ),
    "TCN": lambda: TCN(h=4, input_size=8, dilations=(1, 2), hist_exog_list=("x",)),
    "DeepAR": lambda: DeepAR(h=4, input_size=8, lstm_hidden_size=4, loss="Normal"),
    "Naive": lambda: Naive(h=4, alias="last"),
    "SeasonalNaive": lambda: SeasonalNaive(h=4, season_length=12),
    "HistoricAverage": lambda: HistoricAverage(h=4),
    "RandomWalkWithDrift": lambda: RandomWalkWithDrift(h=4),
    "Naive2": lambda: Naive2(h=4, season_length=12),
    "Ensemble": lambda: Ensemble([Naive(h=4), NHITS(h=4, input_size=8)], method="median"),
    "Forecaster": lambda: Forecaster([Naive(h=4), NHITS(h=4, input_size=8)], freq="h", seed=3),
    "GCN": lambda: GCN(4, 8, 2, 3, cached=True, dropout=0.5),
    "GAT": lambda: GAT(4, 8, 2, 3, heads=2, activation="tanh"),
    "GraphSAGE": lambda: GraphSAGE(4, 8, 2, 3, aggr="max", readout="mean"),
    "GIN": lambda: GIN(4, 8, 2, 3, train_eps=True),
    "TabularModel": lambda: TabularModel(task="regression", hidden_layers=(8, 4), lr=0.01),
}
SAVED = [name for name in ESTIMATORS if name not in ("Ensemble", "Forecaster")]


def described(value: Any) -> Any:
    """Settings compared by content: estimators by class and settings, losses by config."""
    if is_estimator(value):
        return type(value).__name__, described(value.get_params(deep=False))
    if isinstance(value, dict):
        return {key: described(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [described(item) for item in value]
    if hasattr(value, "config"):
        return value.config()
    return value


class Scaler(Estimator):
    def __init__(self, factor: float = 2.0, offset: float = 0.0) -> None:
        self.factor = factor
        self.offset = offset


class ShiftedScaler(Scaler):
    def __init__(self, shift: int = 1, **base: Any) -> None:
        self.shift = shift
        super().__init__(**base)


def test_settings_are_the_signatures_up_the_hierarchy_through_kwargs() -> None:
    assert param_names(ShiftedScaler) == ("shift", "factor", "offset")
    assert ShiftedScaler(shift=3, factor=0.5).get_params() == {
        "shift": 3,
        "factor": 0.5,
        "offset": 0.0,
    }
    window = set(param_names(WindowModel))
    assert {"stack_types", "mlp_units", "dropout_prob_theta"} < set(param_names(NHITS))
    assert window < set(param_names(NHITS)) and "base" not in param_names(NHITS)


def test_a_constructor_with_star_args_is_refused() -> None:
    class Loose(Estimator):
        def __init__(self, *sizes: int) -> None:
            self.sizes = sizes

    with pytest.raises(TypeError, match=r"Loose.__init__ takes \*sizes"):
        Loose(1, 2).get_params()


def test_set_params_changes_settings_and_nested_ones() -> None:
    scaler = ShiftedScaler()
    assert scaler.set_params(factor=4.0) is scaler and scaler.factor == 4.0
    ensemble = Ensemble([Naive(h=4), Naive(h=4, alias="other")])
    forecaster = Forecaster([ensemble])
    with pytest.raises(ConfigError, match=r"^gain: not a setting of ShiftedScaler"):
        scaler.set_params(gain=2)
    pipeline_like = Outer(inner=ShiftedScaler())
    pipeline_like.set_params(inner__shift=9)
    assert pipeline_like.get_params()["inner__shift"] == 9
    assert forecaster.get_params(deep=False)["models"] == [ensemble]


class Outer(Estimator):
    def __init__(self, inner: Any = None) -> None:
        self.inner = inner


@pytest.mark.parametrize("name", ESTIMATORS)
def test_init_stores_the_arguments_untouched(name: str) -> None:
    estimator = ESTIMATORS[name]()
    params = estimator.get_params(deep=False)
    rebuilt = type(estimator)(**params)
    for key, value in rebuilt.get_params(deep=False).items():
        assert value is params[key], f"{name}.{key} was changed by __init__"


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize("cloner", [clone, sklearn.base.clone], ids=["zen", "sklearn"])
def test_clone_gives_an_unfitted_estimator_with_the_same_settings(name: str, cloner) -> None:
    estimator = ESTIMATORS[name]()
    copy = cloner(estimator)
    assert type(copy) is type(estimator) and copy is not estimator
    assert described(copy) == described(estimator)
    if isinstance(estimator, nn.Module):  # same architecture, fresh weights
        shapes = [tuple(p.shape) for p in estimator.parameters()]
        assert [tuple(p.shape) for p in copy.parameters()] == shapes


def test_zen_clone_clones_estimators_inside_lists() -> None:
    member = NHITS(h=4, input_size=8)
    copy = clone(Ensemble([member, Naive(h=4)]))
    assert copy.models[0] is not member and copy.models[0].get_params() == member.get_params()


@pytest.mark.parametrize("name", SAVED)
def test_saved_settings_rebuild_an_equal_model(name: str) -> None:
    estimator = ESTIMATORS[name]()
    saved = json.loads(json.dumps(estimator.hyperparameters()))
    rebuilt = type(estimator)(**saved)
    assert rebuilt.hyperparameters() == estimator.hyperparameters()
    assert "callbacks" not in saved


def test_graph_set_params_rebuilds_the_layers() -> None:
    model = GCN(4, 8, 2, 3, activation=nn.PReLU())
    model.set_params(num_layers=3, activation="elu")
    assert len(model.convs) == 3 and isinstance(model.act, nn.ELU)
    assert model.config()["activation"] == "elu" and "activation.weight" not in model.state_dict()


def test_graph_config_names_the_default_activation() -> None:
    """The saved form keeps the activation's name, as checkpoints written before issue 15."""
    assert GAT(4, 8, 2, 3).config()["activation"] == "elu"
    assert GCN.from_config(GCN(4, 8, 2, 3, cached=True).config()).cached is True
