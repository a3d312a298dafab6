"""Networks beyond the MLP, one per module, each declaring itself to :mod:`zen.registry`.

Sequences are ``(batch, channels, length)`` tensors padded with NaN after each sequence's end;
images are ``(batch, channels, height, width)``.
"""

from zen.neural.nets.moe import MixtureOfExperts as MixtureOfExperts
from zen.neural.nets.moe_mlp import MoEMLP as MoEMLP
from zen.neural.nets.ode import NeuralODE as NeuralODE
from zen.neural.nets.vae import VAE as VAE
