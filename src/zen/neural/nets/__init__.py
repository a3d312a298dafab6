"""Networks beyond the MLP, one per module, each declaring itself to :mod:`zen.registry`.

Sequences are ``(batch, channels, length)`` tensors padded with NaN after each sequence's end;
images are ``(batch, channels, height, width)``.
"""

from zen.neural.nets.convnet import ConvNet as ConvNet
from zen.neural.nets.fcn import FCN as FCN
from zen.neural.nets.resnet import ResNet as ResNet
