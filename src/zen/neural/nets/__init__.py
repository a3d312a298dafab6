"""Networks beyond the MLP, one per module, each declaring itself to :mod:`zen.registry`.

Sequences are ``(batch, channels, length)`` tensors padded with NaN after each sequence's end;
images are ``(batch, channels, height, width)``.
"""

from zen.neural.nets.convnet import ConvNet
from zen.neural.nets.fcn import FCN
from zen.neural.nets.resnet import ResNet
from zen.neural.nets.sequence_mlp import SequenceMLP

__all__ = ["FCN", "ConvNet", "ResNet", "SequenceMLP"]
