"""Model cards: the ``README.md`` with YAML front matter that the Hugging Face Hub shows.

The front matter follows the Hub's model card metadata
(https://huggingface.co/docs/hub/model-cards):
``library_name``, ``tags``, ``pipeline_tag``, ``license``, ``metrics`` (their names) and
``model-index`` (their values, with the task and the data they were measured on). It is written
with PyYAML, so a card needs no huggingface_hub; ``huggingface_hub.ModelCard`` reads it back.

>>> from zen.neural import MLP
>>> facts = CardFacts("A tiny network.", metrics={"val_loss": 0.25}, metrics_source="validation")
>>> card = render_model_card(facts, model_class=MLP, load_name="org/tiny")
>>> print(card[: card.index("model-index")])
---
library_name: zen-neural
tags:
- zen-neural
metrics:
- loss
<BLANKLINE>
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

import zen
from zen.errors import ConfigError

#: The ``library_name`` of every zen card: the Hub groups models by it.
LIBRARY_NAME = "zen-neural"
#: The file name of a model card in a model folder.
CARD_FILE = "README.md"
#: What ``model_card_kwargs`` may hold (see :func:`check_card_options`).
CARD_OPTIONS = ("description", "license", "dataset", "metrics", "tags")


@dataclass(frozen=True)
class CardFacts:
    """What a model says about itself on its card.

    Attributes:
        summary: one or two sentences on what the model is.
        pipeline_tag: the Hub's task id (``tabular-classification``, ``graph-ml``...); None
            when none fits.
        tags: tags beyond ``zen-neural`` (the family, the task).
        metrics: scores of the saved weights by name (``{"val_accuracy": 0.93}``); empty when
            unknown.
        metrics_source: the data the metrics were measured on (``"validation split"``).
        settings: the settings shown in the card's table (JSON values).
    """

    summary: str
    pipeline_tag: str | None = None
    tags: Sequence[str] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    metrics_source: str = "unspecified data"
    settings: Mapping[str, Any] = field(default_factory=dict)


def check_card_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``model_card_kwargs`` checked, as a dict.

    Keys: ``description`` (text added under the summary), ``license`` (a Hub license id such as
    ``apache-2.0``), ``dataset`` (what ``metrics`` were measured on), ``metrics`` (name ->
    number; replaces the scores zen knows), ``tags`` (extra tags).

    Raises:
        ConfigError: an unknown key, or metrics that are not numbers.
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(CARD_OPTIONS))
    if unknown:
        raise ConfigError(
            f"model_card_kwargs: unknown key(s) {unknown}; expected some of:"
            f" {', '.join(CARD_OPTIONS)}"
        )
    metrics = options.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(
        isinstance(value, (int, float)) and not isinstance(value, bool)
        for value in metrics.values()
    ):
        raise ConfigError(
            f"model_card_kwargs['metrics']: expected a mapping of metric names to numbers, got"
            f" {metrics!r}"
        )
    tags = options.get("tags", ())
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError(f"model_card_kwargs['tags']: expected a list of strings, got {tags!r}")
    return options


def kept_epoch_scores(
    records: Sequence[Mapping[str, Any]], *, restored_best: bool, monitor: str = "val_loss"
) -> dict[str, float]:
    """The validation scores (``val_*`` logs) of the epoch whose weights a fit kept.

    Args:
        records: a :class:`~zen.neural.trainer.History`'s ``records``.
        restored_best: early stopping restored the weights of the epoch with the lowest
            ``monitor``; otherwise the last epoch's weights are the saved ones.
        monitor: the log early stopping followed (lower is better).

    Returns:
        ``{}`` when no epoch logged validation scores.
    """
    scored = [record for record in records if isinstance(record.get(monitor), (int, float))]
    if not scored:
        return {}
    kept = min(scored, key=lambda record: record[monitor]) if restored_best else scored[-1]
    return {
        name: float(value)
        for name, value in kept.items()
        if name.startswith("val_") and isinstance(value, (int, float)) and math.isfinite(value)
    }


def render_model_card(
    facts: CardFacts,
    *,
    model_class: type,
    load_name: str,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The text of ``README.md`` for a model.

    Args:
        facts: what the model says about itself.
        model_class: the class whose ``from_pretrained`` loads the folder (shown in the
            example).
        load_name: the repo id (or folder) the example loads from.
        options: checked ``model_card_kwargs`` (:func:`check_card_options`).
    """
    options = check_card_options(options)
    metrics = {name: float(value) for name, value in options.get("metrics", facts.metrics).items()}
    # The user's scores were measured on the user's data; zen's own on what the facts say.
    source = (
        options.get("dataset") or "unspecified data"
        if "metrics" in options
        else facts.metrics_source
    )
    tags = list(dict.fromkeys([LIBRARY_NAME, *facts.tags, *options.get("tags", ())]))
    return (
        "---\n"
        + yaml.safe_dump(
            _front_matter(facts, model_class, tags, metrics, source, options),
            sort_keys=False,
            allow_unicode=True,
        )
        + "---\n\n"
        + _body(facts, model_class, load_name, metrics, source, options.get("description"))
    )


def _front_matter(
    facts: CardFacts,
    model_class: type,
    tags: list[str],
    metrics: Mapping[str, float],
    source: str,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"library_name": LIBRARY_NAME, "tags": tags}
    if facts.pipeline_tag:
        metadata["pipeline_tag"] = facts.pipeline_tag
    if options.get("license"):
        metadata["license"] = options["license"]
    if metrics:
        metadata["metrics"] = [_metric_type(name) for name in metrics]
        # The Hub reads scores from model-index: each result names its task and its data.
        metadata["model-index"] = [
            {
                "name": model_class.__name__,
                "results": [
                    {
                        "task": {"type": facts.pipeline_tag or "other"},
                        "dataset": {"name": source, "type": source},
                        "metrics": [
                            {"type": _metric_type(name), "value": value, "name": name}
                            for name, value in metrics.items()
                        ],
                    }
                ],
            }
        ]
    return metadata


def _body(
    facts: CardFacts,
    model_class: type,
    load_name: str,
    metrics: Mapping[str, float],
    source: str,
    description: str | None,
) -> str:
    name = model_class.__name__
    lines = [f"# {name}", "", facts.summary, ""]
    if description:
        lines += [description, ""]
    lines += [
        "## Usage",
        "",
        "```python",
        f"from {public_module(model_class)} import {name}",
        "",
        f"model = {name}.from_pretrained({json.dumps(load_name)})",
        "```",
        "",
        "A repo id is read from the local Hugging Face cache; zen downloads only when asked"
        " (`local_files_only=False`). `zen.export.load_saved` reads the folder too.",
        "",
    ]
    if metrics:
        lines += [f"## Metrics ({source})", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| {metric} | {value:.6g} |" for metric, value in metrics.items()]
        lines.append("")
    if facts.settings:
        lines += ["## Settings", "", "| setting | value |", "| --- | --- |"]
        lines += [
            f"| {setting} | `{json.dumps(value, default=str)}` |"
            for setting, value in facts.settings.items()
        ]
        lines.append("")
    lines += [
        "## Files",
        "",
        "`config.json` (settings, JSON) and `*.safetensors` (weights): nothing in this folder is"
        f" pickled. Saved with zen-neural {zen.__version__}.",
        "",
    ]
    return "\n".join(lines)


def _metric_type(name: str) -> str:
    """A Hub metric id from a log name: ``val_accuracy`` -> ``accuracy``."""
    return name.removeprefix("val_")


def public_module(cls: type) -> str:
    """The shortest module path that exports ``cls`` (``zen.neural`` for ``zen.neural.mlp.MLP``),
    for import lines shown to people."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts)):
        try:
            module = importlib.import_module(".".join(parts[:end]))
        except ImportError:  # a parent that cannot import on its own: keep looking deeper
            continue
        if getattr(module, cls.__name__, None) is cls:
            return module.__name__
    return cls.__module__
