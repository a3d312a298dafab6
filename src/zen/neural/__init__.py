"""Dense networks and the training loop every zen model family shares.

>>> from zen.neural import MLP, Trainer, activations
>>> net = MLP([4, 16, 3], activation="relu")
>>> trainer = Trainer(max_epochs=5, loss="cross_entropy")
"""

from __future__ import annotations

from zen.neural import activations, checkpoint, losses
from zen.neural.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    ProgressBar,
    TimeLimit,
    watching,
)
from zen.neural.fann_optimizers import SARPROP, Quickprop
from zen.neural.mlp import MLP
from zen.neural.monitor_callback import MonitorCallback
from zen.neural.nets.cascade import CascadeCorrelation
from zen.neural.nets.shortcut import ShortcutMLP
from zen.neural.seeding import private_rng, seed_everything
from zen.neural.trainer import FitResult, History, StepOutput, Trainer, TrainerConfig

__all__ = [
    "MLP",
    "SARPROP",
    "Callback",
    "CascadeCorrelation",
    "EarlyStopping",
    "FitResult",
    "History",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgressBar",
    "Quickprop",
    "ShortcutMLP",
    "StepOutput",
    "TimeLimit",
    "Trainer",
    "TrainerConfig",
    "activations",
    "checkpoint",
    "losses",
    "private_rng",
    "seed_everything",
    "watching",
]
