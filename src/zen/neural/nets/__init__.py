"""Networks beyond the MLP, one per module, each declaring itself to :mod:`zen.registry`.

Sequences are ``(batch, channels, length)`` tensors padded with NaN after each sequence's end;
images are ``(batch, channels, height, width)``.
"""

from zen.neural.nets.cascade import CascadeCorrelation
from zen.neural.nets.convnet import ConvNet
from zen.neural.nets.fcn import FCN
from zen.neural.nets.moe import MixtureOfExperts
from zen.neural.nets.moe_mlp import MoEMLP
from zen.neural.nets.ode import NeuralODE
from zen.neural.nets.recurrent import RecurrentNet
from zen.neural.nets.resnet import ResNet
from zen.neural.nets.sequence_mlp import SequenceMLP
from zen.neural.nets.shortcut import ShortcutMLP
from zen.neural.nets.transformer import TransformerNet
from zen.neural.nets.vae import VAE

__all__ = [
    "FCN",
    "VAE",
    "CascadeCorrelation",
    "ConvNet",
    "MixtureOfExperts",
    "MoEMLP",
    "NeuralODE",
    "RecurrentNet",
    "ResNet",
    "SequenceMLP",
    "ShortcutMLP",
    "TransformerNet",
]
