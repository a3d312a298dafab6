"""Which of the assistant's suggestions to trust, decided from the errors recorded with its weights.

A group of outputs is used only when, on held-out tracks, its mean absolute error is at least
:data:`MIN_IMPROVEMENT` below that of the best constant guess (the training targets' median, the
constant with the least absolute error, recorded as ``baseline_targets``): a network that cannot
beat a constant has learned nothing about the audio, and applying its guess to a user's music
only adds noise. Otherwise the assistant abstains on that group and says why.

The errors come from the weights' ``assistant.json`` (``training_report``): the validation split
(``validation``, recorded by :func:`~zen.audio.assistant.training.train_assistant`) when there,
else the test split's ``evaluation.fp32`` of weights trained before validation errors per output
were recorded. Retrained weights that do learn a group are used without a code change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zen.audio.presets import ASSISTANT_BANDS_HZ

MIN_IMPROVEMENT = 0.15  # held-out MAE must be at least 15 % below the constant guess's
BAND_OUTPUTS: tuple[str, ...] = tuple(f"band_{freq:g}hz" for freq in ASSISTANT_BANDS_HZ)


@dataclass(frozen=True)
class Trust:
    """Whether a group of outputs is used, and the measurements behind the decision.

    Attributes:
        group: what the outputs are (``"band gains"``).
        trusted: use the outputs (False: the assistant abstains on them).
        model_mae: held-out mean absolute error of the network over the group's outputs.
        constant_mae: the same for the constant guess.
        split: the held-out split measured (``"validation"``, ``"test"``, or ``"none"``).
        reason: one sentence a user reads in the report.
    """

    group: str
    trusted: bool
    model_mae: float | None
    constant_mae: float | None
    split: str
    reason: str


def held_out_errors(report: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """The held-out errors of a training report: (split, {"overall": ..., "baseline": ...})."""
    validation = report.get("validation")
    if isinstance(validation, Mapping) and "overall" in validation and "baseline" in validation:
        return "validation", validation
    test = report.get("evaluation", {}).get("fp32")
    if isinstance(test, Mapping) and "overall" in test and "baseline" in test:
        return "test", test
    return "none", None


def trust_outputs(
    report: Mapping[str, Any], outputs: Sequence[str], group: str, unit: str = "dB"
) -> Trust:
    """Decide on ``outputs`` (names in :data:`~zen.audio.assistant.model.TARGET_NAMES`).

    >>> errors = {"overall": {"band_80hz": 0.9}, "baseline": {"band_80hz": 0.9}}
    >>> trust_outputs({"validation": errors}, ["band_80hz"], "band gains").trusted
    False
    >>> errors["overall"]["band_80hz"] = 0.5
    >>> trust_outputs({"validation": errors}, ["band_80hz"], "band gains").trusted
    True
    """
    split, errors = held_out_errors(report)
    if errors is None:
        return Trust(
            group, False, None, None, split,
            f"{group} not applied: the weights record no held-out errors to show they beat a"
            " constant guess",
        )  # fmt: skip
    try:
        model = sum(float(errors["overall"][name]) for name in outputs) / len(outputs)
        constant = sum(float(errors["baseline"][name]) for name in outputs) / len(outputs)
    except (KeyError, TypeError, ValueError):
        return Trust(
            group, False, None, None, split,
            f"{group} not applied: the weights' held-out errors do not cover them",
        )  # fmt: skip
    needed = (1.0 - MIN_IMPROVEMENT) * constant
    if model <= needed:
        return Trust(
            group, True, model, constant, split,
            f"{group} applied: held-out error {model:.2f} {unit} against {constant:.2f} {unit}"
            f" for a constant guess ({split} tracks)",
        )  # fmt: skip
    return Trust(
        group, False, model, constant, split,
        f"{group} not applied: on held-out {split} tracks the assistant's error ({model:.2f}"
        f" {unit}) is not {MIN_IMPROVEMENT:.0%} below a constant guess's ({constant:.2f} {unit},"
        f" needs <= {needed:.2f}); they would add noise, not a correction",
    )  # fmt: skip


def band_gain_trust(report: Mapping[str, Any]) -> Trust:
    """:func:`trust_outputs` for the five band gains."""
    return trust_outputs(report, BAND_OUTPUTS, "band gains")
