"""Networks beyond the MLP, one per module, each declaring itself to :mod:`zen.registry`.

Sequences are ``(batch, channels, length)`` tensors padded with NaN after each sequence's end;
images are ``(batch, channels, height, width)``.
"""

from zen.neural.nets.recurrent import RecurrentNet
from zen.neural.nets.transformer import TransformerNet

__all__ = ["RecurrentNet", "TransformerNet"]
