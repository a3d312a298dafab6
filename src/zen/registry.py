"""One registry of zen's models: each model declares, where it is defined, what the rest of zen
needs to know about it.

A :class:`ModelSpec` says what a model is (its name and kind, whether it trains a network), how
the router should expect it to do (its rule prior), how a ``zen fit`` job builds it, what
Optuna may tune (its search space) and how :mod:`zen.export` traces it (its export plan). The
router, the jobs, tuning, export, serving and the loaders read the registry; none lists model
names. Adding a model is one file that calls :func:`register` plus the import line that loads
it; a user's own model registers the same way from the user's code (or, for other processes
such as ``zen serve``, from a package's ``zen.models`` entry point, loaded on first use).

>>> from zen.registry import ModelSpec, get, register, unregister
>>> spec = register(ModelSpec("Example", "forecast", neural=False, prior=1.5))
>>> get("Example", "forecast").prior
1.5
>>> unregister("Example", "forecast")

This module sits at the bottom of zen (it imports only :mod:`zen.errors`), so every model family
can declare itself here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from zen.errors import ConfigError, expect_one_of

logger = logging.getLogger(__name__)

#: What a model can be. ``network``: a bare ``nn.Module`` (MLP, a GNN stack, a forecasting
#: network) that ``Trainer.load`` rebuilds and ``zen export`` traces, not a ``zen fit``
#: candidate.
KINDS = (
    "forecast",
    "node classifier",
    "graph classifier",
    "table",
    "sequence classifier",
    "image classifier",
    "network",
)
#: The ``zen fit`` candidates of each task family (:data:`zen.profile.FAMILIES`).
FAMILY_KINDS = {
    "time series": "forecast",
    "graph": "node classifier",
    "tabular regression": "table",
    "tabular classification": "table",
    "sequence classification": "sequence classifier",
    "image classification": "image classifier",
}
#: The entry-point group through which installed packages add models.
ENTRY_POINT_GROUP = "zen.models"


@dataclass(frozen=True)
class ModelSpec:
    """What zen knows about one model (see the module docstring).

    Attributes:
        name: the model's name in leaderboards, History and the router (``"NHITS"``,
            ``"GCN"``, ``"MLP-wide"``); unique within its kind.
        kind: one of :data:`KINDS`.
        model_class: the class it builds; loaders find saved models by its ``__name__``, and
            export and serving find the spec of an object by its class (or a base class).
        neural: it trains a network (it shares the time budget; baselines do not).
        prior: the router's expected relative score before any rule (1.0: usually the best of
            its kind; larger is worse). Ties keep the lower prior first, then registration
            order.
        rule_factors: multiplier on ``prior`` per router rule name
            (:data:`zen.orchestrator.router_rules.RULES`) that holds for a task.
        rule_options: options to suggest when a rule holds, by rule name.
        options: the model's default options as a candidate (e.g. ``MLP-wide``'s layers).
        build: how a ``zen fit`` job builds it, ``build(settings, options)``; ``settings`` is
            the job's: :class:`zen.forecasting.ForecastSettings` for forecasts, ``(in_channels,
            out_channels)`` for node classifiers, a dict for tables.
        search_space: ``space(trial) -> options`` for Optuna (None: not tunable).
        training: fixed training settings of the candidate (graphs: ``lr``, ``weight_decay``).
        export_plan: ``plan(model, batch_sizes=..., graph_sizes=...) -> ExportPlan``
            (:mod:`zen.neural.export_plan`); None: not exportable to ONNX.
        reference: the paper or source the model follows, for reports.
        candidate: ``zen fit``'s router may propose it (False: known to the loaders and export
            only, e.g. a base class or a model kept for benchmarks).
    """

    name: str
    kind: str
    model_class: type | None = None
    neural: bool = True
    prior: float = 1.0
    rule_factors: Mapping[str, float] = field(default_factory=dict)
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    build: Callable[..., Any] | None = None
    search_space: Callable[[Any], dict[str, Any]] | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    export_plan: Callable[..., Any] | None = None
    reference: str = ""
    candidate: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name: expected a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise expect_one_of("kind", self.kind, KINDS)
        if not self.prior > 0:
            raise ConfigError(f"prior: expected a positive number, got {self.prior!r}")

    def create(self, *args: Any) -> Any:
        """The model :attr:`build` makes from the job's ``args``.

        Raises:
            ConfigError: the spec has no builder (``zen fit`` cannot train it).
        """
        if self.build is None:
            raise ConfigError(
                f"model: {self.name} ({self.kind}) is registered without a build function, so"
                " zen fit cannot train it; give its ModelSpec build="
            )
        return self.build(*args)


_specs: dict[tuple[str, str], ModelSpec] = {}
_entry_points_loaded = False


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Declare ``spec``; returns it, so a module can keep it as a constant.

    Raises:
        ConfigError: another spec of that kind already has the name (pass ``replace=True`` to
            redefine it on purpose).
    """
    key = (spec.kind, spec.name)
    if key in _specs and not replace and _specs[key] != spec:
        raise ConfigError(
            f"name: a {spec.kind} model called {spec.name!r} is already registered (by"
            f" {_origin(_specs[key])}); choose another name or pass replace=True"
        )
    _specs[key] = spec
    return spec


def unregister(name: str, kind: str) -> None:
    """Remove a spec (for tests and interactive sessions); unknown names are ignored."""
    _specs.pop((kind, name), None)


def specs(kind: str | None = None) -> list[ModelSpec]:
    """Every registered spec (of ``kind``), in registration order."""
    _load_entry_points()
    if kind is not None and kind not in KINDS:
        raise expect_one_of("kind", kind, KINDS)
    return [spec for spec in _specs.values() if kind is None or spec.kind == kind]


def names(kind: str) -> list[str]:
    """The names of the specs of ``kind``."""
    return [spec.name for spec in specs(kind)]


def names_of(chosen: Iterable[ModelSpec]) -> list[str]:
    """The names of ``chosen`` specs, in order."""
    return [spec.name for spec in chosen]


def candidates(kind: str) -> list[ModelSpec]:
    """The specs of ``kind`` that ``zen fit``'s router may propose, in registration order."""
    return [spec for spec in specs(kind) if spec.candidate]


def get(name: str, kind: str) -> ModelSpec:
    """The spec called ``name`` of ``kind``.

    Raises:
        ConfigError: no such model; the message lists the known ones.
    """
    _load_entry_points()
    spec = _specs.get((kind, name))
    if spec is None:
        known = ", ".join(names(kind)) or "none"
        raise ConfigError(f"model: no {kind} model called {name!r} is registered (known: {known})")
    return spec


def find(name: str, kind: str) -> ModelSpec | None:
    """The spec called ``name`` of ``kind``, or None."""
    _load_entry_points()
    return _specs.get((kind, name))


def spec_for(obj: Any, *, exportable: bool = False) -> ModelSpec | None:
    """The spec whose ``model_class`` is ``obj``'s class or its nearest registered base class
    (with an export plan when ``exportable``); None when there is none."""
    _load_entry_points()
    for cls in type(obj).__mro__:
        for spec in _specs.values():
            if spec.model_class is cls and (spec.export_plan is not None or not exportable):
                return spec
    return None


def model_class(class_name: str, kind: str | None = None) -> type | None:
    """The registered class called ``class_name`` (what saved models record), of a spec of
    ``kind`` when given; None when there is none."""
    _load_entry_points()
    for spec in _specs.values():
        cls = spec.model_class
        if cls is not None and cls.__name__ == class_name and kind in (None, spec.kind):
            return cls
    return None


def model_classes() -> Iterator[type]:
    """Every registered class, once each, in registration order."""
    _load_entry_points()
    seen: set[type] = set()
    for spec in _specs.values():
        if spec.model_class is not None and spec.model_class not in seen:
            seen.add(spec.model_class)
            yield spec.model_class


def declaring_modules() -> list[str]:
    """The modules that define the registered classes and builders, for worker processes to
    import so that they know the same models (``__main__`` aside: a spawned worker re-runs
    it anyway)."""
    _load_entry_points()
    modules: dict[str, None] = {}
    for spec in _specs.values():
        for obj in (spec.model_class, spec.build):
            module = getattr(obj, "__module__", None)
            if module and module not in ("__main__", "__mp_main__", "builtins"):
                modules[module] = None
    return list(modules)


def _origin(spec: ModelSpec) -> str:
    cls = spec.model_class
    return f"{cls.__module__}.{cls.__qualname__}" if cls is not None else "another module"


def _load_entry_points() -> None:
    """Import the modules that installed packages list under ``zen.models`` (once)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:  # a broken plugin must not take zen down with it
            logger.warning("zen.models entry point %s failed to load: %s", entry_point, error)
