"""The estimator contract every zen model follows: settings come from the constructor's signature.

As in scikit-learn (Buitinck et al. 2013, "API design for machine learning software", sec. 2),
a constructor only stores its arguments, untouched, under their own names; ``fit`` learns, keeps
what it learned in attributes ending in ``_`` and returns ``self``. :class:`Estimator` reads the
settings from the ``__init__`` signatures, so :meth:`~Estimator.get_params`,
:meth:`~Estimator.set_params`, :func:`clone`, saving and tuning need no list of names per model.

A constructor that takes ``**kwargs`` hands them to its parent's: its settings are its own named
arguments followed by the parent's, up the class hierarchy (``NHITS(h, input_size, mlp_units,
..., **base)`` has every :class:`~zen.forecasting.WindowModel` setting too). ``*args`` are
refused: positional pass-through would hide which argument is which.

>>> class Scaler(Estimator):
...     def __init__(self, factor: float = 2.0, name: str | None = None) -> None:
...         self.factor = factor
...         self.name = name
>>> Scaler(factor=3.0).get_params()
{'factor': 3.0, 'name': None}
>>> clone(Scaler(factor=3.0).set_params(name="triple"))
Scaler(factor=3.0, name='triple')

scikit-learn works with these estimators as they are (``sklearn.base.clone``, pipelines, grid
search); zen itself never imports it.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar, cast

import numpy as np

from zen.errors import ConfigError

_Method = TypeVar("_Method", bound=Callable[..., Any])


def param_names(cls: type) -> tuple[str, ...]:
    """The settings of estimator class ``cls``: its ``__init__`` arguments, and its parents'
    where an ``__init__`` passes ``**kwargs`` on, in signature order.

    Raises:
        TypeError: an ``__init__`` on the way takes ``*args``.
    """
    if cls not in _PARAM_NAMES:  # signatures are read once per class
        _PARAM_NAMES[cls] = _signature_names(cls)
    return _PARAM_NAMES[cls]


_PARAM_NAMES: dict[type, tuple[str, ...]] = {}


def _signature_names(cls: type) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for klass in cls.__mro__:
        if klass is object:
            break
        init = vars(klass).get("__init__")
        if init is None:  # inherits its parent's __init__: the next class in the MRO says
            continue
        forwards = False
        for parameter in list(inspect.signature(init).parameters.values())[1:]:
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(
                    f"{klass.__qualname__}.__init__ takes *{parameter.name}; an estimator"
                    " names every setting in its signature (keyword arguments it passes on"
                    " to its parent go through **kwargs)"
                )
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
            else:
                names.setdefault(parameter.name, None)
        if not forwards:
            break
    return tuple(names)


def is_estimator(value: Any) -> bool:
    """Whether ``value`` is an estimator instance (has ``get_params`` and ``set_params``)."""
    return (
        not isinstance(value, type)
        and hasattr(value, "get_params")
        and hasattr(value, "set_params")
    )


class Estimator:
    """Mixin giving ``get_params``/``set_params`` from the ``__init__`` signatures.

    A setting is read from the attribute of its name. A class that shows a derived value under
    that name instead (a property, like the forecasting models' ``alias``, which falls back to
    the class name) stores the argument as ``_<name>``.

    Subclasses name in ``unsaved_params`` the settings that are run-time objects rather than
    part of the model (callbacks): :meth:`hyperparameters` leaves them out.
    """

    unsaved_params: ClassVar[tuple[str, ...]] = ()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, by name; with ``deep``, also those of estimators among
        them as ``<name>__<setting>`` (scikit-learn's convention)."""
        params: dict[str, Any] = {}
        for name in param_names(type(self)):
            value = getattr(self, _storage(type(self), name))
            params[name] = value
            if deep and is_estimator(value):
                params.update(
                    (f"{name}__{key}", inner) for key, inner in value.get_params().items()
                )
        return params

    def set_params(self, **params: Any) -> Self:
        """Change settings (``name=value``, or ``name__setting=value`` for an estimator among
        them); returns ``self``. Takes effect at the next ``fit``.

        Raises:
            ConfigError: a name that is not a setting of this estimator.
        """
        valid = param_names(type(self))
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, inner = key.partition("__")
            if name not in valid:
                raise ConfigError(
                    f"{key}: not a setting of {type(self).__name__}; its settings are:"
                    f" {', '.join(valid)}"
                )
            if inner:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, _storage(type(self), name), value)
        for name, inner_params in nested.items():
            inner_estimator = getattr(self, _storage(type(self), name))
            if not is_estimator(inner_estimator):
                raise ConfigError(
                    f"{name}__{next(iter(inner_params))}: {name} is not an estimator"
                    f" ({type(inner_estimator).__name__}); set it as a whole"
                )
            inner_estimator.set_params(**inner_params)
        return self

    def hyperparameters(self) -> dict[str, Any]:
        """The settings in JSON form: ``type(self)(**hyperparameters())`` builds an equal,
        unfitted estimator (what saving writes).

        ``get_params(deep=False)`` without ``unsaved_params``; tuples become lists, objects
        with a ``config()`` (losses) their config, which the constructors accept back.
        """
        params = self.get_params(deep=False)
        return {
            name: to_json(value, name)
            for name, value in params.items()
            if name not in self.unsaved_params
        }

    def __repr__(self) -> str:
        """``Class(setting=value, ...)`` with the settings that differ from their defaults."""
        changed = ", ".join(
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if not _is_default(type(self), name, value)
        )
        return f"{type(self).__name__}({changed})"


def clone(estimator: Any) -> Any:
    """A new, unfitted estimator with the same settings (scikit-learn's ``clone``).

    Estimators among the settings, also inside lists, tuples and dicts, are cloned in turn;
    other values (losses, callbacks) are shared, not copied: a callback given to a model
    follows the training of its clones too (Optuna pruning, progress logging).

    Raises:
        ConfigError: ``estimator`` has no ``get_params``.
    """
    if not is_estimator(estimator):
        raise ConfigError(
            f"estimator: expected an object with get_params() and set_params(), got"
            f" {type(estimator).__name__}"
        )
    params = {name: _clone_value(value) for name, value in estimator.get_params(deep=False).items()}
    return type(estimator)(**params)


def _clone_value(value: Any) -> Any:
    if is_estimator(value):
        return clone(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_clone_value(item) for item in value)
    if isinstance(value, dict):
        return {key: _clone_value(item) for key, item in value.items()}
    return value


def to_json(value: Any, name: str = "value") -> Any:
    """``value`` as JSON data: tuples become lists, numpy scalars numbers, objects with a
    ``config()`` method (losses) their config.

    Raises:
        ConfigError: a value with no JSON form (a module, a callable), naming setting ``name``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_json(item, name) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_json(item, name) for key, item in value.items()}
    config = getattr(value, "config", None)
    if callable(config):
        return to_json(config(), name)
    raise ConfigError(
        f"{name}: a {type(value).__name__} cannot be saved as JSON; pass a name, a number or"
        " a list instead"
    )


def available_if(check: Callable[[Any], bool], reason: str) -> Callable[[_Method], _Method]:
    """Decorate a method that exists only on instances for which ``check(instance)`` holds
    (scikit-learn's ``available_if``): elsewhere reading it raises :class:`AttributeError`
    with ``reason``, so ``hasattr`` is False (a regressor has no ``predict_proba``)."""

    def decorate(method: _Method) -> _Method:
        return cast(_Method, _ConditionalMethod(method, check, reason))

    return decorate


class _ConditionalMethod:
    """The descriptor behind :func:`available_if`."""

    def __init__(self, method: Callable[..., Any], check: Callable[[Any], bool], reason: str):
        self.method, self.check, self.reason = method, check, reason
        functools.update_wrapper(cast(Any, self), method)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.method
        if not self.check(instance):
            raise AttributeError(f"{self.method.__name__}: {self.reason}")
        return types.MethodType(self.method, instance)


def _storage(cls: type, name: str) -> str:
    """The attribute holding setting ``name`` (see :class:`Estimator`)."""
    return f"_{name}" if isinstance(getattr(cls, name, None), property) else name


def _is_default(cls: type, name: str, value: Any) -> bool:
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        parameter = inspect.signature(init).parameters.get(name)
        if parameter is not None:
            default = parameter.default
            if default is inspect.Parameter.empty or type(default) is not type(value):
                return False
            try:
                return bool(default == value)
            except (TypeError, ValueError):  # arrays and other values without a plain ==
                return False
    return False


__all__ = ["Estimator", "available_if", "clone", "is_estimator", "param_names", "to_json"]
