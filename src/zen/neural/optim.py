"""Optimizers and learning-rate schedules by name, with their defaults in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler

from zen.errors import ConfigError, expect_one_of
from zen.neural.fann_optimizers import Quickprop

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "rprop", "quickprop")
SCHEDULERS = ("step", "cosine", "plateau")

#: Optimizers that need the gradient of the whole training set per step. Rprop adapts each
#: weight's step from the *sign* of successive gradients (Riedmiller & Braun 1993); mini-batch
#: noise flips those signs and breaks it, so the Trainer accumulates a full pass per step.
#: Quickprop (Fahlman 1988) fits a parabola through the gradients of successive epochs.
FULL_BATCH_OPTIMIZERS = frozenset({"rprop", "quickprop"})


def build_optimizer(
    name: str,
    parameters: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    nesterov: bool = False,
    options: Mapping[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """Create the optimizer called ``name``.

    Args:
        name: one of ``sgd``, ``adam``, ``adamw``, ``rmsprop``, ``rprop``, ``quickprop``
            (:class:`zen.neural.fann_optimizers.Quickprop`, FANN's; ``options`` may set its
            ``decay`` and ``mu``).
        parameters: the parameters to optimise.
        lr: learning rate (for Rprop: the initial step size, FANN's ``delta_zero``; for
            Quickprop: FANN's ``learning_rate``, the gradient step on the mean loss).
        weight_decay: L2 penalty (decoupled for AdamW).
        momentum: momentum for SGD and RMSprop.
        nesterov: Nesterov momentum for SGD (needs ``momentum > 0``).
        options: extra keyword arguments passed to the torch optimizer (``betas``, ``etas``, ...).

    Adam and AdamW run torch's fused kernel (one pass over each tensor instead of a dozen
    element-wise ops) when every parameter is a floating-point tensor on a device that has it:
    the same update up to float rounding, several times faster for small batches on CPU,
    where the optimizer step dominates. ``options={"fused": False}`` (or ``foreach``) opts
    out.
    """
    key = name.lower()
    extra = dict(options or {})
    if lr <= 0:
        raise ConfigError(f"lr: expected a positive learning rate, got {lr!r}")
    if nesterov and (key != "sgd" or momentum <= 0):
        raise ConfigError("nesterov=True needs optimizer='sgd' and momentum > 0")
    try:
        if key == "sgd":
            return torch.optim.SGD(
                parameters,
                lr=lr,
                momentum=momentum,
                nesterov=nesterov,
                weight_decay=weight_decay,
                **extra,
            )
        if key in ("adam", "adamw"):
            chosen = torch.optim.Adam if key == "adam" else torch.optim.AdamW
            parameters = list(parameters)
            extra = {**_fused_default(parameters, extra), **extra}
            return chosen(parameters, lr=lr, weight_decay=weight_decay, **extra)
        if key == "rmsprop":
            return torch.optim.RMSprop(
                parameters, lr=lr, momentum=momentum, weight_decay=weight_decay, **extra
            )
        if key == "rprop":
            if weight_decay:
                raise ConfigError("weight_decay is not supported with optimizer='rprop'")
            return torch.optim.Rprop(parameters, lr=lr, **extra)
        if key == "quickprop":
            if weight_decay:
                raise ConfigError(
                    "weight_decay is not supported with optimizer='quickprop'; its own decay"
                    " is optimizer_options={'decay': ...} (FANN's quickprop_decay)"
                )
            return Quickprop(parameters, lr=lr, **extra)
    except TypeError as error:
        raise ConfigError(f"optimizer {key!r}: bad options {extra}: {error}") from None
    raise expect_one_of("optimizer", name, OPTIMIZERS)


#: Devices with fused Adam/AdamW kernels in torch 2.x (torch's own list is private).
FUSED_DEVICES = frozenset({"cpu", "cuda", "mps", "xpu"})


def _fused_default(parameters: list[Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``{"fused": True}`` when torch's fused Adam kernel can take ``parameters`` and the
    caller chose no implementation; else nothing."""
    if {"fused", "foreach", "differentiable"} & set(options):
        return {}
    tensors = [p for item in parameters for p in (item["params"] if isinstance(item, dict)
               else [item])]  # fmt: skip
    usable = bool(tensors) and all(
        isinstance(p, torch.Tensor) and p.is_floating_point() and p.device.type in FUSED_DEVICES
        for p in tensors
    )
    return {"fused": True} if usable else {}


def build_scheduler(
    name: str | None,
    optimizer: torch.optim.Optimizer,
    *,
    max_epochs: int,
    options: Mapping[str, Any] | None = None,
) -> lr_scheduler.LRScheduler | lr_scheduler.ReduceLROnPlateau | None:
    """Create an epoch-level learning-rate schedule.

    ``step`` multiplies the rate by ``gamma`` (0.1) every ``step_size`` epochs (a third of the
    run); ``cosine`` anneals to ``eta_min`` (0) over ``max_epochs``; ``plateau`` divides the rate
    by 10 after ``patience`` (5) epochs without improvement of the monitored validation loss.
    """
    if name is None:
        return None
    extra = dict(options or {})
    key = name.lower()
    try:
        if key == "step":
            extra.setdefault("step_size", max(1, max_epochs // 3))
            extra.setdefault("gamma", 0.1)
            return lr_scheduler.StepLR(optimizer, **extra)
        if key == "cosine":
            extra.setdefault("T_max", max(1, max_epochs))
            return lr_scheduler.CosineAnnealingLR(optimizer, **extra)
        if key == "plateau":
            extra.setdefault("patience", 5)
            return lr_scheduler.ReduceLROnPlateau(optimizer, **extra)
    except TypeError as error:
        raise ConfigError(f"scheduler {key!r}: bad options {extra}: {error}") from None
    raise expect_one_of("scheduler", name, SCHEDULERS)
