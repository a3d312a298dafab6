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
from zen.neural.hub import HubMixin, NetworkHubMixin
from zen.neural.mlp import MLP
from zen.neural.monitor_callback import MonitorCallback
from zen.neural.nets import (
    FCN,
    VAE,
    CascadeCorrelation,
    ConvNet,
    MixtureOfExperts,
    MoEMLP,
    NeuralODE,
    RecurrentNet,
    ResNet,
    SequenceMLP,
    ShortcutMLP,
    TransformerNet,
)
from zen.neural.seeding import private_rng, seed_everything
from zen.neural.trainer import FitResult, History, StepOutput, Trainer, TrainerConfig

__all__ = [
    "FCN",
    "MLP",
    "SARPROP",
    "VAE",
    "Callback",
    "CascadeCorrelation",
    "ConvNet",
    "EarlyStopping",
    "FitResult",
    "History",
    "HubMixin",
    "MixtureOfExperts",
    "MoEMLP",
    "ModelCheckpoint",
    "MonitorCallback",
    "NetworkHubMixin",
    "NeuralODE",
    "ProgressBar",
    "Quickprop",
    "RecurrentNet",
    "ResNet",
    "SequenceMLP",
    "ShortcutMLP",
    "StepOutput",
    "TimeLimit",
    "Trainer",
    "TrainerConfig",
    "TransformerNet",
    "activations",
    "checkpoint",
    "losses",
    "private_rng",
    "seed_everything",
    "watching",
]
