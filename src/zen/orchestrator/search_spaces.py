"""Hyperparameter search spaces for :mod:`zen.orchestrator.tune`, as the models declare them.

A search space is a function ``(trial) -> dict`` that asks an Optuna trial for values and
returns keyword arguments ready for the model (forecasters: their constructor; graph models:
the layer stack plus ``lr``/``weight_decay`` for the Trainer; tables: a
:class:`~zen.tabular.TabularModel`). Each model keeps its own next to its code and names it in
its registry entry (:attr:`zen.registry.ModelSpec.search_space`); this module looks them up.
Optuna stores only scalars, so list-valued settings are suggested as strings (``"2,2,1"``) and
decoded by the space: replaying stored parameters through it
(``space(optuna.trial.FixedTrial(params))``) gives the model's arguments back.

What a tuning run fixes instead of searching (steps, epochs, seed, horizon, input size) is
left to the caller, so a space never decides the budget.

>>> from optuna.trial import FixedTrial
>>> search_space("NBEATS")(FixedTrial({"learning_rate": 1e-3, "scaler_type": "robust",
...                                    "windows_batch_size": 256}))["windows_batch_size"]
256
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from zen import registry
from zen.errors import ConfigError
from zen.forecasting.candidate import SCALER_TYPES

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

SearchSpace = Callable[["BaseTrial"], dict[str, Any]]

__all__ = [
    "SCALER_TYPES",
    "SEARCH_SPACES",
    "SearchSpace",
    "canonical_model",
    "search_space",
    "tunable",
]


def tunable(kind: str | None = None) -> list[str]:
    """The names of the registered models (of ``kind``) that declare a search space, by kind
    and then by the router's prior (the usual favourite first)."""
    chosen = [spec for spec in registry.specs(kind) if spec.search_space is not None]
    chosen.sort(key=lambda spec: (registry.KINDS.index(spec.kind), spec.prior))
    return [spec.name for spec in chosen]


class _SearchSpaces(Mapping[str, SearchSpace]):
    """Every declared search space by model name (``SEARCH_SPACES["NHITS"]``), as the
    registry holds them now."""

    def __getitem__(self, name: str) -> SearchSpace:
        for spec in registry.specs():
            if spec.name == name and spec.search_space is not None:
                return spec.search_space
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(tunable()))

    def __len__(self) -> int:
        return len(dict.fromkeys(tunable()))


SEARCH_SPACES = _SearchSpaces()


def canonical_model(name: str, kind: str | None = None) -> str:
    """The registered spelling of model ``name`` among the tunable ones (of ``kind``),
    case-insensitive; ``tabular`` means ``MLP``.

    Raises:
        ConfigError: unknown name, listing the known ones.
    """
    known = tunable(kind)
    lookup = {key.lower(): key for key in known}
    if "MLP" in known:
        lookup["tabular"] = "MLP"
    if not isinstance(name, str) or name.lower() not in lookup:
        raise ConfigError(
            f"model: no search space for {name!r}; expected one of: {', '.join(known)}"
        )
    return lookup[name.lower()]


def search_space(name: str, kind: str | None = None) -> SearchSpace:
    """The search space of model ``name``, e.g. ``search_space("NHITS")``."""
    return SEARCH_SPACES[canonical_model(name, kind)]
