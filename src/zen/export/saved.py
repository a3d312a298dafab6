"""One loader for every model zen saves: :func:`load_saved` (used by the CLI, export, serving).

A run directory (``runs/<id>/`` from ``zen fit``) holds its best model in ``model/``; a model
directory holds ``config.json`` whose ``format`` names the class that wrote it:

=================  ==========================  ==========================================
``format``         written by                  :attr:`SavedModel.kind`
=================  ==========================  ==========================================
``zen.tabular``    :meth:`TabularModel.save`   ``"tabular"``
``zen.forecaster`` :meth:`Forecaster.save`     ``"forecast"``
``zen.trainer``    :meth:`Trainer.save`        ``"graph"`` (a GNN), ``"sequence"`` (a
                                               sequence classifier of ``zen fit``, with
                                               ``sequence_inputs.json``), ``"image"`` (the
                                               same for ``--as-image``), ``"network"``
=================  ==========================  ==========================================

Loading is safe on files someone else made: weights come from safetensors and settings from
JSON; nothing is unpickled or evaluated.

>>> saved = load_saved("runs/20240601-abc")                      # doctest: +SKIP
>>> saved.kind, saved.directory, saved.run_dir                    # doctest: +SKIP
('tabular', PosixPath('runs/20240601-abc/model'), PosixPath('runs/20240601-abc'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zen.errors import ConfigError, DataError
from zen.reports import MODEL_CONFIG_FILE, MODEL_DIR, REPORT_FILE, SEQUENCE_FILE, model_directory

#: The ``config.json`` formats zen reads.
FORMATS = ("zen.tabular", "zen.forecaster", "zen.trainer")
#: What :attr:`SavedModel.kind` can be.
KINDS = ("tabular", "forecast", "graph", "sequence", "image", "network")


@dataclass(frozen=True)
class SavedModel:
    """A saved model, loaded, with what it is and where it lives.

    Attributes:
        kind: ``"tabular"``, ``"forecast"``, ``"graph"``, ``"sequence"``, ``"image"`` or
            ``"network"`` (see the module docstring).
        model: the :class:`~zen.tabular.TabularModel`, :class:`~zen.forecasting.Forecaster`,
            or the ``nn.Module`` of a Trainer checkpoint (in eval mode).
        directory: the model directory (it holds ``config.json``).
        run_dir: the ``zen fit`` run directory ``directory`` belongs to, or None for a model
            directory saved on its own.
        config: the content of ``config.json``.
    """

    kind: str
    model: Any
    directory: Path
    run_dir: Path | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def format(self) -> str:
        """The ``format`` of ``config.json`` (``zen.tabular``, ``zen.forecaster``...)."""
        return str(self.config.get("format"))


def load_saved(path: str | Path) -> SavedModel:
    """Load the model in a run directory or a model directory.

    Args:
        path: ``runs/<id>/`` from ``zen fit``, or a directory written by ``TabularModel.save``,
            ``Forecaster.save`` or ``Trainer.save``.

    Raises:
        DataError: no saved model there, a format zen does not know, or corrupt files.
        ConfigError: a Trainer checkpoint of a model class zen cannot rebuild.
    """
    from zen.neural.checkpoint import read_json

    directory = model_directory(path)
    config = read_json(directory / MODEL_CONFIG_FILE)
    saved_format = config.get("format") if isinstance(config, dict) else None
    if saved_format not in FORMATS:
        raise DataError(
            f"{directory / MODEL_CONFIG_FILE}: unknown saved model format {saved_format!r};"
            f" expected one written by zen ({', '.join(FORMATS)})"
        )
    try:
        model, kind = _load_model(directory, saved_format, config)
    except (KeyError, TypeError) as error:  # a config.json with missing or mistyped entries
        raise DataError(
            f"{directory / MODEL_CONFIG_FILE}: incomplete or corrupt ({type(error).__name__}:"
            f" {error}); save the model again"
        ) from error
    is_run = directory.name == MODEL_DIR and (directory.parent / REPORT_FILE).is_file()
    return SavedModel(kind, model, directory, directory.parent if is_run else None, config)


def _load_model(directory: Path, saved_format: str, config: dict[str, Any]) -> tuple[Any, str]:
    """The model in ``directory`` and its kind."""
    # The model families import zen.compute, so they are imported here, on first use.
    if saved_format == "zen.tabular":
        from zen.tabular import TabularModel

        return TabularModel.load(directory), "tabular"
    if saved_format == "zen.forecaster":
        from zen.forecasting import Forecaster

        return Forecaster.load(directory), "forecast"
    from zen.graph.models import GNN  # importing zen.graph registers its models
    from zen.neural import Trainer

    if not isinstance(config.get("model"), dict):
        raise ConfigError(
            f"{directory}: a Trainer checkpoint of a model class that is not registered; zen"
            " rebuilds registered classes only (zen.neural.checkpoint.register_model)"
        )
    model = Trainer.load(directory).model
    assert model is not None  # Trainer.load always rebuilds one
    if isinstance(model, GNN):
        return model.eval(), "graph"
    inputs = directory / SEQUENCE_FILE
    if not inputs.is_file():
        return model.eval(), "network"
    from zen.neural.checkpoint import read_json

    layout = read_json(inputs).get("layout", "sequences")
    return model.eval(), "image" if layout == "images" else "sequence"
