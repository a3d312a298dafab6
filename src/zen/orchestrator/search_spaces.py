"""Hyperparameter search spaces of zen's model families, for :mod:`zen.orchestrator.tune`.

A search space is a function ``(trial) -> dict`` that asks an Optuna trial for values and
returns keyword arguments ready for the model (forecasters: their constructor; graph models:
the layer stack plus ``lr``/``weight_decay`` for the Trainer; ``MLP``: a
:class:`~zen.tabular.TabularModel`). Optuna stores only scalars, so list-valued settings are
suggested as strings (``"2,2,1"``) and decoded here: replaying the stored parameters through
the same function (``space(optuna.trial.FixedTrial(params))``) gives the model's arguments back.

Ranges follow the references named in each function. What a tuning run fixes instead of
searching (steps, epochs, seed, horizon, input size) is left to the caller, so a space never
decides the budget.

>>> from optuna.trial import FixedTrial
>>> stored = {"learning_rate": 1e-3, "n_pool_kernel_size": "2,2,1",
...           "n_freq_downsample": "24,12,1", "scaler_type": "robust", "windows_batch_size": 256}
>>> nhits(FixedTrial(stored))["n_pool_kernel_size"]
[2, 2, 1]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zen.errors import ConfigError

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

SearchSpace = Callable[["BaseTrial"], dict[str, Any]]

#: Learning rates of the forecasters. neuralforecast's Auto* models search 1e-4..1e-1; the top
#: decade mostly diverges with Adam on these MLPs and wastes trials of a small budget.
FORECAST_LR = (1e-4, 1e-2)
#: Adam's learning rate and L2 penalty of the graph models, around the papers' 0.005-0.01 and
#: 5e-4 (the ranges Shchur et al. 2018, "Pitfalls of GNN evaluation", searched).
GRAPH_LR = (1e-3, 1e-1)
GRAPH_WEIGHT_DECAY = (1e-5, 1e-2)
#: Per-window scaling; "identity" stands for neuralforecast's ``None``.
SCALER_TYPES = ["identity", "robust", "standard"]
WINDOWS_BATCH_SIZES = [128, 256, 512, 1024]


def _integers(text: str) -> list[int]:
    """``"2,2,1"`` -> ``[2, 2, 1]``: how list choices travel through Optuna's storage."""
    return [int(part) for part in text.split(",")]


def nhits(trial: BaseTrial) -> dict[str, Any]:
    """N-HiTS (Challu et al., AAAI 2023): neuralforecast's ``AutoNHITS`` space.

    The pooling kernels and downsampling rates decide which frequencies each of the three
    stacks models (paper sec. 3.1-3.2); the knots per stack are ``max(h // rate, 1)``, so the
    large rates (168, 180) suit long hourly horizons and fall back to one knot on short ones.
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "n_pool_kernel_size": _integers(
            trial.suggest_categorical(
                "n_pool_kernel_size", ["2,2,1", "1,1,1", "2,2,2", "4,4,4", "8,4,1", "16,8,1"]
            )
        ),
        "n_freq_downsample": _integers(
            trial.suggest_categorical(
                "n_freq_downsample",
                ["168,24,1", "24,12,1", "180,60,1", "60,8,1", "40,20,1", "1,1,1"],
            )
        ),
        "scaler_type": trial.suggest_categorical("scaler_type", SCALER_TYPES),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


def nbeats(trial: BaseTrial) -> dict[str, Any]:
    """N-BEATS (Oreshkin et al., ICLR 2020): neuralforecast's ``AutoNBEATS`` space."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "scaler_type": trial.suggest_categorical("scaler_type", SCALER_TYPES),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


def tcn(trial: BaseTrial) -> dict[str, Any]:
    """TCN (Bai et al. 2018, MQ-CNN decoder of Wen et al. 2017): neuralforecast's ``AutoTCN``
    space, whose scaler stays ``robust``."""
    return {
        "encoder_hidden_size": trial.suggest_categorical(
            "encoder_hidden_size", [50, 100, 200, 300]
        ),
        "context_size": trial.suggest_categorical("context_size", [5, 10, 50]),
        "decoder_hidden_size": trial.suggest_categorical(
            "decoder_hidden_size", [64, 128, 256, 512]
        ),
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
    }


def deepar(trial: BaseTrial) -> dict[str, Any]:
    """DeepAR (Salinas et al., IJF 2020): neuralforecast's ``AutoDeepAR`` space (its
    ``minmax1`` scaler is zen's ``minmax``)."""
    return {
        "lstm_hidden_size": trial.suggest_categorical("lstm_hidden_size", [32, 64, 128, 256]),
        "lstm_n_layers": trial.suggest_int("lstm_n_layers", 1, 4),
        "lstm_dropout": trial.suggest_float("lstm_dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "scaler_type": trial.suggest_categorical("scaler_type", ["robust", "minmax"]),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


def _graph_training(trial: BaseTrial) -> dict[str, Any]:
    return {
        "dropout": trial.suggest_float("dropout", 0.0, 0.8),
        "lr": trial.suggest_float("lr", *GRAPH_LR, log=True),
        "weight_decay": trial.suggest_float("weight_decay", *GRAPH_WEIGHT_DECAY, log=True),
    }


def gcn(trial: BaseTrial) -> dict[str, Any]:
    """GCN (Kipf & Welling, ICLR 2017; paper: 16 hidden, dropout 0.5, lr 0.01, L2 5e-4)."""
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [16, 32, 64, 128]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        **_graph_training(trial),
    }


def gat(trial: BaseTrial) -> dict[str, Any]:
    """GAT (Veličković et al., ICLR 2018; paper: 8 heads of 8, dropout 0.6, lr 0.005).

    ``hidden_channels`` is per head, so hidden layers are ``heads * hidden_channels`` wide.
    """
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [8, 16, 32]),
        "heads": trial.suggest_categorical("heads", [4, 8]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        **_graph_training(trial),
    }


def graphsage(trial: BaseTrial) -> dict[str, Any]:
    """GraphSAGE (Hamilton et al., NeurIPS 2017): width and the mean or max aggregator."""
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [32, 64, 128, 256]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        "aggr": trial.suggest_categorical("aggr", ["mean", "max"]),
        **_graph_training(trial),
    }


def mlp(trial: BaseTrial) -> dict[str, Any]:
    """A tabular MLP (:class:`~zen.tabular.TabularModel`): the MLP space of Gorishniy et al.,
    "Revisiting deep learning models for tabular data" (NeurIPS 2021), capped at 4 layers of
    512 units, which CPU budgets can afford."""
    depth = trial.suggest_int("n_layers", 1, 4)
    width = trial.suggest_categorical("layer_size", [64, 128, 256, 512])
    return {
        "hidden_layers": [width] * depth,
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 1e-5, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
    }


#: Search space by model name; names as in :data:`zen.forecasting.MODEL_CLASSES` and the graph
#: job's leaderboard.
SEARCH_SPACES: dict[str, SearchSpace] = {
    "NHITS": nhits,
    "NBEATS": nbeats,
    "TCN": tcn,
    "DeepAR": deepar,
    "GCN": gcn,
    "GAT": gat,
    "GraphSAGE": graphsage,
    "MLP": mlp,
}
FORECASTERS = ("NHITS", "NBEATS", "TCN", "DeepAR")
NODE_CLASSIFIERS = ("GCN", "GAT", "GraphSAGE")


def canonical_model(name: str, among: tuple[str, ...] | None = None) -> str:
    """The registered spelling of model ``name`` (case-insensitive; ``tabular`` means ``MLP``).

    Raises:
        ConfigError: unknown name, listing the known ones (of ``among`` when given).
    """
    known = among or tuple(SEARCH_SPACES)
    lookup = {key.lower(): key for key in known}
    if "MLP" in known:
        lookup["tabular"] = "MLP"
    if not isinstance(name, str) or name.lower() not in lookup:
        raise ConfigError(
            f"model: no search space for {name!r}; expected one of: {', '.join(known)}"
        )
    return lookup[name.lower()]


def search_space(name: str) -> SearchSpace:
    """The search space of model ``name``, e.g. ``search_space("NHITS")``."""
    return SEARCH_SPACES[canonical_model(name)]
